#!/usr/bin/python3
"""The fanfold benchmark: every measure of `make bench`, side by side with
its baseline, in one run; prints a markdown table, writes RESULTS.md and a
gnuplot bar chart of the ratios.

Called by bench/run.sh (which installs the deps, builds the raw libzmq
baseline and snapshots the fanfold binaries into bench/out/bin). Organised
as: settings, helpers (timing with hyperfine or in alternating rounds,
checks), one function per measure (MEASURES at the end of that part: add a
function and a line there to add a row), the report (table, RESULTS.md,
plot).

Usage: bench.py [MEASURE...]   (default: every measure, in order)
"""
import datetime
import heapq
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
BIN = os.path.join(OUT, "bin")                  # snapshot made by run.sh
FF = os.path.join(BIN, "fanfold")
BASE_FF = os.path.join(OUT, "base-bin", "fanfold")  # snapshot of FANFOLD_BASE_BIN, if given
ZMQPIPE = os.path.join(OUT, "zmqpipe")          # built by run.sh
PYTHON = "/usr/bin/python3"
MARKER = ("<!-- bench/run.sh regenerates everything above this line; "
          "everything below it is kept -->")

# ------------------------------------------------------------- settings

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")


def setting(name, full, quick):
    """BENCH_<name> from the environment, else the full or quick size."""
    value = os.environ.get("BENCH_" + name)
    return type(full)(value) if value else (quick if QUICK else full)


RUNS = setting("RUNS", 5, 1)                # hyperfine runs, or rounds of row 4; the median counts
PY_RUNS = setting("PY_RUNS", 1, 1)          # Python Pool over N tasks is slow
N = setting("N", 1000000, 100000)           # noop one-line tasks
WORKERS = setting("WORKERS", 2, 2)          # -w for measures 1-3 and 5
WC_MB = setting("WC_MB", 60, 60)            # size of the wc -l file
SPIN_TASKS = setting("SPIN_TASKS", 1000, 200)
SPIN_US = setting("SPIN_US", 3000, 3000)
FAN64_TASKS = setting("FAN64_TASKS", 12800, 1280)
FAN256_TASKS = setting("FAN256_TASKS", 25600, 2560)
FAN_MS = setting("FAN_MS", 10, 10)
RSS_SIZE = setting("RSS_SIZE", "1500M", "300M")
SKEW_TASKS = setting("SKEW_TASKS", 200, 200)
SKEW_WORKERS = setting("SKEW_WORKERS", 8, 8)
SKEW_RUNS = setting("SKEW_RUNS", 9, 3)      # rounds of heavy, fifo, zero: noisy, so more
SKEW_LIGHT = 10                             # milliseconds
SKEW_HEAVY = 500                            # 50x heavier, 10% of the tasks
SKEW_LOOKAHEAD = 64                         # the ventilator's heavy-first window
ARRAY_MB = setting("ARRAY_MB", 400, 100)    # the float32 .npy of measure 7
ARRAY_CHUNK = "4M"
ARRAY_RUNS = setting("ARRAY_RUNS", 5, 1)
ARRAY_BIG_GB = setting("ARRAY_BIG_GB", 4, 4)  # the sparse .npy of row 7e
VERSUS_RUNS = setting("VERSUS_RUNS", 9, 3)  # alternating rounds of row 8
CPU_RUNS = setting("CPU_RUNS", 5, 1)        # alternating rounds of row 9
LOADGEN_RUNS = setting("LOADGEN_RUNS", 3, 1)            # rounds of row 11 per worker count
LOADGEN_TASKS = setting("LOADGEN_TASKS", 2000000, 200000)  # noop tasks of one round
LOADGEN_WORKERS = [16, 256, 1000, 4096]
LOADGEN_WINDOW = setting("LOADGEN_WINDOW", 0, 0)      # the topology of row 11: window ...
LOADGEN_PREFETCH = setting("LOADGEN_PREFETCH", -1, -1)  # ... and prefetch; 0 and -1: the
                                            # shipped topology/local.zpl's (the window grows
                                            # with the workers; BENCH_LOADGEN_WINDOW=65536
                                            # BENCH_LOADGEN_PREFETCH=63 were rows 11's earlier tuning)
LOADGEN = os.path.join(OUT, "loadgen")      # built by run.sh
FLOOR = os.path.join(OUT, "floor")          # built by run.sh: the floor of rows 4a-4c
PYPOOL_N = setting("PYPOOL_N", 100000, 100000)  # items of row 10 (fanfold.Pool)
PYPOOL_RUNS = setting("PYPOOL_RUNS", 21, 3)  # alternating rounds of row 10 ...
PYPOOL_SLOW_RUNS = setting("PYPOOL_SLOW_RUNS", 5, 2)  # ... the first of them with chunksize=1

TIMEOUT = setting("TIMEOUT", 300, 120)      # seconds for one hyperfine series or rss run
LOG = os.path.join(OUT, "bench.log")


class BenchError(Exception):
    """A measure could not be taken: its row says why."""


# -------------------------------------------------------------- helpers

def say(text):
    print("bench: " + text, file=sys.stderr, flush=True)


def q(path):
    return shlex.quote(path)


def short(command, width=100):
    """command cut to width characters, for error messages."""
    return command if len(command) <= width else command[:width - 1] + "…"


def sh(command):
    """Runs a bash command; its output, or BenchError."""
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise BenchError("`%s` exited %d: %s" % (
            short(command), done.returncode, done.stderr.decode(errors="replace").strip()[-300:]))
    return done.stdout.decode()


def hyper(name, command, runs=None):
    """Times command (sh -c) with hyperfine; its median wall time in
    seconds. The command's stderr goes to out/NAME.err; a non-zero exit in
    any run is a BenchError."""
    runs = runs or RUNS
    err = os.path.join(OUT, name + ".err")
    js = os.path.join(OUT, name + ".json")
    full = "%s 2>>%s" % (command, q(err))
    for path in (err, js):
        if os.path.exists(path):
            os.unlink(path)
    with open(LOG, "a") as log:
        log.write("\n## %s: %s\n" % (name, full))
        log.flush()
        child = subprocess.Popen(["hyperfine", "--runs", str(runs), "--style", "basic",
                                  "--export-json", js, full],
                                 stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
        try:
            child.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)   # hyperfine and what it started
            child.wait()
            raise BenchError("`%s` still ran after %d s: stopped" % (short(command), TIMEOUT))
    if child.returncode != 0 or not os.path.exists(js):
        tail = ""
        if os.path.exists(err):
            with open(err, errors="replace") as f:
                tail = f.read().strip()[-300:]
        raise BenchError("`%s` failed (see bench/out/bench.log)%s" % (
            short(command), ": " + tail if tail else ""))
    with open(js) as f:
        result = json.load(f)["results"][0]
    say("%-14s %8.3f s (median of %d)" % (name, result["median"], runs))
    return result["median"]


def alternate(name, commands, runs):
    """Times each (key, bash command) once per round, in turn, for runs
    rounds, so that the machine's load drifts over every variant alike;
    {key: median wall seconds}. See alternate_rounds."""
    times = alternate_rounds(name, commands, runs)
    medians = {key: statistics.median(values) for key, values in times.items()}
    for key, values in times.items():
        say("%-14s %8.3f s (median of %d; %s)" % (name + "-" + key, medians[key], runs,
                                                  " ".join("%.2f" % v for v in values)))
    return medians


