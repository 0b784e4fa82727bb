#   pistacking pairs rings of different residues only and classes them by
#   PLIP's criteria: in the 2BEG amyloid-beta fibril (tests/data) the PHE 20
#   rings of neighbouring in-register strands stack face to face
#   ("parallel"); in 1tii, PHE A 165 and TRP A 177 meet edge to face
#   ("tshape"). Distance, angle and offset agree with a reference that
#   fits each ring's plane by SVD with numpy (reference_structures.py).
. "$(dirname "$0")/lib.sh"
fibril=$ROOT/tests/data/2BEG.pdb.gz
toxin=/usr/share/pymol/data/demo/1tii.pdb
for file in "$fibril" "$toxin"; do
    "$BIN/fanfold" run -w 2 -K pistacking -p level=residue --format raw -- "$file" > "$SCRATCH/$(basename "$file").json"
    "$PY" "$ROOT/tests/integration/reference_structures.py" rings "$file" > "$SCRATCH/$(basename "$file").rings"
done
"$PY" - "$SCRATCH" <<'PYEOF'
import json, math, sys
import numpy as np
scratch = sys.argv[1]

def check(file, a, b, want_class):
    got = json.load(open("%s/%s.json" % (scratch, file)))
    pairs = got["pairs"]
    assert pairs, file
    for pair in pairs:
        assert pair[0] != pair[1], ("a pair within one residue", pair)
        assert pair[5] in ("parallel", "tshape"), pair
        assert 0.5 < pair[2] < 5.5 and pair[4] < 2.0, pair
        assert (pair[3] < 30) if pair[5] == "parallel" else (pair[3] > 60), pair
    found = [p for p in pairs if {tuple(p[0]), tuple(p[1])} == {tuple(a), tuple(b)}]
    assert found, (file, a, b, pairs)
    pair = found[0]
    assert pair[5] == want_class, (file, pair)
    # a TRP has two rings: take the pair of rings closest together
    best = None
    for ra in [r for r in json.load(open("%s/%s.rings" % (scratch, file))) if r[:4] == a]:
        for rb in [r for r in json.load(open("%s/%s.rings" % (scratch, file))) if r[:4] == b]:
            ca, na, cb, nb = np.array(ra[4:7]), np.array(ra[7:]), np.array(rb[4:7]), np.array(rb[7:])
            d = float(np.linalg.norm(cb - ca))
            angle = math.degrees(math.acos(min(1.0, abs(float(na @ nb)))))
            off = lambda c1, n1, c2: float(np.linalg.norm((c2 - c1) - ((c2 - c1) @ n1) * n1))
            offset = min(off(ca, na, cb), off(cb, nb, ca))
            if best is None or d < best[0]:
                best = (d, angle, offset)
    d, angle, offset = best
    assert abs(d - pair[2]) < 0.01, (pair, best)
    assert abs(angle - pair[3]) < 2.0, (pair, best)
    assert abs(offset - pair[4]) < 0.1, (pair, best)
    print(file, a, b, pair[2:], "reference d %.3f angle %.1f offset %.2f" % best)

check("2BEG.pdb.gz", ["D", 20, "", "PHE"], ["E", 20, "", "PHE"], "parallel")
check("1tii.pdb", ["A", 165, "", "PHE"], ["A", 177, "", "TRP"], "tshape")
PYEOF
