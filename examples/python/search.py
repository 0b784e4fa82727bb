#!/usr/bin/python3
"""A search loop on fanfold.Pool: a large read-only float64 table is frozen
into shared memory once, and thousands of specifications are evaluated by
a Python function that reads slices of it, on 2 workers. The results come
back in order and equal a plain serial loop's.

    PYTHONPATH=python python3 examples/python/search.py [--mb 400] [--specs 2000]
        [--workers 2] [--check] [--progress] [--frozen-resident MB|all]

--check also runs the serial loop and compares (exit 1 when they differ).
The table is built block by block straight into shared memory, so it never
exists twice; every task sees it as a zero-copy read-only numpy view. Each
worker keeps at most the pool's frozen_resident of it mapped (256 MiB by
default, --frozen-resident sets it), so that the summed RSS of all the
processes stays well below twice the table.
"""

import argparse
import sys
import time

import numpy

import fanfold

COLUMNS = 50


def table_blocks(rows, seed=7, block_rows=100000):
    """The table, block by block: deterministic pseudo-random data."""
    rng = numpy.random.default_rng(seed)
    done = 0
    while done < rows:
        count = min(block_rows, rows - done)
        yield rng.standard_normal((count, COLUMNS))
        done += count


def specifications(count, rows, seed=11):
    """count specifications: (first row, rows, column x, column y, lag)."""
    rng = numpy.random.default_rng(seed)
    specs = []
    for _ in range(count):
        length = int(rng.integers(20000, 60000))
        first = int(rng.integers(0, rows - length))
        x, y = (int(c) for c in rng.choice(COLUMNS, 2, replace=False))
        specs.append((first, length, x, y, int(rng.integers(0, 5))))
    return specs


def evaluate(task):
    """Scores one specification on slices of the frozen table: the
    correlation of column x with column y shifted by lag, over its rows.
    task is (the frozen data, a specification)."""
    data, (first, length, x, y, lag) = task
    table = data["table"]
    a = table[first + lag:first + length, x]
    b = table[first:first + length - lag, y]
    a = a - a.mean()
    b = b - b.mean()
    score = float((a * b).sum() / numpy.sqrt((a * a).sum() * (b * b).sum()))
    return [first, x, y, lag, round(score, 12)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=400, help="table size in MB (float64)")
    parser.add_argument("--specs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--check", action="store_true", help="compare with a serial loop")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--frozen-resident", default=None, metavar="MB",
                        help="MB of the table a worker keeps mapped ('all': no limit; "
                             "default: the pool's)")
    options = parser.parse_args(argv)
    rows = options.mb * 1000 * 1000 // (8 * COLUMNS)
    started = time.monotonic()
    data = fanfold.freeze({"table": table_blocks(rows)})
    specs = specifications(options.specs, rows)
    print("search: table %d x %d float64 (%.0f MB) frozen in %.1f s"
          % (rows, COLUMNS, data["table"].nbytes / 1e6, time.monotonic() - started),
          file=sys.stderr)
    started = time.monotonic()
    extra = {}
    if options.frozen_resident == "all":
        extra["frozen_resident"] = None
    elif options.frozen_resident is not None:
        extra["frozen_resident"] = int(float(options.frozen_resident) * 1e6)
    with fanfold.Pool(workers=options.workers, progress=options.progress,
                      fallback="serial", **extra) as pool:
        results = list(pool.imap(evaluate, ((data, spec) for spec in specs)))
    print("search: %d specifications on %d workers in %.1f s"
          % (len(results), options.workers, time.monotonic() - started), file=sys.stderr)
    best = max(results, key=lambda r: abs(r[4]))
    print("best: rows from %d, column %d against %d lagged %d: correlation %.6f" % tuple(best))
    status = 0
    if options.check:
        serial = [evaluate((data, spec)) for spec in specs]
        same = serial == results
        print("serial loop: %s" % ("identical, in order" if same else "DIFFERENT"))
        status = 0 if same else 1
    data.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
