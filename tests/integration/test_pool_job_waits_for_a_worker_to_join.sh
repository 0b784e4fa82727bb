#   A job submitted to a pool with no worker waits (its client stays,
#   nothing is written), and starts when `fanfold worker -t` joins.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pool.sh"
pool_topology
pool_start 0
seq 1 200 > "$SCRATCH/in.txt"
"$BIN/fanfold" submit -t "$POOL" --pipe --lines 1 -K noop < "$SCRATCH/in.txt" \
    > "$SCRATCH/out.txt" 2> "$SCRATCH/err.txt" &
client=$!
sleep 1.5
kill -0 $client 2>/dev/null || { cat "$SCRATCH/err.txt"; fail "the client did not wait"; }
[ ! -s "$SCRATCH/out.txt" ] || fail "output before any worker joined"
job=$(job_of $client)
[ -n "$job" ] || fail "status does not list the waiting job"
"$BIN/fanfold" status -t "$POOL" --format jsonl | grep "\"$job\"" | grep -q '"done":0' \
    || fail "the waiting job shows tasks done"
"$BIN/fanfold" worker -t "$POOL" 2> "$SCRATCH/worker.err" &
worker=$!
wait $client || { cat "$SCRATCH/err.txt"; fail "the job failed once a worker joined"; }
same "$SCRATCH/in.txt" "$SCRATCH/out.txt" "output"
kill -TERM $worker
wait $worker || true
pool_stop
echo "the job waited 1.5 s without workers, then ran on the worker that joined"
