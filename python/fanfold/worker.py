"""A fanfold worker that runs Python kernels (`py:MODULE:FUNC`).

    python3 -m fanfold.worker -t TOPOLOGY [--allow MODULE]... [-v]

It says hello with flags bit 1 ("I run only py: kernels"). Welcomed with
version 2 (a `fanfold serve` pool) it stays up across jobs: `jobspec`,
`task`, `forget` arrive on its task pipe and `cancel` on its control
sockets. Welcomed with version 1 (a `fanfold run` job) it serves that job
and exits at its `end`. Heartbeats go from a thread with its own DEALER, so
a long task never looks like a dead worker. Every frame is checked
(protocol.decode); a malformed one is dropped and counted.
"""

import _thread
import argparse
import collections
import json
import os
import signal
import socket
import sys
import threading
import time

import zmq

from . import context, errors, kernel, protocol, shm, task, values
from .topology import Topology

FLAG_NO_SHM = 1
FLAG_PY_ONLY = 2
MAX_JOBS = 64
CONTROL_MAX = 1 << 20
DATA_MAX = (1 << 31) - 1
MAX_RESULT = (2 << 30) - (1 << 20)
FETCH_CHUNK = CONTROL_MAX - (64 << 10)   # bytes one fetch asks for (FF_FETCH_CHUNK)
FETCH_WINDOW = 8                         # fetches in flight at once
FETCH_CACHE_BYTES = 512 << 20            # fetched frozen bytes a worker keeps
FETCH_TIMEOUT = 10.0                     # s without an answer: the task fails


def host_id():
    """Names this host and boot: two processes with the same id can share
    memory through /dev/shm."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as source:
            boot = source.read().strip()
    except OSError:
        boot = ""
    return "%s/%s" % (socket.gethostname(), boot)


class Cancelled(BaseException):
    """Raised in the main thread when the running task's job is cancelled."""


class JobSpec:
    def __init__(self, job, kernels, params):
        self.job = job
        self.kernels = kernels
        self.params = params
        self.first = {}
        for key, value in params:
            self.first.setdefault(key, value)
        self.shares = {}
        self.result_shm = False
        self.owner = None                  # the client's pid: it owns our result segments
        self.frozen_resident = shm.FROZEN_RESIDENT   # bytes of frozen pages kept, or None


class Heartbeat(threading.Thread):
    """Sends hb every hb_ms on a DEALER of its own and reads `cancel`s that
    arrive on it."""

    def __init__(self, worker, version, job, worker_id, hb_ms):
        super().__init__(name="fanfold-heartbeat", daemon=True)
        self.worker = worker
        self.frame = protocol.encode(version, "hb", job, worker_id)
        self.every = hb_ms / 1000.0
        self.stop = threading.Event()

    def run(self):
        sock = self.worker.context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, CONTROL_MAX)
        sock.setsockopt(zmq.SNDHWM, 100)
        self.worker.topology.secure(sock, self.worker.keys)
        sock.connect(self.worker.topology.control)
        try:
            next_beat = 0.0
            while not self.stop.is_set():
                now = time.monotonic()
                if now >= next_beat:
                    try:
                        sock.send(self.frame, zmq.NOBLOCK)
                    except zmq.Again:
                        pass
                    next_beat = now + self.every
                if sock.poll(max(1, int((next_beat - now) * 1000)), zmq.POLLIN):
                    message = protocol.decode(sock.recv(), {(2, "cancel")})
                    if message is None:
                        self.worker.drops.drop("the heartbeat socket")
                    else:
                        self.worker.cancel(message[0])
        finally:
            sock.close()


class FetchCache(collections.OrderedDict):
    """The frozen segments a worker without shared memory fetched, by name
    (a frozen segment's name is never reused: it holds its maker's pid, a
    random token and a counter, and it is sealed): oldest used first out,
    at most limit bytes. A view a task still holds keeps its bytes alive
    after eviction."""

    def __init__(self, limit):
        super().__init__()
        self.limit = limit
        self.bytes = 0

    def get(self, key, default=None):
        value = super().get(key, default)
        if value is not default:
            self.move_to_end(key)
        return value

    def __setitem__(self, key, segment):
        if key in self:
            self.pop(key)
        while self and self.bytes + segment.size > self.limit:
            self.popitem(last=False)
        super().__setitem__(key, segment)
        self.bytes += segment.size

    def pop(self, key, *default):
        value = super().pop(key, *default)
        if isinstance(value, shm.Segment):
            self.bytes -= value.size
        return value

    def popitem(self, last=True):
        key, value = super().popitem(last)
        self.bytes -= value.size
        return key, value


