#!/usr/bin/python3
"""A fanfold worker written from docs/PROTOCOL.md alone: it joins the job
running on a topology and serves the noop and exec kernels.

    python3 examples/python/worker.py -t topology/local.zpl

Needs Debian's python3-zmq and python3-msgpack. exec runs the command
through /bin/sh with {} replaced by the shell-quoted input (shlex.quote),
or the input on stdin with pipe=1; the other replacement strings of the C
worker are not served here."""

import argparse
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

import msgpack
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fanfold_topology import connect_endpoints  # noqa: E402

VERSION = 1


def pack(*fields):
    return msgpack.packb([VERSION, *fields], use_bin_type=True)


def unpack(frame):
    message = msgpack.unpackb(frame, raw=False)
    if not isinstance(message, list) or len(message) < 2 or message[0] != VERSION:
        raise ValueError("not a fanfold message")
    return message


def run_exec(payload, params, seq):
    """Returns (status, body, meta) for the exec kernel."""
    command = params.get("cmd", "")
    stdin = None
    if params.get("pipe") == "1":
        stdin = payload
    else:
        quoted = shlex.quote(payload.decode("utf-8", "surrogateescape"))
        if "{}" in command:
            command = command.replace("{}", quoted).replace("{#}", str(seq + 1))
        else:
            command = command + " " + quoted
    timeout = float(params.get("timeout", "0")) or None
    try:
        done = subprocess.run(["/bin/sh", "-c", command], input=stdin,
                              stdout=subprocess.PIPE,
                              stdin=None if stdin is not None else subprocess.DEVNULL,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return 1, b"command timed out after %g s" % timeout, ""
    if done.returncode < 0:
        return 1, b"command killed by signal %d" % -done.returncode, '"signal":%d' % -done.returncode
    meta = '"exit":%d' % done.returncode
    if done.returncode:
        return 1, b"command exited with status %d" % done.returncode, meta
    return 0, done.stdout, meta


def heartbeat(context, control_endpoint, job, worker_id, every, stop):
    """Sends hb on its own socket until stop is set (pyzmq sockets are not
    shared between threads)."""
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(control_endpoint)
    while not stop.wait(every):
        sock.send(pack("hb", job, worker_id))
    sock.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-t", "--topology", required=True)
    parser.add_argument("-v", "--verbose", action="store_true")
    options = parser.parse_args()
    control_endpoint, results_endpoint = connect_endpoints(options.topology)

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())

    context = zmq.Context()
    control = context.socket(zmq.DEALER)
    control.setsockopt(zmq.LINGER, 0)
    control.connect(control_endpoint)
    results = context.socket(zmq.PUSH)
    results.setsockopt(zmq.LINGER, 2000)
    results.connect(results_endpoint)
    name = "%s:%d:python" % (socket.gethostname(), os.getpid())

    # join: hello until welcome
    welcome = None
    while welcome is None and not stopping.is_set():
        control.send(pack("hello", "worker", name, 0))
        if control.poll(1000):
            message = unpack(control.recv())
            if message[1] == "welcome":
                welcome = message
    if welcome is None:
        return 0
    _, _, job, worker_id, endpoint, hb_ms, kernels, params = welcome
    params = dict(params)   # later pairs win; the C worker takes the first
    tasks = context.socket(zmq.PULL)
    tasks.setsockopt(zmq.LINGER, 0)
    tasks.connect(endpoint)
    beat_stop = threading.Event()
    beat = threading.Thread(target=heartbeat, daemon=True,
                            args=(context, control_endpoint, job, worker_id,
                                  hb_ms / 1000.0, beat_stop))
    beat.start()
    if options.verbose:
        print("worker.py: joined job %s as worker %d" % (job, worker_id), file=sys.stderr)

    poller = zmq.Poller()
    poller.register(control, zmq.POLLIN)
    poller.register(tasks, zmq.POLLIN)
    done = 0
    ended = False
    while not ended and not stopping.is_set():
        ready = dict(poller.poll(hb_ms))
        if control in ready:
            message = unpack(control.recv())
            if message[1] == "end" and message[2] == job:
                ended = True
        if tasks in ready and not ended:
            message = unpack(tasks.recv())
            if message[1] != "task" or message[2] != job:
                continue
            items = []
            for seq, kernel, input_name, payload, attempt, chunk, chunks, arrays in message[3]:
                started_ms = int(time.time() * 1000)
                started = time.monotonic()
                name_of = kernels[kernel] if kernel < len(kernels) else "?"
                if name_of == "noop":
                    status, body, meta = 0, payload, ""
                elif name_of == "exec":
                    status, body, meta = run_exec(payload, params, seq)
                else:
                    status, body, meta = 1, b"kernel %s is not served by worker.py" % name_of.encode(), ""
                runtime_us = int((time.monotonic() - started) * 1e6)
                items.append([seq, kernel, status, 0, input_name, body, meta,
                              [attempt, 1, started_ms, runtime_us, len(payload), chunk, chunks]])
                done += 1
            results.send(pack("result", job, worker_id, items))
    if not ended:
        control.send(pack("bye", job, worker_id))
    beat_stop.set()
    beat.join()
    if options.verbose:
        print("worker.py: %d tasks" % done, file=sys.stderr)
    tasks.close()
    control.close()
    results.close()
    context.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
