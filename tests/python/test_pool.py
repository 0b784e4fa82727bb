"""fanfold.Pool: inline, with fallback, and against a service. The same
behaviour tests run against the real `fanfold serve` (a private Pool; they
report a skip while bin/fanfold has no serve command) and against the
stand-in server of standin_server.py (a Pool given its topology)."""

import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from contextlib import redirect_stderr

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, HERE)

import fanfold  # noqa: E402
import pykernels  # noqa: E402
from fanfold import service  # noqa: E402


def serve_available():
    """Why `fanfold serve` cannot run here, or None when it can."""
    binary = service.find_fanfold()
    if binary is None:
        return "no fanfold executable (make all)"
    try:
        done = subprocess.run([binary, "serve", "--help"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as error:
        return "fanfold serve: %s" % error
    if done.returncode != 0 or b"unknown" in done.stderr.lower():
        return "this fanfold has no serve command (the warm service is not built)"
    return None


def own_segments():
    mine = "ff_%d_" % os.getuid()
    return sorted(n for n in os.listdir("/dev/shm") if n.startswith(mine))


class InlineTest(unittest.TestCase):
    def test_workers_0_runs_inline_with_the_results_of_a_serial_loop(self):
        with fanfold.Pool(workers=0) as pool:
            self.assertEqual(list(pool.imap(pykernels.square, range(50))),
                             [pykernels.square(x) for x in range(50)])
            self.assertEqual(pool.submit(pykernels.addmul, 1, 2, scale=3).result(), 9)

    def test_inline_exceptions_keep_their_type_and_the_pool_stays_usable(self):
        with fanfold.Pool(workers=0) as pool:
            with self.assertRaisesRegex(ValueError, "three is not allowed"):
                list(pool.imap(pykernels.fail_on, range(5)))
            self.assertEqual(pool.map(pykernels.noop, [1, 2]), [1, 2])

    def test_inline_shared_arrays_are_read_only_views(self):
        with fanfold.Pool(workers=0) as pool:
            view = pool.share("t", numpy.arange(1000.0))
            self.assertFalse(view.flags.writeable)
            self.assertEqual(pool.map(pykernels.shared_sum, ["t"]), [[499500.0, False]])

    def test_fallback_serial_runs_inline_and_says_why_on_stderr(self):
        folder = tempfile.mkdtemp(prefix="ff-pyt-", dir="/tmp")
        try:
            path = os.path.join(folder, "none.zpl")
            with open(path, "w") as out:
                out.write('ventilator\n    control = "ipc://%s/control"\n' % folder)
            text = io.StringIO()
            with redirect_stderr(text):
                pool = fanfold.Pool(topology=path, fallback="serial", start_timeout=0.5)
            self.assertTrue(pool.inline)
            self.assertIn("inline", text.getvalue())
            self.assertIn("no answer", text.getvalue())
            self.assertEqual(pool.map(pykernels.square, [3]), [9])
            pool.close()
            with self.assertRaises(fanfold.FanfoldError):
                fanfold.Pool(topology=path, start_timeout=0.3)
        finally:
            shutil.rmtree(folder)

    def test_progress_callable_receives_counts(self):
        seen = []
        with fanfold.Pool(workers=0, progress=lambda done, total: seen.append((done, total))) as pool:
            pool.map(pykernels.noop, range(4))
        self.assertEqual(seen, [(1, 4), (2, 4), (3, 4), (4, 4)])

    def test_freeze_places_arrays_once_and_close_unlinks_them(self):
        before = own_segments()
        frozen = fanfold.freeze({"table": numpy.ones((4, 3))})
        self.assertEqual(len(own_segments()), len(before) + 1)
        self.assertFalse(frozen["table"].flags.writeable)
        frozen.close()
        self.assertEqual(own_segments(), before)

    def test_a_lambda_cannot_be_named_for_a_worker(self):
        from fanfold import kernel
        with self.assertRaises(TypeError):
            kernel.name_of(lambda x: x)
        self.assertEqual(kernel.name_of(pykernels.square), "py:pykernels:square")


class Behaviour:
    """Tests of a pool with 2 Python workers on a service (self.pool)."""

    def test_imap_yields_results_in_input_order(self):
        items = list(range(3000))
        self.assertEqual(list(self.pool.imap(pykernels.square, items)),
                         [x * x for x in items])

    def test_imap_of_slow_uneven_tasks_is_ordered(self):
        delays = [(7 * i) % 13 for i in range(60)]
        self.assertEqual(list(self.pool.imap(pykernels.sleep_ms, delays, chunksize=1)), delays)

    def test_imap_unordered_yields_each_result_once(self):
        got = list(self.pool.imap_unordered(pykernels.square, range(500)))
        self.assertEqual(sorted(got), [x * x for x in range(500)])

    def test_submit_returns_a_future(self):
        future = self.pool.submit(pykernels.addmul, 2, 3, scale=10)
        self.assertEqual(future.result(timeout=30), 50)

    def test_values_come_back_as_a_serial_loop_gives_them(self):
        cases = [1, -2, 2 ** 70, 1.5, "text", b"bytes", None, True, (1, 2), [1, (2, 3)],
                 {"a": (1,)}, {1, 2}, frozenset([3]), 1 + 2j, numpy.float32(1.5),
                 numpy.arange(5, dtype=numpy.int16)]
        got = self.pool.map(pykernels.describe, cases)
        for case, (name, value) in zip(cases, got):
            self.assertEqual(name, type(case).__name__)
            self.assertEqual(type(value), type(case))
            if isinstance(case, numpy.ndarray):
                numpy.testing.assert_array_equal(value, case)
            else:
                self.assertEqual(value, case)

    def test_an_exception_is_raised_with_its_type_message_and_traceback(self):
        results = self.pool.imap(pykernels.fail_on, range(10), chunksize=2)
        self.assertEqual([next(results) for _ in range(3)], [0, 1, 2])
        with self.assertRaises(ValueError) as caught:
            next(results)
        self.assertEqual(str(caught.exception), "three is not allowed")
        self.assertIn("raise ValueError", caught.exception.remote_traceback)
        self.assertEqual(self.pool.map(pykernels.square, range(5)), [0, 1, 4, 9, 16])

    def test_an_exception_of_another_type_keeps_its_name(self):
        with self.assertRaises(fanfold.RemoteError) as caught:
            self.pool.map(pykernels.fail_custom, [4])
        self.assertEqual(type(caught.exception).__name__, "PlanError")
        self.assertEqual(str(caught.exception), "bad plan 4")
        self.assertEqual(self.pool.map(pykernels.noop, ["next"]), ["next"])

    def test_large_arrays_travel_and_come_back(self):
        array = numpy.arange(100000, dtype=numpy.float64)
        (got,) = self.pool.map(pykernels.double, [array])
        numpy.testing.assert_array_equal(got, array * 2)
        self.assertTrue(got.flags.writeable)
        self.assertEqual(len(self.pool.map(pykernels.big_result, [50000])[0]), 50000)

    def test_shared_and_frozen_arrays_are_read_only_views_in_tasks(self):
        self.pool.share("vector", numpy.arange(20000.0))
        self.assertEqual(self.pool.map(pykernels.shared_sum, ["vector"]),
                         [[float(sum(range(20000))), False]])
        with fanfold.freeze({"table": numpy.ones((100, 1000))}) as frozen:
            got = self.pool.starmap(pykernels.frozen_row_sum, [(frozen, 1)] * 3)
        self.assertEqual(got, [[1000.0, False]] * 3)

    def test_progress_callable_counts_every_item(self):
        seen = []
        self.pool.progress = lambda done, total: seen.append((done, total))
        try:
            self.pool.map(pykernels.noop, range(100))
        finally:
            self.pool.progress = False
        self.assertEqual(seen[-1], (100, 100))

    def test_ranges_lists_and_tuples_give_what_iterating_them_gives(self):
        cases = [range(0), range(5), range(3, 20000, 7), range(10, -5000, -3),
                 range(2 ** 64, 2 ** 64 + 50), list(range(-300, 9000)), tuple(range(777))]
        for case in cases:
            self.assertEqual(list(self.pool.imap(pykernels.square, case)),
                             [x * x for x in case])
            self.assertEqual(sorted(self.pool.imap_unordered(pykernels.square, case)),
                             sorted(x * x for x in case))

    def test_an_exception_inside_a_large_task_keeps_the_results_before_it(self):
        results = self.pool.imap(pykernels.fail_on_large, range(50000))
        got = []
        with self.assertRaises(ValueError) as caught:
            for value in results:
                got.append(value)
        self.assertEqual(str(caught.exception), "31337 is not allowed")
        self.assertEqual(got, list(range(31337)))

    def test_a_worker_killed_mid_job_loses_no_result_and_repeats_none(self):
        items = list(range(400))
        results = self.pool.imap(pykernels.sleep_ms, [5] * 400, chunksize=1)
        got = [next(results) for _ in range(20)]
        pids = self.worker_pids()
        os.kill(pids[0], signal.SIGKILL)
        got += list(results)
        self.assertEqual(len(got), len(items))
        self.assertEqual(got, [5] * 400)
        self.assertEqual(self.pool.map(pykernels.square, range(10)),
                         [x * x for x in range(10)])


class StandinPoolTest(Behaviour, unittest.TestCase):
    """The behaviour tests against the stand-in server (always available)."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ff-pyt-", dir="/tmp")
        cls.topology = os.path.join(cls.dir, "t.zpl")
        with open(cls.topology, "w") as out:
            out.write(service.TOPOLOGY.format(dir=cls.dir))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "python"), HERE]))
        cls.server = subprocess.Popen([sys.executable, os.path.join(HERE, "standin_server.py"),
                                       cls.topology], env=env)
        cls.env = env
        cls.workers = [cls.start_worker() for _ in range(2)]
        cls.pool = fanfold.Pool(topology=cls.topology, workers=2)

    @classmethod
    def start_worker(cls):
        return subprocess.Popen([sys.executable, "-m", "fanfold.worker", "-t", cls.topology],
                                env=cls.env)

    def worker_pids(self):
        live = [w for w in self.workers if w.poll() is None]
        self.workers.append(self.start_worker())     # the replacement
        return [w.pid for w in live]

    @classmethod
    def tearDownClass(cls):
        cls.pool.close()
        for process in cls.workers + [cls.server]:
            if process.poll() is None:
                process.terminate()
            process.wait()
        shutil.rmtree(cls.dir, ignore_errors=True)


class ServicePoolTest(Behaviour, unittest.TestCase):
    """The behaviour tests against `fanfold serve` in a private Pool."""

    @classmethod
    def setUpClass(cls):
        why = serve_available()
        if why:
            raise unittest.SkipTest(why)
        cls.pool = fanfold.Pool(workers=2)

    def worker_pids(self):
        return [entry[0].pid for entry in self.pool._service.py_workers]

    @classmethod
    def tearDownClass(cls):
        cls.pool.close()

    def test_a_finished_job_is_over_on_the_service_at_once(self):
        # the last ack goes even when the caller took every result before the
        # I/O thread sent it: else the job holds its workers until the
        # service gives up on the client (client_timeout_ms, 5 s here)
        for _ in range(100):
            self.assertEqual(self.pool.map(pykernels.noop, range(2000)), list(range(2000)))
            deadline = time.monotonic() + 0.3
            while self.pool.status()["jobs"] and time.monotonic() < deadline:
                time.sleep(0.01)
            self.assertEqual(self.pool.status()["jobs"], [])

    def test_a_live_pools_arrays_survive_fanfold_clean_and_a_concurrent_run(self):
        binary = service.find_fanfold()
        with fanfold.freeze({"table": numpy.ones((10, 1000))}) as frozen:
            self.pool.share("column", numpy.arange(100000.0))
            names = [frozen._entries["table"].segment.name,
                     self.pool._shares["column"].segment.name]
            clean = subprocess.run([binary, "clean"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=60)
            self.assertEqual(clean.returncode, 0, clean.stderr)
            # a run cleans the dead jobs' segments as it starts
            run = subprocess.run([binary, "run", "-w", "1", "--pipe", "--lines", "1", "-K",
                                  "noop"], input=b"1\n2\n", stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, timeout=60)
            self.assertEqual((run.returncode, run.stdout), (0, b"1\n2\n"), run.stderr)
            for name in names:
                self.assertTrue(os.path.exists("/dev/shm/" + name), name)
            got = self.pool.starmap(pykernels.frozen_row_sum, [(frozen, 2)] * 4)
            self.assertEqual(got, [[1000.0, False]] * 4)
            self.assertEqual(self.pool.map(pykernels.shared_sum, ["column"]),
                             [[float(numpy.arange(100000.0).sum()), False]])

    def test_the_arrays_of_a_dead_client_are_removed_by_fanfold_clean(self):
        code = ("import os, numpy, fanfold\n"
                "frozen = fanfold.freeze({'t': numpy.ones(100000)})\n"
                "print(frozen._entries['t'].segment.name, flush=True)\n"
                "os.kill(os.getpid(), 9)\n")
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
        child = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                               timeout=60)
        self.assertEqual(child.returncode, -signal.SIGKILL)
        name = child.stdout.decode().strip()
        self.assertTrue(os.path.exists("/dev/shm/" + name))     # nothing unlinked it
        clean = subprocess.run([service.find_fanfold(), "clean"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(clean.returncode, 0, clean.stderr)
        self.assertFalse(os.path.exists("/dev/shm/" + name))

    def test_close_stops_every_process_and_unlinks_shared_arrays(self):
        before = own_segments()
        pool = fanfold.Pool(workers=1)
        pool.share("x", numpy.zeros(100000))
        pids = [pool._service.server.pid] + pool._service.worker_pids()
        directory = pool._service.dir
        pool.close()
        self.assertEqual(own_segments(), before)
        self.assertFalse(os.path.exists(directory))
        for pid in pids:
            with self.assertRaises(ProcessLookupError):
                os.kill(pid, 0)

    def test_a_pool_is_a_client_of_a_running_serve_with_a_worker_added_by_hand(self):
        folder = tempfile.mkdtemp(prefix="ff-pyt-", dir="/tmp")
        topology = os.path.join(folder, "t.zpl")
        with open(topology, "w") as out:
            out.write(service.TOPOLOGY.format(dir=folder))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "python"), HERE]))
        serve = subprocess.Popen([service.find_fanfold(), "serve", "-t", topology, "-w", "0"],
                                 stderr=subprocess.DEVNULL)
        worker = subprocess.Popen([sys.executable, "-m", "fanfold.worker", "-t", topology],
                                  env=env)
        try:
            with fanfold.Pool(topology=topology) as pool:
                self.assertEqual(pool.map(pykernels.square, range(100)),
                                 [x * x for x in range(100)])
                status = pool.status()
                self.assertEqual(len(status["workers"]), 1)
            self.assertIsNone(serve.poll())              # closing a client stops nothing
        finally:
            for process in (worker, serve):
                process.terminate()
                process.wait(10)
            shutil.rmtree(folder, ignore_errors=True)

    def test_a_caller_killed_with_kill_9_leaves_no_process_behind(self):
        script = ("import os, sys, fanfold, pykernels\n"
                  "pool = fanfold.Pool(workers=2)\n"
                  "pool.map(pykernels.square, range(5))\n"
                  "s = pool._service\n"
                  "print(s.dir, s.server.pid, *s.worker_pids(), flush=True)\n"
                  "os.kill(os.getpid(), 9)\n")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "python"), HERE]))
        done = subprocess.run([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                              text=True, timeout=60)
        self.assertEqual(done.returncode, -9)
        folder, *pids = done.stdout.split()
        self.assertEqual(len(pids), 3)
        deadline = time.monotonic() + 10
        alive = pids
        while alive and time.monotonic() < deadline:
            time.sleep(0.1)
            alive = [p for p in pids if os.path.exists("/proc/%s" % p)
                     and open("/proc/%s/stat" % p).read().split(") ")[1][0] != "Z"]
        self.assertEqual(alive, [])
        fanfold.Pool(workers=0)                      # a new pool sweeps the dead one's files
        service.sweep_dead_dirs()
        self.assertFalse(os.path.exists(folder))

    def test_a_forked_child_that_exits_normally_leaves_the_pool_and_its_arrays(self):
        # the child runs the atexit hooks it inherited: they must not stop
        # the parent's service nor unlink its arrays
        with fanfold.Pool(workers=1) as pool:
            pool.share("column", numpy.arange(100000.0))
            frozen = fanfold.freeze({"table": numpy.ones((10, 1000))})
            segments = [pool._shares["column"].segment.name,
                        frozen._entries["table"].segment.name]
            folder = pool._service.dir
            pid = os.fork()
            if pid == 0:                     # a child's normal exit, without the runner's
                import atexit
                atexit._run_exitfuncs()
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            self.assertEqual(status, 0)
            self.assertTrue(os.path.isdir(folder))
            for name in segments:
                self.assertTrue(os.path.exists("/dev/shm/" + name), name)
            self.assertEqual(pool.map(pykernels.shared_sum, ["column"]),
                             [[float(numpy.arange(100000.0).sum()), False]])
            frozen.close()
            self.assertFalse(os.path.exists("/dev/shm/" + segments[1]))

    def test_a_caller_stopped_for_a_second_mid_job_keeps_its_job(self):
        # a process stopped, or starved of CPU (a fork under heavy load), sends
        # no heartbeat meanwhile: the private service waits client_timeout_ms
        # for it instead of dropping the job
        with fanfold.Pool(workers=2) as pool:
            results = pool.imap(pykernels.sleep_ms, [5] * 300)
            self.assertEqual(next(results), 5)
            stopper = subprocess.Popen(["/bin/sh", "-c", "kill -STOP %d; sleep 1; kill -CONT %d"
                                        % (os.getpid(), os.getpid())])
            self.assertEqual(list(results), [5] * 299)
            stopper.wait(10)

    def test_a_job_the_service_dropped_fails_within_seconds_not_at_its_silence(self):
        saved = service.TOPOLOGY, fanfold.pool.HB_S
        service.TOPOLOGY = saved[0].replace("client_timeout_ms = 5000", "client_timeout_ms = 300")
        try:
            pool = fanfold.Pool(workers=1)
        finally:
            service.TOPOLOGY = saved[0]
        try:
            # no heartbeat from this client, and no ack while the task runs:
            # the service drops the job after 300 ms without telling it
            fanfold.pool.HB_S = 3600.0
            started = time.monotonic()
            with self.assertRaisesRegex(fanfold.FanfoldError, "dropped job"):
                pool.map(pykernels.sleep_ms, [6000])
            self.assertLess(time.monotonic() - started, 5.0)
        finally:
            fanfold.pool.HB_S = saved[1]
            pool.close()

    def test_workers_that_cannot_start_fail_the_job_instead_of_hanging(self):
        saved = sys.executable
        sys.executable = "/bin/false"                  # every Python worker exits 1
        try:
            pool = fanfold.Pool(workers=1)
        finally:
            sys.executable = saved
        try:
            started = time.monotonic()
            with self.assertRaisesRegex(fanfold.FanfoldError, "keep exiting"):
                pool.map(pykernels.square, [1])
            self.assertLess(time.monotonic() - started, 30)
        finally:
            pool.close()

    def test_over_tcp_with_curve_keys_a_worker_and_a_client_join_a_serve(self):
        import socket as sockets
        folder = tempfile.mkdtemp(prefix="ff-pyt-", dir="/tmp")
        binary = service.find_fanfold()
        subprocess.run([binary, "keygen", os.path.join(folder, "keys")], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ports = []
        for _ in range(3):
            probe = sockets.socket()
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
            probe.close()
        with open(os.path.join(ROOT, "topology", "tcp.zpl")) as source:
            text = source.read()
        for old, new in zip(("5570", "5571", "5572"), ports):
            text = text.replace(":%s\"" % old, ":%d\"" % new)
        topology = os.path.join(folder, "t.zpl")
        with open(topology, "w") as out:
            out.write(text)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "python"), HERE]))
        serve = subprocess.Popen([binary, "serve", "-t", topology, "-w", "0"],
                                 stderr=subprocess.DEVNULL)
        worker = subprocess.Popen([sys.executable, "-m", "fanfold.worker", "-t", topology],
                                  env=env)
        try:
            with fanfold.Pool(topology=topology) as pool:
                self.assertFalse(pool._local)
                self.assertEqual(pool.map(pykernels.square, range(20)),
                                 [x * x for x in range(20)])
                array = numpy.arange(20000.0)               # inline over tcp
                numpy.testing.assert_array_equal(pool.map(pykernels.double, [array])[0],
                                                 array * 2)
        finally:
            for process in (worker, serve):
                process.terminate()
                process.wait(10)
            shutil.rmtree(folder, ignore_errors=True)

    def test_c_kernels_run_on_c_workers(self):
        arrays = [numpy.arange(10, dtype=numpy.float64), numpy.ones(7, dtype=numpy.float32)]
        arrays.append(numpy.full(100000, 2.0))             # 800 KB: in shared memory
        got = self.pool.map("stats", arrays)
        self.assertEqual([g["count"] for g in got], [10, 7, 100000])
        self.assertEqual([g["mean"] for g in got], [4.5, 1.0, 2.0])
        files = [os.path.join(ROOT, "tests", "data", n) for n in ("small.xyz", "rings.pdb")]
        contacts = self.pool.map("contacts", files)
        self.assertEqual(contacts[0], {"atoms": 3, "count": 1, "pairs": [[0, 1]]})
        self.assertEqual(contacts[1]["atoms"], 22)


if __name__ == "__main__":
    unittest.main()
