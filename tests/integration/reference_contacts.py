#!/usr/bin/python3
"""An independent reference for fanfold's contacts kernel: parses a PDB file
(plain or gzipped) by SPEC section 5's rules and finds every pair of selected
atoms within the cutoff by brute force, with numpy. Prints one JSON object
{"atoms":N,"count":M,"pairs":[[i,j],...]} per file."""

import gzip
import json
import sys

import numpy as np


def selected_atoms(path):
    opener = gzip.open if path.endswith(".gz") else open
    coords, seen = [], {}
    with opener(path, "rt", encoding="latin-1") as source:
        for line in source:
            record = line[:6]
            if record.startswith("ENDMDL"):
                break                       # the first model only
            if record not in ("ATOM  ", "HETATM"):
                continue
            name = line[12:16]
            altloc = line[16]
            key = (line[21], line[22:26], line[26], name)   # chain, resSeq, iCode, name
            if altloc != " ":
                first = seen.setdefault(key, altloc)
                if first != altloc:
                    continue
            element = line[76:78].strip() if len(line) > 76 else ""
            if not element:
                element = name.lstrip(" 0123456789")[:1]
            if element.upper() in ("H", "D"):
                continue
            coords.append((float(line[30:38]), float(line[38:46]), float(line[46:54])))
    return np.array(coords, dtype=np.float32).astype(np.float64)


def contacts(path, cutoff):
    xyz = selected_atoms(path)
    n = len(xyz)
    pairs = []
    for i in range(n):
        d2 = ((xyz[i + 1:] - xyz[i]) ** 2).sum(axis=1)
        for j in np.nonzero(d2 <= cutoff * cutoff)[0]:
            pairs.append([i, i + 1 + int(j)])
    return {"atoms": n, "count": len(pairs), "pairs": pairs}


if __name__ == "__main__":
    cutoff = float(sys.argv[1])
    for path in sys.argv[2:]:
        print(json.dumps(contacts(path, cutoff), separators=(",", ":")))
