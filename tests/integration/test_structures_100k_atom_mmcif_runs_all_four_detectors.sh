#   An mmCIF of more than 100,000 heavy atoms and 560 chains (more than the
#   PDB format holds), made here with python3-gemmi from 112 copies of the
#   2BEG fibril (tests/data; hydrogens included) 60 Å apart, runs all four
#   detectors in parallel on 4 workers: each count is 112 times the count
#   of one copy written the same way, --serial gives the same results.
#   Peak memory (largest process, and --serial in one process) is printed.
. "$(dirname "$0")/lib.sh"
one=$SCRATCH/one.cif.gz
big=$SCRATCH/copies.cif.gz
"$PY" - "$ROOT/tests/data/2BEG.pdb.gz" "$one" 1 "$big" 112 <<'PYEOF'
import gzip, sys
import gemmi
source = gemmi.read_structure(sys.argv[1], merge_chain_parts=False)
for path, copies in ((sys.argv[2], int(sys.argv[3])), (sys.argv[4], int(sys.argv[5]))):
    out = gemmi.Structure()
    out.name = "COPIES"
    out.cell = gemmi.UnitCell(500, 500, 500, 90, 90, 90)
    model = gemmi.Model("1")
    for copy in range(copies):
        shift = gemmi.Position(60.0 * (copy % 5), 60.0 * (copy // 5 % 5), 60.0 * (copy // 25))
        for chain in source[0]:
            moved = chain.clone()
            moved.name = "%s%d" % (chain.name, copy)
            for residue in moved:
                residue.subchain = ""
                for atom in residue:
                    atom.pos = atom.pos + shift
            model.add_chain(moved)
    out.add_model(model)
    out.setup_entities()
    with gzip.open(path, "wt") as f:
        f.write(out.make_mmcif_document().as_string())
PYEOF
kernels=contacts,hbonds,clashes,pistacking
"$BIN/fanfold" run -w 2 -K $kernels --format jsonl -- "$one" > "$SCRATCH/one.jsonl"
start=$(now)
/usr/bin/time -f %M -o "$SCRATCH/rss" "$BIN/fanfold" run -w 4 --mode parallel -K $kernels --format jsonl -- "$big" > "$SCRATCH/big.jsonl"
seconds=$(elapsed "$start")
/usr/bin/time -f %M -o "$SCRATCH/rss.serial" "$BIN/fanfold" run --serial -K $kernels --format jsonl -- "$big" > "$SCRATCH/serial.jsonl"
cmp -s <(cut -d, -f2- "$SCRATCH/big.jsonl") <(cut -d, -f2- "$SCRATCH/serial.jsonl") \
    || fail "--serial and 4 workers differ"
"$PY" - "$SCRATCH/one.jsonl" "$SCRATCH/big.jsonl" <<'PYEOF'
import json, sys
one = [json.loads(line) for line in open(sys.argv[1])]
big = [json.loads(line) for line in open(sys.argv[2])]
assert [r["kernel"] for r in big] == ["contacts", "hbonds", "clashes", "pistacking"], big
for small, large in zip(one, big):
    assert small["status"] == large["status"] == "ok", (small, large)
    what = "rings" if large["kernel"] == "pistacking" else "atoms"
    assert large["result"][what] == 112 * small["result"][what], (large["kernel"], what)
    assert large["result"]["count"] == 112 * small["result"]["count"], \
        (large["kernel"], large["result"]["count"], small["result"]["count"])
    print("%-10s %7d %s, %8d pairs" % (large["kernel"], large["result"][what], what, large["result"]["count"]))
assert big[0]["result"]["atoms"] > 100000
assert all(r["result"]["count"] > 0 for r in one), "every detector finds something in one copy"
PYEOF
echo "100k-atom mmCIF, 4 workers: ${seconds}s; peak RSS of the largest process $(($(cat "$SCRATCH/rss") / 1024)) MiB, --serial (one process) $(($(cat "$SCRATCH/rss.serial") / 1024)) MiB"
