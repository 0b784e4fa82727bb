#   A pool worker that cannot map shared memory (--no-shm) runs array
#   jobs: it fetches the bytes of each handle from the server
#   (docs/PROTOCOL.md 10.4). `fanfold submit -K stats --chunk` over .npy
#   files (file handles) and over segments the client made (an array
#   from stdin is not a file: --chunk of a non-.npy is refused, so a 2-D
#   float64 .npy and an int16 one) gives the bytes of `fanfold run`; the
#   status shows the bytes the worker fetched: the array data once, no
#   more; nothing is left behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pool.sh"
"$PY" - "$SCRATCH" <<'PYEOF'
import sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(11)
np.save(d + "/f32.npy", (rng.standard_normal(3_000_000) * 10 + 1).astype(np.float32))
np.save(d + "/i16.npy", rng.integers(-30000, 30000, size=1_000_003).astype(np.int16))
np.save(d + "/f64.npy", rng.standard_normal((700, 333)))
PYEOF
arrays=("$SCRATCH/f32.npy" "$SCRATCH/i16.npy" "$SCRATCH/f64.npy")
data_bytes=$(( 3000000 * 4 + 1000003 * 2 + 700 * 333 * 8 ))
"$BIN/fanfold" run -w 2 -K stats --chunk 1M --format jsonl -- "${arrays[@]}" > "$SCRATCH/run.jsonl"
[ "$(wc -l < "$SCRATCH/run.jsonl")" = 3 ] || fail "run gave no three lines"

pool_topology
pool_start 0
"$BIN/fanfold" worker -t "$POOL" --no-shm -v 2> "$SCRATCH/worker.err" &
worker=$!
tries=0
until [ "$(pool_workers)" -ge 1 ]; do
    tries=$((tries + 1)); [ $tries -lt 100 ] || fail "the --no-shm worker did not join"; sleep 0.1
done
"$BIN/fanfold" submit -t "$POOL" -K stats --chunk 1M --format jsonl -- "${arrays[@]}" \
    > "$SCRATCH/pool.jsonl" 2> "$SCRATCH/submit.err" \
    || { cat "$SCRATCH/submit.err" "$SCRATCH/worker.err"; tail "$SCRATCH/serve.log"; fail "submit failed"; }
same "$SCRATCH/run.jsonl" "$SCRATCH/pool.jsonl" "a --no-shm pool worker's output"
status=$("$BIN/fanfold" status -t "$POOL" --format jsonl | grep '"kind":"worker"')
fetched=$(echo "$status" | sed 's/.*"fetched":\([0-9]*\).*/\1/')
fetches=$(echo "$status" | sed 's/.*"fetches":\([0-9]*\).*/\1/')
[ "$fetched" = "$data_bytes" ] \
    || fail "the worker fetched $fetched bytes, not the $data_bytes bytes of array data"
[ "$fetches" -ge $(( data_bytes / 983040 )) ] || fail "only $fetches fetches"
grep -q "refused" "$SCRATCH/serve.log" && fail "a fetch was refused: $(grep refused "$SCRATCH/serve.log")"

# a second job over the same files: the cache is per job, so the bytes
# travel again, exactly once more
"$BIN/fanfold" submit -t "$POOL" -K stats --chunk 1M --format jsonl -- "${arrays[@]}" \
    > "$SCRATCH/pool2.jsonl" || fail "the second submit failed"
same "$SCRATCH/run.jsonl" "$SCRATCH/pool2.jsonl" "the second job"
fetched=$("$BIN/fanfold" status -t "$POOL" --format jsonl | grep '"kind":"worker"' \
          | sed 's/.*"fetched":\([0-9]*\).*/\1/')
[ "$fetched" = $(( 2 * data_bytes )) ] || fail "after two jobs $fetched bytes fetched"
kill -TERM $worker
wait $worker || true
pool_stop
[ -z "$(ls /dev/shm | grep "^ff_$(id -u)_s" || true)" ] || fail "segments left: $(ls /dev/shm)"
echo "a --no-shm pool worker fetched $data_bytes bytes per job in $fetches pieces; output equals run's"
