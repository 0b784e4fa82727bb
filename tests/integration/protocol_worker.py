#!/usr/bin/python3
"""A fanfold worker written from docs/PROTOCOL.md alone (pyzmq + msgpack),
to test that the document is enough. Serves noop, sleep and exec; any other
kernel gets an error result. Usage: protocol_worker.py -t TOPOLOGY.zpl"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import msgpack
import zmq
import zmq.auth

VERSION = 1
SAFE = set("-_.+/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def read_zpl(path):
    """The two levels of ZPL a topology uses: {"section/key": value}."""
    values, section = {}, ""
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        body = line.split("#", 1)[0] if '"' not in line else line
        if not body.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        name, _, value = body.strip().partition("=")
        name, value = name.strip(), value.strip()
        if value.startswith('"'):
            value = value[1:value.index('"', 1)]
        if indent == 0:
            section = name
        else:
            values[section + "/" + name] = value
    return values


def connect_form(endpoint, host):
    """Section 1: a bind on tcp://*:PORT is connected to as tcp://HOST:PORT."""
    for any_host in ("tcp://*:", "tcp://0.0.0.0:"):
        if endpoint.startswith(any_host):
            return "tcp://%s:%s" % (host, endpoint[len(any_host):])
    return endpoint


def pack(*fields):
    return msgpack.packb([VERSION] + list(fields), use_bin_type=True)


def unpack(frame):
    try:
        msg = msgpack.unpackb(frame, raw=False)
    except Exception:
        return None
    if not isinstance(msg, list) or len(msg) < 2 or msg[0] != VERSION:
        return None
    return msg


# ----------------------------------------------------------- exec (section 8)

def quote(value):
    if value == "":
        return "''"
    if all(c in SAFE for c in value):
        return value
    quoted = "'" + value.replace("'", "'\"'\"'") + "'"
    if quoted.startswith("''"):
        quoted = quoted[2:]
    if quoted.endswith("''"):
        quoted = quoted[:-2]
    return quoted


def strip_extension(text):
    dot = text.rfind(".")
    if dot >= 0 and "/" not in text[dot:]:
        return text[:dot]
    return text


def basename(text):
    for start, line in line_starts(text):
        slash = line.rfind("/")
        if slash >= 0:
            return text[:start] + text[start + slash + 1:]
    return text


def line_starts(text):
    start = 0
    for line in text.split("\n"):
        yield start, line
        start += len(line) + 1


def dirname(text):
    """File::Basename's dirname: a/b -> a, a/b/ -> a, a -> ., / -> /."""
    stripped = text.rstrip("/") or ("/" if text else "")
    if stripped == "/":
        return "/"
    slash = stripped.rfind("/")
    if slash < 0:
        return "."
    return stripped[:slash].rstrip("/") or "/"


REPLACEMENTS = ["{//}", "{/.}", "{}", "{.}", "{/}", "{#}"]


def value_of(rpl, arg, seq):
    return {
        "{}": lambda: arg,
        "{.}": lambda: strip_extension(arg),
        "{/}": lambda: basename(arg),
        "{//}": lambda: dirname(arg),
        "{/.}": lambda: strip_extension(basename(arg)),
        "{#}": lambda: str(seq + 1),
    }[rpl]()


def expand(cmd, arg, seq):
    """The command line: replacement strings, quoting, the appended {}."""
    first = None
    for i in range(len(cmd)):
        if cmd[i] == "{" and any(cmd.startswith(r, i) for r in REPLACEMENTS):
            first = i
            break
    word_end = len(re.match(r"[^ \t\n=]*", cmd).group(0))
    do_quote = first is None or word_end < first
    out, i = [], 0
    while i < len(cmd):
        rpl = next((r for r in REPLACEMENTS if cmd.startswith(r, i)), None) \
            if cmd[i] == "{" else None
        if rpl is None:
            out.append(cmd[i])
            i += 1
            continue
        value = value_of(rpl, arg if arg is not None else "", seq)
        out.append(quote(value) if do_quote else value)
        i += len(rpl)
    if first is None and arg is not None:
        out.append(" " + quote(arg))
    return "".join(out)


