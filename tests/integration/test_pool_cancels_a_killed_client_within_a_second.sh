#   A client killed with kill -9 in the middle of its job: within 1 s the
#   pool's status no longer lists the job, its exec commands are gone from
#   ps, and none of its segments is left in /dev/shm; another job running
#   beside it finishes with exact output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pool.sh"
seq 1 3000 > "$SCRATCH/records.txt"
"$BIN/fanfold" run -w 2 --pipe --lines 10 -K sleep -p ms=4 < "$SCRATCH/records.txt" > "$SCRATCH/run.out"
pool_topology
pool_start 3
marker="pool_cancel_$$"
# the victims: a job of long exec commands, and a structure job (a .npy is
# mapped in place; structures are loaded into segments of the job)
setsid "$BIN/fanfold" submit -t "$POOL" --exec "sleep 30 # $marker" $(seq 1 20) > /dev/null 2>&1 &
exec_client=$!
setsid "$BIN/fanfold" submit -t "$POOL" -K contacts,sleep -p ms=200 \
    $(for i in $(seq 40); do echo "$ROOT/tests/data/1A8O.pdb.gz"; done) > /dev/null 2>&1 &
array_client=$!
"$BIN/fanfold" submit -t "$POOL" --pipe --lines 10 -K sleep -p ms=4 < "$SCRATCH/records.txt" \
    > "$SCRATCH/submit.out" 2> "$SCRATCH/submit.err" &
other=$!
# wait until both victims run: their commands and their segments exist
for try in $(seq 100); do
    exec_job=$(job_of $exec_client)
    array_job=$(job_of $array_client)
    [ -n "$exec_job" ] && [ -n "$array_job" ] && pgrep -f "$marker" >/dev/null \
        && ls /dev/shm | grep -q "^ff_$(id -u)_${array_job}_" && break
    sleep 0.1
done
[ -n "$exec_job" ] && [ -n "$array_job" ] || fail "the victims' jobs did not start"
ls /dev/shm | grep -q "^ff_$(id -u)_${array_job}_" || fail "the array job has no segment"
pgrep -f "$marker" > /dev/null || fail "no exec command runs"
kill -9 $exec_client $array_client
killed=$(now)
gone=""
status=""
while [ "$(echo "$(elapsed "$killed") < 3" | bc)" = 1 ]; do
    status=$("$BIN/fanfold" status -t "$POOL" --format jsonl)
    if ! grep -q "\"$exec_job\"" <<<"$status" && ! grep -q "\"$array_job\"" <<<"$status" \
    && ! pgrep -f "$marker" > /dev/null \
    && ! ls /dev/shm | grep -q "^ff_$(id -u)_${array_job}_"; then
        gone=$(elapsed "$killed")
        break
    fi
    sleep 0.02
done
[ -n "$gone" ] || fail "after 3 s: $(grep -c kind\":\"job <<<"$status") jobs listed; exec: $(pgrep -fc "$marker" || true); segments: $(ls /dev/shm | grep -c "^ff_$(id -u)_${array_job}_" || true)"
below "$gone" 1.0 "seconds until the killed clients' jobs were gone"
wait $other || { cat "$SCRATCH/submit.err"; fail "the other job failed"; }
same "$SCRATCH/run.out" "$SCRATCH/submit.out" "the other job's output"
pool_stop
echo "killed clients' jobs, commands and segments gone in $gone s; the other job exact"
