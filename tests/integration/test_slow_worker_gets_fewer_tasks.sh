#   Two workers, one slowed to a tenth of its speed with SIGSTOP for 90 ms
#   of every 100 ms: a 400-task job of 10 ms sleeps finishes in under 5 s
#   with exact output (round-robin dispatch would take about 20 s).
. "$(dirname "$0")/lib.sh"
seq 1 400 > "$SCRATCH/in.txt"
start=$(now)
"$BIN/fanfold" run -w 2 --pipe --lines 1 -K sleep -p ms=10 < "$SCRATCH/in.txt" > "$SCRATCH/out.txt" &
job=$!
for _ in $(seq 50); do
    slow=$(pgrep -P $job -f fanfold-worker | head -n 1 || true)
    [ -n "$slow" ] && break
    sleep 0.02
done
[ -n "$slow" ] || fail "no worker found"
( while kill -STOP "$slow" 2>/dev/null; do sleep 0.09; kill -CONT "$slow" 2>/dev/null; sleep 0.01; done ) &
slower=$!
wait $job || fail "the job failed"
took=$(elapsed "$start")
kill $slower 2>/dev/null || true
kill -CONT "$slow" 2>/dev/null || true
same "$SCRATCH/in.txt" "$SCRATCH/out.txt" "output"
below "$took" 5 "seconds for the job"
echo "took $took s"
