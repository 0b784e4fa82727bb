#!/usr/bin/python3
"""Writes the seed corpus of tests/fuzz/fuzz_decode.c into tests/fuzz/corpus/:
one valid frame of every message of docs/PROTOCOL.md, the hostile frames
the decoder must refuse, and .npy headers valid and not. Deterministic, so
running it again rewrites the same bytes.

    /usr/bin/python3 tests/fuzz/make_corpus.py [DIR]

Needs Debian's python3-msgpack."""

import os
import struct
import sys

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
JOB = "0123456789abcdef"


def pack(*fields):
    return msgpack.packb([1, *fields], use_bin_type=True)


def stats(attempt=1, chunk=0, chunks=1):
    """A result item's stats: attempt, tries, start_ms, runtime_us,
    bytes_in, chunk, chunks."""
    return [attempt, 1, 1700000000000, 1234, 6, chunk, chunks]


def task_item(seq, kernel, input_name, payload, attempt=1, chunk=0, chunks=1, arrays=()):
    """A task item: seq, kernel, input, payload, attempt, chunk, chunks,
    array handles."""
    return [seq, kernel, input_name, payload, attempt, chunk, chunks, list(arrays)]


def handle(name, dtype, shape, segment="", offset=0, data=b""):
    """An array handle: a slice of a segment, or its bytes inline."""
    length = len(data) if not segment else 8 * len(shape)
    return [name, dtype, list(shape), segment, offset, length, data]


def npy(header, major=1, data=b"", pad=True):
    """A .npy file: magic, version, header length, header text, data."""
    text = header.encode("latin-1")
    start = 10 if major == 1 else 12
    if pad:
        text += b" " * ((64 - (start + len(text) + 1) % 64) % 64) + b"\n"
    size = struct.pack("<H", len(text)) if major == 1 else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes([major, 0]) + size + text + data