def run_exec(seq, payload, params):
    """Returns (status, body, meta)."""
    cmd = params.get("cmd")
    if cmd is None:
        return 1, b"exec: parameter cmd is missing", ""
    feed = params.get("pipe") == "1"
    timeout = float(params.get("timeout", "0") or 0)
    arg = None
    if not feed:
        if b"\0" in payload:
            return 1, b"exec: the argument holds a NUL byte", ""
        arg = payload.decode("utf-8", "surrogateescape")
    line = expand(cmd, arg, seq)
    child = subprocess.Popen(["/bin/sh", "-c", line],
                             stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, start_new_session=True,
                             restore_signals=True)
    try:
        out, _ = child.communicate(payload if feed else None,
                                   timeout=timeout if timeout > 0 else None)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(1)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        return 1, b"command timed out after %g s" % timeout, ""
    except BrokenPipeError:
        out = child.stdout.read()
        child.wait()
    code = child.returncode
    if code < 0:
        return 1, b"command killed by signal %d" % -code, '"signal":%d' % -code
    if code != 0:
        return 1, b"command exited with status %d" % code, '"exit":%d' % code
    return 0, out, '"exit":0'


def run_kernel(name, seq, payload, params):
    if name == "noop":
        return 0, payload, ""
    if name == "sleep":
        ms = float(params.get("ms", payload.decode() if payload else "0"))
        time.sleep(ms / 1000)
        return 0, payload, ""
    if name == "exec":
        return run_exec(seq, payload, params)
    return 1, b"unknown kernel", ""


# ------------------------------------------------------------------ the worker

