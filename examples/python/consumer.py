#!/usr/bin/python3
"""Reads every result of a fanfold job started with --emit ENDPOINT, in seq
order, until end-of-stream, and checks the order (docs/PROTOCOL.md,
"Emit"). Prints the results' bodies; exits 1 on a gap or disorder.

    python3 examples/python/consumer.py ipc:///tmp/out.sock > results.txt"""

import sys

import msgpack
import zmq


def main():
    endpoint = sys.argv[1]
    context = zmq.Context()
    emit = context.socket(zmq.PULL)
    emit.setsockopt(zmq.RCVTIMEO, 60000)
    emit.connect(endpoint)
    expected, out = None, sys.stdout.buffer
    while True:
        message = msgpack.unpackb(emit.recv(), raw=False)
        if message[1] == "eos":
            count = message[2]
            break
        _, _, seq, input_name, kernel, status, body, meta = message
        if expected is not None and seq != expected:
            print("consumer.py: got seq %d, expected %d" % (seq, expected), file=sys.stderr)
            return 1
        expected = seq + 1
        out.write(body)
    out.flush()
    print("consumer.py: %d results in order (job total %d)" % (expected or 0, count),
          file=sys.stderr)
    emit.close()
    context.term()
    return 0 if (expected or 0) == count else 1


if __name__ == "__main__":
    sys.exit(main())
