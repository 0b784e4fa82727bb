#   --format jsonl: one object per task, seq dense from 0 and in order,
#   status ok, the texts concatenate to the input, and parallel output is
#   byte-identical to --serial output under jitter.
. "$(dirname "$0")/lib.sh"
utf8_lines 5000 "$SCRATCH/in.txt"
"$BIN/fanfold" run -w 3 --pipe --lines 7 -K sleep -p ms=4 -p jitter=1 --format jsonl \
    < "$SCRATCH/in.txt" > "$SCRATCH/parallel.jsonl"
"$BIN/fanfold" run --serial --pipe --lines 7 -K sleep -p ms=0 -p jitter=1 --format jsonl \
    < "$SCRATCH/in.txt" | sed 's/"kernel":"sleep"/"kernel":"sleep"/' > "$SCRATCH/serial.jsonl"
same "$SCRATCH/parallel.jsonl" "$SCRATCH/serial.jsonl" "parallel vs --serial jsonl"
"$PY" - "$SCRATCH/parallel.jsonl" "$SCRATCH/in.txt" <<'PYEOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
# 7 lines a block; an empty line that starts a block does not count (parallel -N)
for r in rows[:-1]:
    text = r["result"]["text"]
    assert text.count("\n") == (8 if text.startswith("\n") else 7), r
assert [r["seq"] for r in rows] == list(range(len(rows))), "seq not dense"
assert all(r["status"] == "ok" and r["kernel"] == "sleep" for r in rows)
assert rows[0]["input"] == "stdin:1-7", rows[0]["input"]
text = "".join(r["result"]["text"] for r in rows)
assert text == open(sys.argv[2], encoding="utf-8").read(), "texts differ from input"
PYEOF
