"""python3 -m fanfold.worker against a stand-in for the pool server: a test
binds the worker-facing sockets (control ROUTER, task PUSH, results PULL)
and speaks the messages of docs/PROTOCOL.md to one real worker process."""

import json
import os
import shutil
import signal
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

from fanfold import protocol, shm, values  # noqa: E402
from fanfold.worker import host_id  # noqa: E402

TOPOLOGY = """fanfold
    heartbeat_ms = 100
    worker_timeout_ms = 3000
ventilator
    control = "ipc://{dir}/control"
    tasks = "ipc://{dir}/task"
sink
    results = "ipc://{dir}/results"
"""


def pack(*fields):
    return msgpack.packb(list(fields), use_bin_type=True)


def payload(items, job="", use_shm=False):
    encoder = values.Encoder(job, use_shm=use_shm)
    return encoder.pack([0, items]), encoder.segments


class StandIn:
    """The worker side of a pool server, for one worker."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ff-pyt-", dir="/tmp")
        self.topology = os.path.join(self.dir, "t.zpl")
        with open(self.topology, "w") as out:
            out.write(TOPOLOGY.format(dir=self.dir))
        self.context = zmq.Context()
        self.control = self.context.socket(zmq.ROUTER)
        self.control.bind("ipc://%s/control" % self.dir)
        self.results = self.context.socket(zmq.PULL)
        self.results.bind("ipc://%s/results" % self.dir)
        self.pipe = self.context.socket(zmq.PUSH)
        self.pipe.bind("ipc://%s/task-1" % self.dir)
        for sock in (self.control, self.results, self.pipe):
            sock.setsockopt(zmq.LINGER, 0)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "python"), HERE]))
        self.stderr = open(os.path.join(self.dir, "worker.err"), "w+")
        self.worker = subprocess.Popen([sys.executable, "-m", "fanfold.worker", "-t",
                                        self.topology, "-v"], env=env, stderr=self.stderr)
        self.hb_ids = set()

    def recv_control(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.control.poll(100):
                routing, frame = self.control.recv_multipart()
                return routing, protocol.decode(frame)
        raise AssertionError("nothing on control within %g s" % timeout)

    def join(self, pool="p1", worker=1):
        while True:
            routing, message = self.recv_control()
            if message.type == "hello":
                break
        self.main = routing
        self.hello = message
        self.control.send_multipart([routing, pack(2, "welcome", pool, worker,
                                                   "ipc://%s/task-1" % self.dir, 100)])
        self.pool, self.worker_id = pool, worker

    def result(self, timeout=5.0):
        if not self.results.poll(int(timeout * 1000)):
            raise AssertionError("no result within %g s" % timeout)
        message = protocol.decode(self.results.recv())
        assert message is not None and message.type == "result"
        return message

    def no_result(self, seconds):
        return not self.results.poll(int(seconds * 1000))

    def close(self):
        if self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                self.worker.wait(5)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()
        self.context.destroy(0)
        self.stderr.seek(0)
        text = self.stderr.read()
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return text


def item(seq, data, kernel=0, attempt=1):
    return [seq, kernel, "in%d" % seq, data, attempt, 0, 1, []]


class PayloadTest(unittest.TestCase):
    def test_a_range_payload_is_checked_before_it_runs(self):
        from fanfold import task
        self.assertEqual(task.check_payload([task.MODE_RANGE, [3, 12, 4]]),
                         (task.MODE_ONE, range(3, 12, 4)))
        for items in ([1, 2], [1, 2, 0], [1, "2", 1], [0, task.MAX_RANGE + 1, 1],
                      [0, 1.5, 1]):
            with self.assertRaises(ValueError):
                task.check_payload([task.MODE_RANGE, items])

    def test_run_gives_the_values_before_a_failure_and_its_index(self):
        from fanfold import task

        def fail_at_7(x):
            if x == 7:
                raise KeyError(x)
            return -x
        done, error, index = task.run(fail_at_7, task.MODE_ONE, range(20))
        self.assertEqual((done, type(error), index), ([-x for x in range(7)], KeyError, 7))
        self.assertEqual(task.run(fail_at_7, task.MODE_ONE, [1, 2]), ([-1, -2], None, None))


class JobModeTest(unittest.TestCase):
    def test_a_fanfold_run_job_of_c_kernels_is_left_to_c_workers(self):
        server = StandIn()
        try:
            routing, message = server.recv_control()
            server.control.send_multipart([routing, pack(1, "welcome", "j9", 4,
                                                         "ipc://%s/task-1" % server.dir, 100,
                                                         ["noop"], [["retries", "3"]])])
            self.assertEqual(server.worker.wait(5), 0)
            seen = []
            while server.control.poll(200):
                seen.append(protocol.decode(server.control.recv_multipart()[1]))
            self.assertIn(["j9", 4], [list(m) for m in seen if m.type == "bye"])
        finally:
            text = server.close()
        self.assertIn("not Python kernels", text)


class WorkerTest(unittest.TestCase):
    def setUp(self):
        self.server = StandIn()
        self.server.join()

    def tearDown(self):
        self.stderr = self.server.close()

    def spec(self, job, kernels, params=()):
        self.server.pipe.send(pack(2, "jobspec", job, kernels, [list(p) for p in params]))

    def task(self, job, items):
        self.server.pipe.send(pack(2, "task", job, items))

    def test_hello_says_it_runs_only_python_kernels(self):
        self.assertEqual(self.server.hello[0], "worker")
        self.assertEqual(self.server.hello[2] & 2, 2)

    def test_a_task_runs_its_function_and_answers_every_item_in_order(self):
        self.spec("j1", ["py:pykernels:square"])
        self.task("j1", [item(s, payload([s, s + 1])[0]) for s in range(3)])
        message = self.server.result()
        self.assertEqual(message[0], "j1")
        self.assertEqual(message[1], 1)
        self.assertEqual([i[0] for i in message[2]], [0, 1, 2])
        decoder = values.Decoder()
        self.assertEqual([decoder.unpack(i[5]) for i in message[2]],
                         [[0, 1], [1, 4], [4, 9]])
        self.assertTrue(all(i[2] == 0 for i in message[2]))

    def test_module_state_survives_across_tasks_and_jobs(self):
        decoder = values.Decoder()
        self.spec("j1", ["py:pykernels:count"])
        self.task("j1", [item(0, payload([0])[0])])
        first = decoder.unpack(self.server.result()[2][0][5])[0]
        self.server.pipe.send(pack(2, "forget", "j1"))
        self.spec("j2", ["py:pykernels:count"])
        self.task("j2", [item(0, payload([0, 0])[0])])
        second = decoder.unpack(self.server.result()[2][0][5])
        self.assertEqual(second[-1], [first[0], 3])

    def test_an_exception_is_an_error_result_with_type_message_and_traceback(self):
        self.spec("j1", ["py:pykernels:fail_on"])
        self.task("j1", [item(0, payload([1, 2, 3, 4])[0])])
        answer = self.server.result()[2][0]
        self.assertEqual(answer[2], 1)
        self.assertEqual(answer[5], b"ValueError: three is not allowed")
        meta = json.loads("{" + answer[6] + "}")
        self.assertEqual(meta["py_type"], "ValueError")
        self.assertEqual(meta["py_module"], "builtins")
        self.assertEqual(meta["py_index"], 2)
        self.assertIn("raise ValueError", meta["py_traceback"])

    def test_malformed_frames_are_dropped_and_the_worker_keeps_serving(self):
        for junk in (b"", b"\xc1", pack(2, "task"), pack(2, "task", "j1", "x"),
                     pack(9, "task", "j1", []), pack(2, "task", "j1", [[1]]),
                     pack(2, "jobspec", "j1", ["py:x:y"], [["a"]]) + b"x",
                     msgpack.packb([2, "task", "j1", [msgpack.ExtType(1, b"x")]])):
            self.server.pipe.send(junk)
        self.server.control.send_multipart([self.server.main, b"\x93\x02"])
        self.spec("j1", ["py:pykernels:square"])
        self.task("j1", [item(0, payload([5])[0])])
        self.assertEqual(values.Decoder().unpack(self.server.result()[2][0][5]), [25])
        self.assertEqual(self.server.worker.poll(), None)
        self.server.worker.send_signal(signal.SIGTERM)
        self.assertEqual(self.server.worker.wait(5), 0)
        with open(self.server.stderr.name) as log:
            self.assertIn("9 malformed frames dropped", log.read())

    def test_a_payload_that_asks_for_pickle_or_junk_is_an_error_not_code(self):
        self.spec("j1", ["py:pykernels:noop"])
        self.task("j1", [item(0, b"\x80\x04\x95junk"), item(1, msgpack.packb([0, [1]]) + b"z")])
        answers = self.server.result()[2]
        self.assertEqual([a[2] for a in answers], [1, 1])

    def test_standard_library_functions_are_refused(self):
        self.spec("j1", ["py:os:system", "py:subprocess:run", "py:pykernels:_private"])
        self.task("j1", [item(0, payload(["true"])[0], kernel=k) for k in range(3)])
        answers = self.server.result()[2]
        self.assertEqual([a[2] for a in answers], [1, 1, 1])
        self.assertIn(b"may not be run", answers[0][5])

    def test_large_arrays_travel_as_shared_memory_both_ways(self):
        self.spec("j1", ["py:pykernels:double"], [("py.host", host_id())])
        array = numpy.arange(20000, dtype=numpy.float64)       # 160 KB
        data, segments = payload([array], job="j1", use_shm=True)
        self.assertEqual(len(segments), 1)
        self.assertLess(len(data), 512)
        self.task("j1", [item(0, data)])
        answer = self.server.result()[2][0]
        self.assertEqual(answer[2], 0, answer[5])
        self.assertLess(len(answer[5]), 512)
        result = values.Decoder(prefixes=[shm.prefix(shm.result_tag("j1"))],
                                unlink=True).unpack(answer[5])[0]
        numpy.testing.assert_array_equal(result, array * 2)
        for segment in segments:
            segment.unlink()
        left = [n for n in os.listdir("/dev/shm")
                if n.startswith((shm.prefix("j1"), shm.prefix(shm.result_tag("j1"))))]
        self.assertEqual(left, [])

    def test_a_segment_of_another_job_is_refused(self):
        self.spec("j1", ["py:pykernels:double"])
        array = numpy.zeros(20000)
        data, segments = payload([array], job="other", use_shm=True)
        self.task("j1", [item(0, data)])
        answer = self.server.result()[2][0]
        for segment in segments:
            segment.unlink()
        self.assertEqual(answer[2], 1)
        self.assertIn(b"not one of this job's", answer[5])

    def test_forget_drops_the_queued_tasks_of_a_job_without_answer(self):
        self.spec("j1", ["py:pykernels:square"])
        self.server.pipe.send(pack(2, "forget", "j1"))
        self.task("j1", [item(0, payload([1])[0])])
        self.assertTrue(self.server.no_result(0.5))

    def test_cancel_stops_a_running_task_and_the_next_job_runs(self):
        self.spec("j1", ["py:pykernels:spin_s"])
        self.task("j1", [item(0, payload([30])[0])])
        time.sleep(0.5)
        started = time.monotonic()
        for _ in range(3):      # to the heartbeat socket, whichever id it has
            for routing in list(self.heartbeat_ids()) + [self.server.main]:
                self.server.control.send_multipart([routing, pack(2, "cancel", "j1")])
            time.sleep(0.1)
        self.spec("j2", ["py:pykernels:square"])
        self.task("j2", [item(0, payload([3])[0])])
        message = self.server.result(10)
        self.assertEqual(message[0], "j2")
        self.assertLess(time.monotonic() - started, 2.0)

    def heartbeat_ids(self):
        ids = set()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and not ids:
            if self.server.control.poll(100):
                routing, frame = self.server.control.recv_multipart()
                message = protocol.decode(frame)
                if message is not None and message.type == "hb" and routing != self.server.main:
                    ids.add(routing)
        return ids

    def test_heartbeats_come_from_a_socket_of_their_own_during_a_long_task(self):
        self.spec("j1", ["py:pykernels:spin_s"])
        self.task("j1", [item(0, payload([1.0])[0])])
        time.sleep(0.2)
        beats = []
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:
            if self.server.control.poll(50):
                routing, frame = self.server.control.recv_multipart()
                message = protocol.decode(frame)
                if message.type == "hb":
                    beats.append((routing, message[0], message[1]))
        self.assertGreaterEqual(len(beats), 3)
        self.assertTrue(all(b[0] != self.server.main and b[1:] == ("p1", 1) for b in beats))
        self.server.result(5)

    def test_sigterm_sends_bye_and_exits_0(self):
        self.server.worker.send_signal(signal.SIGTERM)
        self.assertEqual(self.server.worker.wait(5), 0)
        seen = []
        while self.server.control.poll(200):
            seen.append(protocol.decode(self.server.control.recv_multipart()[1]).type)
        self.assertIn("bye", seen)


if __name__ == "__main__":
    unittest.main()