class Worker:
    def __init__(self, topology, allow=(), verbose=False, no_shm=False):
        self.topology = Topology(topology)
        self.keys = self.topology.curve_keys()
        self.loader = kernel.Loader(allow)
        self.verbose = verbose
        self.no_shm = no_shm or not os.path.isdir(shm.SHM_DIR)
        self.name = "%s:%d:python" % (socket.gethostname(), os.getpid())
        self.host = host_id()
        self.drops = protocol.DropCounter("fanfold.worker")
        self.context = zmq.Context()
        self.stopping = False
        self.jobs = collections.OrderedDict()          # job -> JobSpec
        self.forgotten = collections.deque(maxlen=1024)
        self.cancelled = collections.deque(maxlen=1024)
        self.running_job = None
        self.mapped = {}                               # frozen segments, by name
        self.frozen = shm.ResidentBudget()             # their resident pages
        self.control = None                            # DEALER to the server
        self.running_seq = None                        # the task that runs
        self.fetch_heard = 0.0                         # a control message read by a fetch
        self.fetches = 0                               # segments fetched
        self.fetched_bytes = 0                         # their bytes
        if self.no_shm:
            self.mapped = FetchCache(FETCH_CACHE_BYTES)
        self.beat = None
        self.tasks = None
        self.joined = None                             # (version, job or pool, id, endpoint)
        self.hb_ms = self.topology.number("fanfold/heartbeat_ms")
        self.timeout_ms = self.topology.number("fanfold/worker_timeout_ms")
        self.done = 0

    def log(self, text):
        if self.verbose:
            print("fanfold.worker: %s" % text, file=sys.stderr)

    # the heartbeat thread calls this
    def cancel(self, job):
        self.cancelled.append(job)
        if self.running_job == job:
            _thread.interrupt_main(signal.SIGUSR1)

    def _on_usr1(self, *_):
        if self.running_job is not None and self.running_job in self.cancelled:
            raise Cancelled()

    def _stop(self, *_):
        self.stopping = True

    def _socket(self, kind, endpoint, max_size):
        sock = self.context.socket(kind)
        sock.setsockopt(zmq.LINGER, 0 if kind != zmq.PUSH else self.topology.number("fanfold/linger_ms"))
        sock.setsockopt(zmq.MAXMSGSIZE, max_size)
        hwm = self.topology.number("fanfold/hwm")
        sock.setsockopt(zmq.SNDHWM, hwm)
        sock.setsockopt(zmq.RCVHWM, hwm)
        self.topology.secure(sock, self.keys)
        sock.connect(endpoint)
        return sock

    def _leave_pipe(self):
        if self.beat is not None:
            self.beat.stop.set()
            self.beat.join(2)
            self.beat = None
        if self.tasks is not None:
            self.tasks.close()
            self.tasks = None
        self.joined = None
        self.jobs.clear()                     # jobspecs come again on a new pipe

    def _join(self, message):
        if message.version == 2:
            pool, worker_id, endpoint, hb_ms = message
            key = (2, pool, worker_id, endpoint)
        else:
            job, worker_id, endpoint, hb_ms, kernels, params = message
            key = (1, job, worker_id, endpoint)
        if self.joined == key:
            return                            # "you are still in"
        self._leave_pipe()
        self.joined = key
        self.hb_ms = max(10, hb_ms)
        if message.version == 1:
            self.jobs[job] = self._spec(job, kernels, params)
        self.tasks = self._socket(zmq.PULL, endpoint, DATA_MAX)
        self.beat = Heartbeat(self, message.version, key[1], worker_id, self.hb_ms)
        self.beat.start()
        self.log("joined %s %s as worker %d" % ("pool" if message.version == 2 else "job",
                                                key[1], worker_id))

    def _spec(self, job, kernels, params):
        spec = JobSpec(job, kernels, params)
        shares = spec.first.get("py.shares")
        if shares:
            try:
                handles = json.loads(shares)
                decoder = values.Decoder(mapped=self.mapped, opener=self._opener())
                for handle in handles:
                    spec.shares[handle[0]] = (lambda h=handle: decoder._frozen(h).array)
            except Exception as error:
                self.log("job %s: its shared arrays are unreadable: %s" % (job, error))
        spec.result_shm = (not self.no_shm and spec.first.get("py.host") == self.host)
        owner = spec.first.get("py.pid", "")
        if spec.result_shm and owner.isdigit() and 0 < int(owner) < 1 << 31:
            spec.owner = int(owner)
        budget = spec.first.get("py.frozen_resident")    # bytes, or "none"
        if budget == "none":
            spec.frozen_resident = None
        elif budget is not None and budget.isascii() and budget.isdigit() and len(budget) < 19:
            spec.frozen_resident = int(budget)
        return spec

    def run(self):
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGUSR1, self._on_usr1)
        control = self._socket(zmq.DEALER, self.topology.control, CONTROL_MAX)
        self.control = control
        self.results = self._socket(zmq.PUSH, self.topology.results, DATA_MAX)
        flags = FLAG_PY_ONLY | (FLAG_NO_SHM if self.no_shm else 0)
        hello = protocol.encode(1, "hello", "worker", self.name, flags)
        accept = {(1, "welcome"), (2, "welcome"), (1, "hb"), (2, "hb"), (1, "end"),
                  (2, "end"), (2, "cancel")}
        status = 0
        last_hello = 0.0
        heard = time.monotonic()
        poller, polled = None, False              # polled: the task pipe poller waits on
        try:
            while not self.stopping:
                now = time.monotonic()
                if self.joined is None and now - last_hello >= 1.0:
                    control.send(hello)
                    last_hello = now
                if polled is not self.tasks:      # the sockets to wait on changed
                    polled = self.tasks
                    poller = zmq.Poller()
                    poller.register(control, zmq.POLLIN)
                    if self.tasks is not None:
                        poller.register(self.tasks, zmq.POLLIN)
                ready = dict(poller.poll(self.hb_ms if self.joined else 200))
                # drain control before judging silence
                while control.poll(0, zmq.POLLIN):
                    message = protocol.decode(control.recv(), accept)
                    if message is None:
                        self.drops.drop("the control socket")
                        continue
                    heard = time.monotonic()
                    if message.type == "welcome" and message.version == 1 and not all(
                            k.startswith(kernel.PREFIX) for k in message[4]):
                        # a `fanfold run` job of C kernels: leave it to C workers
                        # rather than answer every task with an error
                        print("fanfold.worker: job %s runs %s, not Python kernels: leaving"
                              % (message[0], ", ".join(message[4])), file=sys.stderr)
                        control.send(protocol.encode(1, "bye", message[0], message[1]))
                        self.stopping = True
                        break
                    if message.type == "welcome":
                        self._join(message)
                        ready = {}
                    elif message.type == "end":
                        if self.joined and message[0] == self.joined[1]:
                            status = 3 if message.version == 1 and message[1] == 2 else 0
                            self.stopping = True
                            break
                    elif message.type == "cancel":
                        self.cancelled.append(message[0])
                if self.stopping:
                    break
                heard = max(heard, self.fetch_heard)   # a fetch read the hbs
                if self.joined and time.monotonic() - heard > self.timeout_ms / 1000.0:
                    self.log("the service is silent: saying hello again")
                    self._leave_pipe()
                    last_hello = 0.0
                    heard = time.monotonic()
                    continue
                if self.tasks is not None and self.tasks in ready:
                    self._serve(self.tasks.recv())
            if self.joined:
                control.send(protocol.encode(self.joined[0], "bye", self.joined[1],
                                             self.joined[2]))
        finally:
            if self.drops.count:
                print("fanfold.worker: %d malformed frames dropped" % self.drops.count,
                      file=sys.stderr)
            self._leave_pipe()
            control.close(linger=500)
            self.results.close()
            self.context.term()
        return status

    def _serve(self, frame):
        message = protocol.decode(frame, {(1, "task"), (2, "task"), (2, "jobspec"),
                                          (2, "forget")})
        if message is None or (self.joined and message.version != self.joined[0]):
            self.drops.drop("the task pipe")
            return
        if message.type == "jobspec":
            job, kernels, params = message
            self.jobs[job] = self._spec(job, kernels, params)
            self.jobs.move_to_end(job)
            while len(self.jobs) > MAX_JOBS:
                self.jobs.popitem(last=False)
            return
        if message.type == "forget":
            self.jobs.pop(message[0], None)
            self.forgotten.append(message[0])
            return
        job, items = message
        if job in self.forgotten or job in self.cancelled:
            return                                # dropped without an answer
        spec = self.jobs.get(job)
        if spec is None:                          # no jobspec: dropped (PROTOCOL.md 10.1)
            self.drops.drop("the task pipe (a task of a job without jobspec)")
            return
        answers = []
        try:
            self.running_job = job
            for item in items:
                answers.append(self._run_item(spec, job, item))
        except Cancelled:
            self.log("job %s cancelled: its task is dropped" % job)
            return
        finally:
            self.running_job = None
        if job in self.cancelled:
            return
        self.results.send(protocol.encode(self.joined[0], "result", job, self.joined[2],
                                          answers))
        self.done += len(items)

    def _run_item(self, spec, job, item):
        seq, kernel_index, input_name, payload, attempt, chunk, chunks, arrays = item
        self.running_seq = seq
        started_ms = int(time.time() * 1000)
        started = time.monotonic()
        status, kind, body, meta = 1, 0, b"", ""
        self.kernel_us = None
        if kernel_index >= len(spec.kernels):
            body = b"unknown kernel"
        else:
            status, body, meta = self._call(spec, job, spec.kernels[kernel_index], payload)
        runtime_us = int((time.monotonic() - started) * 1e6)
        if self.kernel_us is not None:
            runtime_us = self.kernel_us      # the function's time, not its import
        if len(body) + len(meta) > MAX_RESULT:
            status, meta = 1, ""
            body = b"result of %d bytes exceeds the limit of %d bytes of one result" \
                % (len(body), MAX_RESULT)
        return [seq, kernel_index, status, kind, input_name, body, meta,
                [attempt, 1, started_ms, runtime_us, len(payload), chunk, chunks]]

    def _call(self, spec, job, name, payload):
        """(status, body, meta) of one task of kernel name."""
        try:
            fn = self.loader.load(name)
        except kernel.KernelError as error:
            return 1, str(error).encode("utf-8", "replace"), ""
        decoder = values.Decoder(prefixes=[shm.prefix(job)], mapped=self.mapped,
                                 opener=self._opener())
        try:
            mode, items = task.check_payload(decoder.unpack(payload))
        except Exception as error:
            return 1, ("cannot read the task's arguments: %s" % error).encode(), ""
        context.set_shares(spec.shares)
        fn = self.frozen.guard(fn, self.mapped, spec.frozen_resident)
        began = time.monotonic()
        done, error, index = task.run(fn, mode, items)
        self.frozen.check(self.mapped)
        self.kernel_us = int((time.monotonic() - began) * 1e6)
        encoder = values.Encoder(shm.result_tag(job), use_shm=spec.result_shm, kind="res",
                                 owner=spec.owner)
        if error is None:
            try:
                return 0, encoder.pack(done), ""
            except values.EncodeError as failure:
                for segment in encoder.segments:
                    segment.unlink()
                return 1, errors.one_line(failure), errors.meta_members(failure)
        meta = errors.meta_members(error, index)
        if done:
            try:
                meta += task.done_member(values.Encoder(job).pack(done))
            except values.EncodeError:
                pass
        return 1, errors.one_line(error), meta


    # -- fetching (a pool worker without shared memory) ------------------
    def _opener(self):
        """How a decoder opens a segment: mapped, or, in a pool without
        shared memory, fetched from the server (docs/PROTOCOL.md 10.4)."""
        if self.no_shm and self.joined and self.joined[0] == 2:
            return self._fetch_segment
        return None

    def _fetch_segment(self, name, allowed_prefixes, min_size, private=False):
        """A Segment over the first min_size bytes of segment name, fetched
        from the server for the running task, after the checks a mapping
        makes of the name (the server checks the rest)."""
        if (type(name) is not str or not shm._NAME_OK.match(name) or len(name) > shm.NAME_MAX
                or name.startswith(".")):
            raise ValueError("segment name %r is not plain" % str(name)[:64])
        if not any(name.startswith(p) for p in allowed_prefixes):
            raise ValueError("segment name %r is not one of this job's" % name[:64])
        data = self._fetch(name, min_size)
        self.fetches += 1
        self.fetched_bytes += len(data)
        self.log("fetched %d bytes of %s" % (len(data), name))
        return shm.Segment(name, data if private else memoryview(data).toreadonly(),
                           len(data), owner=False)

    def _fetch(self, name, length):
        """The bytes [0, length) of segment name, asked of the server in
        pieces of FETCH_CHUNK, FETCH_WINDOW at a time, on the control
        socket; raises ValueError when refused or unanswered, Cancelled
        when the job is cancelled meanwhile."""
        job, seq, control = self.running_job, self.running_seq, self.control
        if job is None or seq is None or control is None or length > DATA_MAX:
            raise ValueError("segment %s cannot be fetched here" % name)
        buf = bytearray(length)
        accept = {(2, "fetched"), (2, "hb"), (2, "cancel"), (2, "welcome"), (2, "end")}
        asked = received = inflight = 0
        deadline = time.monotonic() + FETCH_TIMEOUT
        while received < length:
            while inflight < FETCH_WINDOW and asked < length:
                piece = min(FETCH_CHUNK, length - asked)
                control.send(protocol.encode(2, "fetch", job, self.joined[2], seq, name,
                                             asked, piece))
                asked += piece
                inflight += 1
            if self.stopping:
                raise ValueError("stopped while fetching %s" % name)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ValueError("no answer from the server to a fetch of %s" % name)
            if not control.poll(max(1, int(min(remaining, 0.1) * 1000)), zmq.POLLIN):
                continue
            message = protocol.decode(control.recv(), accept)
            if message is None:
                self.drops.drop("the control socket")
                continue
            self.fetch_heard = time.monotonic()
            if message.type == "fetched":
                their_job, their_seq, segment, offset, status, data = message
                if (their_job, their_seq, segment) != (job, seq, name):
                    continue                      # a late answer to a fetch given up on
                if status:
                    raise ValueError("the server refused a fetch of %s: %s"
                                     % (name, data.decode("utf-8", "replace")))
                if not data or offset > length or len(data) > length - offset:
                    raise ValueError("a fetched piece lies outside segment %s" % name)
                buf[offset:offset + len(data)] = data
                received += len(data)
                inflight -= 1
                deadline = time.monotonic() + FETCH_TIMEOUT
            elif message.type == "cancel":
                self.cancelled.append(message[0])
                if message[0] == job:
                    raise Cancelled()
            elif message.type == "end" and self.joined and message[0] == self.joined[1]:
                self.stopping = True
                raise ValueError("the pool ended while fetching %s" % name)
            # a welcome again while joined: the same pool, nothing to do
        return buf


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python3 -m fanfold.worker",
        description="A fanfold worker for Python kernels (py:MODULE:FUNC).")
    parser.add_argument("-t", "--topology", required=True, help="the topology file")
    parser.add_argument("--allow", action="append", default=[], metavar="MODULE",
                        help="a module (fnmatch pattern) that may be run even from "
                             "the standard library")
    parser.add_argument("--no-shm", action="store_true",
                        help="say that this worker cannot map shared memory")
    parser.add_argument("-v", "--verbose", action="store_true")
    options = parser.parse_args(argv)
    try:
        worker = Worker(options.topology, options.allow, options.verbose, options.no_shm)
    except (OSError, ValueError, KeyError) as error:
        print("fanfold.worker: %s" % error, file=sys.stderr)
        return 2
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
