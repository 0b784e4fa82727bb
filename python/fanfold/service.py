"""A private warm service for one Pool: `fanfold serve` on a topology of its
own (ipc endpoints in a 0700 temporary directory), N Python workers, and C
workers when a C kernel is first used. Workers that die are started again
(at most one start per worker per second). Every process it starts gets
SIGTERM when the thread that started it ends (PR_SET_PDEATHSIG): a pool
belongs to the thread that made it, and a caller killed with kill -9
leaves nothing running."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOPOLOGY = """#   private topology of a fanfold.Pool (removed when the pool closes)
fanfold
    window = 2048
    window_bytes = 64M
    prefetch = 1
    batch = 128
    heartbeat_ms = 250
    worker_timeout_ms = 3000
    client_timeout_ms = 5000
    hwm = 1000
    linger_ms = 2000
ventilator
    control = "ipc://{dir}/control"
    tasks = "ipc://{dir}/task"
sink
    results = "ipc://{dir}/results"
server
    clients = "ipc://{dir}/clients"
"""


QUICK_EXITS = 6                       # then the pool fails its jobs


def _die_with_parent():
    """In the child, before exec: SIGTERM when the pool's process dies, so a
    caller killed with kill -9 leaves no service behind (Linux)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)          # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def find_fanfold():
    """The fanfold executable: $FANFOLD_BIN/fanfold, the tree's bin/fanfold
    (when the package runs from a source tree), or fanfold on PATH."""
    candidates = []
    if os.environ.get("FANFOLD_BIN"):
        candidates.append(os.path.join(os.environ["FANFOLD_BIN"], "fanfold"))
    tree = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    candidates.append(os.path.join(tree, "bin", "fanfold"))
    found = shutil.which("fanfold")
    if found:
        candidates.append(found)
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def python_path():
    """PYTHONPATH for workers: this package, the main script's directory and
    the caller's sys.path, so that workers import what the caller can."""
    from . import kernel
    entries = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    main_dir = kernel.main_directory()
    if main_dir:
        entries.append(main_dir)
    entries += [entry if entry else os.getcwd() for entry in sys.path]
    seen, out = set(), []
    for entry in entries:
        if entry not in seen:
            seen.add(entry)
            out.append(entry)
    return os.pathsep.join(out)


def sweep_dead_dirs():
    """Removes the private directories of pools whose process is gone (one
    killed with kill -9 leaves its topology and log)."""
    import glob
    for folder in glob.glob("/tmp/ff-py-*"):
        try:
            if os.stat(folder).st_uid != os.getuid():
                continue
            with open(os.path.join(folder, "owner.pid")) as source:
                pid = int(source.read().strip())
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):
            continue


class Service:
    def __init__(self, workers, fanfold=None, verbose=False):
        self.fanfold = fanfold or find_fanfold()
        if self.fanfold is None:
            raise OSError("no fanfold executable (build it with make, or set FANFOLD_BIN)")
        self.count = workers
        self.verbose = verbose
        self.owner = os.getpid()
        sweep_dead_dirs()
        self.dir = tempfile.mkdtemp(prefix="ff-py-", dir="/tmp")
        os.chmod(self.dir, 0o700)
        with open(os.path.join(self.dir, "owner.pid"), "w") as out:
            out.write("%d\n" % os.getpid())
        self.topology = os.path.join(self.dir, "pool.zpl")
        with open(self.topology, "w") as out:
            out.write(TOPOLOGY.format(dir=self.dir))
        self.log_path = os.path.join(self.dir, "serve.log")
        self.closing = False
        self.quick_exits = 0              # workers in a row that died within 3 s
        self.last_status = None
        self.env = dict(os.environ, PYTHONPATH=python_path())
        self.server = None
        self.py_workers = []              # [process, command, last start]
        self.c_workers = []
        self.server = self._spawn([self.fanfold, "serve", "-t", self.topology, "-w", "0"],
                                  log=True)
        worker = [sys.executable, "-m", "fanfold.worker", "-t", self.topology]
        for _ in range(workers):
            self.py_workers.append([self._spawn(worker), worker, time.monotonic()])

    def _spawn(self, command, log=False):
        stderr = open(self.log_path, "ab") if log else None
        try:
            return subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=stderr,
                                    env=self.env, close_fds=True,
                                    preexec_fn=_die_with_parent)
        finally:
            if stderr:
                stderr.close()

    def log_tail(self):
        try:
            with open(self.log_path, "rb") as source:
                text = source.read()[-2000:].decode("utf-8", "replace").strip()
        except OSError:
            return ""
        return text

    def server_alive(self):
        return self.server is not None and self.server.poll() is None

    def start_c_workers(self):
        """Starts the C workers (once), for jobs of C kernels."""
        if self.c_workers or self.closing:
            return
        command = [self.fanfold, "worker", "-t", self.topology]
        for _ in range(self.count):
            self.c_workers.append([self._spawn(command), command, time.monotonic()])

    def respawn(self):
        """Starts again every worker that exited; returns how many."""
        started = 0
        if self.closing:
            return 0
        now = time.monotonic()
        for entry in self.py_workers + self.c_workers:
            process, command, last = entry
            if process.poll() is not None and now - last >= 1.0:
                if now - last < 3.0:              # it did not last: count it
                    self.quick_exits += 1
                    self.last_status = process.returncode
                else:
                    self.quick_exits = 0
                entry[0] = self._spawn(command)
                entry[2] = now
                started += 1
        return started

    def failing(self):
        """Why the workers cannot run (they keep exiting at start), or None."""
        if self.quick_exits >= QUICK_EXITS:
            return ("its workers keep exiting as they start (status %s; their "
                    "messages are on stderr)" % self.last_status)
        return None

    def worker_pids(self):
        return [entry[0].pid for entry in self.py_workers + self.c_workers
                if entry[0].poll() is None]

    def close(self):
        if self.closing:
            return
        self.closing = True
        if os.getpid() != self.owner:
            return                        # the service of the process that forked this one
        processes = [entry[0] for entry in self.py_workers + self.c_workers]
        if self.server is not None:
            processes.append(self.server)
        for process in processes:
            if process.poll() is None:
                try:
                    process.send_signal(signal.SIGTERM)
                except OSError:
                    pass
        deadline = time.monotonic() + 5.0
        for process in processes:
            try:
                process.wait(max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
