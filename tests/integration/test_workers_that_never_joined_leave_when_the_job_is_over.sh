#   The launcher tells its workers by SIGUSR1 that the job is over: a
#   worker that had not joined leaves at once with status 0, saying "job
#   over" with -v, and a job of 1 task on 16 workers (most of them still
#   starting when it ends) exits 0 with exact output, every worker
#   leaving its loop by itself (the job's end or SIGUSR1), none stopped.
#   A worker takes SIGUSR1 so only when it starts with SIGUSR1 blocked, as
#   the launcher starts its own (perl blocks it here, then execs); a
#   worker started without that mark keeps SIGUSR1's default action.
. "$(dirname "$0")/lib.sh"
# started WORKER_PID LOG: waits (10 s at most) for the worker's first -v
# line, written once its handlers are in place
started () {
    local tries=0
    until grep -q "joining the job at" "$2"; do
        kill -0 "$1" 2> /dev/null || { cat "$2" >&2; fail "the worker exited before it started"; }
        tries=$((tries + 1))
        [ $tries -le 200 ] || { cat "$2" >&2; fail "the worker did not start within 10 s"; }
        sleep 0.05
    done
}
perl -MPOSIX -e 'sigprocmask (SIG_BLOCK, POSIX::SigSet->new (SIGUSR1)) or die "sigprocmask: $!";
                 exec @ARGV or die "exec: $!"' \
    "$BIN/fanfold" worker -t "$ROOT/topology/local.zpl" -v 2> "$SCRATCH/worker.err" &
worker=$!
started $worker "$SCRATCH/worker.err"
start=$(now)
kill -USR1 $worker
status=0
wait $worker || status=$?
took=$(elapsed "$start")
[ $status -eq 0 ] || fail "the worker told that the job is over exited with $status"
below "$took" 1.0 "seconds for the worker to leave"
grep -q "job over after 0 tasks" "$SCRATCH/worker.err" \
    || { cat "$SCRATCH/worker.err" >&2; fail "the worker did not say that the job is over"; }
# without the mark (a worker started by hand, a pool's): not "job over"
"$BIN/fanfold" worker -t "$ROOT/topology/local.zpl" -v 2> "$SCRATCH/plain.err" &
plain=$!
started $plain "$SCRATCH/plain.err"
kill -USR1 $plain
status=0
wait $plain || status=$?
[ $status -eq $((128 + $(kill -l USR1))) ] \
    || { cat "$SCRATCH/plain.err" >&2; fail "the unmarked worker sent SIGUSR1 exited with $status"; }
if grep -q "job over after" "$SCRATCH/plain.err"; then
    cat "$SCRATCH/plain.err" >&2
    fail "the unmarked worker took SIGUSR1 as the job's end"
fi
echo 7 > "$SCRATCH/in.txt"
"$BIN/fanfold" run -w 16 -v --mode parallel --pipe --lines 1 -K noop \
    < "$SCRATCH/in.txt" > "$SCRATCH/out.txt" 2> "$SCRATCH/run.err" \
    || { cat "$SCRATCH/run.err" >&2; fail "the job of 16 workers failed"; }
same "$SCRATCH/in.txt" "$SCRATCH/out.txt" "output"
left=$(grep -c -E "fanfold-worker: (job ended|job over) after" "$SCRATCH/run.err" || true)
[ "$left" -eq 16 ] || { cat "$SCRATCH/run.err" >&2; fail "$left of 16 workers left at the job's end"; }
# none needed the launcher's SIGTERM to leave its loop (its exit may
# still be slow: under ASan a forked worker's leak check sometimes hangs
# until the launcher's SIGKILL, with or without this signal)
if grep -q "fanfold-worker: stopped after" "$SCRATCH/run.err"; then
    cat "$SCRATCH/run.err" >&2
    fail "a worker was stopped"
fi
echo "worker left in $took s; $(grep -c 'job over after' "$SCRATCH/run.err" || true) of 16 told by SIGUSR1"
