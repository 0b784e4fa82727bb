#   The same entry as .pdb.gz and as .cif.gz (1A8O, shipped in tests/data)
#   gives identical results for all four detectors, at atom and residue
#   level; the atom count agrees with python3-gemmi's reading of the mmCIF
#   (first model, first altloc, no hydrogens).
. "$(dirname "$0")/lib.sh"
data=$ROOT/tests/data
kernels=contacts,hbonds,clashes,pistacking
for level in atom residue; do
    "$BIN/fanfold" run -w 2 -K $kernels -p level=$level --format raw -- "$data/1A8O.pdb.gz" > "$SCRATCH/pdb.$level"
    "$BIN/fanfold" run -w 2 -K $kernels -p level=$level --format raw -- "$data/1A8O.cif.gz" > "$SCRATCH/cif.$level"
    same "$SCRATCH/pdb.$level" "$SCRATCH/cif.$level" "1A8O .pdb.gz and .cif.gz, level=$level"
done
"$BIN/fanfold" run -w 2 -K $kernels --format jsonl -- "$data/1A8O.cif.gz" > "$SCRATCH/cif.jsonl"
"$PY" - "$data/1A8O.cif.gz" "$SCRATCH/cif.jsonl" <<'PYEOF'
import json, sys
import gemmi
st = gemmi.read_structure(sys.argv[1])
seen, atoms = {}, 0
for chain in st[0]:
    for residue in chain:
        for atom in residue:
            if atom.element.name in ("H", "D"):
                continue
            if atom.altloc != "\0":
                key = (chain.name, residue.seqid.num, residue.seqid.icode, atom.name)
                if seen.setdefault(key, atom.altloc) != atom.altloc:
                    continue
            atoms += 1
rows = [json.loads(line) for line in open(sys.argv[2])]
assert [r["kernel"] for r in rows] == ["contacts", "hbonds", "clashes", "pistacking"], rows
assert all(r["status"] == "ok" for r in rows), rows
for row in rows[:3]:
    assert row["result"]["atoms"] == atoms, (row["kernel"], row["result"]["atoms"], atoms)
    assert row["result"]["count"] > 0 or row["kernel"] == "clashes", row["kernel"]
print("1A8O:", atoms, "atoms;", ", ".join("%s %d" % (r["kernel"], r["result"]["count"]) for r in rows))
PYEOF
