#!/usr/bin/python3
"""Overhead of fanfold.Pool against multiprocessing.Pool, for `make bench`:
imap(noop, range(N)) with 2 workers, results checked, in alternating rounds:
fanfold.Pool(workers=2).imap (chunks chosen by the pool) over range(N) (a
range travels as range slices, no item is packed) and over list(range(N))
(every item packed, as any list), and multiprocessing.Pool(2).imap over
range(N) with chunksize=1 and with each of several chunksizes (its best is
the one with the lowest median). Both pools are
started (and warmed) before the rounds: the figures are the imap alone.
chunksize=1 (3 s a round, against some 15 ms for the others) runs in the
first SLOW rounds only; the others in every round, so that their medians,
on 2 shared cores, rest on enough rounds.
Prints one JSON object: seconds per round for each.
Usage: pypool.py [N] [ROUNDS] [SLOW]"""

import json
import multiprocessing
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "python"))
import fanfold  # noqa: E402

CHUNKSIZES = (10, 100, 1000, 10000)


def noop(x):
    return x


def timed(function, expected):
    started = time.perf_counter()
    got = function()
    seconds = time.perf_counter() - started
    if got != expected:
        raise SystemExit("pypool: wrong results")
    return seconds


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    slow = min(rounds, int(sys.argv[3]) if len(sys.argv) > 3 else rounds)
    expected = list(range(count))
    items = list(range(count))
    times = {"fanfold": [], "fanfold_list": [], "mp1": []}
    times.update({"mp%d" % c: [] for c in CHUNKSIZES})
    context = multiprocessing.get_context("fork")
    with fanfold.Pool(workers=2) as pool, context.Pool(2) as mp:
        pool.map(noop, range(1000))
        mp.map(noop, range(1000))
        for index in range(rounds):
            times["fanfold"].append(timed(lambda: list(pool.imap(noop, range(count))), expected))
            times["fanfold_list"].append(timed(lambda: list(pool.imap(noop, items)), expected))
            if index < slow:
                times["mp1"].append(timed(lambda: list(mp.imap(noop, range(count), chunksize=1)),
                                          expected))
            for size in CHUNKSIZES:
                times["mp%d" % size].append(timed(
                    lambda: list(mp.imap(noop, range(count), chunksize=size)), expected))
    best = min(CHUNKSIZES, key=lambda c: statistics.median(times["mp%d" % c]))
    print(json.dumps({"n": count, "rounds": rounds, "slow_rounds": slow,
                      "load": os.getloadavg(), "fanfold": times["fanfold"],
                      "fanfold_list": times["fanfold_list"],
                      "mp_chunksize_1": times["mp1"], "mp_best_chunksize": best,
                      "mp_best": times["mp%d" % best],
                      "mp_by_chunksize": {str(c): times["mp%d" % c] for c in CHUNKSIZES}}))


if __name__ == "__main__":
    main()
