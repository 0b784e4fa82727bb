#   Four clients submit different jobs to one warm pool at once (noop
#   records, sleep with jitter, --exec, stats --chunk over a .npy): each
#   output is byte-identical to the same job run alone with `fanfold run`,
#   and while they overlap `fanfold status` lists all four jobs, with the
#   workers split among them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pool.sh"
"$PY" -c "import numpy as np, sys; np.save(sys.argv[1], (np.random.default_rng(5).standard_normal(8_000_000) * 7 + 1).astype(np.float32))" "$SCRATCH/f32.npy"
seq 1 30000 | sed 's/$/ record/' > "$SCRATCH/records.txt"
jobs=(
    "--pipe --lines 20 -K sleep -p ms=1"
    "-K sleep -p ms=30 -p jitter=1 --format jsonl $(seq -s ' ' 1 60)"
    "--exec 'sleep 0.0\$((RANDOM % 5)); echo {} done' $(seq -s ' ' 1 60)"
    "-K stats --chunk 64K --format jsonl $SCRATCH/f32.npy"
)
for index in 0 1 2 3; do
    eval "\"$BIN/fanfold\" run -w 2 ${jobs[$index]}" < "$SCRATCH/records.txt" > "$SCRATCH/run-$index.out"
done
pool_topology
# the pool starts with no worker, so the four jobs are all listed before
# any of them can finish, however slow the build (ASan) or the machine
pool_start 0
for index in 0 1 2 3; do
    eval "\"$BIN/fanfold\" submit -t \"$POOL\" ${jobs[$index]}" < "$SCRATCH/records.txt" \
        > "$SCRATCH/submit-$index.out" 2> "$SCRATCH/submit-$index.err" &
    eval "pid_$index=$!"
done
# the most jobs seen at once, and how many of them held workers in the
# same sample
most=0
split=0
tries=0
while [ "$most" -lt 4 ] && [ $tries -lt 200 ]; do
    seen=$("$BIN/fanfold" status -t "$POOL" --format jsonl 2>/dev/null | grep -c '"kind":"job"' || true)
    [ "$seen" -gt "$most" ] && most=$seen
    tries=$((tries + 1))
    sleep 0.05
done
[ "$most" -eq 4 ] || fail "fanfold status listed at most $most jobs at once"
workers=
for index in 1 2 3 4; do
    "$BIN/fanfold" worker -t "$POOL" 2> "$SCRATCH/worker-$index.err" &
    workers="$workers $!"
done
while kill -0 $pid_0 2>/dev/null || kill -0 $pid_1 2>/dev/null || kill -0 $pid_2 2>/dev/null \
   || kill -0 $pid_3 2>/dev/null; do
    "$BIN/fanfold" status -t "$POOL" --format jsonl > "$SCRATCH/status.jsonl" 2>/dev/null || true
    busy=$(grep '"kind":"job"' "$SCRATCH/status.jsonl" | grep -vc '"workers":0' || true)
    [ "$busy" -gt "$split" ] && split=$busy
    sleep 0.05
done
for index in 0 1 2 3; do
    eval "wait \$pid_$index" || { cat "$SCRATCH/submit-$index.err"; fail "job $index failed"; }
    same "$SCRATCH/run-$index.out" "$SCRATCH/submit-$index.out" "job $index (${jobs[$index]:0:40})"
done
"$BIN/fanfold" status -t "$POOL" > "$SCRATCH/table.txt"
grep -q "^WORKER" "$SCRATCH/table.txt" || fail "the status table has no workers part"
kill -TERM $workers 2>/dev/null || true
wait $workers || true
pool_stop
[ "$split" -ge 2 ] || fail "at most $split jobs held workers at once"
echo "4 jobs exact; status saw $most jobs at once, $split of them holding workers"
