#   --retries 2 with a command that kills its own worker (kill -9 $PPID) for
#   one input: that input becomes one "error" line at its seq, every other
#   line is "ok", the exit status is non-zero, nothing hangs, and the
#   killed workers are replaced.
. "$(dirname "$0")/lib.sh"
rc=0
"$BIN/fanfold" run -v -w 2 --retries 2 --format jsonl --joblog "$SCRATCH/joblog.tsv" \
    --exec 'if [ {} = 13 ]; then kill -9 $PPID; fi; echo {}' -- $(seq 1 40) \
    > "$SCRATCH/out.jsonl" 2> "$SCRATCH/err" || rc=$?
[ "$rc" = 1 ] || { tail "$SCRATCH/err"; fail "exit status $rc, expected 1"; }
"$PY" - "$SCRATCH/out.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["seq"] for r in rows] == list(range(40)), [r["seq"] for r in rows]
bad = [r for r in rows if r["status"] != "ok"]
assert len(bad) == 1 and bad[0]["input"] == "13" and bad[0]["seq"] == 12, bad
assert "failed 2 times" in bad[0]["error"], bad[0]
assert all(r["result"]["text"] == r["input"] + "\n" for r in rows if r["status"] == "ok")
PYEOF
[ "$(grep -c 'ended with status 137' "$SCRATCH/err")" -ge 2 ] || fail "the poison task did not kill its workers twice"
awk -F'\t' '$1 == 13 { exit !($(NF - 2) == 2 && $(NF - 1) == "error") }' "$SCRATCH/joblog.tsv" || fail "joblog: $(grep -P '^13\t' "$SCRATCH/joblog.tsv")"
