"""examples/python/search.py as written: 400 MB float64 table frozen once,
2,000 specifications on 2 workers, results identical to a serial loop and
in order; and the peak summed RSS of all its processes stays below
1.5 x the table + 200 MB.

Memory is sampled every 50 ms over the example and all its descendants
(the service and the workers). The bound is on the sum of their VmRSS,
what `ps` and a batch system's accounting add up: a page of the table
counts once for every process that has it mapped, so it holds only
because a worker unmaps frozen pages beyond its budget
(Pool(frozen_resident=), 256 MiB by default) and the caller never maps the
table while it builds it. The test also measures the memory they really
use: each process's own pages (Pss_Anon + Pss_File of
/proc/PID/smaps_rollup) plus the shared-memory pages counted once (the
resident bytes of the /dev/shm files these processes made), which must
hold the table and stay under the same bound.
"""

import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from test_pool import serve_available  # noqa: E402

TABLE_MB = int(os.environ.get("FANFOLD_SEARCH_MB", "400"))


def descendants(root):
    kids = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name, "rb") as source:
                    stat = source.read()
            except OSError:
                continue
            kids.setdefault(int(stat[stat.rfind(b")") + 2:].split()[1]), []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += kids.get(pid, [])
    return out


def field_kb(path, keys):
    values = dict.fromkeys(keys, 0)
    try:
        with open(path) as source:
            for line in source:
                key, _, rest = line.partition(":")
                if key in values:
                    values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values


def shm_resident_kb(prefix, pids):
    """Resident KB of the segments made by pids (named with one of them)."""
    total = 0
    for name in os.listdir("/dev/shm"):
        fields = name[len(prefix):].split("_") if name.startswith(prefix) else []
        # ff_<uid>_<job>_<pid>_...
        if len(fields) > 1 and fields[1].isdigit() and int(fields[1]) in pids:
            try:
                total += os.stat("/dev/shm/" + name).st_blocks // 2
            except OSError:
                pass
    return total


class SearchExampleTest(unittest.TestCase):
    def test_search_is_identical_to_a_serial_loop_and_maps_the_table_once(self):
        why = serve_available()
        if why:
            self.skipTest(why)
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
        process = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "examples", "python", "search.py"),
             "--mb", str(TABLE_MB), "--specs", "2000", "--workers", "2", "--check"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        prefix = "ff_%d_" % os.getuid()
        peak_used = peak_rss = peak_pool_rss = 0
        deadline = time.monotonic() + 900
        while process.poll() is None and time.monotonic() < deadline:
            used = rss = 0
            pids = descendants(process.pid)
            for pid in pids:
                rollup = field_kb("/proc/%d/smaps_rollup" % pid, ("Pss_Anon", "Pss_File"))
                used += rollup["Pss_Anon"] + rollup["Pss_File"]
                rss += field_kb("/proc/%d/status" % pid, ("VmRSS",))["VmRSS"]
            used += shm_resident_kb(prefix, set(pids))
            peak_used, peak_rss = max(peak_used, used), max(peak_rss, rss)
            if len(pids) > 1:                   # while the pool runs
                peak_pool_rss = max(peak_pool_rss, rss)
            time.sleep(0.05)
        if process.poll() is None:
            process.kill()
        out, err = process.communicate()
        limit_kb = (1.5 * TABLE_MB + 200) * 1000
        print("\nsearch.py: peak summed VmRSS %.0f MB (%.0f MB while the pool ran), "
              "memory used (PSS, shared memory once) %.0f MB; limit %.0f MB"
              % (peak_rss / 1000, peak_pool_rss / 1000, peak_used / 1000, limit_kb / 1000),
              file=sys.stderr)
        self.assertEqual(process.returncode, 0, err)
        self.assertIn("serial loop: identical, in order", out)
        self.assertIn("2000 specifications on 2 workers", err)
        self.assertGreater(peak_used, TABLE_MB * 1000 * 0.9)     # the table was measured
        self.assertGreater(peak_pool_rss, 0)                     # the pool was measured
        self.assertLess(peak_rss, limit_kb)
        self.assertLess(peak_used, limit_kb)


if __name__ == "__main__":
    unittest.main()
