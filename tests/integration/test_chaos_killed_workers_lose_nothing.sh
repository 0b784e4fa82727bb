#   Workers killed with SIGKILL every 300 ms and replaced by hand: 4,000
#   records through -w 3 sleeping workers come out identical to the input,
#   exit 0, no result lost or written twice (issue: exactly-once output).
. "$(dirname "$0")/lib.sh"
topology="$ROOT/topology/local.zpl"
seq 1 4000 | sed 's/$/ record/' > "$SCRATCH/in.txt"
setsid "$BIN/fanfold" run -t "$topology" -w 3 --pipe --lines 2 -K sleep -p ms=8 -v \
    --joblog "$SCRATCH/joblog.tsv" < "$SCRATCH/in.txt" > "$SCRATCH/out.txt" 2> "$SCRATCH/err.txt" &
job=$!
killed=0
sleep 0.5
while kill -0 $job 2>/dev/null; do
    victim=$(pgrep -f "fanfold-worker -t $topology" | shuf -n 1 || true)
    if [ -n "$victim" ]; then
        kill -9 "$victim" 2>/dev/null && killed=$((killed + 1))
        ("$BIN/fanfold" worker -t "$topology" 2>/dev/null &)
    fi
    sleep 0.3
done
rc=0
wait $job || rc=$?
pkill -f "fanfold-worker -t $topology" || true
[ "$rc" = 0 ] || { tail -20 "$SCRATCH/err.txt"; fail "exit status $rc"; }
[ "$killed" -ge 5 ] || fail "only $killed workers were killed: the test did not bite"
same "$SCRATCH/in.txt" "$SCRATCH/out.txt" "output after $killed kills"
# every seq once in the joblog, in order: nothing lost, nothing twice
tail -n +2 "$SCRATCH/joblog.tsv" | cut -f1 > "$SCRATCH/seqs"
seq 1 2000 | cmp - "$SCRATCH/seqs" || fail "joblog Seqs are not 1..2000 exactly once"
resent=$(grep -c "go to others" "$SCRATCH/err.txt" || true)
echo "killed $killed workers; $resent removals sent tasks elsewhere"
