#   Workers of a warm pool killed with kill -9 every 300 ms (fanfold serve
#   starts others) while 3 jobs run: every job's output is exact, with no
#   duplicate and no loss (the joblog lists every seq once).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pool.sh"
for index in 1 2 3; do
    seq 1 $((1500 * index)) | sed "s/\$/ job $index/" > "$SCRATCH/in-$index.txt"
done
pool_topology
pool_start 3
for index in 1 2 3; do
    "$BIN/fanfold" submit -t "$POOL" --pipe --lines 2 -K sleep -p ms=6 --joblog "$SCRATCH/log-$index.tsv" \
        < "$SCRATCH/in-$index.txt" > "$SCRATCH/out-$index.txt" 2> "$SCRATCH/err-$index.txt" &
    eval "pid_$index=$!"
done
killed=0
sleep 0.3
while kill -0 $pid_1 2>/dev/null || kill -0 $pid_2 2>/dev/null || kill -0 $pid_3 2>/dev/null; do
    victim=$(pgrep -f "fanfold-worker -t $POOL" | shuf -n 1 || true)
    [ -n "$victim" ] && kill -9 "$victim" 2>/dev/null && killed=$((killed + 1))
    sleep 0.3
done
for index in 1 2 3; do
    eval "wait \$pid_$index" || { tail "$SCRATCH/err-$index.txt"; fail "job $index failed"; }
    same "$SCRATCH/in-$index.txt" "$SCRATCH/out-$index.txt" "job $index after $killed kills"
    tail -n +2 "$SCRATCH/log-$index.tsv" | cut -f1 > "$SCRATCH/seqs"
    seq 1 $((1500 * index / 2)) | cmp - "$SCRATCH/seqs" || fail "job $index: joblog seqs not each once"
done
[ "$killed" -ge 5 ] || fail "only $killed workers were killed: the test did not bite"
pool_stop
echo "3 jobs exact after $killed workers were killed"