class Worker:
    def __init__(self, topology):
        zpl = read_zpl(topology)
        vent_host = zpl.get("ventilator/host", "localhost")
        self.control_ep = connect_form(zpl["ventilator/control"], vent_host)
        self.results_ep = connect_form(zpl["sink/results"], zpl.get("sink/host", "localhost"))
        self.silence_ms = int(zpl.get("fanfold/worker_timeout_ms", "3000"))
        uid = str(os.getuid())
        self.control_ep = self.control_ep.replace("%u", uid)
        self.results_ep = self.results_ep.replace("%u", uid)
        self.curve = None
        if "security/server_public" in zpl:

            base = os.path.dirname(os.path.abspath(topology))
            server_public, _ = zmq.auth.load_certificate(
                os.path.join(base, zpl["security/server_public"]))
            public, secret = zmq.auth.load_certificate(
                os.path.join(base, zpl["security/client_secret"]))
            self.curve = (server_public, public, secret)
        self.ctx = zmq.Context()
        self.control = self.socket(zmq.DEALER, self.control_ep)
        self.results = self.socket(zmq.PUSH, self.results_ep)
        self.tasks = None
        self.job = None
        self.hb_stop = None
        self.last_heard = time.monotonic()
        self.stop = False           # SIGINT, SIGTERM or end
        self.ended = False          # the ventilator ended the job
        self.exit_status = 0

    def socket(self, kind, endpoint):
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 1000)
        if self.curve and endpoint.startswith("tcp://"):
            sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = self.curve
        sock.connect(endpoint)
        return sock

    def hello(self):
        name = "%s:%d" % (socket.gethostname(), os.getpid())
        self.control.send(pack("hello", "worker", name, 0))

    def heartbeat(self, job, wid, hb_ms, stop):
        sock = self.socket(zmq.DEALER, self.control_ep)
        while not stop.wait(hb_ms / 1000):
            sock.send(pack("hb", job, wid))
        sock.close(0)

    def leave(self):
        if self.hb_stop:
            self.hb_stop.set()
            self.hb_thread.join()
            self.hb_stop = None
        if self.tasks is not None:
            self.tasks.close(0)
            self.tasks = None
        self.job = None

    def on_welcome(self, msg):
        _, _, job, wid, endpoint, hb_ms, kernels, params = msg
        if self.job and self.job["id"] == job and self.job["worker"] == wid:
            return                  # "you are still in": keep the pipe
        self.leave()
        merged = {}
        for key, value in params:
            merged.setdefault(key, value)   # the first pair with a key wins
        self.job = {"id": job, "worker": wid, "hb_ms": hb_ms, "kernels": kernels,
                    "params": merged}
        self.tasks = self.socket(zmq.PULL, endpoint)
        self.hb_stop = threading.Event()
        self.hb_thread = threading.Thread(target=self.heartbeat,
                                          args=(job, wid, hb_ms, self.hb_stop))
        self.hb_thread.start()

    def drain_control(self):
        while True:
            try:
                msg = unpack(self.control.recv(zmq.NOBLOCK))
            except zmq.Again:
                return
            if msg is None:
                continue
            self.last_heard = time.monotonic()
            if msg[1] == "welcome" and len(msg) == 8:
                self.on_welcome(msg)
            elif msg[1] == "end" and len(msg) == 4 and self.job and msg[2] == self.job["id"]:
                self.exit_status = 3 if msg[3] == 2 else 0
                self.ended = self.stop = True

    def run_tasks(self):
        while not self.stop:
            try:
                msg = unpack(self.tasks.recv(zmq.NOBLOCK))
            except zmq.Again:
                return
            if not msg or msg[1] != "task" or len(msg) != 4 or msg[2] != self.job["id"]:
                continue
            out = []
            for seq, k, inp, payload, attempt, chunk, chunks, arrays in msg[3]:
                name = self.job["kernels"][k] if k < len(self.job["kernels"]) else ""
                retries = max(1, int(self.job["params"].get("retries", "3")))
                start_ms, started = int(time.time() * 1000), time.monotonic()
                tries = 0
                while True:
                    tries += 1
                    status, body, meta = run_kernel(name, seq, payload, self.job["params"])
                    if status == 0 or tries >= retries or name not in ("exec", "sleep"):
                        break
                runtime_us = int((time.monotonic() - started) * 1e6)
                out.append([seq, k, status, 0, inp, body, meta,
                            [attempt, tries, start_ms, runtime_us, len(payload), chunk, chunks]])
            self.results.send(pack("result", self.job["id"], self.job["worker"], out))

    def run(self):
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stop", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stop", True))
        last_hello = 0.0
        while not self.stop:
            now = time.monotonic()
            if self.job is None and now - last_hello >= 1.0:
                self.hello()
                last_hello = now
            poller = zmq.Poller()
            poller.register(self.control, zmq.POLLIN)
            if self.tasks is not None:
                poller.register(self.tasks, zmq.POLLIN)
            hb_ms = self.job["hb_ms"] if self.job else 100
            try:
                ready = dict(poller.poll(hb_ms))
            except zmq.ZMQError:
                ready = {}
            self.drain_control()    # read the queue before judging silence
            if self.job and (time.monotonic() - self.last_heard) * 1000 > self.silence_ms:
                self.leave()
                last_hello = 0.0
                continue
            if self.tasks is not None and not self.stop and self.tasks in ready:
                self.run_tasks()
        if self.job and not self.ended:
            self.control.send(pack("bye", self.job["id"], self.job["worker"]))
        self.leave()
        self.control.close(200)
        self.results.close(1000)
        self.ctx.term()
        return self.exit_status

def main():
    args = sys.argv[1:]
    if len(args) != 2 or args[0] != "-t":
        sys.stderr.write(__doc__ + "\n")
        return 2
    return Worker(args[1]).run()


if __name__ == "__main__":
    sys.exit(main())
