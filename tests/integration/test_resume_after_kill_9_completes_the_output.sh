#   A 300-task job killed with kill -9 of its whole process group after
#   1.5 s, then run again with --resume: -o FILE equals the input exactly,
#   and the first run's results were kept, not redone. Also: the sink alone
#   killed, then the job resumed; and the ventilator alone killed. And a
#   resume whose input changed before the mark is refused.
. "$(dirname "$0")/lib.sh"
seq 1 300 | sed 's/$/ line/' > "$SCRATCH/in.txt"
out="$SCRATCH/out.txt"
run () {
    setsid "$BIN/fanfold" run -w 3 --pipe --lines 1 -K sleep -p ms=20 -o "$out" \
        --joblog "$SCRATCH/joblog.tsv" "$@" < "${input:-$SCRATCH/in.txt}" &
    job=$!
}
run
sleep 1.5
kill -9 -- -$job
wait $job 2>/dev/null || true
sleep 0.2
no_stage_left "$SCRATCH"
state="$out.fanfold-state"
[ -f "$state" ] || fail "no state file after the first run"
done_before=$(sed -n 's/^written //p' "$state")
[ "$done_before" -gt 20 ] && [ "$done_before" -lt 300 ] || fail "first run wrote $done_before of 300"
head -n "$done_before" "$SCRATCH/in.txt" | cmp -s - <(head -c "$(sed -n 's/^bytes //p' "$state")" "$out") \
    || fail "the state claims more than the output holds"
run --resume
wait $job || fail "the resumed job failed"
same "$SCRATCH/in.txt" "$out" "output after kill -9 and --resume"
# the resumed run only ran what was missing: joblog seqs are each there once
tail -n +2 "$SCRATCH/joblog.tsv" | cut -f1 | sort -n | uniq -d > "$SCRATCH/twice"
[ ! -s "$SCRATCH/twice" ] || fail "seqs in the joblog twice: $(head "$SCRATCH/twice")"
[ "$(tail -n +2 "$SCRATCH/joblog.tsv" | wc -l)" -le 300 ] || fail "joblog has more than 300 lines"
echo "first run wrote $done_before tasks; resume did the rest"

# a different job refuses the state file
rc=0
"$BIN/fanfold" run -w 1 --pipe --lines 2 -K sleep -p ms=20 -o "$out" --resume \
    < "$SCRATCH/in.txt" 2> "$SCRATCH/err" || rc=$?
[ "$rc" != 0 ] && grep -q "different job" "$SCRATCH/err" || fail "another job's state accepted (rc $rc)"

# only the sink killed: the launcher stops the rest; --resume completes it
rm -f "$out" "$state"
run
sleep 1.2
pkill -9 -f "fanfold-sink .*$out" || fail "no sink to kill"
rc=0
wait $job || rc=$?
[ "$rc" != 0 ] || fail "the job succeeded without its sink"
run --resume
wait $job || fail "the resumed job failed after the sink died"
same "$SCRATCH/in.txt" "$out" "output after the sink died and --resume"

# only the ventilator killed: the same
rm -f "$out" "$state"
run
sleep 1.2
pkill -9 -f "fanfold-ventilator .*" -P $job || fail "no ventilator to kill"
rc=0
wait $job || rc=$?
[ "$rc" != 0 ] || fail "the job succeeded without its ventilator"
run --resume
wait $job || fail "the resumed job failed after the ventilator died"
same "$SCRATCH/in.txt" "$out" "output after the ventilator died and --resume"
no_stage_left "$SCRATCH"

# the input changed in a line the first run read: --resume refuses it
rm -f "$out" "$state"
run
sleep 1.5
kill -9 -- -$job
wait $job 2>/dev/null || true
sleep 0.2
sed '2s/line/lime/' "$SCRATCH/in.txt" > "$SCRATCH/changed.txt"
input=$SCRATCH/changed.txt run --resume 2> "$SCRATCH/err"
rc=0
wait $job || rc=$?
[ "$rc" != 0 ] && grep -q "not the one the interrupted run read" "$SCRATCH/err" \
    || fail "a changed input was resumed (rc $rc): $(tail -3 "$SCRATCH/err")"
no_stage_left "$SCRATCH"
