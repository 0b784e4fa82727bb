#   Bad options and bad parameters give a clear message and a non-zero exit;
#   a task whose kernel fails becomes an error record, the others are ok,
#   and the job exits 1.
. "$(dirname "$0")/lib.sh"
expect_error () {           # expected-exit expected-message command...
    local code=$1 message=$2 rc=0
    shift 2
    "$@" > "$SCRATCH/out" 2> "$SCRATCH/err" < /dev/null || rc=$?
    [ "$rc" = "$code" ] || fail "$*: exit $rc, expected $code; stderr: $(cat "$SCRATCH/err")"
    grep -q -- "$message" "$SCRATCH/err" || fail "$*: stderr lacks '$message': $(cat "$SCRATCH/err")"
}
expect_error 2 "unknown kernel 'nope'" "$BIN/fanfold" run -K nope a b
expect_error 2 "expected KEY=VALUE" "$BIN/fanfold" run -p novalue a
expect_error 2 "expected raw or jsonl" "$BIN/fanfold" run --format xml a
expect_error 2 "go with --pipe" "$BIN/fanfold" run --lines 3 a
expect_error 2 "not INPUT arguments" "$BIN/fanfold" run --pipe -K noop a
expect_error 2 "cannot read topology" "$BIN/fanfold" run -t "$SCRATCH/missing.zpl" a
printf 'fanfold\n    window = 0\n' > "$SCRATCH/bad.zpl"
expect_error 2 "bad.zpl: fanfold/window" "$BIN/fanfold" run -t "$SCRATCH/bad.zpl" a
expect_error 2 "unknown command" "$BIN/fanfold" frobnicate
# a failing kernel: error records at their seq, others ok, exit 1
rc=0
"$BIN/fanfold" run -w 2 -K sleep -p ms=abc --format jsonl a b c > "$SCRATCH/out" 2> "$SCRATCH/err" || rc=$?
[ "$rc" = 1 ] || fail "failing tasks: exit $rc, expected 1"
[ "$(grep -c '"status":"error"' "$SCRATCH/out")" = 3 ] || fail "expected 3 error records: $(cat "$SCRATCH/out")"
grep -q 'ms=abc is not a non-negative number' "$SCRATCH/out" || fail "error text missing"
rc=0
"$BIN/fanfold" run --serial -K sleep -p ms=abc --format jsonl a b c > "$SCRATCH/serial" 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "--serial failing tasks: exit $rc, expected 1"
same "$SCRATCH/out" "$SCRATCH/serial" "error records, parallel vs --serial"
# a line longer than --max-block
head -c 300000 /dev/zero | tr '\0' x > "$SCRATCH/long.txt"
expect_error 2 "line 1 is longer than --max-block" "$BIN/fanfold" run --pipe --input "$SCRATCH/long.txt" --max-block 64k
