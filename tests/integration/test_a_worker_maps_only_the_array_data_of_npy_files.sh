#   A real fanfold-worker joins a Python peer that speaks docs/PROTOCOL.md
#   as a ventilator, and gets file handles (section 3, "file handles"):
#   a good one over a .npy gives the statistics of exactly the slice named;
#   every other one gives an error result and no byte of the file: a file
#   that is no .npy (/etc/passwd, and a text file named x.npy), a stale
#   identity (mtime, size, inode), a relative path, a symlink, a FIFO, a
#   slice reaching into the header or past the data, a slice cut inside an
#   element, another dtype, a malformed handle. The worker lives through
#   all of them and answers each task.
. "$(dirname "$0")/lib.sh"
directory=$SCRATCH/ipc
topology=$SCRATCH/local.zpl
mkdir -m 0700 "$directory"
sed "s|/tmp/fanfold-%u/local|$directory|" "$ROOT/topology/local.zpl" > "$topology"
worker=
trap '[ -n "$worker" ] && kill "$worker" 2>/dev/null; wait 2>/dev/null; rm -rf "$SCRATCH"' EXIT

"$PY" - "$SCRATCH" "$directory" "$BIN/fanfold-worker" "$topology" <<'PYEOF' || fail "the file handles were not checked as they should be"
import json, os, subprocess, sys, time
import msgpack, numpy as np, zmq

scratch, directory, worker_bin, topology = sys.argv[1:5]
values = np.arange(1000, dtype=np.float32)
good = scratch + "/good.npy"
np.save(good, values)
text = scratch + "/text.npy"
with open(text, "w") as f:
    f.write("not an array at all\n" * 100)
os.symlink(good, scratch + "/link.npy")
os.mkfifo(scratch + "/fifo.npy", 0o600)
header = 128                                    # numpy's header for this array

ctx = zmq.Context()
control = ctx.socket(zmq.ROUTER)
control.bind("ipc://%s/control" % directory)
tasks = ctx.socket(zmq.PUSH)
tasks.bind("ipc://%s/task-1" % directory)
results = ctx.socket(zmq.PULL)
results.bind("ipc://%s/results" % directory)
for s in (control, tasks, results):
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 10000)
    s.setsockopt(zmq.SNDTIMEO, 10000)
log = open(scratch + "/worker.err", "w")
worker = subprocess.Popen([worker_bin, "-t", topology], stderr=log)

def pack(*fields):
    return msgpack.packb([1, *fields], use_bin_type=True)

job = "0123456789abcdef"
routing, hello = control.recv_multipart()
assert msgpack.unpackb(hello, raw=False)[1] == "hello"
control.send_multipart([routing, pack("welcome", job, 1, "ipc://%s/task-1" % directory, 250,
                                      ["stats"], [["retries", "1"]])])

def handle(path, dtype=9, offset=header, length=4000, shape=None, ident=None, text=None):
    if text is None:
        info = os.stat(path) if ident is None else None
        dev, ino, size, mtime = ident or (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        text = "file:%d:%d:%d:%d:%s" % (dev, ino, size, mtime, path)
    itemsize = {9: 4, 10: 8, 1: 1}[dtype]
    return ["data", dtype, shape or [length // itemsize], text, offset, length, b""]

info = os.stat(good)
ident = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
cases = [
    ("good, whole", handle(good), "ok"),
    ("good, elements 10..19", handle(good, offset=header + 40, length=40), "ok"),
    ("/etc/passwd", handle("/etc/passwd", length=4), "not a .npy"),
    ("a text file named .npy", handle(text, length=4), "not a .npy file"),
    ("stale mtime", handle(good, ident=ident[:3] + (ident[3] + 1,)), "not the file the job named"),
    ("stale size", handle(good, ident=(ident[0], ident[1], ident[2] + 4, ident[3])), "not the file"),
    ("stale inode", handle(good, ident=(ident[0], ident[1] + 1, ident[2], ident[3])), "not the file"),
    ("relative path", handle(good, text="file:%d:%d:%d:%d:%s" % (ident + ("good.npy",))),
     "malformed file handle"),
    ("symlink", handle(scratch + "/link.npy", ident=ident), "cannot open"),
    ("fifo", handle(scratch + "/fifo.npy", ident=ident), "not a regular file"),
    ("slice in the header", handle(good, offset=0, length=40), "out of the data"),
    ("slice past the data", handle(good, offset=header + 3960, length=80), "out of the data"),
    ("slice inside an element", handle(good, offset=header + 2, length=40), "out of the data"),
    ("another dtype", handle(good, dtype=10, length=4000), "out of the data"),
    ("malformed", handle(good, text="file:1:2:3"), "malformed file handle"),
]
items = [[seq, 0, name, b"", 1, 0, 1, [h]] for seq, (name, h, _) in enumerate(cases)]
tasks.send(pack("task", job, items))
reply = msgpack.unpackb(results.recv(), raw=False)
assert reply[1] == "result" and reply[2] == job, reply[:4]
answers = reply[4]
assert len(answers) == len(cases), (len(answers), len(cases))
for (name, _, want), answer in zip(cases, answers):
    seq, kernel, status, kind, inp, body, meta, run = answer
    body = body.decode("utf-8", "replace")
    if want == "ok":
        assert status == 0, (name, body)
    else:
        assert status == 1 and want in body, (name, status, body)
    print("%-26s %s" % (name, body[:100]))
whole = json.loads(answers[0][5])
assert whole["count"] == 1000 and whole["sum"] == float(values.sum()), whole
part = json.loads(answers[1][5])
assert part["count"] == 10 and part["min"] == 10 and part["max"] == 19, part
# the worker is alive after all of them, and leaves on end
assert worker.poll() is None, "the worker died"
control.send_multipart([routing, pack("end", job, 0)])
assert worker.wait(timeout=10) == 0
PYEOF
! grep -E "AddressSanitizer|runtime error|Segmentation" "$SCRATCH/worker.err" >&2 || fail "the worker crashed"
