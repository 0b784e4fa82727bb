#   1,200 workers (bench/loadgen.c: simulated workers that speak
#   docs/PROTOCOL.md) join one job whose stages run under `ulimit -n 1024`.
#   With the soft limit at 1024 the stages raise it to the hard limit and
#   every worker joins; with the hard limit at 1024 too, the ventilator
#   admits what its descriptors hold, refuses the rest with a logged
#   reason, and the job still finishes. Either way: exact output, exit 0,
#   no abort (libzmq asserts on EMFILE in an ipc accept).
. "$(dirname "$0")/lib.sh"
# shellcheck disable=SC2046
cc -std=gnu11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror "$ROOT/bench/loadgen.c" \
    -o "$SCRATCH/loadgen" $(pkg-config --cflags --libs libzmq libczmq msgpack) -lpthread \
    || fail "cannot build bench/loadgen.c"
mkdir -m 700 "$SCRATCH/ipc"
sed "s|ipc:///tmp/fanfold-%u/local/|ipc://$SCRATCH/ipc/|" "$ROOT/topology/local.zpl" \
    > "$SCRATCH/topology.zpl"
grep -q "$SCRATCH/ipc/control" "$SCRATCH/topology.zpl" || fail "topology/local.zpl changed its endpoints"
seq 1 20000 > "$SCRATCH/in.txt"
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 8000 ] || [ "$(id -u)" = 0 ] \
    || { echo "the hard open-file limit ($(ulimit -Hn)) is below what 1,200 simulated workers need"; exit 77; }

# run NAME LIMIT-OPTION: the job under loadgen; its exit status, the report
run () {
    local rc=0
    "$SCRATCH/loadgen" -t "$SCRATCH/topology.zpl" -n 1200 -j 4 -b "$2" 1024 \
        -r "$SCRATCH/$1.json" -- \
        "$BIN/fanfold" run -v -w 0 -t "$SCRATCH/topology.zpl" --pipe --lines 1 -K noop \
        < "$SCRATCH/in.txt" > "$SCRATCH/$1.out" 2> "$SCRATCH/$1.err" || rc=$?
    grep -E "^loadgen:" "$SCRATCH/$1.err" || true
    if grep -qiE "assert|abort|core dumped" "$SCRATCH/$1.err"; then
        grep -iE "assert|abort|core dumped" "$SCRATCH/$1.err" | head -5 >&2
        fail "$1: a stage aborted"
    fi
    [ "$rc" = 0 ] || { tail -20 "$SCRATCH/$1.err" >&2; fail "$1: the job exited $rc"; }
    same "$SCRATCH/in.txt" "$SCRATCH/$1.out" "$1: output"
}

# field NAME KEY: a number from loadgen's report
field () {
    "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
        "$SCRATCH/$1.json" "$2"
}

# soft limit 1024, hard limit higher: the stages raise theirs, all join
run soft -s
[ "$(field soft joined)" = 1200 ] || fail "soft: $(field soft joined) of 1200 workers joined"
[ "$(field soft errors)" = 0 ] || fail "soft: loadgen counted $(field soft errors) errors"
grep -q "admits up to" "$SCRATCH/soft.err" || fail "soft: the ventilator did not say how many it admits"

# soft and hard limit 1024: some join, the rest are refused with a reason
run hard -l
joined=$(field hard joined)
[ "$joined" -gt 50 ] && [ "$joined" -lt 1200 ] || fail "hard: $joined of 1200 workers joined"
# the reason is the count that the limit holds, or, when the connections of
# workers still knocking hold descriptors at that moment, too few left for
# a task pipe: either names the limit
grep -qE "worker loadgen:[0-9.:]+ refused: ([0-9]+ workers joined, the most that 1024 file descriptors|cannot make its task pipe: fewer than [0-9]+ descriptors free \(ulimit -n 1024\))" \
    "$SCRATCH/hard.err" || fail "hard: no refusal with its reason in the ventilator's log"
echo "hard limit 1024: $joined of 1200 workers joined, the others were refused"
no_stage_left "$SCRATCH"
