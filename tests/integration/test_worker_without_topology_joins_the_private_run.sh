#   `fanfold worker` without -t joins the one job of this user that runs on
#   a private topology; with two such jobs it refuses and asks for -t.
. "$(dirname "$0")/lib.sh"
seq 1 200 | "$BIN/fanfold" run -w 0 --pipe --lines 1 -K sleep -p ms=2 > "$SCRATCH/out.txt" &
job=$!
# the job's directory and launcher.pid appear within a moment
for _ in $(seq 1 50); do
    "$BIN/fanfold" worker > "$SCRATCH/worker.out" 2> "$SCRATCH/worker.err" && break
    sleep 0.1
done
wait $job || fail "the job failed"
seq 1 200 | same - "$SCRATCH/out.txt" "the output of a job served by a worker without -t"
# two private jobs: the worker cannot choose
seq 1 5 | "$BIN/fanfold" run -w 0 --pipe --lines 1 -K noop > "$SCRATCH/a.txt" &
a=$!
seq 1 5 | "$BIN/fanfold" run -w 0 --pipe --lines 1 -K noop > "$SCRATCH/b.txt" &
b=$!
sleep 1
rc=0
"$BIN/fanfold" worker 2> "$SCRATCH/two.err" || rc=$?
[ "$rc" = 2 ] && grep -q "2 jobs of yours" "$SCRATCH/two.err" \
    || fail "with two private jobs: exit $rc, $(cat "$SCRATCH/two.err")"
kill -INT $a $b
wait $a $b 2>/dev/null || true
