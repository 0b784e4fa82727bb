#!/usr/bin/python3
"""The .npy side of bench measure 7 (arrays), with Debian's python3-numpy.

    npy.py make PATH MB     writes PATH: MB megabytes of float32, normal
                            (mean 1, std 3, seed 1), in slices of 10M values
    npy.py stats PATH       numpy's own mean and std (in float64) of the
                            memory-mapped PATH, as one JSON line
    npy.py exact PATH       the sum and m2 of a float32 PATH to within an
                            ulp: math.fsum of the values and of their
                            squares (exact in float64 for float32 values),
                            m2 = sum of squares - sum^2 / count in fractions
"""
import json
import math
import os
import sys
from fractions import Fraction

import numpy as np


def make(path, mb):
    count = int(mb) * 1000000 // 4
    rng = np.random.default_rng(1)
    tmp = path + ".tmp"
    array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(count,))
    step = 10000000
    for start in range(0, count, step):
        size = min(step, count - start)
        array[start:start + size] = rng.standard_normal(size, dtype=np.float32) * 3 + 1
    array.flush()
    del array
    os.replace(tmp, path)


def stats(path):
    array = np.load(path, mmap_mode="r")
    print(json.dumps({"count": int(array.size),
                      "mean": float(array.mean(dtype=np.float64)),
                      "std": float(array.std(dtype=np.float64))}))


def exact(path):
    array = np.load(path, mmap_mode="r")
    if array.dtype != np.float32:
        sys.exit("npy.py exact: %s is %s, not float32" % (path, array.dtype))
    values = array.reshape(-1).astype(np.float64)
    total = math.fsum(values)
    squares = math.fsum(values * values)
    m2 = Fraction(squares) - Fraction(total) ** 2 / values.size
    print(json.dumps({"count": int(values.size), "sum": total, "m2": float(m2),
                      "std": math.sqrt(float(m2) / values.size)}))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "stats":
        stats(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "exact":
        exact(sys.argv[2])
    else:
        sys.exit("usage: npy.py make PATH MB | npy.py stats PATH | npy.py exact PATH")
