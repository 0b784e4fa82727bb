#   Ctrl-C (SIGINT to the whole process group) stops every stage, removes
#   the private runtime directory and every ipc file, and exits 130. The
#   same for a -t topology: its ipc files are gone afterwards.
. "$(dirname "$0")/lib.sh"
# private runtime directories: under /dev/shm, or /tmp without one
runtimes () { ls -d /dev/shm/fanfold-?????? /tmp/fanfold-?????? 2>/dev/null | sort || true; }
export TMPDIR_BEFORE=$(runtimes)
seq 1 1000 > "$SCRATCH/in.txt"
# setsid: the job gets a process group of its own, as in a shell
setsid "$BIN/fanfold" run -w 3 --pipe --lines 1 -K sleep -p ms=50 -o "$SCRATCH/out.txt" \
    < "$SCRATCH/in.txt" &
job=$!
sleep 1
runtime=$(runtimes | comm -13 <(echo "$TMPDIR_BEFORE") - | head -n 1)
[ -n "$runtime" ] || fail "no private runtime directory while the job runs"
[ "$(stat -c %a "$runtime")" = 700 ] || fail "runtime directory mode is $(stat -c %a "$runtime")"
ls "$runtime" | grep -q control || fail "no control endpoint in $runtime"
kill -INT -- -$job
rc=0
wait $job || rc=$?
[ "$rc" = 130 ] || fail "exit status $rc, expected 130"
[ ! -e "$runtime" ] || fail "runtime directory $runtime left behind: $(ls -la "$runtime")"
no_stage_left "$runtime"

# the same with the shipped ipc topology
dir=/tmp/fanfold-$(id -u)/local
setsid "$BIN/fanfold" run -t "$ROOT/topology/local.zpl" -w 2 --pipe --lines 1 -K sleep -p ms=50 \
    -o "$SCRATCH/out2.txt" < "$SCRATCH/in.txt" &
job=$!
sleep 1
ls "$dir" | grep -q task- || fail "no worker pipe in $dir while the job runs"
kill -INT -- -$job
rc=0
wait $job || rc=$?
[ "$rc" = 130 ] || fail "exit status $rc with -t, expected 130"
left=$(ls -A "$dir")
[ -z "$left" ] || fail "ipc files left in $dir: $left"
no_stage_left "topology/local.zpl"
