"""Workers that cannot map shared memory (`--no-shm`, or on another host)
in a `fanfold serve` pool: they fetch the bytes of arrays from the server
(docs/PROTOCOL.md 10.4). A frozen table travels once per worker, not once
per task nor per job; a worker may fetch only bytes of a task it holds."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import msgpack
import numpy
import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, HERE)

import fanfold  # noqa: E402
import fetchkernels  # noqa: E402
from fanfold import service  # noqa: E402


def start_serve(folder):
    topology = os.path.join(folder, "t.zpl")
    with open(topology, "w") as out:
        out.write(service.TOPOLOGY.format(dir=folder))
    log = open(os.path.join(folder, "serve.log"), "wb")
    serve = subprocess.Popen([service.find_fanfold(), "serve", "-t", topology, "-w", "0", "-v"],
                             stderr=log)
    log.close()
    return topology, serve


def status(topology):
    done = subprocess.run([service.find_fanfold(), "status", "-t", topology, "--format",
                           "jsonl"], stdout=subprocess.PIPE, timeout=10)
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def wait_for(predicate, seconds=10.0, what="a condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s" % what)


class FrozenTableTest(unittest.TestCase):
    """Two Python workers with --no-shm run tasks that read a 6 MB shared
    table and a 2 MB frozen mapping: results equal a serial loop's, and
    each worker fetched those bytes exactly once over two jobs."""

    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="ff-fetch-", dir="/tmp")
        self.topology, self.serve = start_serve(self.folder)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "python"), HERE]))
        self.workers = [subprocess.Popen([sys.executable, "-m", "fanfold.worker", "-t",
                                          self.topology, "--no-shm"], env=env)
                        for _ in range(2)]
        wait_for(lambda: sum(r["kind"] == "worker" for r in status(self.topology)) == 2,
                 what="two workers")

    def tearDown(self):
        for process in self.workers + [self.serve]:
            process.terminate()
            process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)

    def test_a_frozen_table_travels_once_per_worker(self):
        rng = numpy.random.default_rng(5)
        table = rng.standard_normal((3000, 250))             # 6,000,000 bytes
        weights = rng.standard_normal(250_000)                # 2,000,000 bytes
        frozen = fanfold.freeze({"weights": weights})
        try:
            with fanfold.Pool(topology=self.topology) as pool:
                pool.share("table", table)
                tasks = [(frozen, index) for index in range(400)]
                want = [fetchkernels.expected(table, weights, i) for i in range(400)]
                self.assertEqual(pool.map(fetchkernels.row_sum, tasks, chunksize=1), want)
                first = {w["worker"]: w for w in pool.status()["workers"]}
                self.assertEqual(pool.map(fetchkernels.row_sum, tasks[:100], chunksize=1),
                                 want[:100])
                second = {w["worker"]: w for w in pool.status()["workers"]}
        finally:
            frozen.close()
        once = table.nbytes + weights.nbytes
        ran = [w for w in first.values() if w["done"] > 0]
        self.assertTrue(ran)
        for worker in ran:
            # every task read both arrays: each worker that ran tasks fetched
            # them once, where per task it would be up to 400 times as much
            self.assertEqual(worker["fetched"], once, worker)
        for worker_id, worker in second.items():
            if worker_id in first and first[worker_id]["done"] > 0:
                self.assertEqual(worker["fetched"], once, "fetched again in a later job")


    def test_per_task_arrays_arrive_as_the_tasks_own_copies(self):
        arrays = [numpy.full(20_000 + i, float(i)) for i in range(6)]   # >= 64 KiB each
        with fanfold.Pool(topology=self.topology) as pool:
            got = pool.map(fetchkernels.writable_sum, arrays, chunksize=1)
        self.assertEqual(got, [float(a.sum()) + 1 for a in arrays])
        self.assertEqual([a[0] for a in arrays], [float(i) for i in range(6)])


class FetchRulesTest(unittest.TestCase):
    """A worker (here played with pyzmq) may fetch bytes of a task it
    holds, inside that task's handles, and nothing else: not another job's
    file, not a job it holds no task of, not the .npy header, not more
    than one piece at a time."""

    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="ff-fetch-", dir="/tmp")
        self.topology, self.serve = start_serve(self.folder)
        self.clients = []
        self.context = zmq.Context()

    def tearDown(self):
        for process in self.clients + [self.serve]:
            process.terminate()
            process.wait(10)
        self.context.destroy(linger=0)
        shutil.rmtree(self.folder, ignore_errors=True)

    def submit(self, path):
        process = subprocess.Popen([service.find_fanfold(), "submit", "-t", self.topology, "-K",
                                    "stats", "--chunk", "64k", "--", path],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.clients.append(process)
        return process

    def test_a_worker_fetches_only_what_its_task_names(self):
        a, b = os.path.join(self.folder, "a.npy"), os.path.join(self.folder, "b.npy")
        numpy.save(a, numpy.arange(100_000, dtype=numpy.float64))
        numpy.save(b, numpy.arange(100_000, dtype=numpy.float64) * 2)
        control = self.context.socket(zmq.DEALER)
        control.connect("ipc://%s/control" % self.folder)
        control.send(msgpack.packb([1, "hello", "worker", "rogue:1", 1]))   # bit 0: no shm
        self.assertTrue(control.poll(5000))
        _, _, pool, worker, endpoint, _ = msgpack.unpackb(control.recv(), raw=False)
        pipe = self.context.socket(zmq.PULL)
        pipe.connect(endpoint)
        self.submit(a)
        spec = msgpack.unpackb(pipe.recv(), raw=False)
        self.assertEqual(spec[1], "jobspec")
        task = msgpack.unpackb(pipe.recv(), raw=False)
        job_a, items = task[2], task[3]
        seq, handle = items[0][0], items[0][7][0]
        segment, offset, length = handle[3], handle[4], handle[5]
        self.assertTrue(segment.startswith("file:") and segment.endswith("/a.npy"))
        # job B, which this worker holds no task of (it holds job A's)
        self.submit(b)
        job_b = wait_for(lambda: [r["job"] for r in status(self.topology)
                                  if r["kind"] == "job" and r["job"] != job_a],
                         what="job B")[0]
        info = os.stat(b)
        handle_b = "file:%d:%d:%d:%d:%s" % (info.st_dev, info.st_ino, info.st_size,
                                            info.st_mtime_ns, os.path.realpath(b))

        def fetch(job, seq, segment, offset, length):
            control.send(msgpack.packb([2, "fetch", job, worker, seq, segment, offset, length]))
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if not control.poll(100):
                    continue
                message = msgpack.unpackb(control.recv(), raw=False)
                if message[1] == "fetched":
                    self.assertEqual(message[2:6], [job, seq, segment, offset])
                    return message[6], message[7]
            self.fail("no answer to a fetch")

        ok, data = fetch(job_a, seq, segment, offset, min(length, 4096))
        self.assertEqual(ok, 0, data)
        want = numpy.load(a).tobytes()[offset - 128:offset - 128 + min(length, 4096)]
        self.assertEqual(data, want)
        refusals = [
            (job_b, 0, handle_b, 128, 4096),             # another job: no task of it held
            (job_a, seq, handle_b, 128, 4096),           # another job's file, named by job A
            (job_a, seq, segment, 0, 128),               # the header of its own file
            (job_a, seq, segment, offset, 2 << 20),      # more than one piece
            (job_a, seq + 999, segment, offset, 4096),   # a task it does not hold
            (job_a, seq, "ff_%d_%s_x_frozen" % (os.getuid(), job_a), 0, 8),  # not named
        ]
        for request in refusals:
            ok, reason = fetch(*request)
            self.assertEqual(ok, 1, request)
            self.assertTrue(reason, request)
        # the same request from another socket that claims this worker's id
        other = self.context.socket(zmq.DEALER)
        other.connect("ipc://%s/control" % self.folder)
        other.send(msgpack.packb([2, "fetch", job_a, worker, seq, segment, offset, 4096]))
        self.assertFalse(other.poll(500), "a fetch from a socket that is not the worker's")
        other.close(0)
        control.close(0)
        pipe.close(0)


if __name__ == "__main__":
    unittest.main()
