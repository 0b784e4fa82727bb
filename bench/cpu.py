#!/usr/bin/python3
"""CPU time per task of each fanfold stage at noop, against the raw libzmq
pipeline's CPU time per message, for `make bench` (row 9) and by hand.

Usage: cpu.py [--tasks N] [--rounds R] [--workers W] FANFOLD_BIN ZMQPIPE

Each stage's user and system time (the rusage of the process, every
thread, libzmq's I/O thread included) comes from the launcher's -v line
"cpu: ventilator S s, sink S s, workers S s": it forks the stages and
reads their rusage as it reaps them. Runs `seq 1 N | fanfold run -w W --pipe --lines 1 -K noop` and
`seq 1 N | zmqpipe -w W` (whose own rusage covers its ventilator, workers
and sink: it waits for them) R times each, alternating, checks the
outputs, and prints one JSON object: the median over rounds of the µs of
CPU per task of each stage and of the whole run (every process, the
launcher's own included), the same for zmqpipe per message, and the
median wall times.
"""
import json
import re
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

USAGE = "usage: cpu.py [--tasks N] [--rounds R] [--workers W] FANFOLD_BIN ZMQPIPE"
STAGES = ("ventilator", "worker", "sink")


def timed(command, stdin_path, stdout_path, stderr_path=os.devnull):
    """Runs command (a list); (wall seconds, user + system seconds of it and
    every child it waited for)."""
    before = os.times()
    started = time.monotonic()
    with open(stdin_path, "rb") as src, open(stdout_path, "wb") as dst, \
            open(stderr_path, "wb") as err:
        code = subprocess.call(command, stdin=src, stdout=dst, stderr=err)
    wall = time.monotonic() - started
    after = os.times()
    if code != 0:
        sys.exit("cpu.py: %s exited %d" % (" ".join(command), code))
    return wall, (after.children_user - before.children_user
                  + after.children_system - before.children_system)


def stage_seconds(log_path):
    """{stage: user + system seconds} from the launcher's -v "cpu:" line."""
    pattern = re.compile(r"cpu: ventilator ([0-9.]+) s, sink ([0-9.]+) s, workers ([0-9.]+) s")
    with open(log_path, errors="replace") as f:
        for line in f:
            found = pattern.search(line)
            if found:
                return dict(zip(("ventilator", "sink", "worker"), map(float, found.groups())))
    sys.exit("cpu.py: no cpu line in the launcher's log %s" % log_path)


def main(argv):
    tasks, rounds, workers = 1000000, 3, 2
    while argv and argv[0].startswith("--"):
        opt = argv.pop(0)
        if opt == "--tasks":
            tasks = int(argv.pop(0))
        elif opt == "--rounds":
            rounds = int(argv.pop(0))
        elif opt == "--workers":
            workers = int(argv.pop(0))
        else:
            sys.exit(USAGE)
    if len(argv) != 2:
        sys.exit(USAGE)
    fanfold_bin, zmqpipe = os.path.abspath(argv[0]), os.path.abspath(argv[1])
    directory = tempfile.mkdtemp(prefix="fanfold-cpu-")
    try:
        lines = os.path.join(directory, "in")
        with open(lines, "w") as f:
            f.write("".join("%d\n" % n for n in range(1, tasks + 1)))
        out = os.path.join(directory, "out")
        ff = {stage: [] for stage in STAGES + ("total",)}
        zmq = []
        walls = {"fanfold": [], "zmqpipe": []}
        for _ in range(rounds):
            log = os.path.join(directory, "log")
            wall, whole = timed([os.path.join(fanfold_bin, "fanfold"), "run", "-v",
                                 "-w", str(workers), "--mode", "parallel",
                                 "--pipe", "--lines", "1", "-K", "noop"], lines, out, log)
            if not filecmp(out, lines):
                sys.exit("cpu.py: fanfold's output differs from its input")
            walls["fanfold"].append(wall)
            seconds = stage_seconds(log)
            for stage in STAGES:
                ff[stage].append(seconds[stage] * 1e6 / tasks)
            ff["total"].append(whole * 1e6 / tasks)
            wall, cpu = timed([zmqpipe, "-w", str(workers)], lines, out)
            walls["zmqpipe"].append(wall)
            zmq.append(cpu * 1e6 / tasks)
        result = {
            "tasks": tasks, "rounds": rounds, "workers": workers,
            "fanfold_us_per_task": {k: round(statistics.median(v), 3) for k, v in ff.items()},
            "fanfold_us_per_task_rounds": {k: [round(x, 3) for x in v] for k, v in ff.items()},
            "zmqpipe_us_per_message": round(statistics.median(zmq), 3),
            "zmqpipe_us_per_message_rounds": [round(x, 3) for x in zmq],
            "wall_s": {k: round(statistics.median(v), 3) for k, v in walls.items()},
            "load": [round(x, 2) for x in os.getloadavg()],
        }
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def filecmp(a, b):
    """True when files a and b hold the same bytes."""
    return subprocess.call(["cmp", "-s", a, b]) == 0


if __name__ == "__main__":
    main(sys.argv[1:])