def alternate_rounds(name, commands, runs):
    """Times each (key, bash command) once per round, in turn, for runs
    rounds; {key: [wall seconds of each round]}. Each command's stderr goes
    to out/NAME-KEY.err (appended over the rounds); a non-zero exit or a
    run past TIMEOUT is a BenchError."""
    times = {key: [] for key, _ in commands}
    errs = {key: os.path.join(OUT, "%s-%s.err" % (name, key)) for key, _ in commands}
    for path in errs.values():
        if os.path.exists(path):
            os.unlink(path)
    with open(LOG, "a") as log:
        for key, command in commands:
            log.write("\n## %s-%s: %s\n" % (name, key, command))
        for rnd in range(runs):
            for key, command in commands:
                log.flush()
                with open(errs[key], "a") as err:
                    started = time.monotonic()
                    child = subprocess.Popen(["bash", "-o", "pipefail", "-c", command],
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=err,
                                             start_new_session=True)
                    # a blocking wait, ended by a timer past TIMEOUT: Popen.wait
                    # with a timeout polls, sleeping up to 50 ms between looks,
                    # so every time it gave was rounded up to the next look
                    # (a 70 ms run and a 100 ms run both read 113 ms)
                    expired = threading.Event()

                    def stop(pid=child.pid):
                        try:
                            os.killpg(pid, signal.SIGKILL)
                            expired.set()
                        except ProcessLookupError:
                            pass        # it ended as the timer fired
                    timer = threading.Timer(TIMEOUT, stop)
                    timer.start()
                    try:
                        code = child.wait()
                        seconds = time.monotonic() - started
                    finally:
                        timer.cancel()
                    if expired.is_set():
                        raise BenchError("`%s` still ran after %d s: stopped" % (short(command), TIMEOUT))
                log.write("%s-%s round %d: %.3f s, exit %d\n" % (name, key, rnd + 1, seconds, code))
                if code != 0:
                    with open(errs[key], errors="replace") as f:
                        tail = f.read().strip()[-300:]
                    raise BenchError("`%s` exited %d%s" % (short(command), code, ": " + tail if tail else ""))
                times[key].append(seconds)
    return times


def sink_seconds(name, key):
    """Median of the `fanfold-sink: N tasks in S s` lines (-v) in
    out/NAME-KEY.err: the sink's time from the job header to the end."""
    with open(os.path.join(OUT, "%s-%s.err" % (name, key)), errors="replace") as f:
        found = [float(m) for m in re.findall(r"fanfold-sink: \d+ tasks in ([0-9.]+) s", f.read())]
    return statistics.median(found) if found else None


def same_file(path, expected, sort=False):
    """BenchError unless path holds the bytes of expected (after sort -n)."""
    if sort:
        sh("sort -n %s | cmp -s - %s" % (q(path), q(expected)))
    else:
        sh("cmp -s %s %s" % (q(path), q(expected)))


def seq_file(count):
    """out/seq-COUNT holding `seq 1 COUNT`."""
    path = os.path.join(OUT, "seq-%d" % count)
    if not os.path.exists(path):
        sh("seq 1 %d > %s" % (count, q(path)))
    return path


def judge(value, op, target):
    if value is None:
        return "—"
    ok = value >= target if op == ">=" else value <= target
    return "met" if ok else "**missed**"


def num(value, digits=0):
    return "{:,.{}f}".format(value, digits)


class Row:
    """One line of the table, and one bar of the plot when plot is set."""

    def __init__(self, ident, measure, fanfold, baseline, ratio=None,
                 ratio_text=None, target=None, op=">=", plot=None, verdict=None,
                 target_label=None):
        self.ident = ident              # "1a"
        self.measure = measure          # what is compared
        self.fanfold = fanfold          # fanfold's figure, with units
        self.baseline = baseline        # the baseline's figure, with units
        self.ratio = ratio              # the number compared with the target
        self.ratio_text = ratio_text or ("—" if ratio is None else "%.2f×" % ratio)
        self.target = target            # number, or None when the issue sets none
        self.op = op                    # ">=" or "<="
        self.plot = plot                # bar label, or None
        self.target_label = target_label  # target as the issue says it, if not "≥ N×"
        if verdict is None:
            verdict = "—" if target is None else judge(ratio, op, target)
        self.verdict = verdict

    def target_text(self):
        if self.target is None:
            return "—"
        if self.target_label:
            return self.target_label
        return ("≥ " if self.op == ">=" else "≤ ") + ("%g×" % self.target)


def failed(ident, measure, error):
    return Row(ident, measure, "FAILED: %s" % error, "", verdict="**failed**")


# ------------------------------------------------------------- measures

def m_noop():
    """1. tasks/s of one-line noop tasks: fanfold -w 2, raw libzmq
    pipeline, Python Pool.imap(chunksize=1), fanfold --serial."""
    expected = seq_file(N)
    feed = "seq 1 %d | " % N
    out = {k: os.path.join(OUT, "noop.%s" % k) for k in ("ff", "zmq", "py", "serial")}
    measure = "noop tasks/s, %s one-line tasks, -w %d" % (num(N), WORKERS)
    rate = {}
    errors = {}
    commands = {
        "ff": "%s%s run -w %d --pipe --lines 1 -K noop > %s" % (feed, q(FF), WORKERS, q(out["ff"])),
        "zmq": "%s%s -w %d > %s" % (feed, q(ZMQPIPE), WORKERS, q(out["zmq"])),
        "py": "%s%s %s %d > %s" % (feed, PYTHON, q(os.path.join(HERE, "pool.py")), WORKERS, q(out["py"])),
        "serial": "%s%s run --serial --pipe --lines 1 -K noop > %s" % (feed, q(FF), q(out["serial"])),
    }
    for key, command in commands.items():
        try:
            seconds = hyper("noop-" + key, command, PY_RUNS if key == "py" else RUNS)
            same_file(out[key], expected, sort=(key == "zmq"))
            rate[key] = (N / seconds, seconds)
        except BenchError as e:
            errors[key] = str(e)
    if "ff" in errors:
        return [failed("1", measure, errors["ff"])]

    def figure(key, name):
        if key in errors:
            return "%s FAILED: %s" % (name, errors[key])
        return "%s: %s tasks/s (%.2f s)" % (name, num(rate[key][0]), rate[key][1])

    def ratio(key):
        return rate["ff"][0] / rate[key][0] if key in rate else None

    ff = figure("ff", "fanfold")
    return [
        Row("1a", measure + ": fanfold ÷ raw libzmq pipeline", ff,
            figure("zmq", "raw PUSH→2 workers→PULL (bench/zmqpipe.c)"),
            ratio("zmq"), target=1.0, plot="fanfold/raw zmq"),
        Row("1b", measure + ": fanfold ÷ Python multiprocessing", ff,
            figure("py", "Pool(%d).imap(chunksize=1)" % WORKERS),
            ratio("py"), plot="fanfold/Python Pool"),
        Row("1c", measure + ": fanfold ÷ fanfold --serial", ff,
            figure("serial", "--serial"), ratio("serial"), plot="fanfold/--serial"),
    ]


def wc_file():
    """out/text-NNM.txt: NN MB of generated text lines (made once)."""
    path = os.path.join(OUT, "text-%dM.txt" % WC_MB)
    if not os.path.exists(path) or os.path.getsize(path) < WC_MB * 1000000:
        sh("""awk 'BEGIN { srand(1); split("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu", w, " ");
                    n = 0; i = 0
                    while (n < %d) { k = 3 + int(rand() * 13); s = i
                        for (j = 0; j < k; j++) s = s " " w[1 + int(rand() * 12)]
                        print s; n += length(s) + 1; i++ } }' > %s.tmp && mv %s.tmp %s"""
           % (WC_MB * 1000000, q(path), q(path), q(path)))
    return path


def m_wc():
    """2. MB/s of `wc -l` over 1M blocks: fanfold --exec vs GNU parallel."""
    measure = "MB/s, `wc -l` per 1M block, -j/-w %d: fanfold ÷ GNU parallel" % WORKERS
    try:
        path = wc_file()
        size = os.path.getsize(path)
        lines = int(sh("wc -l < %s" % q(path)))
        out_ff = os.path.join(OUT, "wc.ff")
        out_par = os.path.join(OUT, "wc.parallel")
        t_ff = hyper("wc-fanfold", "%s run -w %d --pipe --block 1M --exec 'wc -l' < %s > %s"
                     % (q(FF), WORKERS, q(path), q(out_ff)))
        t_par = hyper("wc-parallel", "parallel -j%d --pipe --keep-order --block 1M 'wc -l' < %s > %s"
                      % (WORKERS, q(path), q(out_par)))
        for name, out in (("fanfold", out_ff), ("parallel", out_par)):
            total = int(sh("awk '{ s += $1 } END { print s + 0 }' %s" % q(out)))
            if total != lines:
                raise BenchError("%s's counts sum to %d, the file has %d lines" % (name, total, lines))
        blocks = int(sh("wc -l < %s" % q(out_ff)))
        blocks_par = int(sh("wc -l < %s" % q(out_par)))
    except BenchError as e:
        return [failed("2", measure, e)]
    mb = size / 1e6
    return [Row("2", measure,
                "%.0f MB/s (%.2f s, %d blocks)" % (mb / t_ff, t_ff, blocks),
                "parallel: %.0f MB/s (%.2f s, %d blocks)" % (mb / t_par, t_par, blocks_par),
                t_par / t_ff, target=3, plot="MB/s fanfold/parallel")]


