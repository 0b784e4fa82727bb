#!/usr/bin/python3
"""Peak resident memory of a process tree, for `make bench`.

Usage: rss.py [--interval SECONDS] [--prefix COMM] [--timeout SECONDS] -- COMMAND [ARG...]

Runs COMMAND and, every INTERVAL seconds (default 0.05) until it exits,
sums VmRSS from /proc/PID/status over every descendant of COMMAND whose
name (/proc/PID/comm) starts with PREFIX (default "fanfold"): the launcher,
the ventilator, the sink and the workers of one run, and no other fanfold
that happens to run on the machine. Prints one JSON object on stdout:
{"peak_kb", "peak_procs", "samples", "elapsed_s", "exit"}. After TIMEOUT
seconds (default: none) COMMAND's process group is killed; exit is then -9.
"""
import json
import os
import signal
import subprocess
import sys
import time


USAGE = "usage: rss.py [--interval S] [--prefix COMM] [--timeout S] -- COMMAND..."


def children_map():
    """ppid -> [pid] over every process in /proc."""
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the name may hold spaces or parens: fields start after the last ')'
        fields = stat[stat.rfind(b")") + 2:].split()
        kids.setdefault(int(fields[1]), []).append(int(name))
    return kids


def descendants(root):
    kids = children_map()
    seen, todo = [], [root]
    while todo:
        pid = todo.pop()
        seen.append(pid)
        todo.extend(kids.get(pid, []))
    return seen


def rss_kb(pid, prefix):
    """VmRSS of pid in kB when its comm starts with prefix, else 0."""
    try:
        with open("/proc/%d/comm" % pid) as f:
            if not f.read().startswith(prefix):
                return 0
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def main(argv):
    interval, prefix, timeout = 0.05, "fanfold", None
    while argv and argv[0] != "--":
        opt = argv.pop(0)
        if opt == "--interval":
            interval = float(argv.pop(0))
        elif opt == "--prefix":
            prefix = argv.pop(0)
        elif opt == "--timeout":
            timeout = float(argv.pop(0))
        else:
            sys.exit(USAGE)
    if not argv[1:]:
        sys.exit(USAGE)
    command = argv[1:]
    start = time.monotonic()
    child = subprocess.Popen(command, start_new_session=True)
    peak, peak_procs, samples = 0, 0, 0
    while child.poll() is None:
        total, procs = 0, 0
        for pid in descendants(child.pid):
            kb = rss_kb(pid, prefix)
            if kb:
                total += kb
                procs += 1
        samples += 1
        if total > peak:
            peak, peak_procs = total, procs
        if timeout is not None and time.monotonic() - start > timeout:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            break
        time.sleep(interval)
    elapsed = time.monotonic() - start
    json.dump({"peak_kb": peak, "peak_procs": peak_procs, "samples": samples,
               "elapsed_s": round(elapsed, 3), "exit": child.returncode},
              sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
