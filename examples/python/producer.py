#!/usr/bin/python3
"""Feeds records to a fanfold job started with --intake ENDPOINT: one
message per record, then end-of-stream, then waits until the ventilator
has taken everything (it closes the intake after eos), since ZeroMQ drops
what a PUSH socket still queues when its process leaves early
(docs/PROTOCOL.md, "Intake and emit").

    python3 examples/python/producer.py ipc:///tmp/in.sock 10000"""

import sys

import msgpack
import zmq
import zmq.utils.monitor


def main():
    endpoint, count = sys.argv[1], int(sys.argv[2])
    context = zmq.Context()
    intake = context.socket(zmq.PUSH)
    intake.setsockopt(zmq.LINGER, 0)
    intake.setsockopt(zmq.SNDTIMEO, 60000)   # the job pushes back when busy
    monitor = intake.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
    intake.connect(endpoint)
    for n in range(count):
        record = b"record %d\n" % n
        intake.send(msgpack.packb([1, "record", "rec-%d" % n, record], use_bin_type=True))
    intake.send(msgpack.packb([1, "eos", count], use_bin_type=True))
    # the ventilator closes the intake once it has read eos
    while monitor.poll(120000):
        event = zmq.utils.monitor.recv_monitor_message(monitor)
        if event["event"] == zmq.EVENT_DISCONNECTED:
            break
    else:
        print("producer.py: the job did not take all records", file=sys.stderr)
        return 1
    intake.disable_monitor()
    monitor.close()
    intake.close()
    context.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
