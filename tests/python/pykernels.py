"""Kernels for the Python tests: module-level functions that workers import."""

import os
import time

import numpy

import fanfold

calls = 0                      # module state: lives as long as the worker


def square(x):
    return x * x


def noop(x):
    return x


def count(_):
    global calls
    calls += 1
    return [os.getpid(), calls]


def fail_on(x):
    if x == 3:
        raise ValueError("three is not allowed")
    return x


def fail_on_large(x):
    if x == 31337:
        raise ValueError("31337 is not allowed")
    return x


class PlanError(Exception):
    pass


def fail_custom(x):
    raise PlanError("bad plan %d" % x)


def sleep_ms(ms):
    time.sleep(ms / 1000.0)
    return ms


def spin_s(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return seconds


def double(array):
    return array * 2


def describe(value):
    return [type(value).__name__, value]


def shared_sum(name):
    view = fanfold.shared(name)
    return [float(view.sum()), bool(view.flags.writeable)]


def frozen_row_sum(frozen, row):
    table = frozen["table"]
    return [float(table[row].sum()), bool(table.flags.writeable)]


def pid(_):
    return os.getpid()


def addmul(a, b, scale=1):
    return (a + b) * scale


def big_result(n):
    return numpy.arange(n, dtype=numpy.float64)
