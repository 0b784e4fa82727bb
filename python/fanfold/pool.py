"""fanfold.Pool: an ordered process pool over a warm fanfold service.

    with fanfold.Pool(workers=4) as pool:           # a private service
        for result in pool.imap(evaluate, specs):    # in input order
            ...

The pool is a client of `fanfold serve` (docs/PROTOCOL.md, "Clients"): each
imap, map or submit is one job. One I/O thread owns the client socket: it
sends tasks while the window allows, heartbeats every 100 ms, acks what
arrives and hands results to the caller's thread, which decodes them (and
puts them back in order for imap). A feeder thread per job reads the
caller's iterable and packs tasks, so a slow iterable never delays a
heartbeat; a range is cut into range slices by the I/O thread itself (no
item is made, and no task waits for a hand-over between threads).
workers=0 runs everything inline in the caller.
"""

import collections
import concurrent.futures
import itertools
import os
import queue
import socket
import sys
import threading
import time
import weakref

import msgpack
import numpy
import zmq

from . import context, errors, kernel, protocol, shm, task, values
from .errors import FanfoldError, TaskError
from .topology import Topology

HB_S = 0.1                    # client heartbeat interval
SILENCE_S = 10.0              # a service silent this long has failed
JOB_SILENCE_S = 2.0           # a job not mentioned this long (at least 8 service hb): ask status
TARGET_TASK_US = 20000        # chunks hold about this much work
MEASURE_US = 2000             # a task this long measures its function's time per item
MAX_CHUNK = 50000             # items of one task, at most
SPREAD = 2                    # a known-length input makes at least this many tasks per worker
RAMP = 2                      # each task before the first result holds this many times more ...
RAMP_RANGE = 8                # ... or this, for range slices (nothing to pack)
PROBES = 2                    # items sent before the first result, when the length is unknown
MAX_INFLIGHT = 64             # tasks sent and not answered, per job
AHEAD = 2                     # measured tasks sent and not answered, per worker
FEED_AHEAD = 64               # tasks packed ahead of sending, per job

_END = object()


def _sweep(job):
    """Unlinks every segment of job left in /dev/shm (this user's)."""
    if not job:
        return
    starts = (shm.prefix(job), shm.prefix(shm.result_tag(job)))
    try:
        names = os.listdir(shm.SHM_DIR)
    except OSError:
        return
    for name in names:
        if name.startswith(starts):
            shm.unlink_quietly(name)


class _Progress:
    """progress=True: tqdm on a terminal (a plain line when tqdm is missing);
    progress=callable: called with (done, total or None)."""

    def __init__(self, spec, total, label):
        self.callback = spec if callable(spec) else None
        self.total = total
        self.done = 0
        self.bar = None
        self.plain = False
        self.last = 0.0
        if spec is True and sys.stderr.isatty():
            try:
                import tqdm
                self.bar = tqdm.tqdm(total=total, desc=label, file=sys.stderr)
            except ImportError:
                self.plain = True
        self.label = label

    def add(self, count):
        self.done += count
        if self.callback:
            self.callback(self.done, self.total)
        elif self.bar is not None:
            self.bar.update(count)
        elif self.plain:
            now = time.monotonic()
            if now - self.last >= 0.2 or self.done == self.total:
                self.last = now
                of = "/%d" % self.total if self.total is not None else ""
                sys.stderr.write("\r%s: %d%s" % (self.label, self.done, of))
                sys.stderr.flush()

    def close(self):
        if self.bar is not None:
            self.bar.close()
        elif self.plain:
            sys.stderr.write("\n")
            sys.stderr.flush()


class _Job:
    """One job of the I/O thread, and what its consumer reads."""

    def __init__(self, kernels, params, mode, chunksize, length, python):
        self.kernels = kernels
        self.params = params
        self.mode = mode
        self.chunksize = chunksize
        self.length = length                 # items, when known
        self.python = python
        self.id = None
        self.window = 0
        self.window_bytes = 0
        self.accepted = threading.Event()
        self.refused = None
        self.feed = queue.Queue(FEED_AHEAD)  # (seq, payload, count, segments, arrays)
        self.results = queue.Queue()         # (seq, status, body, meta, count) or _END
        self.total = None                    # tasks, once the feeder is done
        self.counts = {}                     # seq -> items (every task packed)
        self.item_us = None                  # measured kernel time per item
        self.run_us = 0                      # kernel time of the results of at
        self.run_items = 0                   # least MEASURE_US, and their items
        self.bound_us = None                 # the least (time + 1 us) / items of a result
        self.plan = None                     # the task sizes (_Plan)
        self.source = None                   # a range the I/O thread cuts itself
        self.next_seq = 0                    # the seq of its next task
        self.measured = threading.Event()    # item_us is known, or the job is over
        self.workers = 0
        self.inflight = {}                   # seq -> (payload bytes, segments)
        self.inflight_bytes = 0
        self.received = set()                # seqs answered at or past written
        self.written = 0                     # every seq below is answered
        self.acks = []
        self.next_send = None                # a packed task waiting for room
        self.sent_total = False
        self.last_hb = 0.0
        self.ended = False
        self.failed = None
        self.starving = False
        self.finished = False                # the caller took every result
        self.taken = threading.Event()       # the I/O thread took a packed task
        self.heard = 0.0                     # the service's last message about the job
        self.probed = False                  # a status asked whether it still holds it


