#   -K contacts over real PDB files (Debian's pymol-data) and small ones of
#   tests/data (gzipped, no element columns, several models, altlocs) gives
#   atoms, count and sorted pairs identical to an independent brute-force
#   reference; several kernels give one line per kernel, input-major; a
#   broken file is an error record naming file and line, others unaffected.
. "$(dirname "$0")/lib.sh"
demo=/usr/share/pymol/data/demo
files=("$demo/1tii.pdb" "$demo/il2.pdb" "$ROOT/tests/data/pept.pdb.gz" "$ROOT/tests/data/noelement.pdb"
       "$ROOT/tests/data/multimodel.pdb" "$ROOT/tests/data/altloc.pdb")
"$BIN/fanfold" run -w 2 -K contacts --format jsonl -- "${files[@]}" > "$SCRATCH/out.jsonl"
"$PY" "$ROOT/tests/integration/reference_contacts.py" 4.0 "${files[@]}" > "$SCRATCH/reference.jsonl"
"$PY" - "$SCRATCH/out.jsonl" "$SCRATCH/reference.jsonl" <<'PYEOF'
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
want = [json.loads(l) for l in open(sys.argv[2])]
assert len(got) == len(want) == 6, (len(got), len(want))
for row, ref in zip(got, want):
    assert row["status"] == "ok", row
    result = row["result"]
    for key in ("atoms", "count", "pairs"):
        assert result[key] == ref[key], (row["input"], key, str(result[key])[:200], str(ref[key])[:200])
    print(row["input"], result["atoms"], "atoms", result["count"], "contacts")
PYEOF
"$BIN/fanfold" run --serial -K contacts --format jsonl -- "${files[@]}" | cmp - "$SCRATCH/out.jsonl" \
    || fail "--serial differs"

# three kernels: three lines per input, input-major, in the order given
"$BIN/fanfold" run -w 2 -K contacts,hbonds,clashes --format jsonl -- "${files[@]:0:3}" > "$SCRATCH/three.jsonl"
"$PY" - "$SCRATCH/three.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["kernel"] for r in rows] == ["contacts", "hbonds", "clashes"] * 3, [r["kernel"] for r in rows]
inputs = [r["input"] for r in rows]
assert inputs[0] == inputs[1] == inputs[2] != inputs[3] == inputs[4] == inputs[5], inputs
assert all(r["status"] == "ok" for r in rows)
assert [r["seq"] for r in rows] == list(range(9))
PYEOF

# a broken coordinate: an error record naming file and line; the rest is fine
rc=0
"$BIN/fanfold" run -w 2 -K contacts --format jsonl -- "$demo/il2.pdb" "$ROOT/tests/data/badcoord.pdb" \
    "$ROOT/tests/data/empty.pdb" "$ROOT/tests/data/pept.pdb.gz" > "$SCRATCH/bad.jsonl" 2> "$SCRATCH/err" || rc=$?
[ "$rc" = 1 ] || fail "broken inputs: exit $rc, expected 1"
"$PY" - "$SCRATCH/bad.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["status"] for r in rows] == ["ok", "error", "error", "ok"], rows
assert "badcoord.pdb: line 3" in rows[1]["error"] and "not a number" in rows[1]["error"], rows[1]
assert "empty.pdb" in rows[2]["error"], rows[2]
PYEOF
