#   A Python producer pushes 10,000 records into --intake; a Python consumer
#   reads all 10,000 results from --emit, in seq order.
. "$(dirname "$0")/lib.sh"
intake="ipc://$SCRATCH/intake"
emit="ipc://$SCRATCH/emit"
"$BIN/fanfold" run -v -w 2 -k noop --intake "$intake" --emit "$emit" 2> "$SCRATCH/job.err" &
job=$!
"$PY" "$ROOT/examples/python/consumer.py" "$emit" > "$SCRATCH/results.txt" 2> "$SCRATCH/consumer.err" &
consumer=$!
"$PY" "$ROOT/examples/python/producer.py" "$intake" 10000 || fail "the producer failed"
wait $consumer || fail "the consumer failed: $(tail -3 "$SCRATCH/consumer.err"); the job said: $(grep -v joined "$SCRATCH/job.err" | tail -15)"
wait $job || fail "the job failed"
seq 0 9999 | sed 's/^/record /' > "$SCRATCH/expected.txt"
same "$SCRATCH/expected.txt" "$SCRATCH/results.txt" "results read from --emit"
grep -q "10000 results in order" "$SCRATCH/consumer.err" || fail "consumer: $(cat "$SCRATCH/consumer.err")"
