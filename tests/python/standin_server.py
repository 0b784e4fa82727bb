"""A small stand-in for fanfold-server, for tests of the Python client when
`fanfold serve` is not built: it binds the topology's clients, control,
task pipes and results, welcomes workers with version 2, deals tasks to the
workers that can run them (at most 4 task messages each), sends a dead
worker's tasks again, forwards results to the client and ends a job when
its acks cover the total. Not a replacement for the server: it has no
credit adaptation, shares or security.
    python3 standin_server.py TOPOLOGY"""

import os
import signal
import sys
import time

import msgpack
import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "python"))
from fanfold import protocol  # noqa: E402
from fanfold.topology import Topology  # noqa: E402


def pack(*fields):
    return msgpack.packb(list(fields), use_bin_type=True)


def push(sock, frame):
    """Sends without blocking: a dead worker's full pipe must not stop us."""
    try:
        sock.send(frame, zmq.NOBLOCK)
        return True
    except zmq.Again:
        return False


def main(path):
    topo = Topology(path)
    ctx = zmq.Context()
    clients = ctx.socket(zmq.ROUTER)
    clients.bind(topo.values["server/clients"])
    control = ctx.socket(zmq.ROUTER)
    control.bind(topo.values["ventilator/control"])
    results = ctx.socket(zmq.PULL)
    results.bind(topo.values["sink/results"])
    tasks_base = topo.values["ventilator/tasks"]
    stop = []
    clients.setsockopt(zmq.ROUTER_MANDATORY, 0)
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    workers = {}        # routing -> dict(id, pipe, py, held{(job,seq)}, told, heard, hb)
    jobs = {}           # job -> dict(client, kernels, params, pending[items], held, total, written, py, heard)
    next_worker = 1
    beat = [0.0]
    next_job = 1
    poller = zmq.Poller()
    for sock in (clients, control, results):
        poller.register(sock, zmq.POLLIN)
    while not stop:
        poller.poll(20)
        now = time.monotonic()
        while clients.poll(0):
            routing, frame = clients.recv_multipart()
            m = protocol.decode(frame, {(2, "submit"), (2, "tasks"), (2, "total"), (2, "ack"),
                                        (2, "hb"), (2, "cancel"), (2, "status")}
                                | set(protocol.SCHEMAS))
            if m is None:
                try:
                    raw = msgpack.unpackb(frame, raw=False)
                except Exception:
                    continue
                if raw[:2] == [2, "submit"]:
                    job = "s%d" % next_job
                    next_job += 1
                    py = all(k.startswith("py:") for k in raw[3])
                    jobs[job] = dict(client=routing, kernels=raw[3], params=raw[4], pending=[],
                                     total=None, written=0, py=py, heard=now)
                    clients.send_multipart([routing, pack(2, "accepted", job, 2048, 64 << 20)])
                elif raw[:2] == [2, "tasks"] and raw[2] in jobs:
                    jobs[raw[2]]["pending"] += [[s, k, i, p, 1, c, n, a]
                                               for s, k, i, p, c, n, a in raw[3]]
                    jobs[raw[2]]["heard"] = now
                elif raw[:2] == [2, "total"] and raw[2] in jobs:
                    jobs[raw[2]]["total"] = raw[3]
                elif raw[:2] == [2, "ack"] and raw[2] in jobs:
                    job = jobs[raw[2]]
                    job["written"] = raw[3]
                    job["heard"] = now
                elif raw[:2] == [2, "hb"] and raw[2] in jobs:
                    jobs[raw[2]]["heard"] = now
                elif raw[:2] == [2, "cancel"] and raw[2] in jobs:
                    jobs[raw[2]]["heard"] = 0
                elif raw[:2] == [2, "status"]:
                    clients.send_multipart([routing, pack(2, "status", '{"jobs":[],"workers":[],"queue":0}')])
                continue
        while control.poll(0):
            routing, frame = control.recv_multipart()
            m = protocol.decode(frame)
            if m is None:
                continue
            if m.type == "hello":
                if routing not in workers:
                    pipe = ctx.socket(zmq.PUSH)
                    endpoint = "%s-%d" % (tasks_base, next_worker)
                    pipe.bind(endpoint)
                    workers[routing] = dict(id=next_worker, pipe=pipe, endpoint=endpoint,
                                            py=bool(m[2] & 2), held=[], told=set(), heard=now)
                    next_worker += 1
                w = workers[routing]
                control.send_multipart([routing, pack(2, "welcome", "pool", w["id"],
                                                      w["endpoint"], 100)])
            elif m.type in ("hb", "bye"):
                for w in workers.values():
                    if w["id"] == m[1]:
                        w["heard"] = 0 if m.type == "bye" else now
        while results.poll(0):
            m = protocol.decode(results.recv())
            if m is None or m.type != "result":
                continue
            job = jobs.get(m[0])
            for w in workers.values():
                w["held"] = [h for h in w["held"] if not (h[0] == m[0] and
                                                          h[1] in {i[0] for i in m[2]})]
            if job:
                clients.send_multipart([job["client"], pack(2, "result", m[0], m[1], m[2])])
        if now - beat[0] >= 0.1:
            beat[0] = now
            for routing, w in workers.items():
                control.send_multipart([routing, pack(2, "hb", "pool", w["id"])])
        # dead workers: their tasks again
        for routing, w in list(workers.items()):
            if now - w["heard"] > 1.0:
                for job_id, seq, item in w["held"]:
                    if job_id in jobs:
                        jobs[job_id]["pending"].insert(0, item)
                w["pipe"].close(0)
                del workers[routing]
        for job_id, job in list(jobs.items()):
            if now - job["heard"] > 0.6:
                del jobs[job_id]
                for w in workers.values():
                    push(w["pipe"], pack(2, "forget", job_id))
                continue
            if job["total"] is not None and job["written"] >= job["total"]:
                clients.send_multipart([job["client"], pack(2, "end", job_id, 0)])
                del jobs[job_id]
                continue
            if now - job.get("hb", 0) > 0.1:
                job["hb"] = now
                clients.send_multipart([job["client"], pack(2, "hb", job_id, len(workers))])
            for w in workers.values():
                if w["py"] != job["py"]:
                    continue
                while job["pending"] and len(w["held"]) < 32:
                    batch = job["pending"][:8]
                    del job["pending"][:8]
                    if job_id not in w["told"]:
                        if not push(w["pipe"], pack(2, "jobspec", job_id, job["kernels"],
                                                    job["params"])):
                            job["pending"][:0] = batch
                            break
                        w["told"].add(job_id)
                    if not push(w["pipe"], pack(2, "task", job_id, batch)):
                        job["pending"][:0] = batch
                        break
                    w["held"] += [(job_id, item[0], item) for item in batch]
    ctx.destroy(0)


if __name__ == "__main__":
    main(sys.argv[1])
