#   A worker stopped with SIGSTOP holds tasks: with --timeout 1 they are
#   sent to the other workers about a second later, the job finishes with
#   exact output, and the stopped worker, once continued, is told to leave.
. "$(dirname "$0")/lib.sh"
seq 1 200 > "$SCRATCH/in.txt"
start=$(now)
"$BIN/fanfold" run -w 3 --timeout 1 --pipe --lines 1 -K sleep -p ms=20 -v \
    < "$SCRATCH/in.txt" > "$SCRATCH/out.txt" 2> "$SCRATCH/err.txt" &
job=$!
sleep 0.5
stopped=$(pgrep -P $job -f fanfold-worker | head -n 1)
kill -STOP "$stopped"
wait $job || { tail "$SCRATCH/err.txt"; fail "the job failed"; }
cat "$SCRATCH/err.txt" | grep -v joined
took=$(elapsed "$start")
kill -CONT "$stopped" 2>/dev/null || true
same "$SCRATCH/in.txt" "$SCRATCH/out.txt" "output"
grep -q "ran past --timeout" "$SCRATCH/err.txt" || fail "the stopped worker was not noticed"
# 200 tasks x 20 ms on 2 live workers is 2 s; the timeout adds about 1 s
below "$took" 5 "seconds for the job"
echo "took $took s"
