#   A -t topology/local.zpl -w 1 job of 40 tasks x 100 ms, joined 0.4 s
#   after start by `fanfold worker -t topology/local.zpl`, finishes in under
#   3.2 s with exact output (one worker alone would need 4 s).
. "$(dirname "$0")/lib.sh"
seq 1 40 > "$SCRATCH/in.txt"
start=$(now)
"$BIN/fanfold" run -t "$ROOT/topology/local.zpl" -w 1 --pipe --lines 1 -K sleep -p ms=100 \
    < "$SCRATCH/in.txt" > "$SCRATCH/out.txt" &
job=$!
sleep 0.4
"$BIN/fanfold" worker -t "$ROOT/topology/local.zpl" &
helper=$!
wait $job || fail "the job failed"
took=$(elapsed "$start")
wait $helper || fail "the added worker did not exit cleanly at the job's end"
same "$SCRATCH/in.txt" "$SCRATCH/out.txt" "output"
below "$took" 3.2 "seconds for the job"
echo "took $took s"
