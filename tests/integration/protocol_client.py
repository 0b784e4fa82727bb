#!/usr/bin/python3
"""The two ends of a job composed with other services, written from
docs/PROTOCOL.md section 7 alone (pyzmq + msgpack):
    protocol_client.py produce ENDPOINT < lines     one record per line, then eos
    protocol_client.py consume ENDPOINT > output    result bodies in seq order
Both give up after 30 s of silence (exit 1)."""

import sys

import msgpack
import zmq
import zmq.utils.monitor


def produce(ctx, endpoint):
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.SNDTIMEO, 30000)
    monitor = push.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    push.connect(endpoint)
    count = 0
    for number, line in enumerate(sys.stdin.buffer, 1):
        push.send(msgpack.packb([1, "record", "line%d" % number, line], use_bin_type=True))
        count += 1
    push.send(msgpack.packb([1, "eos", count], use_bin_type=True))
    # keep the socket open until the ventilator has read eos and closed its end
    if not monitor.poll(30000):
        return 1
    zmq.utils.monitor.recv_monitor_message(monitor)
    push.disable_monitor()
    monitor.close(0)
    push.close(0)
    return 0


def consume(ctx, endpoint):
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.RCVTIMEO, 30000)
    pull.connect(endpoint)
    expected, out = None, sys.stdout.buffer
    while True:
        try:
            msg = msgpack.unpackb(pull.recv(), raw=False)
        except zmq.Again:
            return 1
        if msg[1] == "eos":
            break
        _, _, seq, _input, _kernel, status, body, _meta = msg
        if expected is not None and seq <= expected:
            sys.stderr.write("seq %d after %d\n" % (seq, expected))
            return 1
        expected = seq
        if status == 0:
            out.write(body)
    out.flush()
    pull.close(0)
    return 0


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("produce", "consume"):
        sys.stderr.write(__doc__)
        return 2
    ctx = zmq.Context()
    rc = (produce if sys.argv[1] == "produce" else consume)(ctx, sys.argv[2])
    ctx.term()
    return rc


if __name__ == "__main__":
    sys.exit(main())