def m_spin():
    """3. speedup of CPU-bound spin tasks, -w 2 over --serial."""
    measure = "speedup of %d × `spin us=%d`, -w %d ÷ --serial" % (SPIN_TASKS, SPIN_US, WORKERS)
    expected = seq_file(SPIN_TASKS)
    out = os.path.join(OUT, "spin.out")
    try:
        job = "--pipe --lines 1 -K spin -p us=%d < %s > %s" % (SPIN_US, q(expected), q(out))
        t_par = hyper("spin-w%d" % WORKERS, "%s run -w %d %s" % (q(FF), WORKERS, job))
        same_file(out, expected)
        t_ser = hyper("spin-serial", "%s run --serial %s" % (q(FF), job))
        same_file(out, expected)
    except BenchError as e:
        return [failed("3", measure, e)]
    ideal = SPIN_TASKS * SPIN_US / 1e6
    return [Row("3", measure,
                "-w %d: %.2f s (ideal %.2f s)" % (WORKERS, t_par, ideal / WORKERS),
                "--serial: %.2f s (work %.2f s)" % (t_ser, ideal),
                t_ser / t_par, target=1.93, plot="spin speedup -w 2")]


def spread(values):
    """'min A, median B, max C' of values, two decimals."""
    values = sorted(values)
    return "min %.2f, median %.2f, max %.2f" % (values[0], statistics.median(values), values[-1])


def m_fanout():
    """4. fan-out efficiency, ideal / measured, start-up included; beside
    it, each round, the machine's floor: as many bare processes doing the
    same sleeps (bench/floor.c)."""
    rows = []
    for ident, workers, tasks, target in (("4a", 64, FAN64_TASKS, 0.93),
                                          ("4b", 256, FAN256_TASKS, 0.70)):
        measure = "fan-out efficiency, %s × `sleep ms=%d`, -w %d: ideal ÷ measured" % (
            num(tasks), FAN_MS, workers)
        expected = seq_file(tasks)
        out = os.path.join(OUT, "fanout.out")
        per_worker = tasks // workers
        try:
            if tasks % workers:
                raise BenchError("%d tasks do not split evenly over %d workers: "
                                 "the floor would sleep other tasks" % (tasks, workers))
            rounds = alternate_rounds("fanout-w%d" % workers, [
                ("ff", "%s run -w %d --pipe --lines 1 -K sleep -p ms=%d < %s > %s"
                 % (q(FF), workers, FAN_MS, q(expected), q(out))),
                ("floor", "%s sleep %d %d %d" % (q(FLOOR), workers, per_worker, FAN_MS)),
            ], RUNS)
            same_file(out, expected)
        except BenchError as e:
            rows.append(failed(ident, measure, e))
            continue
        ideal = tasks * FAN_MS / 1000 / workers
        seconds = statistics.median(rounds["ff"])
        floor = statistics.median(rounds["floor"])
        rows.append(Row(ident, measure,
                        "%.2f s (%s tasks/s); per round ideal ÷ measured: %s; "
                        "floor ÷ measured (the share of the floor fanfold keeps): %s" % (
                            seconds, num(tasks / seconds), spread([ideal / x for x in rounds["ff"]]),
                            spread([f / x for f, x in zip(rounds["floor"], rounds["ff"])])),
                        "ideal: %.2f s (%s tasks/s); the machine's floor, %d bare processes "
                        "× %d sleeps (bench/floor.c): %.2f s, ideal ÷ floor %s" % (
                            ideal, num(tasks / ideal), workers, per_worker, floor,
                            spread([ideal / x for x in rounds["floor"]])),
                        ideal / seconds, target=target, plot="fan-out eff. -w %d" % workers))
    rows.append(m_start())
    return rows


def m_start():
    """4c. 256 workers' start: the launcher's spawn loop (-v), and the
    whole command of one 10 ms task per worker, start and stop included;
    beside it, each round, the machine's floor: a small process's loop
    forking 256 that exit at once (bench/floor.c)."""
    measure = "start of 256 workers: spawn loop (`run -w 256 -v`); whole run of 256 × `sleep ms=10`"
    expected = seq_file(256)
    out = os.path.join(OUT, "start.out")
    floors = os.path.join(OUT, "start-floor.txt")
    if os.path.exists(floors):
        os.unlink(floors)
    try:
        rounds = alternate_rounds("start", [
            ("w256", "%s run -w 256 -v --pipe --lines 1 -K sleep -p ms=%d < %s > %s"
             % (q(FF), FAN_MS, q(expected), q(out))),
            ("floor", "%s start 256 >> %s" % (q(FLOOR), q(floors))),
        ], RUNS)
        walls = rounds["w256"]
        same_file(out, expected)
        with open(os.path.join(OUT, "start-w256.err"), errors="replace") as f:
            loops = [float(m) for m in re.findall(r"workers \(started in ([0-9.]+) s\)", f.read())]
        with open(floors) as f:
            floor_loops = [float(m) for m in re.findall(r"loop ([0-9.]+) s", f.read())]
        touch = sh("%s touch" % q(FLOOR)).strip()
    except BenchError as e:
        return failed("4c", measure, e)
    if not loops:
        return failed("4c", measure, "no `started in` line in out/start-w256.err")
    if not floor_loops:
        return failed("4c", measure, "no `loop` line in out/start-floor.txt")
    loop = statistics.median(loops)
    return Row("4c", measure,
               "loop %.3f s (%.3f–%.3f); run %.2f s (%.2f–%.2f)" % (
                   loop, min(loops), max(loops), statistics.median(walls), min(walls), max(walls)),
               "ideal run: %.2f s; the machine's floor, a small process forking 256 that exit "
               "at once (bench/floor.c): loop %.3f s (%.3f–%.3f); %s" % (
                   FAN_MS / 1000, statistics.median(floor_loops), min(floor_loops),
                   max(floor_loops), touch.replace("touch: ", "")),
               loop, ratio_text="%.3f s" % loop,
               target=0.3, op="<=", target_label="≤ 0.3 s")


