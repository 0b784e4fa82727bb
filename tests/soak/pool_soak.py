#!/usr/bin/python3
"""`make soak`: a warm pool (`fanfold serve -w 2`) serves mixed jobs for
SOAK_SECONDS (default 600): small noop jobs back to back, --pipe jobs,
--exec jobs, `stats --chunk` over a .npy (shared memory), and now and then
a client killed with SIGKILL mid-job. Every 2 s it samples the RSS and
the open descriptors of the server and of each worker, and the pool's
segments in /dev/shm. At the end it prints the figures and fails when
the RSS of a process grew by 10% or more after the first minute (the
first sixth of a shorter run), its descriptors grew, a finished job's
output was not exact, or a segment or ipc file was left behind.

Usage: pool_soak.py BIN_DIR [SECONDS]"""
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def pool_pids(topology):
    out = subprocess.run(["pgrep", "-f", "fanfold-(server|worker) -t %s" % topology],
                         stdout=subprocess.PIPE).stdout.split()
    pids = {}
    for pid in map(int, out):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as cmd:
                name = cmd.read().split(b"\0")[0].decode()
            pids[pid] = os.path.basename(name)
        except OSError:
            pass
    return pids


def main():
    fanfold = os.path.join(sys.argv[1], "fanfold")
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 600
    warm = min(60.0, seconds / 6)
    scratch = tempfile.mkdtemp(prefix="fanfold-soak.")
    os.makedirs(scratch + "/ipc", mode=0o700)
    topology = scratch + "/pool.zpl"
    with open(topology, "w") as out:
        out.write("ventilator\n    control = \"ipc://%s/ipc/control\"\n"
                  "    tasks = \"ipc://%s/ipc/task\"\n"
                  "sink\n    results = \"ipc://%s/ipc/results\"\n"
                  "server\n    clients = \"ipc://%s/ipc/clients\"\n" % ((scratch,) * 4))
    np.save(scratch + "/f32.npy", np.arange(3_000_000, dtype=np.float32))
    records = "".join("%d soak record\n" % n for n in range(20000)).encode()
    jobs = {
        "noop": ["-K", "noop", "--format", "jsonl"] + [str(n) for n in range(10)],
        "pipe": ["--pipe", "--lines", "50", "-K", "noop"],
        "exec": ["--exec", "echo {}"] + [str(n) for n in range(40)],
        "stats": ["-K", "stats", "--chunk", "256K", "--format", "jsonl", scratch + "/f32.npy"],
    }
    expected = {}
    for name, args in jobs.items():
        expected[name] = subprocess.run([fanfold, "run", "-w", "2"] + args, input=records,
                                        stdout=subprocess.PIPE, check=True).stdout
    serve = subprocess.Popen([fanfold, "serve", "-t", topology, "-w", "2", "-v"],
                             stderr=open(scratch + "/serve.log", "wb"), start_new_session=True)
    rng = random.Random(1)
    samples = []                    # (t, {pid: (name, rss, fds)}, segments)
    done = {name: 0 for name in jobs}
    wrong, killed = [], 0
    uid = os.getuid()
    try:
        time.sleep(1.5)
        start = time.time()
        next_sample = start
        running = []                # (name, process, kill at)
        while time.time() - start < seconds or running:
            now = time.time()
            if now - start < seconds and len(running) < 3:
                name = rng.choice(["noop", "noop", "noop", "pipe", "exec", "stats"])
                victim = rng.random() < 0.05 and name in ("pipe", "stats")
                proc = subprocess.Popen([fanfold, "submit", "-t", topology] + jobs[name],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=open(scratch + "/client.err", "ab"))
                running.append((name, proc, now + 0.05 if victim else None))
            for entry in list(running):
                name, proc, kill_at = entry
                if kill_at is not None:
                    if time.time() >= kill_at:
                        if proc.poll() is None:
                            proc.kill()
                            killed += 1
                        proc.communicate()
                        running.remove(entry)
                    continue
                if kill_at is None:
                    try:
                        out, _ = proc.communicate(input=records, timeout=60)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        out, _ = proc.communicate()
                        wrong.append((name, "hung"))
                    if proc.returncode != 0 or out != expected[name]:
                        wrong.append((name, proc.returncode))
                    done[name] += 1
                    running.remove(entry)
            if time.time() >= next_sample:
                pids = pool_pids(topology)
                sample = {}
                for pid, name in pids.items():
                    try:
                        sample[pid] = (name, rss_kb(pid), fds(pid))
                    except OSError:
                        pass
                segments = sum(1 for s in os.listdir("/dev/shm") if s.startswith("ff_%d_s" % uid))
                samples.append((time.time() - start, sample, segments))
                next_sample += 2
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=15)
    left_ipc = os.listdir(scratch + "/ipc")
    if wrong:
        print("logs kept in %s" % scratch)
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    left_segments = [s for s in os.listdir("/dev/shm") if s.startswith("ff_%d_s" % uid)]
    # growth per process, from the first sample past the warm-up to the last
    base = next(s for s in samples if s[0] >= warm) if any(s[0] >= warm for s in samples) else samples[0]
    last = samples[-1]
    failures = []
    print("soak: %.0f s, jobs done %s, clients killed %d, samples %d (warm-up %.0f s)"
          % (last[0], done, killed, len(samples), warm))
    print("%-8s %-16s %10s %10s %7s %6s %6s" % ("pid", "process", "rss0 KB", "rss KB", "growth",
                                                "fds0", "fds"))
    for pid, (name, rss0, fds0) in sorted(base[1].items()):
        if pid not in last[1]:
            continue
        _, rss1, fds1 = last[1][pid]
        growth = (rss1 - rss0) / rss0 if rss0 else 0
        peak = max(s[1][pid][1] for s in samples if s[0] >= warm and pid in s[1])
        print("%-8d %-16s %10d %10d %6.1f%% %6d %6d   (peak %d KB)"
              % (pid, name, rss0, rss1, 100 * growth, fds0, fds1, peak))
        if growth >= 0.10:
            failures.append("%s %d: RSS grew %.1f%%" % (name, pid, 100 * growth))
        if fds1 > fds0:
            failures.append("%s %d: descriptors %d -> %d" % (name, pid, fds0, fds1))
    print("segments while running: max %d; left after stop: %d; ipc files left: %d"
          % (max(s[2] for s in samples), len(left_segments), len(left_ipc)))
    if left_segments:
        failures.append("segments left: %s" % left_segments[:5])
    if left_ipc:
        failures.append("ipc files left: %s" % left_ipc)
    if wrong:
        failures.append("jobs with wrong output or status: %s" % wrong[:5])
    if failures:
        print("SOAK FAILED: " + "; ".join(failures))
        sys.exit(1)
    print("soak passed")


if __name__ == "__main__":
    main()
