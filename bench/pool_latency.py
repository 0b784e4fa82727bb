#!/usr/bin/python3
"""Latency of a small job on a warm pool: `fanfold submit` of 10 noop tasks
against `fanfold run -w 2` of the same job, side by side in one run.

Starts `fanfold serve -w 2` on a private topology, then times, as whole
processes, SUBMITS submit jobs and one run job (stages: --mode parallel)
every SUBMITS/RUNS submits, and one `run -w 2` as typed (--mode auto,
which runs a job this small in one process) beside each of those. Prints
min/median/max of each in ms, one line each, and the ratios of the
medians; with --json, one JSON object instead. Every output is checked
against the first run's.

Usage: pool_latency.py BIN_DIR [SUBMITS] [RUNS] [--json]"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def timed(command):
    """Seconds the command took, and its stdout; raises when it fails."""
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(command[:3]), done.returncode,
                                                  done.stderr.decode(errors="replace")[-400:]))
    return seconds, done.stdout


def figures(values):
    return {"min_ms": min(values) * 1e3, "median_ms": statistics.median(values) * 1e3,
            "max_ms": max(values) * 1e3, "count": len(values)}


def main():
    args = [a for a in sys.argv[1:] if a != "--json"]
    as_json = "--json" in sys.argv
    fanfold = os.path.join(args[0], "fanfold")
    submits = int(args[1]) if len(args) > 1 else 1000
    runs = int(args[2]) if len(args) > 2 else 100
    scratch = tempfile.mkdtemp(prefix="fanfold-latency.")
    os.makedirs(scratch + "/ipc", mode=0o700)
    topology = scratch + "/pool.zpl"
    with open(topology, "w") as out:
        out.write("ventilator\n    control = \"ipc://%s/ipc/control\"\n"
                  "    tasks = \"ipc://%s/ipc/task\"\n"
                  "sink\n    results = \"ipc://%s/ipc/results\"\n"
                  "server\n    clients = \"ipc://%s/ipc/clients\"\n" % ((scratch,) * 4))
    serve = subprocess.Popen([fanfold, "serve", "-t", topology, "-w", "2"],
                             stderr=subprocess.DEVNULL, start_new_session=True)
    job = ["-K", "noop", "--format", "jsonl"] + [str(n) for n in range(1, 11)]
    try:
        deadline = time.time() + 10
        while True:
            status = subprocess.run([fanfold, "status", "-t", topology, "--format", "jsonl"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            if status.returncode == 0 and status.stdout.count(b'"kind":"worker"') >= 2:
                break
            if time.time() > deadline:
                raise RuntimeError("the pool did not start")
            time.sleep(0.1)
        expected = timed([fanfold, "run", "-w", "2", "--mode", "parallel"] + job)[1]
        submit_s, run_s, auto_s = [], [], []
        every = max(1, submits // max(1, runs))
        for index in range(submits):
            seconds, out = timed([fanfold, "submit", "-t", topology] + job)
            if out != expected:
                raise RuntimeError("submit %d gave other bytes than run" % index)
            submit_s.append(seconds)
            if index % every == 0 and len(run_s) < runs:
                seconds, out = timed([fanfold, "run", "-w", "2", "--mode", "parallel"] + job)
                if out != expected:
                    raise RuntimeError("run gave other bytes")
                run_s.append(seconds)
                auto_s.append(timed([fanfold, "run", "-w", "2"] + job)[0])
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)
    result = {"submit": figures(submit_s), "run_parallel": figures(run_s),
              "run_auto": figures(auto_s)}
    result["ratio_parallel"] = result["submit"]["median_ms"] / result["run_parallel"]["median_ms"]
    result["ratio_auto"] = result["submit"]["median_ms"] / result["run_auto"]["median_ms"]
    if as_json:
        print(json.dumps(result))
        return
    for name in ("submit", "run_parallel", "run_auto"):
        f = result[name]
        print("%-13s %5d jobs  min %6.1f  median %6.1f  max %7.1f ms"
              % (name, f["count"], f["min_ms"], f["median_ms"], f["max_ms"]))
    print("submit / run --mode parallel: %.3f   submit / run (auto): %.3f"
          % (result["ratio_parallel"], result["ratio_auto"]))


if __name__ == "__main__":
    main()