seeds = {
    # every message, valid
    "msg-hello-worker": pack("hello", "worker", "host:1234", 0),
    "msg-hello-sink": pack("hello", "sink", "sink", 1),
    "msg-welcome": pack("welcome", JOB, 7, "ipc:///tmp/fanfold-1000/local/task-7",
                        250, ["noop", "sleep"], [["ms", "5"], ["jitter", "1"]]),
    "msg-job": pack("job", JOB, ["noop", "sleep", "spin"], 3000, 1024),
    "msg-job-total-unknown": pack("job", JOB, ["noop"], -1, 1024),
    "msg-ack": pack("ack", JOB, 17, [17, 18, 20, 2 ** 40, 2 ** 63]),
    "msg-ack-empty": pack("ack", JOB, 0, []),
    "msg-hb": pack("hb", JOB, 3),
    "msg-bye": pack("bye", JOB, 3),
    "msg-end": pack("end", JOB, 0),
    "msg-task": pack("task", JOB, [task_item(0, 0, "stdin:1-1", b"1\n"),
                                   task_item(1, 1, "stdin:2-2", b"2\n", 2),
                                   task_item(70000, 31, "", b"", 2 ** 32 - 1, 3, 4)]),
    "msg-task-arrays": pack("task", JOB, [task_item(
        0, 0, "a.npy", b"", 1, 0, 2,
        [handle("data", 10, [2, 3], segment="/fanfold-0123456789abcdef-1", offset=4096),
         handle("flags", 5, [4], data=b"\x01\x00\x01\x01"),
         handle("coords", 9, [1, 1, 1, 1], data=bytes(4)),
         handle("rings", 1, [0], data=b"")])]),
    "msg-result": pack("result", JOB, 2,
                       [[0, 0, 0, 0, "stdin:1-1", b"1\n", "", stats()],
                        [1, 1, 1, 0, "stdin:2-2", b"kernel failed", '"exit":1', stats(3)],
                        [2, 0, 0, 1, "x", b'{"n":1}', "", stats(1, 1, 2)]]),
    "msg-record": pack("record", "rec-1", b"payload bytes"),
    "msg-eos": pack("eos", 42),
    "msg-emit": pack("emit", 5, "stdin:6-6", "noop", 0, b"6\n", ""),
    # the same with the widest encodings msgpack has (str32, bin32, array32, u64)
    "msg-task-wide": bytes([0xdd, 0, 0, 0, 4, 0xcf, 0, 0, 0, 0, 0, 0, 0, 1,
                            0xdb, 0, 0, 0, 4]) + b"task"
                     + bytes([0xdb, 0, 0, 0, 3]) + b"job"
                     + bytes([0xdd, 0, 0, 0, 1, 0xdd, 0, 0, 0, 8, 0xd3] + [0] * 8
                             + [0xd0, 3, 0xda, 0, 1]) + b"i"
                     + bytes([0xc6, 0, 0, 0, 2]) + b"ab"
                     + bytes([0xcd, 0, 1, 0xce, 0, 0, 0, 0, 0xd1, 0, 1, 0xdc, 0, 0]),

    # hostile frames the issue names
    "bad-empty": b"",
    "bad-array32-huge": bytes([0xdd, 0xff, 0xff, 0xff, 0xff]),
    "bad-nested-33": bytes([0x91] * 33) + b"\xc0",
    "bad-c1": b"\xc1",
    "bad-version-2": msgpack.packb([2, "hb", JOB, 3], use_bin_type=True),
    "bad-task-truncated": pack("task", JOB, [task_item(0, 0, "stdin:1-1", b"1\n")])[:-3],
    # and a few more of the kind
    "bad-str32-huge": bytes([0x94, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff]),
    "bad-bin32-huge": pack("record", "r", b"")[:-2] + bytes([0xc6, 0xff, 0xff, 0xff, 0xf0]),
    "bad-trailing-byte": pack("hb", JOB, 3) + b"\x00",
    "bad-unknown-type": pack("hallo", JOB, 3),
    "bad-batch-4097": pack("task", JOB, [])[:-1] + b"\xdc\x10\x01" + bytes(4097),
    "bad-kernel-32": pack("task", JOB, [task_item(0, 32, "", b"")]),
    "bad-chunk-past-chunks": pack("task", JOB, [task_item(0, 0, "", b"", 1, 2, 2)]),
    "bad-handle-both": pack("task", JOB, [task_item(0, 0, "", b"", 1, 0, 1, [
        ["data", 10, [1], "/fanfold-x-1", 0, 8, bytes(8)]])]),
    "bad-handle-5-dims": pack("task", JOB, [task_item(0, 0, "", b"", 1, 0, 1, [
        handle("data", 5, [1, 1, 1, 1, 1], data=b"\x01")])]),
    "bad-old-task-item": pack("task", JOB, [[0, 0, "stdin:1-1", b"1\n", 1]]),
    "bad-ack-negative-seq": pack("ack", JOB, 0, [-1]),
    "bad-hello-role": pack("hello", "admin", "x", 0),
    "msg-record-hostile-name": pack("record", "/../../etc/passwd", b"/../../etc/passwd"),

    # .npy headers
    "npy-v1-f8": npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }",
                     data=bytes(96)),
    "npy-v2-u1-0d": npy("{'descr': '|u1', 'fortran_order': False, 'shape': (), }",
                        major=2, data=b"\x07"),
    "npy-v3-i4-4d": npy('{"descr": "<i4", "fortran_order": False, "shape": (1, 2, 1, 2L), }',
                        major=3, data=bytes(16)),
    "npy-empty-shape": npy("{'descr': '<i2', 'fortran_order': False, 'shape': (0, 5), }"),
    "npy-fortran": npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", data=bytes(8)),
    "npy-big-endian": npy("{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", data=bytes(8)),
    "npy-structured": npy("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,), }"),
    "npy-5-dims": npy("{'descr': '<u2', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1), }"),
    "npy-huge-shape": npy("{'descr': '<u8', 'fortran_order': False, "
                          "'shape': (4294967296, 4294967296, 4294967296), }"),
    "npy-truncated-data": npy("{'descr': '<f8', 'fortran_order': False, 'shape': (10,), }",
                              data=bytes(8)),
    "npy-truncated-header": npy("{'descr': '<f8', 'fortran_order': False, 'shape': (10,), }")[:30],
    "npy-bad-version": npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
                           major=4, data=bytes(8)),
    "npy-header-too-long": b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xffffffff) + b"{",
    "npy-magic-only": b"\x93NUM",
}

os.makedirs(OUT, exist_ok=True)
for name, data in sorted(seeds.items()):
    with open(os.path.join(OUT, name), "wb") as out:
        out.write(data)
print("wrote %d seeds into %s" % (len(seeds), OUT))
