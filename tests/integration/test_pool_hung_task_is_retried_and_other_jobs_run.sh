#   A task that hangs in one pool job (a sleep of 60 s under --timeout 1)
#   is taken from its worker past --timeout and run again elsewhere, as in
#   `fanfold run`: after --retries 2 it is that job's error record, and the
#   job's output and exit status are those of `fanfold run`. The hung
#   workers' watchdogs end them (--timeout + 2 s) and fanfold serve starts
#   others. A job submitted beside it runs on the free worker, exact, and
#   finishes long before.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pool.sh"
for line in $(seq 1 12); do
    if [ "$line" = 5 ]; then echo 60000; else echo 20; fi
done > "$SCRATCH/hang.txt"
seq 1 300 > "$SCRATCH/other.txt"
hung_job="--timeout 1 --retries 2 --pipe --lines 1 -K sleep --format jsonl"
status=0
"$BIN/fanfold" run -w 2 $hung_job < "$SCRATCH/hang.txt" > "$SCRATCH/run.out" 2>/dev/null || status=$?
[ "$status" = 1 ] || fail "run of the hung job exited $status, not 1"
grep -q '"seq":4,.*"status":"error".*ran past --timeout' "$SCRATCH/run.out" \
    || fail "run gave no error record for the hung task: $(cat "$SCRATCH/run.out")"
pool_topology
pool_start 2
start=$(now)
"$BIN/fanfold" submit -t "$POOL" $hung_job < "$SCRATCH/hang.txt" \
    > "$SCRATCH/hung.out" 2> "$SCRATCH/hung.err" &
hung=$!
sleep 0.3
"$BIN/fanfold" submit -t "$POOL" --pipe --lines 1 -K noop < "$SCRATCH/other.txt" \
    > "$SCRATCH/other.out" 2> "$SCRATCH/other.err" || { cat "$SCRATCH/other.err"; fail "the other job failed"; }
other_took=$(elapsed "$start")
same "$SCRATCH/other.txt" "$SCRATCH/other.out" "the other job's output"
kill -0 $hung 2>/dev/null || fail "the hung job ended before the other: the hang did not bite"
status=0
wait $hung || status=$?
hung_took=$(elapsed "$start")
[ "$status" = 1 ] || { cat "$SCRATCH/hung.err"; fail "the hung job exited $status, not 1 as run"; }
same "$SCRATCH/run.out" "$SCRATCH/hung.out" "the hung job's output against run's"
grep -q "it ran past --timeout" "$SCRATCH/serve.log" || fail "the server did not take the task back"
# two tries, each taken back about 1 s after it started
below "$hung_took" 8 "seconds for the hung job"
# the hung workers end by their watchdogs, and fanfold serve replaces them
tries=0
until [ "$(grep -c 'a task has run past --timeout' "$SCRATCH/serve.log")" -ge 2 ] \
   && [ "$(pool_workers)" -ge 2 ]; do
    tries=$((tries + 1))
    [ $tries -lt 100 ] || { tail "$SCRATCH/serve.log"; fail "the hung workers were not recycled"; }
    sleep 0.1
done
"$BIN/fanfold" submit -t "$POOL" --pipe --lines 1 -K noop < "$SCRATCH/other.txt" > "$SCRATCH/after.out" \
    || fail "a job after the hang failed"
same "$SCRATCH/other.txt" "$SCRATCH/after.out" "a job after the hang"
pool_stop
echo "other job in $other_took s; hung job in $hung_took s, its output as run's"
