"""Kernels of test_fetch.py: they read a shared table (pool.share) and a
frozen mapping passed as an argument."""

import numpy

import fanfold


def row_sum(args):
    frozen, index = args
    table = fanfold.shared("table")
    assert not table.flags.writeable and not frozen["weights"].flags.writeable
    return float(table[index].sum() * frozen["weights"][index % len(frozen["weights"])])


def expected(table, weights, index):
    return float(table[index].sum() * weights[index % len(weights)])


def writable_sum(array):
    array[0] += 1                 # a per-task array is the task's own copy
    return float(numpy.asarray(array, dtype=numpy.float64).sum())
