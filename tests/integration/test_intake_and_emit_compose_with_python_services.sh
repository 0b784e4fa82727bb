#   A Python producer pushes 10,000 records into --intake; a Python consumer
#   reads all 10,000 results from --emit, in seq order.
. "$(dirname "$0")/lib.sh"
intake="ipc://$SCRATCH/intake"
emit="ipc://$SCRATCH/emit"
"$BIN/fanfold" run -v -w 2 -K noop --intake "$intake" --emit "$emit" 2> "$SCRATCH/job.err" &
job=$!
"$PY" "$ROOT/examples/python/consumer.py" "$emit" > "$SCRATCH/results.txt" 2> "$SCRATCH/consumer.err" &
consumer=$!
"$PY" "$ROOT/examples/python/producer.py" "$intake" 10000 || fail "the producer failed"
wait $consumer || fail "the consumer failed after $(wc -l < "$SCRATCH/results.txt") results: $(tail -3 "$SCRATCH/consumer.err"); the job said: $(grep -v joined "$SCRATCH/job.err" | tail -15); processes left: $(ps -o pid,stat,etime,args -C fanfold-sink,fanfold-ventilator,fanfold-worker,fanfold | tail -n +2)"
wait $job || fail "the job failed"
seq 0 9999 | sed 's/^/record /' > "$SCRATCH/expected.txt"
same "$SCRATCH/expected.txt" "$SCRATCH/results.txt" "results read from --emit"
grep -q "10000 results in order" "$SCRATCH/consumer.err" || fail "consumer: $(cat "$SCRATCH/consumer.err")"
# a consumer slower than the job still gets the end of the stream: the sink
# holds its emit socket open until the consumer leaves after eos
slow="ipc://$SCRATCH/slow"
"$PY" - "$slow" > "$SCRATCH/slow.txt" <<'PYEOF' &
import sys, time, msgpack, zmq
pull = zmq.Context().socket(zmq.PULL)
pull.setsockopt(zmq.RCVTIMEO, 20000)
pull.connect(sys.argv[1])
count = 0
while True:
    message = msgpack.unpackb(pull.recv(), raw=False)
    if message[1] == "eos":
        print(count, message[2])
        break
    count += 1
    if count % 100 == 0:
        time.sleep(0.02)
pull.close()
PYEOF
slow_consumer=$!
seq 1 10000 | "$BIN/fanfold" run -w 2 -K noop --pipe --lines 1 --emit "$slow" > /dev/null \
    || fail "the job with a slow consumer failed"
wait $slow_consumer || fail "the slow consumer did not get the whole stream: $(cat "$SCRATCH/slow.txt")"
[ "$(cat "$SCRATCH/slow.txt")" = "10000 10000" ] || fail "slow consumer: $(cat "$SCRATCH/slow.txt")"