def m_rss():
    """5. peak RSS of all the stages while a long stream goes through."""
    measure = "peak RSS, every fanfold process summed (50 ms samples), `head -c %s` stream, --block 1M, -w %d" % (
        RSS_SIZE, WORKERS)
    budget = 256
    # no pipefail: yes and head end on SIGPIPE; the status is fanfold's
    command = ("yes 'the quick brown fox jumps over the lazy dog 0123456789 fanfold bench' "
               "| head -c %s | %s run -w %d --pipe --block 1M -K noop > /dev/null"
               % (RSS_SIZE, q(FF), WORKERS))
    done = subprocess.run([PYTHON, os.path.join(HERE, "rss.py"), "--interval", "0.05",
                           "--timeout", str(TIMEOUT), "--",
                           "bash", "-c", command],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        result = json.loads(done.stdout.decode())
    except ValueError:
        return [failed("5", measure, "rss.py: %s" % done.stderr.decode(errors="replace")[-300:])]
    if result["exit"] != 0:
        return [failed("5", measure, "the pipeline exited %d: %s" % (
            result["exit"], done.stderr.decode(errors="replace").strip()[-300:]))]
    say("%-14s %8.3f s, peak %d kB" % ("rss", result["elapsed_s"], result["peak_kb"]))
    size = int(sh("numfmt --from=iec %s" % RSS_SIZE))
    peak = result["peak_kb"] / 1024
    return [Row("5", measure,
                "peak %.0f MiB over %d processes (%d samples; %.0f MB/s, %.1f s)" % (
                    peak, result["peak_procs"], result["samples"],
                    size / 1e6 / result["elapsed_s"], result["elapsed_s"]),
                "budget: %d MiB" % budget, peak / budget,
                ratio_text="%.2f of the budget" % (peak / budget),
                target=1, op="<=", target_label="≤ %d MiB" % budget,
                plot="peak RSS/256 MiB")]


def makespan(durations, workers, lookahead=1):
    """List scheduling: each task to the first free worker. lookahead 1 is
    seq order (FIFO); with more, the heaviest of the first lookahead pending
    tasks goes first and swaps places with the head, as the ventilator does."""
    pending = list(durations)
    head = 0
    free = [0.0] * workers
    while head < len(pending):
        window = pending[head:head + lookahead]
        best = max(range(len(window)), key=lambda i: (window[i], -i))
        pending[head], pending[head + best] = pending[head + best], pending[head]
        heapq.heappush(free, heapq.heappop(free) + pending[head])
        head += 1
    return max(free)


def m_skew():
    """6. makespan of a skewed job (10% of the tasks 50× heavier) with
    heavy-first and with FIFO dispatch."""
    rng = random.Random(1)
    heavy = set(rng.sample(range(SKEW_TASKS), SKEW_TASKS // 10))
    payloads = ["%d" % (SKEW_HEAVY if i in heavy else SKEW_LIGHT) for i in range(SKEW_TASKS)]
    seconds = [int(p) / 1000 for p in payloads]
    ideal = sum(seconds) / SKEW_WORKERS
    sim_fifo = makespan(seconds, SKEW_WORKERS)
    sim_look = makespan(seconds, SKEW_WORKERS, SKEW_LOOKAHEAD)
    sim_lpt = makespan(sorted(seconds, reverse=True), SKEW_WORKERS)
    job = ("%d × `sleep` (payload = ms: 10%% %d, random, seed 1; the rest %d), -w %d"
           % (SKEW_TASKS, SKEW_HEAVY, SKEW_LIGHT, SKEW_WORKERS))
    m_a = "skewed job, %s, --dispatch heavy: ideal ÷ makespan" % job
    m_b = "skewed job as 6a: makespan --dispatch heavy ÷ --dispatch fifo (below 1: heavy-first is shorter)"
    expected = os.path.join(OUT, "skew.expected")
    with open(expected, "w") as f:
        f.write("".join(payloads))       # sleep echoes its payload; raw output
    outs = {k: os.path.join(OUT, "skew.%s" % k) for k in ("heavy", "fifo", "zero")}

    def command(dispatch, args, out):
        return ("%s run --mode parallel -w %d --dispatch %s -v -K sleep -- %s > %s"
                % (q(FF), SKEW_WORKERS, dispatch, " ".join(args), q(out)))
    try:
        t = alternate("skew", [("heavy", command("heavy", payloads, outs["heavy"])),
                               ("fifo", command("fifo", payloads, outs["fifo"])),
                               ("zero", command("heavy", ["0"] * SKEW_TASKS, outs["zero"]))],
                      SKEW_RUNS)
        same_file(outs["heavy"], expected)
        same_file(outs["fifo"], expected)
    except BenchError as e:
        return [failed("6a", m_a, e), failed("6b", m_b, e)]
    sink = {k: sink_seconds("skew", k) for k in t}

    def figure(key):
        text = "%.2f s" % t[key]
        if sink[key] is not None:
            text += " (the sink's job time %.2f s)" % sink[key]
        return text
    return [
        Row("6a", m_a,
            "--dispatch heavy: makespan %s; the same start-up and shut-down with every payload 0: %s"
            % (figure("heavy"), figure("zero")),
            "ideal (work ÷ workers): %.3f s; simulated (no start-up): FIFO %.2f s, heavy-first "
            "in a %d-task lookahead %.2f s, all sorted heaviest first %.2f s"
            % (ideal, sim_fifo, SKEW_LOOKAHEAD, sim_look, sim_lpt),
            ideal / t["heavy"], plot="skew ideal/heavy"),
        Row("6b", m_b, "--dispatch heavy: %s" % figure("heavy"),
            "--dispatch fifo: %s (simulated heavy ÷ FIFO: %.2f)" % (figure("fifo"), sim_look / sim_fifo),
            t["heavy"] / t["fifo"], plot="skew heavy/fifo"),
    ]


def npy_file():
    """out/arrays/f32-NNNM.npy: NNN MB of float32 (made once by npy.py)."""
    directory = os.path.join(OUT, "arrays")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "f32-%dM.npy" % ARRAY_MB)
    if not os.path.exists(path) or os.path.getsize(path) < ARRAY_MB * 1000000:
        sh("%s %s make %s %d" % (PYTHON, q(os.path.join(HERE, "npy.py")), q(path), ARRAY_MB))
    sh("cat %s > /dev/null" % q(path))        # in the page cache for every variant
    return path


def sparse_npy_file():
    """out/arrays/sparse-NG.npy: a float32 .npy of N GB (10^9 bytes) of
    zeros, as a sparse file (a header and a hole; made once)."""
    directory = os.path.join(OUT, "arrays")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "sparse-%dG.npy" % ARRAY_BIG_GB)
    count = ARRAY_BIG_GB * 10**9 // 4
    text = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }" % count
    text += " " * (127 - 10 - len(text)) + "\n"            # 128 bytes in all
    header = b"\x93NUMPY\x01\x00" + bytes([len(text), 0]) + text.encode()
    if not os.path.exists(path) or os.path.getsize(path) != len(header) + count * 4:
        with open(path + ".tmp", "wb") as f:
            f.write(header)
            f.truncate(len(header) + count * 4)
        os.replace(path + ".tmp", path)
    return path


