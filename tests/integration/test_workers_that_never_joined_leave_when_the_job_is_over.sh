#   The launcher tells its workers by SIGUSR1 that the job is over: a
#   worker that had not joined leaves at once with status 0, saying "job
#   over" with -v, and a job of 1 task on 16 workers (most of them still
#   starting when it ends) exits 0 with exact output, every worker
#   leaving its loop by itself (the job's end or SIGUSR1), none stopped.
. "$(dirname "$0")/lib.sh"
"$BIN/fanfold" worker -t "$ROOT/topology/local.zpl" -v 2> "$SCRATCH/worker.err" &
worker=$!
sleep 0.5
start=$(now)
kill -USR1 $worker
status=0
wait $worker || status=$?
took=$(elapsed "$start")
[ $status -eq 0 ] || fail "the worker told that the job is over exited with $status"
below "$took" 1.0 "seconds for the worker to leave"
grep -q "job over after 0 tasks" "$SCRATCH/worker.err" \
    || { cat "$SCRATCH/worker.err" >&2; fail "the worker did not say that the job is over"; }
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
