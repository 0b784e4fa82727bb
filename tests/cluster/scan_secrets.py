"""Watches every process while a job runs: reads the job's secret keys
from the anonymous files (memfds) the launcher and the remote launchers
hold, then looks for them in /proc/PID/cmdline and /proc/PID/environ of
every process. Usage: scan_secrets.py LAUNCHER_PID REPORT. Writes
"samples N secrets N processes N workers N leaks N" and a line per leak."""
import os, re, sys, time

launcher, report = int(sys.argv[1]), sys.argv[2]
secrets, seen, workers, leaks, samples = set(), set(), set(), [], 0
pattern = re.compile(rb'secret-key = "([^"]+)"')

def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""

while os.path.exists(f"/proc/{launcher}"):
    samples += 1
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    for pid in pids:
        cmdline = read(f"/proc/{pid}/cmdline")
        if b"fanfold" in cmdline:
            try:
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("/memfd:fanfold-") and "secret" in target:
                        secrets.update(pattern.findall(read(f"/proc/{pid}/fd/{fd}")))
            except OSError:
                pass
            seen.add(pid)
            if b"fanfold-worker" in cmdline and b"--no-shm" in cmdline:
                workers.add(pid)
    for pid in pids:
        for what in ("cmdline", "environ"):
            data = read(f"/proc/{pid}/{what}")
            for secret in secrets:
                if secret in data:
                    leaks.append(f"{pid} {what}: {read(f'/proc/{pid}/cmdline')[:200]!r}")
    time.sleep(0.1)
with open(report, "w") as out:
    out.write(f"samples {samples} secrets {len(secrets)} processes {len(seen)} "
              f"workers {len(workers)} leaks {len(leaks)}\n")
    for leak in sorted(set(leaks)):
        out.write(leak + "\n")