def ventilator_peak(command):
    """Peak RSS in kB of the fanfold-ventilator that command (bash) starts,
    and the elapsed seconds (bench/rss.py, 20 ms samples)."""
    done = subprocess.run([PYTHON, os.path.join(HERE, "rss.py"), "--interval", "0.02",
                           "--prefix", "fanfold-ventila", "--timeout", str(TIMEOUT), "--",
                           "bash", "-o", "pipefail", "-c", command],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        result = json.loads(done.stdout.decode())
    except ValueError:
        raise BenchError("rss.py: %s" % done.stderr.decode(errors="replace")[-300:])
    if result["exit"] != 0:
        raise BenchError("`%s` exited %d: %s" % (short(command), result["exit"],
                                                 done.stderr.decode(errors="replace").strip()[-300:]))
    return result["peak_kb"], result["elapsed_s"]


def private_topology():
    """out/arrays/topology.zpl: topology/local.zpl with its ipc endpoints in
    a new 0700 directory under /tmp (a topology in use by another job is
    refused); the file and that directory."""
    ipc = tempfile.mkdtemp(prefix="fanfold-bench-")
    with open(os.path.join(ROOT, "topology", "local.zpl")) as f:
        text = f.read()
    old = "ipc:///tmp/fanfold-%u/local/"
    if text.count(old) < 3:
        shutil.rmtree(ipc, ignore_errors=True)
        raise BenchError("topology/local.zpl does not have its control, task and results endpoints under %s" % old)
    path = os.path.join(OUT, "arrays", "topology.zpl")
    with open(path, "w") as f:
        f.write(text.replace(old, "ipc://%s/" % ipc))
    return path, ipc


def m_arrays():
    """7. `stats` over a float32 .npy: 2 workers mapping shared memory,
    2 --no-shm workers (the bytes in their task messages), --serial, and
    numpy's own mean and std."""
    m_a = "arrays, `stats --chunk %s` of a %d MB float32 .npy, 2 workers: shared memory ÷ --no-shm" % (
        ARRAY_CHUNK, ARRAY_MB)
    m_b = "arrays as 7a: 2 workers over shared memory ÷ `--serial`"
    m_c = "arrays as 7a: 2 workers over shared memory ÷ numpy mean() and std() of the np.load(mmap_mode='r') array"
    m_d = "arrays as 7a: `run -w 2` throughput, GB/s of the .npy per wall second"
    m_e = "arrays: peak RSS of the ventilator, `run -w 2 -K stats --chunk 4M` over a %d GB float32 .npy (sparse)" % (
        ARRAY_BIG_GB)
    idents = (("7a", m_a), ("7b", m_b), ("7c", m_c), ("7d", m_d), ("7e", m_e))
    ipc = None
    try:
        npy = npy_file()
        size = os.path.getsize(npy)
        topo, ipc = private_topology()
        outs = {k: os.path.join(OUT, "arrays", "out.%s" % k)
                for k in ("shm", "noshm", "w2", "serial", "numpy")}
        job = "-K stats --chunk %s --format jsonl -- %s" % (ARRAY_CHUNK, q(npy))
        mapsum = os.path.join(OUT, "mapsum")        # built by run.sh

        def by_hand(flag, out):
            # the job waits for workers (-w 0); two workers join it; if the
            # job fails, the workers it would have ended are stopped
            return ("%(ff)s run -t %(t)s -w 0 %(job)s > %(out)s & r=$!; "
                    "%(ff)s worker -t %(t)s%(flag)s & a=$!; %(ff)s worker -t %(t)s%(flag)s & b=$!; "
                    "wait $r || { s=$?; kill $a $b 2>/dev/null; wait $a $b; exit $s; }; "
                    "wait $a && wait $b" % {"ff": q(FF), "t": q(topo), "job": job, "out": q(out),
                                            "flag": flag})
        rounds = alternate_rounds("arrays", [
            ("shm", by_hand("", outs["shm"])),
            ("noshm", by_hand(" --no-shm", outs["noshm"])),
            ("w2", "%s run -w 2 --mode parallel %s > %s" % (q(FF), job, q(outs["w2"]))),
            ("serial", "%s run --serial %s > %s" % (q(FF), job, q(outs["serial"]))),
            ("numpy", "%s %s stats %s > %s" % (PYTHON, q(os.path.join(HERE, "npy.py")), q(npy),
                                               q(outs["numpy"]))),
            # the machine's ceiling for 7b: the mapped file summed by 1 and by 2 processes
            ("sum1", "%s 1 %s" % (q(mapsum), q(npy))),
            ("sum2", "%s 2 %s" % (q(mapsum), q(npy))),
        ], ARRAY_RUNS)
        t = {key: statistics.median(values) for key, values in rounds.items()}
        big = sparse_npy_file()
        big_out = os.path.join(OUT, "arrays", "out.sparse")
        big_kb, big_s = ventilator_peak("%s run -w 2 --mode parallel -K stats --chunk 4M --format jsonl -- %s > %s"
                                        % (q(FF), q(big), q(big_out)))
        with open(big_out) as f:
            big_row = json.loads(f.read())
        if big_row.get("status") != "ok" or big_row["result"]["count"] != ARRAY_BIG_GB * 10**9 // 4:
            raise BenchError("the sparse .npy gave %s" % json.dumps(big_row)[:300])
        for key in ("noshm", "w2", "serial"):
            same_file(outs[key], outs["shm"])
        with open(outs["shm"]) as f:
            lines = f.read().splitlines()
        if len(lines) != 1:
            raise BenchError("fanfold wrote %d lines, expected one folded line" % len(lines))
        record = json.loads(lines[0])
        if record.get("status") != "ok":
            raise BenchError("fanfold: %s" % lines[0][:300])
        mine = record["result"]
        with open(outs["numpy"]) as f:
            ref = json.load(f)
        if mine["count"] != ref["count"]:
            raise BenchError("count: fanfold %d, numpy %d" % (mine["count"], ref["count"]))
        for key in ("mean", "std"):
            if abs(mine[key] - ref[key]) > 1e-9 * abs(ref[key]):
                raise BenchError("%s: fanfold %r, numpy %r" % (key, mine[key], ref[key]))
    except BenchError as e:
        return [failed(ident, measure, e) for ident, measure in idents]
    finally:
        if ipc:
            shutil.rmtree(ipc, ignore_errors=True)
    gb = size / 1e9

    def figure(key):
        return "%.2f GB/s (%.2f s)" % (gb / t[key], t[key])
    shm = "2 `fanfold worker` on shared memory: %s; `run -w 2`: %s" % (figure("shm"), figure("w2"))
    # per round: --serial ÷ run -w 2 of that round, and the ceiling's 1 ÷ 2 processes
    spread = sorted(s / w for s, w in zip(rounds["serial"], rounds["w2"]))
    ceiling = sorted(a / b for a, b in zip(rounds["sum1"], rounds["sum2"]))
    rates = sorted(gb / x for x in rounds["w2"])
    return [
        Row("7a", m_a, shm, "2 `fanfold worker --no-shm`: %s" % figure("noshm"),
            t["noshm"] / t["shm"], plot="arrays shm/no-shm"),
        Row("7b", m_b, shm + "; per round `--serial` ÷ `run -w 2`: min %.2f×, median %.2f×, max %.2f×; "
            "the machine's ceiling, the mapped file summed by 1 ÷ 2 processes (bench/mapsum.c, "
            "%.3f s ÷ %.3f s): min %.2f×, median %.2f×, max %.2f×" % (
                spread[0], statistics.median(spread), spread[-1], t["sum1"], t["sum2"],
                ceiling[0], statistics.median(ceiling), ceiling[-1]),
            "`--serial`: %s" % figure("serial"),
            t["serial"] / t["w2"], target=1.8, plot="arrays -w 2/--serial"),
        Row("7c", m_c, shm, "numpy (float64 accumulators): %s" % figure("numpy"),
            t["numpy"] / t["shm"], plot="arrays shm/numpy"),
        Row("7d", m_d, "`run -w 2`: min %.2f, median %.2f, max %.2f GB/s over %d rounds" % (
                rates[0], statistics.median(rates), rates[-1], len(rates)),
            "target: 3 GB/s", statistics.median(rates) / 3,
            ratio_text="%.2f of the target" % (statistics.median(rates) / 3),
            target=1, target_label="≥ 3 GB/s", plot="arrays GB/s ÷ 3"),
        Row("7e", m_e, "ventilator peak %.1f MiB (%.1f s, %.2f GB/s)" % (
                big_kb / 1024, big_s, ARRAY_BIG_GB / big_s),
            "budget: 50 MB", big_kb * 1024 / 50e6,
            ratio_text="%.2f of the budget" % (big_kb * 1024 / 50e6),
            target=1, op="<=", target_label="< 50 MB", plot="ventilator RSS/50 MB"),
    ]


def m_versus():
    """8. The noop job of row 1 with these binaries and with an earlier
    build (FANFOLD_BASE_BIN, snapshot in out/base-bin), alternating round
    by round; each round's new ÷ old throughput, min/median/max."""
    measure = "noop tasks/s, %s one-line tasks, -w %d: these binaries ÷ an earlier build" % (
        num(N), WORKERS)
    if not os.path.exists(BASE_FF):
        return [Row("8", measure, "not measured: set FANFOLD_BASE_BIN (or FANFOLD_BASE_REV)",
                    "", verdict="—")]
    expected = seq_file(N)
    feed = "seq 1 %d | " % N
    outs = {k: os.path.join(OUT, "versus.%s" % k) for k in ("new", "old")}
    commands = [(key, "%s%s run -w %d --pipe --lines 1 --kernel noop > %s" % (feed, q(ff), WORKERS, q(outs[key])))
                for key, ff in (("new", FF), ("old", BASE_FF))]
    rounds = alternate_rounds("versus", commands, VERSUS_RUNS)
    for key in outs:
        same_file(outs[key], expected)
    ratios = sorted(old / new for new, old in zip(rounds["new"], rounds["old"]))
    median = statistics.median(ratios)
    base = first_line("cat %s" % q(os.path.join(OUT, "base-bin", "REV")))
    return [Row("8", measure,
                "%s tasks/s (median %.2f s)" % (num(N / statistics.median(rounds["new"])),
                                                 statistics.median(rounds["new"])),
                "earlier build %s: %s tasks/s (median %.2f s)" % (
                    base, num(N / statistics.median(rounds["old"])), statistics.median(rounds["old"])),
                median, ratio_text="%.2f× (min %.2f, max %.2f over %d rounds)" % (
                    median, ratios[0], ratios[-1], len(ratios)),
                target=0.95, plot="new/earlier build")]


def m_cpu():
    """9. CPU µs per noop task in each stage (bench/cpu.py: getrusage of
    each stage process) against the raw pipeline's CPU µs per message."""
    measure = "CPU µs per task at noop, %s one-line tasks, -w %d: fanfold (every stage) ÷ raw libzmq pipeline per message" % (
        num(N), WORKERS)
    done = subprocess.run([PYTHON, os.path.join(HERE, "cpu.py"), "--tasks", str(N), "--rounds", str(CPU_RUNS),
                           "--workers", str(WORKERS), BIN, ZMQPIPE],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
    try:
        result = json.loads(done.stdout.decode())
    except ValueError:
        return [failed("9", measure, "cpu.py: %s" % done.stderr.decode(errors="replace")[-300:])]
    ff, zmq = result["fanfold_us_per_task"], result["zmqpipe_us_per_message"]
    say("%-14s fanfold %s, zmqpipe %.3f µs" % ("cpu", ff, zmq))
    rounds = result["fanfold_us_per_task_rounds"]["total"]
    return [Row("9", measure,
                "%.2f µs: ventilator %.2f, workers %.2f, sink %.2f (total, the launcher too, per round: min %.2f, max %.2f)" % (
                    ff["total"], ff["ventilator"], ff["worker"], ff["sink"], min(rounds), max(rounds)),
                "zmqpipe: %.2f µs per message (its ventilator, workers and sink)" % zmq,
                ff["total"] / zmq, plot="CPU per task ÷ raw")]


def loadgen_topology():
    """out/loadgen-work/topology.zpl: topology/local.zpl with its ipc endpoints
    in a new 0700 directory under /tmp, and window LOADGEN_WINDOW and prefetch
    LOADGEN_PREFETCH when they are set; the file and that directory."""
    ipc = tempfile.mkdtemp(prefix="fanfold-loadgen-")
    with open(os.path.join(ROOT, "topology", "local.zpl")) as f:
        text = f.read()
    old = "ipc:///tmp/fanfold-%u/local/"
    window = r"\g<1>%d" % LOADGEN_WINDOW if LOADGEN_WINDOW > 0 else r"\g<0>"
    prefetch = r"\g<1>%d" % LOADGEN_PREFETCH if LOADGEN_PREFETCH >= 0 else r"\g<0>"
    text, edits = re.subn(r"(?m)^(\s*window\s*=\s*)\d+", window, text)
    text, more = re.subn(r"(?m)^(\s*prefetch\s*=\s*)\d+", prefetch, text)
    if text.count(old) < 3 or edits != 1 or more != 1:
        shutil.rmtree(ipc, ignore_errors=True)
        raise BenchError("topology/local.zpl does not have its control, task and results endpoints, one window and one prefetch")
    os.makedirs(os.path.join(OUT, "loadgen-work"), exist_ok=True)
    path = os.path.join(OUT, "loadgen-work", "topology.zpl")
    with open(path, "w") as f:
        f.write(text.replace(old, "ipc://%s/" % ipc))
    return path, ipc


def loadgen_tuning():
    """What row 11's topology sets: the shipped defaults, or the window and
    prefetch given."""
    if LOADGEN_WINDOW <= 0 and LOADGEN_PREFETCH < 0:
        return "the shipped topology: window 4096 growing with the workers, prefetch 1"
    return "window %s, prefetch %s" % (
        LOADGEN_WINDOW if LOADGEN_WINDOW > 0 else "as shipped",
        LOADGEN_PREFETCH if LOADGEN_PREFETCH >= 0 else "as shipped")


def m_loadgen():
    """11. the central stages alone: bench/loadgen.c connects N simulated
    workers that answer every task at once; tasks/s after joining, CPU per
    task of the ventilator and the sink, memory and descriptors per worker."""
    expected = seq_file(LOADGEN_TASKS)
    rows = []
    topology, ipc = loadgen_topology()
    try:
        for ident, workers in zip("abcd", LOADGEN_WORKERS):
            measure = ("central stages, %s noop tasks, %s simulated workers (bench/loadgen.c; "
                       "%s): tasks/s" % (num(LOADGEN_TASKS), num(workers), loadgen_tuning()))
            out = os.path.join(OUT, "loadgen-work", "out")
            report = os.path.join(OUT, "loadgen-work", "report.json")
            reports = []
            try:
                for _ in range(LOADGEN_RUNS):
                    # a process of simulated workers per 1,024: each takes ~6 descriptors a worker
                    procs = max(1, workers // 1024)
                    sh("%s -t %s -n %d -p %d -j %d -b -r %s -- %s run -w 0 -t %s --pipe --lines 1 "
                       "-K noop < %s > %s 2>> %s" % (
                           q(LOADGEN), q(topology), workers, procs, max(4, 2 * procs), q(report),
                           q(FF), q(topology), q(expected), q(out),
                           q(os.path.join(OUT, "loadgen-%d.err" % workers))))
                    same_file(out, expected)
                    with open(report) as f:
                        reports.append(json.load(f))
                    if reports[-1]["joined"] == 0 or reports[-1]["errors"]:
                        raise BenchError("%d of %d workers joined, %d errors" % (
                            reports[-1]["joined"], workers, reports[-1]["errors"]))
            except BenchError as e:
                rows.append(failed("11" + ident, measure, e))
                continue
            rates = sorted(r["tasks_per_s"] for r in reports)
            median = statistics.median(rates)

            def med(key):
                return statistics.median(r[key] for r in reports)
            figure = ("%s tasks/s (min %s, max %s over %d rounds); CPU per task: ventilator %.2f µs, "
                      "sink %.2f µs; per worker: ventilator %.0f KiB and %.1f fds, sink %.0f KiB "
                      "and %.1f fds; joined in %.2f s" % (
                          num(median), num(rates[0]), num(rates[-1]), len(rates),
                          med("ventilator_us_per_task"), med("sink_us_per_task"),
                          med("ventilator_kib_per_worker"), med("ventilator_fds_per_worker"),
                          med("sink_kib_per_worker"), med("sink_fds_per_worker"), med("join_s")))
            joined = min(r["joined"] for r in reports)
            if joined < workers:
                figure += ("; only %s joined: the ventilator refused the others at its limit of "
                           "open files (ulimit -Hn %s here)" % (num(joined), first_line("ulimit -Hn")))
            if workers == 1000:
                rows.append(Row("11" + ident, measure, figure, "target: 500,000 tasks/s",
                                median / 500000, ratio_text="%.2f× (min %.2f, max %.2f)" % (
                                    median / 500000, rates[0] / 500000, rates[-1] / 500000),
                                target=1.0, target_label="≥ 500,000 tasks/s",
                                plot="loadgen 1,000 ÷ 500k/s"))
            else:
                rows.append(Row("11" + ident, measure, figure, "—"))
    finally:
        shutil.rmtree(ipc, ignore_errors=True)
    return rows


def m_pypool():
    """10. fanfold.Pool(workers=2).imap(noop, range(N)) against
    multiprocessing.Pool(2).imap with chunksize=1 and with its best
    chunksize, alternating round by round in one process (bench/pypool.py);
    min/median/max of each."""
    try:
        done = subprocess.run([PYTHON, os.path.join(HERE, "pypool.py"), str(PYPOOL_N),
                               str(PYPOOL_RUNS), str(PYPOOL_SLOW_RUNS)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=TIMEOUT * 3,
                              env=dict(os.environ, FANFOLD_BIN=BIN))
    except subprocess.TimeoutExpired:
        raise BenchError("bench/pypool.py timed out")
    if done.returncode != 0:
        raise BenchError("bench/pypool.py: %s" % done.stderr.decode(errors="replace")[-300:])
    figures = json.loads(done.stdout)

    def spread(times):
        return "%.3f s (min %.3f, max %.3f)" % (statistics.median(times), min(times), max(times))
    ff = statistics.median(figures["fanfold"])
    one = statistics.median(figures["mp_chunksize_1"])
    best = statistics.median(figures["mp_best"])
    what = "Python `imap(noop, range(%s))`, 2 workers, %d rounds: fanfold.Pool" % (
        num(PYPOOL_N), PYPOOL_RUNS)
    return [Row("10a", what + " vs multiprocessing.Pool(2) chunksize=1 (in the first %d)"
                % figures["slow_rounds"],
                "fanfold.Pool " + spread(figures["fanfold"]),
                "multiprocessing chunksize=1 " + spread(figures["mp_chunksize_1"]),
                one / ff, target=5, plot="Pool.imap/mp cs=1"),
            Row("10b", what + " vs multiprocessing.Pool(2) at its best chunksize",
                "fanfold.Pool " + spread(figures["fanfold"]),
                "multiprocessing chunksize=%d " % figures["mp_best_chunksize"]
                + spread(figures["mp_best"]),
                best / ff, target=1, plot="Pool.imap/mp best cs",
                target_label="≥ 1× (no slower)")]


MEASURES = [("noop", m_noop), ("wc", m_wc), ("spin", m_spin), ("fanout", m_fanout),
            ("rss", m_rss), ("skew", m_skew), ("arrays", m_arrays), ("versus", m_versus),
            ("cpu", m_cpu), ("loadgen", m_loadgen), ("pypool", m_pypool)]

# --------------------------------------------------------------- report


def first_line(command):
    try:
        return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              shell=True).stdout.decode(errors="replace").splitlines()[0].strip()
    except (IndexError, OSError):
        return "?"


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 1024 / 1024
    commit = first_line("git -C %s rev-parse --short HEAD" % q(ROOT))
    dirty = first_line("git -C %s status --porcelain --untracked-files=no -- . ':!bench' | wc -l" % q(ROOT))
    if dirty not in ("0", "?"):
        commit += " (+ uncommitted changes in %s files outside bench/)" % dirty
    return {
        "cores": os.cpu_count(),
        "model": model,
        "mem": "%.0f GiB" % mem,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "kernel": platform.release(),
        "versions": "libzmq %s, %s, GNU parallel %s, %s, %s" % (
            first_line("pkg-config --modversion libzmq"),
            first_line("%s --version" % PYTHON),
            first_line("parallel --version").split()[-1],
            first_line("hyperfine --version"),
            first_line("gnuplot --version")),
    }


def table(rows):
    lines = ["| # | measure | fanfold | baseline | ratio | target | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r.ident, r.measure, r.fanfold, r.baseline or "—", r.ratio_text,
                 r.target_text(), r.verdict]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def plot(rows, png):
    """Bar chart of the ratios (log scale), each target as a mark."""
    bars = [r for r in rows if r.plot and r.ratio is not None]
    if not bars:
        return False
    data = os.path.join(OUT, "plot.dat")
    with open(data, "w") as f:
        for i, r in enumerate(bars):
            f.write('%d "%s" %g %s\n' % (i, r.plot, r.ratio,
                                         "NaN" if r.target is None else "%g" % r.target))
    low = min([r.ratio for r in bars] + [1]) / 3
    high = max([r.ratio for r in bars] + [r.target or 1 for r in bars]) * 4
    script = """
set terminal pngcairo size 1300,600 font ",10"
set output %s
set title "fanfold make bench: measured ratios (bars, value at the foot) and the issue's targets (red)"
set datafile missing "NaN"
set logscale y
set yrange [%g:%g]
set ylabel "ratio (log scale)"
set style fill solid 0.7 border -1
set boxwidth 0.6
set xtics rotate by -25 nomirror
set rmargin 9
set grid ytics
set key top left
plot %s using 1:3:xtic(2) with boxes lc rgb "#4477aa" title "measured", \\
     '' using 1:(%g):(sprintf("%%.2f", $3)) with labels tc rgb "white" font ",11" notitle, \\
     '' using 1:4:(0.4) with xerrorbars pt 7 ps 0 lw 3 lc rgb "#cc3311" title "target (at least; RSS: at most)", \\
     1 with lines dt 2 lc rgb "#888888" notitle
""" % (json.dumps(png), low, high, json.dumps(data), low * 1.6)
    done = subprocess.run(["gnuplot"], input=script.encode(), stderr=subprocess.PIPE)
    if done.returncode != 0:
        say("gnuplot failed: " + done.stderr.decode(errors="replace"))
        return False
    return True


MEANINGS = """\
What the rows measure (every time is the whole command, start-up included,
the median of the hyperfine runs, or for rows 4, 6, 7 and 8 of rounds
timed by bench.py; row 5 is one run; every output is checked):

- **1a–1c** `seq 1 N | fanfold run -w 2 --pipe --lines 1 -K noop`, the whole
  run, output `cmp`-ed with the input. Baselines on the same input: a raw
  libzmq PUSH → 2 worker processes (PULL/PUSH) → PULL sink in C
  (`bench/zmqpipe.c`, one message per line, no ordering, no reliability;
  output compared after `sort -n`), Python `multiprocessing.Pool(2).imap(f,
  lines, chunksize=1)` (`bench/pool.py`), and the same job `--serial`.
  Ratio: fanfold's tasks/s ÷ the baseline's.
- **2** `--pipe --block 1M --exec 'wc -l'` vs `parallel -j2 --pipe
  --keep-order --block 1M 'wc -l'` over the same generated text file; both
  outputs must sum to the file's line count. Ratio: fanfold's MB/s ÷
  parallel's.
- **3** `-K spin -p us=…` one task per line, `-w 2` vs `--serial`. Ratio:
  serial time ÷ parallel time.
- **4a, 4b** `-K sleep -p ms=10` with 64 and 256 workers. Ideal: tasks × 10
  ms ÷ workers. Ratio: ideal ÷ measured wall time, start-up included.
  Each round also runs the machine's floor, `bench/out/floor sleep N K 10`
  (built from bench/floor.c): N bare forked processes, each sleeping its K
  tasks' 10 ms as the `sleep` kernel does, with no fanfold and no messages. Ideal ÷ that is the most any fan-out of N
  processes reaches on this machine; fanfold ÷ floor says how much of it
  fanfold keeps.
- **4c** `fanfold run -w 256 -v` of 256 × `sleep ms=10`: the launcher's
  spawn loop as `-v` logs it (target ≤ 0.3 s), and the whole command.
  Each round also times `bench/out/floor start 256`, a small process's loop
  forking 256 processes that exit at once: the least such a loop costs
  here. `bench/out/floor touch` prints what the machine charges a new process
  per page it touches (first read and first write of an inherited page, a
  fresh page): on a machine whose memory is virtualized in software these
  are microseconds, and they are a large part of a worker's start.
- **5** `head -c …` of a `yes` text stream into `fanfold run -w 2 --pipe
  --block 1M -K noop > /dev/null`; `bench/rss.py` sums VmRSS of every
  fanfold process of that run every 50 ms. Ratio: peak ÷ 256 MiB.
- **6a, 6b** `fanfold run --mode parallel -w 8 --dispatch heavy|fifo -v -k
  sleep -- 10 500 10 …`: the `sleep` kernel sleeps the milliseconds of its
  payload; 10% of the tasks (random, seed 1) are 50× heavier. The runs
  alternate heavy, fifo and the same job with every payload 0 (start-up and
  shut-down), round by round, so that load drift hits each alike; the median
  of the rounds. Outputs are `cmp`-ed with the payloads. "The sink's job
  time" is the median of its `-v` summary (from the job header to the last
  result). Reference: list-scheduling simulations without start-up (FIFO;
  heavy-first within the ventilator's 64-task lookahead; everything sorted).
  Ratios: 6a the ideal (total work ÷ workers) ÷ the heavy-first wall time;
  6b heavy-first ÷ FIFO wall time (below 1: heavy-first is shorter).
- **7a–7e** `-K stats --chunk 4M --format jsonl` over a float32 `.npy`
  (`bench/npy.py make`, seed 1) in bench/out/arrays/, read once beforehand
  so that every variant finds it in the page cache. Variants, alternating
  round by round: `run -t T -w 0` plus two `fanfold worker -t T` (shared
  memory), the same with `fanfold worker -t T --no-shm` (the bytes travel in
  the task messages), `run -w 2`, `run --serial`, and numpy's
  `mean(dtype=float64)` and `std(dtype=float64)` of `np.load(mmap_mode='r')`
  (`bench/npy.py stats`, Python start-up included). T is topology/local.zpl
  with its ipc endpoints in a new 0700 directory under /tmp. The jsonl lines
  of every fanfold variant must be identical, and its mean and std within
  1e-9 of numpy's. GB/s: file size ÷ wall time. Ratios: the time of the
  baseline ÷ the time of the two hand-started shared-memory workers, but
  7b: `--serial` ÷ `run -w 2` (the issue's figure; min and max are of the
  per-round ratios); beside it, in the same rounds, what the machine
  allows: `bench/mapsum 1` ÷ `bench/mapsum 2`, the wall time of one
  process that maps the file and sums its floats (faults, one read of
  each byte, unmapping) ÷ that of two processes each doing half. Shared
  memory here is the `.npy` file itself, mapped in place by every
  process. 7d: 7a's file size ÷ the `run -w 2` wall
  time, start-up included. 7e: bench/rss.py samples the VmRSS of the
  fanfold-ventilator process alone every 20 ms while `run -w 2` folds a
  float32 `.npy` of ARRAY_BIG_GB × 10^9 bytes of zeros made as a sparse
  file (a 128-byte header and a hole); the folded count is checked.
- **8** the job of row 1a with these binaries and with an earlier build
  (`FANFOLD_BASE_BIN=DIR`, or `FANFOLD_BASE_REV=COMMIT`, which bench/run.sh
  builds in a scratch worktree), alternating round by round. Ratio: each
  round's new ÷ old throughput; the median, with min and max.
- **9** bench/cpu.py: `fanfold run -w 2 --pipe --lines 1 -K noop` over
  N one-line tasks, with -v: the launcher forks every stage and logs
  the user + system time of the ventilator, the sink and the workers
  (their rusage as it reaps them: all their threads, libzmq's I/O thread
  included); divided by N. The total is the whole run's (getrusage of
  `fanfold run` and every process it waited for: the launcher's own
  time too). The baseline is
  bench/zmqpipe.c over the same lines: its user + system time (it waits
  for its worker and sink processes) ÷ N messages. Medians of CPU_RUNS
  alternating rounds; the outputs are checked. Ratio: fanfold's total ÷
  zmqpipe's (below 1: fanfold spends less CPU per task than the raw
  pipeline per message).
- **11a–11d** the central stages alone: `bench/loadgen.c` runs `fanfold run
  -w 0 -t T --pipe --lines 1 -K noop` (sink and ventilator, no worker) and
  connects 16, 256, 1,000 and 4,096 simulated workers that speak
  docs/PROTOCOL.md from 4 threads (one zmq context each; 4,096 workers from 4
  processes of 2 threads) and answer every
  task at once (the result is the payload; output `cmp`-ed with the input).
  Tasks are held until every worker has joined (`-b`); tasks/s counts from
  then to the job's `end`. CPU per task: the ventilator's and the sink's
  CPU time over that span (/proc/PID/task/*/schedstat) ÷ tasks. Per
  worker: the RSS and descriptors each stage gained while the workers
  joined, ÷ workers. T is topology/local.zpl as shipped (window 2,048,
  which grows to 128 tasks a worker as they join; prefetch 1); with
  BENCH_LOADGEN_WINDOW and BENCH_LOADGEN_PREFETCH set, those instead
  (65,536 and 63 were the tuning of earlier runs). A simulated worker sends
  its heartbeats from its main control socket. Ratio (11c): tasks/s ÷
  500,000.
- **10a, 10b** `bench/pypool.py`: in one Python process, `fanfold.Pool(workers=2)`
  (a private `fanfold serve` and 2 Python workers) and
  `multiprocessing.Pool(2)` (fork), both started and warmed first; then, round
  by round, `list(pool.imap(noop, range(N)))` (chunks chosen by the pool),
  multiprocessing's `imap` with chunksize=1, and with chunksize 10, 100,
  1000 and 10000 (its best is the one with the lowest median). Every result
  list is checked. 21 rounds; chunksize=1 (3 s a round) in the first 5
  only. Ratios: multiprocessing's median time ÷ fanfold's.
"""


def write_results(text, path):
    kept = "\n## What changed and what it bought\n\n" \
           "_Left for the engineers: for each change that moved a row, the " \
           "commit, the row and the figures before → after._\n"
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if MARKER in old:
            kept = old.split(MARKER, 1)[1]
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n" + MARKER + kept)
    os.replace(path + ".tmp", path)


def main(argv):
    names = [name for name, _ in MEASURES]
    wanted = argv or names
    for name in wanted:
        if name not in names:
            sys.exit("bench: unknown measure %s (measures: %s)" % (name, " ".join(names)))
    os.makedirs(OUT, exist_ok=True)
    open(LOG, "w").close()
    info = machine()
    load_before = os.getloadavg()
    started = time.monotonic()
    rows = []
    for name, function in MEASURES:
        if name in wanted:
            say("measuring %s" % name)
            try:
                rows.extend(function())
            except BenchError as e:
                rows.append(failed(name, name, e))
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()
    full = wanted == names and not QUICK
    body = table(rows)
    print(body, flush=True)

    png_name = "results.png"
    results = os.path.join(HERE if full else OUT, "RESULTS.md")
    png = os.path.join(HERE if full else OUT, png_name)
    have_plot = plot(rows, png)
    text = """# fanfold benchmark results

`make bench` (bench/run.sh), %(date)s, in %(elapsed).0f s%(partial)s.

- machine: %(cores)d cores, %(model)s, %(mem)s RAM, Linux %(kernel)s;
  load average %(lb)s before, %(la)s after (other work may share the machine)
- fanfold: commit %(commit)s
- tools: %(versions)s
- sizes: N = %(N)s noop tasks; %(runs)d hyperfine run(s) per figure, the median (Python Pool: %(py_runs)d);
  rows 4, 6 and 7: %(runs)d, %(skew_runs)d and %(array_runs)d alternating rounds

%(table)s
%(plot)s
%(meanings)s
## How to reproduce

    make bench                      # deps (scripts/deps.sh bench), build, every measure: a few minutes
    BENCH_QUICK=1 bench/run.sh      # small sizes, seconds; writes bench/out/RESULTS.md only
    bench/run.sh noop spin          # some measures only (noop wc spin fanout rss skew arrays versus loadgen)
    bench/run.sh noop spin          # some measures only (noop wc spin fanout rss skew arrays versus pypool)
    FANFOLD_BASE_REV=cc158bb bench/run.sh versus   # row 8: these binaries against an earlier commit

Sizes and runs can be set with BENCH_N, BENCH_RUNS, BENCH_PY_RUNS, BENCH_SPIN_TASKS,
BENCH_FAN64_TASKS, BENCH_FAN256_TASKS, BENCH_RSS_SIZE, BENCH_SKEW_RUNS,
BENCH_ARRAY_MB, BENCH_ARRAY_RUNS, … (see bench/bench.py).
`FANFOLD_BIN` names the directory of the binaries to measure (default `bin/`);
run.sh copies them to bench/out/bin first, so a rebuild during the run does not
mix versions. Work files and hyperfine's log are in bench/out/.
""" % {
        "date": info["date"], "elapsed": elapsed,
        "partial": "" if full else " (partial or quick run: " + " ".join(wanted) + ")",
        "cores": info["cores"], "model": info["model"], "mem": info["mem"],
        "kernel": info["kernel"], "commit": info["commit"], "versions": info["versions"],
        "lb": " ".join("%.2f" % x for x in load_before),
        "la": " ".join("%.2f" % x for x in load_after),
        "N": num(N), "runs": RUNS, "skew_runs": SKEW_RUNS, "array_runs": ARRAY_RUNS, "py_runs": PY_RUNS, "table": body,
        "plot": "\n![ratios](%s)\n" % png_name if have_plot else "",
        "meanings": MEANINGS,
    }
    write_results(text, results)
    say("wrote %s%s (%.0f s)" % (os.path.relpath(results, ROOT),
                                 " and " + os.path.relpath(png, ROOT) if have_plot else "", elapsed))
    return 1 if any("failed" in r.verdict for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
