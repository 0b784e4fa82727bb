#!/usr/bin/python3
"""Python baseline for `make bench`: multiprocessing Pool(W).imap(f, lines,
chunksize=1) over the lines of stdin, f echoing its line; results written
in order to stdout, like `fanfold run -w W --pipe --lines 1 -K noop`.
Usage: pool.py [WORKERS] < lines > lines"""
import multiprocessing
import sys


def f(line):
    return line


def main():
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    out = sys.stdout.buffer
    with multiprocessing.Pool(workers) as pool:
        for line in pool.imap(f, sys.stdin.buffer, chunksize=1):
            out.write(line)
    out.flush()


if __name__ == "__main__":
    main()
