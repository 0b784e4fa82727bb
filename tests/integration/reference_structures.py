#!/usr/bin/python3
"""Independent references for fanfold's clashes and pistacking, written
with python3-gemmi (reading, element data) and numpy (geometry), from the
definitions of docs/DETECTORS.md rather than from fanfold's code.

    reference_structures.py clashes FILE [OVERLAP]   -> {"atoms":N,"count":M,"pairs":[[i,j,d,overlap],...]}
    reference_structures.py rings FILE               -> [[chain,number,icode,name,cx,cy,cz,nx,ny,nz],...]
"""

import json
import sys
from collections import deque

import gemmi
import numpy as np

AMINO = set("ALA ARG ASN ASP CYS GLN GLU GLY HIS ILE LEU LYS MET PHE PRO SER "
            "THR TRP TYR VAL HID HIE HIP HSD HSE HSP MSE".split())
WATER = {"HOH", "WAT", "DOD", "H2O"}
# (residue or None for any amino acid, atom): (donor, acceptor)
POLAR = {
    (None, "N"): (True, False), (None, "O"): (False, True),
    (None, "OXT"): (False, True), (None, "OT1"): (False, True), (None, "OT2"): (False, True),
    ("SER", "OG"): (True, True), ("THR", "OG1"): (True, True), ("TYR", "OH"): (True, True),
    ("ASN", "OD1"): (False, True), ("ASN", "ND2"): (True, False),
    ("GLN", "OE1"): (False, True), ("GLN", "NE2"): (True, False),
    ("ASP", "OD1"): (False, True), ("ASP", "OD2"): (False, True),
    ("GLU", "OE1"): (False, True), ("GLU", "OE2"): (False, True),
    ("LYS", "NZ"): (True, False), ("ARG", "NE"): (True, False),
    ("ARG", "NH1"): (True, False), ("ARG", "NH2"): (True, False),
    ("TRP", "NE1"): (True, False),
    ("HIS", "ND1"): (True, True), ("HIS", "NE2"): (True, True),
    ("HID", "ND1"): (True, False), ("HID", "NE2"): (False, True),
    ("HIE", "ND1"): (False, True), ("HIE", "NE2"): (True, False),
    ("HIP", "ND1"): (True, False), ("HIP", "NE2"): (True, False),
    ("HSD", "ND1"): (True, False), ("HSD", "NE2"): (False, True),
    ("HSE", "ND1"): (False, True), ("HSE", "NE2"): (True, False),
    ("HSP", "ND1"): (True, False), ("HSP", "NE2"): (True, False),
}
RINGS = {
    "PHE": [["CG", "CD1", "CE1", "CZ", "CE2", "CD2"]],
    "TYR": [["CG", "CD1", "CE1", "CZ", "CE2", "CD2"]],
    "TRP": [["CG", "CD1", "NE1", "CE2", "CD2"], ["CD2", "CE2", "CZ2", "CH2", "CZ3", "CE3"]],
    "HIS": [["CG", "ND1", "CE1", "NE2", "CD2"]],
}


def select(path):
    """The selected atoms of the first model: (element, residue key,
    residue name, atom name, xyz as float32 read back as double)."""
    st = gemmi.read_structure(path, merge_chain_parts=False)
    seen, atoms = {}, []
    for chain in st[0]:
        for residue in chain:
            key = (chain.name, residue.seqid.num, residue.seqid.icode)
            for atom in residue:
                if atom.element.name in ("H", "D"):
                    continue
                if atom.altloc != "\0":
                    if seen.setdefault(key + (atom.name,), atom.altloc) != atom.altloc:
                        continue
                xyz = np.array([atom.pos.x, atom.pos.y, atom.pos.z], dtype=np.float32)
                atoms.append((atom.element, key, residue.name, atom.name, xyz.astype(np.float64)))
    return atoms


def polar(residue, name, element):
    if element.name not in ("N", "O"):
        return (False, False)
    if residue in WATER:
        return (True, True) if element.name == "O" else (False, False)
    if residue not in AMINO:
        return (False, False)
    donor, acceptor = POLAR.get((residue, name), POLAR.get((None, name), (False, False)))
    if (residue, name) not in POLAR and name == "N" and residue == "PRO":
        donor = False
    return (donor, acceptor)


def clashes(path, limit):
    atoms = select(path)
    n = len(atoms)
    xyz = np.array([a[4] for a in atoms])
    cov = np.array([a[0].covalent_r for a in atoms])
    vdw = np.array([a[0].vdw_r for a in atoms])
    flags = [polar(a[2], a[3], a[0]) for a in atoms]
    neighbours = [[] for _ in range(n)]
    candidates = []
    for i in range(n):
        d = np.sqrt(((xyz[i + 1:] - xyz[i]) ** 2).sum(axis=1))
        for j in np.nonzero(d <= cov[i] + cov[i + 1:] + 0.4)[0]:
            neighbours[i].append(i + 1 + int(j))
            neighbours[i + 1 + int(j)].append(i)
        overlap = vdw[i] + vdw[i + 1:] - d
        for j in np.nonzero(overlap >= limit)[0]:
            candidates.append((i, i + 1 + int(j), float(d[j]), float(overlap[j])))

    def within_three(i, j):
        depth, queue = {i: 0}, deque([i])
        while queue:
            at = queue.popleft()
            if depth[at] == 3:
                continue
            for other in neighbours[at]:
                if other not in depth:
                    depth[other] = depth[at] + 1
                    queue.append(other)
        return j in depth

    pairs = []
    for i, j, d, overlap in candidates:
        (di, ai), (dj, aj) = flags[i], flags[j]
        if ((di and aj) or (dj and ai)) and d >= 2.5:
            continue
        if within_three(i, j):
            continue
        pairs.append([i, j, round(d, 3), round(overlap, 3)])
    return {"atoms": n, "count": len(pairs), "pairs": pairs}


def rings(path):
    """Rings by residue, centroid and a least-squares plane normal (SVD)."""
    out, by_residue = [], {}
    for element, key, residue, name, xyz in select(path):
        by_residue.setdefault(key, (residue, {}))[1][name] = xyz
    for key, (residue, names) in by_residue.items():
        for ring in RINGS.get(residue, []):
            if all(name in names for name in ring):
                points = np.array([names[name] for name in ring])
                centroid = points.mean(axis=0)
                normal = np.linalg.svd(points - centroid)[2][2]
                out.append([key[0], key[1], key[2].strip(), residue]
                           + [float(v) for v in centroid] + [float(v) for v in normal])
    return out


if __name__ == "__main__":
    if sys.argv[1] == "clashes":
        limit = float(sys.argv[3]) if len(sys.argv) > 3 else 0.4
        print(json.dumps(clashes(sys.argv[2], limit)))
    else:
        print(json.dumps(rings(sys.argv[2])))
