#   One task per argument (spaces, quotes, $, ;, *, a leading -, non-ASCII
#   kept as they are); several kernels give tasks input-major, in the order
#   given; stage executables answer --help.
. "$(dirname "$0")/lib.sh"
args=("a b" "it's" '$HOME' "x;y" "*" "-n" "日本" "")
"$BIN/fanfold" run -w 2 -K noop --format raw -- "${args[@]}" > "$SCRATCH/raw"
printf '%s' "${args[@]}" > "$SCRATCH/expected"
same "$SCRATCH/expected" "$SCRATCH/raw" "arguments echoed"
"$BIN/fanfold" run -w 2 -K noop,sleep -p ms=1 --format jsonl -- one two three > "$SCRATCH/jsonl"
"$PY" - "$SCRATCH/jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
got = [(r["seq"], r["input"], r["kernel"]) for r in rows]
want = [(0, "one", "noop"), (1, "one", "sleep"), (2, "two", "noop"),
        (3, "two", "sleep"), (4, "three", "noop"), (5, "three", "sleep")]
assert got == want, got
PYEOF
for stage in fanfold fanfold-ventilator fanfold-worker fanfold-sink; do
    "$BIN/$stage" --help | grep -q usage || fail "$stage --help"
done
# an empty job (no input) finishes at once with empty output
"$BIN/fanfold" run -w 1 --pipe < /dev/null > "$SCRATCH/empty"
[ ! -s "$SCRATCH/empty" ] || fail "empty input gave output"