class _Plan:
    """The sizes of a job's tasks (chunks), unless chunksize is given.

    Before the first result comes back, tasks grow from 1 item, RAMP
    times larger each (1, 2, 4, ...: the items of the next are packed
    while workers run the first), or RAMP_RANGE for a range (1, 8, 64,
    ...: nothing to pack, so few tasks, as each costs a hop through the
    service each way), while the items sent so far stay within the
    budget (the cap when the length is known, else PROBES items; then
    the job waits for a result).
    After it, each task holds about TARGET_TASK_US of the time per item:
    measured on results that ran MEASURE_US or more, else bounded by the
    fastest result, (time + 1 us) / items (a task of a few items measures
    mostly the worker's fixed cost and the clock's grain, and would make
    every later task small). The cap is len / (SPREAD * workers) when the
    length is known (half of multiprocessing's map chunk: a task costs a
    hop through the service each way, so fewer pay), and at most
    MAX_CHUNK. A cheap function thus starts on small tasks without waiting
    for a round trip, and a slow one commits at most the budget to
    unmeasured tasks."""

    def __init__(self, job, workers, growth):
        self.job = job
        self.growth = growth
        self.cap = MAX_CHUNK
        self.budget = PROBES
        if job.length is not None:
            self.cap = max(1, min(MAX_CHUNK, -(-job.length // (SPREAD * max(1, workers)))))
            self.budget = self.cap
        self.workers = max(1, workers)
        self.ramp = 1
        self.unmeasured = 0              # items sent before the first result

    def size(self):
        """Items of the next task, or None: wait for a result."""
        job = self.job
        size = job.chunksize
        if not size and job.item_us is None:
            if self.unmeasured >= self.budget:
                if not job.measured.is_set():
                    return None
                size = 1                 # a result without a time (an error): one item
            else:
                size = min(self.ramp, self.budget - self.unmeasured)
                self.ramp *= self.growth
        if not size:
            size = max(1, min(self.cap, int(TARGET_TASK_US / max(job.item_us, 0.01))))
        return size if job.python else 1

    def inflight(self):
        """Tasks the job may have sent and not answered. Once the time
        per item is measured (tasks of about TARGET_TASK_US, or the
        cap), AHEAD per worker: the service deals tasks by
        count and gives a worker that answered the first tiny tasks fast a
        large credit, so with every task sent at once one worker would
        queue most of the large ones while the other idles."""
        job = self.job
        if job.chunksize or job.item_us is None or not job.python:
            return MAX_INFLIGHT
        return min(MAX_INFLIGHT, AHEAD * max(self.workers, job.workers))

    def took(self, count):
        if self.job.item_us is None:
            self.unmeasured += count


class _Link(threading.Thread):
    """The I/O thread: the client DEALER to the service's clients endpoint."""

    def __init__(self, pool, endpoint, keys, topology):
        super().__init__(name="fanfold-io", daemon=True)
        self.pool = weakref.proxy(pool)
        self.endpoint = endpoint
        self.keys = keys
        self.topology = topology
        self.context = zmq.Context()
        self.wake_endpoint = "inproc://fanfold-wake-%d" % id(self)
        self.wake_lock = threading.Lock()
        self.wake_in = self.context.socket(zmq.PULL)
        self.wake_in.bind(self.wake_endpoint)
        self.wake_out = self.context.socket(zmq.PUSH)
        self.wake_out.setsockopt(zmq.SNDHWM, 0)
        self.wake_out.connect(self.wake_endpoint)
        self.commands = collections.deque()
        self.jobs = {}
        self.submitting = collections.deque()    # jobs waiting for accepted/refused
        self.status_waiters = collections.deque()
        self.stop = threading.Event()
        self.drops = protocol.DropCounter("fanfold.Pool")
        self.heard = time.monotonic()
        self.failure = None
        self.client = "%s:%d" % (socket.gethostname(), os.getpid())
        try:
            hb_s = topology.number("fanfold/heartbeat_ms") / 1000.0
        except (KeyError, ValueError, TypeError):
            hb_s = 0.25
        self.job_silence = max(JOB_SILENCE_S, 8 * hb_s)

    def call(self, command, *args):
        self.commands.append((command, args))
        self.wake()

    def wake(self):
        with self.wake_lock:
            try:
                self.wake_out.send(b"", zmq.NOBLOCK)
            except zmq.ZMQError:
                pass

    # -- the thread --------------------------------------------------------
    def run(self):
        sock = self.context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, (1 << 31) - 1)
        # no high-water mark to block on: what goes out is bounded by each job's
        # window and MAX_INFLIGHT (and FF_MAX_JOBS jobs), what comes in by the
        # tasks sent
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.setsockopt(zmq.RCVHWM, 0)
        if self.keys:
            self.topology.secure(sock, self.keys)
        sock.connect(self.endpoint)
        self.sock = sock
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(self.wake_in, zmq.POLLIN)
        last_check = 0.0
        try:
            while not self.stop.is_set():
                timeout = 10 if any(j.starving for j in self.jobs.values()) else 50
                ready = dict(poller.poll(timeout))
                if self.wake_in in ready:
                    while self.wake_in.poll(0):
                        self.wake_in.recv()
                while self.commands:
                    command, args = self.commands.popleft()
                    getattr(self, "_do_" + command)(*args)
                if sock in ready:
                    for _ in range(256):
                        try:
                            frame = sock.recv(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        self._receive(frame)
                now = time.monotonic()
                for job in list(self.jobs.values()):
                    self._pump(job, now)
                if now - last_check >= 0.5:
                    last_check = now
                    self._check_health(now)
        except Exception as error:            # a bug here must not hang the caller
            self._fail_all(FanfoldError("the pool's I/O thread failed: %r" % (error,)))
            raise
        finally:
            sock.close()
            self.wake_in.close()

    def close(self):
        """Stops the thread and frees its sockets."""
        self.stop.set()
        self.wake()
        self.join(5)
        while self.commands:                  # sweeps still queued
            command, args = self.commands.popleft()
            if command == "sweep":
                _sweep(*args)
        with self.wake_lock:
            self.wake_out.close()
        if not self.is_alive():
            self.context.term()

    def _check_health(self, now):
        reason = None
        service = getattr(self.pool, "_service", None)
        if service is not None:
            service.respawn()
            if not service.server_alive():
                reason = "fanfold serve exited: %s" % (service.log_tail() or "no message")
            elif service.failing() and (self.jobs or self.submitting):
                reason = service.failing()
        waiting = self.jobs or self.submitting or self.status_waiters
        if reason is None and waiting and now - self.heard > SILENCE_S:
            reason = "the fanfold service at %s has been silent for %.0f s" % (
                self.endpoint, now - self.heard)
        if reason is not None:
            self._fail_all(FanfoldError(reason))
            return
        if not waiting:
            self.heard = now
        # the service sends hb for each of its jobs: a job it stopped
        # mentioning while it still answers may be gone (a client stopped,
        # or starved of CPU, past client_timeout_ms loses its job without a
        # word): ask for the status, and fail the jobs it no longer lists
        # instead of waiting SILENCE_S
        silent = [job for job in self.jobs.values()
                  if not job.probed and now - job.heard > self.job_silence]
        if silent:
            for job in silent:
                job.probed = True
            self.status_waiters.append(_Probe(self, silent))
            self._send("status")

    def _probed(self, jobs, answer):
        """The status asked for jobs the service stopped mentioning."""
        import json
        for job in jobs:
            job.probed = False
        if isinstance(answer, Exception):
            return
        try:
            listed = {entry.get("job") for entry in json.loads(answer).get("jobs", [])
                      if isinstance(entry, dict)}
        except (ValueError, AttributeError):
            return
        for job in jobs:
            if job.id in self.jobs and job.id not in listed:
                job.failed = FanfoldError(
                    "the fanfold service dropped job %s: this process sent it nothing for "
                    "longer than its client timeout (stopped, or starved of CPU)" % job.id)
                job.ended = True
                del self.jobs[job.id]
                job.measured.set()
                job.results.put(_END)

    def _fail_all(self, error):
        self.failure = error
        for job in list(self.jobs.values()) + list(self.submitting):
            job.failed = error
            job.accepted.set()
            job.measured.set()
            job.results.put(_END)
        self.jobs.clear()
        self.submitting.clear()
        while self.status_waiters:
            self.status_waiters.popleft().put(error)

    def _send(self, *fields):
        self.sock.send(protocol.encode(2, *fields))

    # -- commands from the caller's threads ---------------------------------
    def _do_submit(self, job):
        if self.failure is not None:
            job.failed = self.failure
            job.accepted.set()
            return
        self.submitting.append(job)
        if len(self.submitting) == 1:
            self._send_submit(job)

    def _send_submit(self, job):
        self._send("submit", self.client, job.kernels, job.params, 1, 0)
        self.heard = max(self.heard, time.monotonic() - SILENCE_S + 5.0)

    def _do_cancel(self, job):
        if job.id in self.jobs:
            self._send("cancel", job.id)
            del self.jobs[job.id]
        job.ended = True
        job.measured.set()
        job.results.put(_END)

    def _do_status(self, reply):
        self.status_waiters.append(reply)
        self._send("status")

    def _do_noop(self):
        pass

    # -- what the service sends --------------------------------------------
    def _receive(self, frame):
        message = protocol.decode(frame, {(2, "accepted"), (2, "refused"), (2, "result"),
                                          (2, "hb"), (2, "end"), (2, "status")})
        if message is None:
            self.drops.drop(self.endpoint)
            return
        self.heard = time.monotonic()
        kind = message.type
        if kind in ("accepted", "refused"):
            if not self.submitting:
                self.drops.drop(self.endpoint + " (an answer to no submit)")
                return
            job = self.submitting.popleft()
            if kind == "accepted":
                job.id, job.window, job.window_bytes = message
                job.window = max(1, job.window)
                self.jobs[job.id] = job
                self._send("ack", job.id, 0, [])
                job.last_hb = job.heard = time.monotonic()
            else:
                job.refused = message[0]
            job.accepted.set()
            if self.submitting:
                self._send_submit(self.submitting[0])
            return
        if kind == "status":
            if self.status_waiters:
                self.status_waiters.popleft().put(message[0])
            return
        job = self.jobs.get(message[0])
        if job is None:
            return                                 # a job already over
        job.heard = self.heard
        if kind == "hb":
            job.workers = message[1]
        elif kind == "end":
            if message[1] == 1:
                job.failed = FanfoldError("the fanfold service stopped during the job")
            elif message[1] != 0:
                job.failed = FanfoldError("the fanfold service cancelled the job (end "
                                          "status %d)" % message[1])
            job.ended = True
            del self.jobs[job.id]
            job.measured.set()
            job.results.put(_END)
        elif kind == "result":
            self._results(job, message[2])

    def _results(self, job, items):
        for seq, _kernel, status, _kind, _input, body, meta, run in items:
            held = job.inflight.pop(seq, None)
            if held is None:
                continue                           # a duplicate, or not ours
            size, segments = held
            job.inflight_bytes -= size
            for segment in segments:
                segment.unlink()
            job.acks.append(seq)
            job.measured.set()
            count = job.counts.get(seq, 1)
            if status == 0 and count:
                run_us = run[3]
                if run_us >= MEASURE_US:
                    job.run_us += run_us
                    job.run_items += count
                bound = (run_us + 1) / count
                if job.bound_us is None or bound < job.bound_us:
                    job.bound_us = bound
                job.item_us = job.run_us / job.run_items if job.run_items else job.bound_us
            if seq == job.written:
                job.written += 1
                while job.written in job.received:
                    job.received.discard(job.written)
                    job.written += 1
            elif seq > job.written:
                job.received.add(seq)
            job.results.put((seq, status, body, meta, count))

    def _cut(self, job):
        """The next task of a job over a range, cut here (a range slice is
        three integers: no feeder thread, no hand-over), the end mark, or
        None while the sizes wait for a result."""
        if job.total is not None or job.ended or job.failed is not None:
            return None
        size = job.plan.size()
        if size is None:
            return None
        mode, chunk, count = job.source.take(size)
        if not count:
            job.total = job.next_seq
            return (None, None, 0, [], [])
        job.plan.took(count)
        seq = job.next_seq
        job.next_seq += 1
        job.counts[seq] = count
        return (seq, msgpack.packb([mode, chunk]), count, [], [])

    def _do_sweep(self, job_id):
        _sweep(job_id)

    def _pump(self, job, now):
        """Sends what the window allows, the total once known, acks, hb.
        A job whose caller has taken every result (job.finished, still in
        self.jobs) goes on with its total, acks and hb until the service
        ends it: without the last ack the job would hold its workers until
        the service gave up on this client."""
        if job.id is None:
            return
        batch, batch_bytes = [], 0
        while True:
            if job.next_send is None and job.source is not None:
                job.next_send = self._cut(job)
                if job.next_send is None:
                    break
            if job.next_send is None:
                try:
                    job.next_send = job.feed.get_nowait()
                    job.taken.set()
                except queue.Empty:
                    job.starving = job.total is None
                    if job.finished and not job.sent_total:
                        # every result is in: the feeder's end mark may never
                        # come (it stops putting once the job ended)
                        self._send("total", job.id, job.total)
                        job.sent_total = True
                    break
            seq, payload, count, segments, arrays = job.next_send
            if seq is None:                        # the feeder is done
                job.next_send = None
                if not job.sent_total:
                    if batch:
                        self._send("tasks", job.id, batch)
                        batch = []
                    self._send("total", job.id, job.total)
                    job.sent_total = True
                break
            if (seq >= job.written + job.window or len(job.inflight) >= job.plan.inflight()
                    or (job.inflight and job.inflight_bytes + len(payload) > job.window_bytes)):
                job.starving = False
                break
            job.next_send = None
            job.inflight[seq] = (len(payload), segments)
            job.inflight_bytes += len(payload)
            batch.append([seq, 0, "%d" % seq, payload, 0, 1, arrays])
            batch_bytes += len(payload)
            if len(batch) >= 256 or batch_bytes >= (8 << 20):
                self._send("tasks", job.id, batch)
                batch, batch_bytes = [], 0
        if batch:
            self._send("tasks", job.id, batch)
        if job.acks:
            for start in range(0, len(job.acks), 65536):
                self._send("ack", job.id, job.written, job.acks[start:start + 65536])
            job.acks = []
        if now - job.last_hb >= HB_S:
            self._send("hb", job.id)
            job.last_hb = now


class _Probe:
    """A status request of the I/O thread itself (in status_waiters)."""

    def __init__(self, link, jobs):
        self.link = link
        self.jobs = jobs

    def put(self, answer):
        self.link._probed(self.jobs, answer)


class Results(itertools.chain):
    """What imap and imap_unordered return: an iterator over the results.
    It flattens the result lists of the job's tasks in C (a Python
    generator would cost a resumption per item); close() stops the job
    early, as leaving it does once it is garbage."""

    def __new__(cls, chunks):
        self = super().from_iterable(chunks)
        self._chunks = chunks
        return self

    def close(self):
        self._chunks.close()


class Pool:
    """A pool of worker processes behind a warm fanfold service.

    Pool(workers=N)            a private service: `fanfold serve` on a private
                               topology and N Python workers (C workers too,
                               when a C kernel is used)
    Pool(topology=PATH)        a client of a running `fanfold serve`
    Pool(workers=0)            every task inline, in the caller
    fallback="serial"          inline when the service cannot start (the
                               reason goes to stderr)
    progress=True|callable     a progress bar on a terminal, or a function
                               called with (done, total or None)
    frozen_resident=BYTES      the pages of frozen arrays a worker keeps
                               mapped (shm.FROZEN_RESIDENT, 256 MiB); over
                               it, it unmaps some after a call; None: all
    """

    def __init__(self, workers=None, topology=None, progress=False, fallback=None,
                 start_timeout=10.0, verbose=False, frozen_resident=shm.FROZEN_RESIDENT):
        if fallback not in (None, "serial"):
            raise ValueError("fallback is None or 'serial', not %r" % (fallback,))
        if workers is None:
            workers = 2 if topology is not None else (os.cpu_count() or 1)
        if workers < 0:
            raise ValueError("workers must be 0 or more")
        self.workers = workers
        self.progress = progress
        if frozen_resident is not None and (type(frozen_resident) is not int
                                            or frozen_resident < 0):
            raise ValueError("frozen_resident is a number of bytes or None")
        self.frozen_resident = frozen_resident
        self.inline = workers == 0
        self.reason = None
        self._service = None
        self._link = None
        self._shares = {}                  # name -> values.Shared
        self._closed = False
        self._owner = os.getpid()          # a forked copy (its atexit, its GC) stops nothing
        self._host = None
        self._local = True
        import atexit
        atexit.register(_close_at_exit, weakref.ref(self))
        if self.inline:
            return
        try:
            self._start(workers, topology, start_timeout)
        except (OSError, FanfoldError, ValueError, zmq.ZMQError) as error:
            self._stop_service()
            if fallback != "serial":
                raise FanfoldError("the pool cannot start: %s" % error) from None
            self.reason = str(error)
            print("fanfold.Pool: running every task inline (fallback='serial'): %s"
                  % error, file=sys.stderr)
            self.inline = True

    def _start(self, workers, topology, start_timeout):
        from .service import Service
        from .worker import host_id
        if topology is None:
            self._service = Service(workers)
            topology = self._service.topology
        topo = Topology(topology)
        self._topology = topo.path
        endpoint = topo.clients
        if endpoint is None:
            raise FanfoldError("topology %s names no server/clients endpoint" % topology)
        self._local = topo.local_only()
        self._host = host_id()
        self._link = _Link(self, endpoint, topo.curve_keys(), topo)
        self._link.start()
        reply = queue.Queue()
        self._link.call("status", reply)
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                answer = reply.get(timeout=0.1)
                break
            except queue.Empty:
                if self._service is not None and not self._service.server_alive():
                    raise FanfoldError("fanfold serve exited: %s"
                                       % (self._service.log_tail() or "no message"))
                if time.monotonic() > deadline:
                    raise FanfoldError("no answer from the fanfold service at %s within "
                                       "%g s" % (endpoint, start_timeout))
        if isinstance(answer, Exception):
            raise answer

    # -- shared arrays ------------------------------------------------------
    def share(self, name, array):
        """Places array in shared memory once (0600, sealed) under name and
        returns its read-only view; tasks read it with fanfold.shared(name)
        or receive it as an argument. Unlinked when the pool closes."""
        if not isinstance(name, str) or not name:
            raise ValueError("a shared array needs a name")
        old = self._shares.pop(name, None)
        if old is not None:
            old.segment.unlink()
        entry = values.place(name, array)
        self._shares[name] = entry
        return entry.array

    def _shares_param(self):
        import json
        return json.dumps([entry.handle() for entry in self._shares.values()])

    # -- the API --------------------------------------------------------------
    def imap(self, fn, iterable, chunksize=None):
        """fn over iterable, results in input order (lazily)."""
        return self._run(fn, iterable, chunksize, ordered=True, mode=task.MODE_ONE)

    def imap_unordered(self, fn, iterable, chunksize=None):
        """fn over iterable, results as they come."""
        return self._run(fn, iterable, chunksize, ordered=False, mode=task.MODE_ONE)

    def map(self, fn, iterable, chunksize=None):
        """list(imap(...))."""
        return list(self.imap(fn, iterable, chunksize))

    def starmap(self, fn, iterable, chunksize=None):
        """fn(*args) for args in iterable, in order."""
        calls = ([list(args), {}] for args in iterable)
        return list(self._run(fn, calls, chunksize, ordered=True, mode=task.MODE_CALL))

    def submit(self, fn, *args, **kwargs):
        """fn(*args, **kwargs) on a worker; a concurrent.futures.Future."""
        future = concurrent.futures.Future()
        if self.inline:
            future.set_running_or_notify_cancel()
            try:
                context.set_shares(self._inline_shares())
                future.set_result(fn(*args, **kwargs) if callable(fn)
                                  else kernel.Loader().load(kernel.name_of(fn))(*args, **kwargs))
            except Exception as error:
                future.set_exception(error)
            return future
        results = self._run(fn, [[list(args), kwargs]], 1, ordered=True, mode=task.MODE_CALL,
                            progress=False)

        def wait():
            if not future.set_running_or_notify_cancel():
                results.close()
                return
            try:
                future.set_result(next(results))
            except StopIteration:
                future.set_exception(TaskError("the task gave no result"))
            except BaseException as error:
                future.set_exception(error)
            finally:
                results.close()
        threading.Thread(target=wait, name="fanfold-future", daemon=True).start()
        return future

    # -- inline ---------------------------------------------------------------
    def _inline_shares(self):
        return {name: entry.array for name, entry in self._shares.items()}

    def _inline(self, fn, iterable, mode, progress):
        if not callable(fn):
            fn = kernel.Loader(allow=["*"]).load(kernel.name_of(fn))
        length = _length(iterable)
        meter = _Progress(progress, length, _label(fn))
        try:
            for item in iterable:
                context.set_shares(self._inline_shares())
                if mode == task.MODE_ONE:
                    value = fn(item)
                else:
                    value = fn(*item[0], **item[1])
                meter.add(1)
                yield value
        finally:
            meter.close()

    # -- a job on the service ------------------------------------------------
    def _run(self, fn, iterable, chunksize, ordered, mode, progress=None):
        if self._closed:
            raise ValueError("the pool is closed")
        progress = self.progress if progress is None else progress
        if self.inline:
            return self._inline(fn, iterable, mode, progress)
        if self._link.failure is not None:
            raise FanfoldError("the pool has failed: %s" % self._link.failure)
        python = callable(fn) or (isinstance(fn, str) and ":" in fn)
        if python:
            name = kernel.name_of(fn)
            # py.pid: the owner of the result segments a worker makes here
            # (they live until this process reads them, or dies)
            params = [["py.host", self._host], ["py.pid", "%d" % os.getpid()],
                      ["py.frozen_resident", "none" if self.frozen_resident is None
                       else "%d" % self.frozen_resident]]
            if self._shares:
                params.append(["py.shares", self._shares_param()])
        else:
            name = fn
            params = []
            if self._service is not None:
                self._service.start_c_workers()
            if not isinstance(iterable, (list, tuple)):
                iterable = list(iterable)
            if iterable and all(isinstance(i, (str, os.PathLike)) for i in iterable):
                return self._submit_files(name, [os.fspath(i) for i in iterable], progress)
        length = _length(iterable)
        job = _Job([name], params, mode, chunksize, length, python)
        if python and type(iterable) is range and mode == task.MODE_ONE \
                and task.range_fits(iterable):
            job.source = _Source(iterable, mode)      # the I/O thread cuts it
        job.plan = _Plan(job, self.workers, RAMP if job.source is None else RAMP_RANGE)
        self._link.call("submit", job)
        while not job.accepted.wait(0.1):
            pass
        if job.failed is not None:
            raise FanfoldError(str(job.failed))
        if job.refused is not None:
            raise FanfoldError("the service refused the job: %s" % job.refused)
        if job.source is None:
            feeder = threading.Thread(target=self._feed, args=(job, iterable), daemon=True,
                                      name="fanfold-feed")
            feeder.start()
        return Results(self._collect(job, ordered, progress, _label(fn)))

    def _submit_files(self, name, inputs, progress):
        """A C kernel over files or arguments: `fanfold submit` reads them
        with the same producer as `fanfold run` (structures, .npy arrays,
        text) and gives one jsonl object per input, in order; each result
        is the object's "result" (an error raises TaskError)."""
        import json
        import subprocess
        from .service import find_fanfold
        binary = (self._service.fanfold if self._service is not None else find_fanfold())
        if binary is None:
            raise FanfoldError("no fanfold executable to submit %s" % name)
        command = [binary, "submit", "-t", self._topology, "-K", name, "--format", "jsonl"]
        command += ["./" + i if i.startswith("-") else i for i in inputs]
        meter = _Progress(progress, len(inputs), name)
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        finished = False
        try:
            for line in process.stdout:
                record = json.loads(line)
                meter.add(1)
                if record.get("status") != "ok":
                    raise TaskError("%s: %s" % (record.get("input"), record.get("error")))
                yield record.get("result")
            process.wait()
            finished = True
            if process.returncode not in (0, 1):
                raise FanfoldError("fanfold submit exited %d: %s" % (
                    process.returncode, process.stderr.read().decode("utf-8", "replace").strip()))
        finally:
            meter.close()
            if not finished and process.poll() is None:
                process.terminate()
            process.wait()
            process.stdout.close()
            process.stderr.close()

    def _feed(self, job, iterable):
        """Packs the caller's items into tasks (chunks) for the I/O thread,
        sized by job.plan (_Plan)."""
        encoder_shm = self._local
        seq = 0
        failure = None
        try:
            source = _Source(iterable, job.mode)
            while True:
                if job.ended or job.failed is not None:
                    return
                size = job.plan.size()
                if size is None:
                    job.measured.wait()
                    continue
                mode, chunk, count = source.take(size)
                if not count:
                    break
                job.plan.took(count)
                encoder = values.Encoder(job.id, use_shm=encoder_shm)
                if job.python:
                    payload = encoder.pack([mode, chunk])
                    arrays = []
                else:
                    payload, arrays = _c_task(encoder, chunk[0])
                job.counts[seq] = count
                self._put(job, (seq, payload, count, encoder.segments, arrays))
                seq += 1
        except BaseException as error:            # the iterable or a value failed
            failure = error
        if failure is not None:
            job.total = seq + 1          # the failure takes the place of task seq
            job.results.put((seq, "feed", failure, "", 0))
            return
        job.total = seq
        self._put(job, (None, None, 0, [], []))

    def _put(self, job, entry):
        while not job.ended and job.failed is None:
            try:
                job.feed.put(entry, timeout=0.1)
                if job.starving:
                    # hand the task over now: packing the next one would hold
                    # the GIL, and the I/O thread would send this one only
                    # when the interpreter switches threads (up to 5 ms)
                    job.taken.clear()
                    self._link.wake()
                    job.taken.wait(0.002)
                return
            except queue.Full:
                continue

    def _collect(self, job, ordered, progress, label):
        """The caller's side of a job: the result lists of its tasks,
        decoded, in order or not (Results flattens them)."""
        meter = _Progress(progress, job.length, label)
        decoder = values.Decoder(prefixes=[shm.prefix(shm.result_tag(job.id))], unlink=True)
        waiting = {}
        consumed = 0                  # tasks taken (next seq when ordered)
        all_in = False                # the job ended: every result is queued
        finished = False
        try:
            while True:
                if job.total is not None and consumed >= job.total:
                    finished = job.finished = True
                    return
                if ordered and consumed in waiting:
                    entry = waiting.pop(consumed)
                else:
                    if all_in:
                        raise TaskError("the job ended without the result of task %d"
                                        % consumed)
                    entry = job.results.get()
                    if entry is _END:
                        if job.failed is not None:
                            raise FanfoldError(str(job.failed))
                        all_in = True
                        continue
                    if ordered and entry[0] != consumed:
                        waiting[entry[0]] = entry
                        continue
                consumed += 1
                seq, status, body, meta, count = entry
                if status == "feed":
                    raise body
                if status == 0:
                    results = self._decode(job, decoder, body)
                    meter.add(len(results))
                    yield results
                    continue
                members = errors.parse_meta(meta)
                if job.python:
                    done = task.done_values(members, decoder)
                    meter.add(len(done))
                    yield done
                    raise errors.rebuild(members, body.decode("utf-8", "replace"))
                raise TaskError(body.decode("utf-8", "replace"))
        finally:
            meter.close()
            if not finished and not job.ended:
                self._link.call("cancel", job)
            job.ended = True
            job.measured.set()
            # segments a worker left (one killed while answering): the I/O
            # thread looks, not the caller waiting for the end of the results
            link = self._link
            if link is not None and link.is_alive():
                link.call("sweep", job.id)
            else:
                _sweep(job.id)

    def _decode(self, job, decoder, body):
        if not job.python:
            import json
            try:
                return [json.loads(body)]
            except ValueError:
                return [body]
        try:
            results = decoder.unpack(body)
        except Exception as error:
            raise TaskError("a result could not be read: %s" % error) from None
        if type(results) is not list:
            raise TaskError("a result is not a list of values")
        return results

    # -- life -------------------------------------------------------------------
    def status(self, timeout=5.0):
        """The service's status document (a dict), or None inline."""
        if self.inline:
            return None
        import json
        reply = queue.Queue()
        self._link.call("status", reply)
        answer = reply.get(timeout=timeout)
        if isinstance(answer, Exception):
            raise answer
        return json.loads(answer)

    def _stop_service(self):
        if self._link is not None:
            self._link.close()
            self._link = None
        if self._service is not None:
            self._service.close()
            self._service = None

    def close(self):
        """Stops the private service and unlinks the shared arrays."""
        if self._closed:
            return
        self._closed = True
        if os.getpid() != self._owner:
            return                         # the pool of the process that forked this one
        self._stop_service()
        for entry in self._shares.values():
            entry.segment.unlink()
        self._shares.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def _close_at_exit(ref):
    """Closes a pool still open when the interpreter exits."""
    pool = ref()
    if pool is not None:
        pool.close()


def _c_task(encoder, item):
    """(payload, arrays) of one task of a C kernel: a numpy array travels as
    a handle in shared memory (its bytes inline below values.SHM_MIN);
    anything else as the payload's bytes."""
    if isinstance(item, numpy.ndarray):
        array = numpy.ascontiguousarray(item)
        code = shm.CODES.get(array.dtype.newbyteorder("<") if array.dtype.byteorder == "=" else array.dtype)
        if code is None or not 1 <= array.ndim <= 4:
            raise TypeError("a C kernel takes arrays of 1 to 4 dimensions of "
                            "(u)int8-64 or float32/64, not %s %r" % (array.dtype, array.shape))
        if array.nbytes < values.SHM_MIN:             # small: the bytes themselves
            return b"", [["data", code, list(array.shape), "", 0, array.nbytes,
                          array.tobytes()]]
        segment = shm.create(shm.new_name(encoder.job, "array"), array)
        encoder.segments.append(segment)
        return b"", [["data", code, list(array.shape), segment.name, 0, array.nbytes, b""]]
    if isinstance(item, str):
        return item.encode("utf-8", "surrogateescape"), []
    if isinstance(item, (bytes, bytearray)):
        return bytes(item), []
    raise TypeError("a C kernel takes bytes, str or numpy arrays, not %s" % type(item).__name__)


class _Source:
    """The caller's items, taken a task at a time: a list or tuple by
    slicing, a range of imap as range slices (the task carries start, stop
    and step: no item is made or packed on this side), anything else by
    iteration (the feeder thread runs the caller's generator)."""

    def __init__(self, iterable, mode):
        self.mode = mode
        self.sequence = None
        self.position = 0
        kind = type(iterable)
        if kind in (list, tuple) or (kind is range and mode == task.MODE_ONE
                                     and task.range_fits(iterable)):
            self.sequence = iterable
        else:
            self.iterator = iter(iterable)

    def take(self, size):
        """(mode, items, count) of the next size items; count 0 at the end."""
        if self.sequence is None:
            part = list(itertools.islice(self.iterator, size))
            return self.mode, part, len(part)
        part = self.sequence[self.position:self.position + size]
        self.position += len(part)
        if type(part) is range:
            return task.MODE_RANGE, [part.start, part.stop, part.step], len(part)
        return self.mode, part if type(part) is list else list(part), len(part)


def _length(iterable):
    try:
        return len(iterable)
    except TypeError:
        return None


def _label(fn):
    return getattr(fn, "__name__", None) or str(fn)


def freeze(arrays):
    """Places each array of the dict (or iterator of row blocks, stacked as
    they come) in shared memory once (0600, sealed)
    and returns a fanfold.Frozen: a read-only mapping of zero-copy views.
    Passed to tasks (as an argument), it travels as handles and every task
    gets the same views. Unlinked by frozen.close(), at exit, or by
    `fanfold clean`."""
    import atexit
    entries = []
    try:
        for name, array in arrays.items():
            entries.append((name, values.place(name, array)))
    except BaseException:
        for _, entry in entries:
            entry.segment.unlink()
        raise
    frozen = values.Frozen(entries)
    atexit.register(frozen.close)
    return frozen
