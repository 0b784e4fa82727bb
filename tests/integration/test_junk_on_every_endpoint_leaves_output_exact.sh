#   While a -t topology/local.zpl job of 3000 tasks runs, a Python peer
#   throws junk at every endpoint it can reach: the ventilator's control
#   ROUTER (DEALER, REQ and PUSH peers), the sink's results PULL (PUSH), each
#   worker's task pipe (a PUSH, which ZeroMQ refuses by type: a PULL would
#   steal tasks) and every ipc file as a raw stream socket (on task pipes,
#   only greetings libzmq refuses). The junk: empty frames, c1, dd ff ff ff
#   ff, 33 nested arrays, 100 kB of zeros, random bytes, version 2, hellos
#   with huge names, task/result/ack/hb/bye for another job, an ack with the
#   right job from a peer that is not the sink, results outside the window,
#   '/../../etc/passwd' in str fields, floods of 100-frame messages, and a
#   sink hello from another peer once the job runs. The output equals the
#   input, the job exits 0, no stage dies or is replaced before the end, and
#   the stages log drops. Before that, a sink that has not yet heard of its
#   job takes junk on its results socket and lives. The topologies are
#   local.zpl with the ipc directory moved into the scratch directory, so
#   that another job on local.zpl cannot mix with this one.
. "$(dirname "$0")/lib.sh"
directory=$SCRATCH/ipc
topology=$SCRATCH/local.zpl
sed "s|/tmp/fanfold-%u/local|$directory|" "$ROOT/topology/local.zpl" > "$topology"
seq 1 3000 > "$SCRATCH/in.txt"

# a failed check must not leave a stage running (nor its ipc files)
sink= job=
stop_all () {
    local pid
    for pid in $sink $job; do
        { kill "$pid" && wait "$pid"; } 2>/dev/null || true
    done
}
trap 'stop_all; rm -rf "$SCRATCH"' EXIT

# first, a sink alone (no ventilator: it never learns the job) takes junk
# on its results socket and is still there, and stops cleanly on SIGTERM
sed "s|/tmp/fanfold-%u/local|$SCRATCH/alone|" "$ROOT/topology/local.zpl" > "$SCRATCH/alone.zpl"
"$BIN/fanfold-sink" -t "$SCRATCH/alone.zpl" -o "$SCRATCH/alone.txt" 2> "$SCRATCH/alone.err" &
sink=$!
"$PY" - "$SCRATCH/alone/results" <<'PYEOF' || fail "no junk reached the lone sink"
import os, sys, time
import msgpack, zmq
for _ in range(200):
    if os.path.exists(sys.argv[1]):
        break
    time.sleep(0.05)
push = zmq.Context().socket(zmq.PUSH)
push.setsockopt(zmq.LINGER, 2000)
push.connect("ipc://" + sys.argv[1])
for frame in [b"", b"\xc1", b"\xdd\xff\xff\xff\xff", b"\x91" * 33 + b"\xc0",
              msgpack.packb([1, "result", "0123456789abcdef", 1,
                             [[0, 0, 0, 0, "x", b"x", "", [1, 1, 0, 0, 1, 0, 1]]]])]:
    push.send(frame)
time.sleep(0.5)
PYEOF
kill -0 "$sink" 2>/dev/null || fail "the sink died on results before its job: $(tail -n 3 "$SCRATCH/alone.err")"
kill "$sink"
status=0
wait "$sink" || status=$?
sink=
[ "$status" -eq 130 ] || fail "the lone sink exited $status on SIGTERM, not 130: $(tail -n 3 "$SCRATCH/alone.err")"
grep -q "^fanfold-sink: dropped:" "$SCRATCH/alone.err" || fail "the lone sink logged no drop"

"$BIN/fanfold" run -t "$topology" -v -w 2 --pipe --lines 1 -K sleep -p ms=5 \
    < "$SCRATCH/in.txt" > "$SCRATCH/out.txt" 2> "$SCRATCH/err.txt" &
job=$!

# the stages the launcher started: ventilator, sink and two workers
for _ in $(seq 100); do
    [ "$(pgrep -P "$job" | wc -l)" -ge 4 ] && break
    sleep 0.05
done
stages=$(pgrep -P "$job" | sort)
[ "$(echo "$stages" | wc -l)" -eq 4 ] || fail "expected 4 stages, found: $(echo $stages)"

"$PY" - "$directory" 3 "$SCRATCH/err.txt" > "$SCRATCH/junk.txt" 2>&1 <<'PYEOF' || { cat "$SCRATCH/junk.txt" >&2; fail "the junk sender failed"; }
import glob, os, random, socket, sys, time
import msgpack, zmq

directory, seconds, log = sys.argv[1], float(sys.argv[2]), sys.argv[3]
control, results = "ipc://%s/control" % directory, "ipc://%s/results" % directory
rng = random.Random(20240611)
ctx = zmq.Context()
sent = {}

def pack(*fields, version=1):
    return msgpack.packb([version, *fields], use_bin_type=True)

def sock(kind, endpoint):
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDTIMEO, 200)
    s.setsockopt(zmq.RCVTIMEO, 5000)
    s.connect(endpoint)
    return s

def send(s, where, frames):
    """Sends one message (a list of frames); a full or refusing peer is fine."""
    try:
        s.send_multipart(frames, flags=zmq.DONTWAIT)
        sent[where] = sent.get(where, 0) + 1
    except zmq.Again:
        pass

for path in (directory + "/control", directory + "/results"):
    for _ in range(200):
        if os.path.exists(path):
            break
        time.sleep(0.05)
    else:
        sys.exit("no %s" % path)

# say hello like a worker to learn the job id, then leave at once
dealer = sock(zmq.DEALER, control)
dealer.send(pack("hello", "worker", "junk:1", 0))
welcome = msgpack.unpackb(dealer.recv(), raw=False)
while welcome[1] != "welcome":
    welcome = msgpack.unpackb(dealer.recv(), raw=False)
job, me = welcome[2], welcome[3]
dealer.send(pack("bye", job, me))
other = "%016x" % rng.getrandbits(64)

def item(seq, kernel=0, segment=""):
    handles = [["data", 10, [1], segment, 0, 8, b""]] if segment else []
    return [seq, kernel, "/../../etc/passwd", b"1\n", 1, 0, 1, handles]

def result(job, worker, seq, kernel=0):
    return pack("result", job, worker, [[seq, kernel, 0, 0, "/../../etc/passwd",
                                         b"forged\n", "", [1, 1, 0, 0, 2, 0, 1]]])

raw = [b"", b"\xc1", b"\xdd\xff\xff\xff\xff", b"\x91" * 33 + b"\xc0",
       bytes(100 * 1024), pack("hb", job, 1, version=2), pack("hb", job, 1, version=2**40),
       pack("hello", "admin", "x", 0), pack("hallo", job, 1),
       pack("task", job, [item(0)])[:-3]]
def junk():
    """Frames that are not messages, plus random bytes."""
    return raw + [rng.randbytes(rng.randint(1, 4096)) for _ in range(8)]

huge = [sock(zmq.DEALER, control) for _ in range(2)]
req, push_control = sock(zmq.REQ, control), sock(zmq.PUSH, control)
push_results = sock(zmq.PUSH, results)
pipes = [sock(zmq.PUSH, "ipc://" + path) for path in glob.glob(directory + "/task-*")]

end = time.time() + seconds
rounds = 0
while time.time() < end:
    rounds += 1
    for frame in junk():
        send(dealer, "control", [frame])
        send(push_results, "results", [frame])
        send(push_control, "control-push", [frame])
        for pipe in pipes:
            send(pipe, "task-pipe", [frame])
    # well-formed, but for another job, from the wrong peer or out of place
    for frame in [pack("task", other, [item(0, segment="/../../etc/passwd")]),
                  pack("task", job, [item(1)]), result(other, 1, 0), result(job, 1, 0),
                  pack("ack", other, 3000, [0, 1, 2]), pack("ack", job, 3000, [0, 1, 2]),
                  pack("hb", other, 1), pack("bye", other, 1), pack("end", job, 0),
                  pack("hb", job, 2**64 - 1), pack("bye", job, 999999),
                  pack("job", job, ["noop"], 1, 1), pack("welcome", job, 1, "ipc:///", 1, [], []),
                  pack("record", "/../../etc/passwd", b"x"), pack("eos", 1),
                  pack("emit", 0, "/../../etc/passwd", "noop", 0, b"x", "")]:
        send(dealer, "control", [frame])
    for frame in [result(other, 1, 0), result(job, 0, 0), result(job, 1, 2**63),
                  result(job, 1, 2**64 - 1), result(job, 1, 5, kernel=99),
                  pack("task", job, [item(0)]), pack("hello", "sink", "sink", 0)]:
        send(push_results, "results", [frame])
    # a second sink, once the real one has acked the job
    if "sink-hello" not in sent and "sink ready" in open(log, errors="replace").read():
        send(dealer, "sink-hello", [pack("hello", "sink", "sink", 0)])
    # floods of 100-frame messages, and REQ's envelope on a ROUTER
    send(dealer, "control", [b"\xc1"] * 100)
    send(dealer, "control", [pack("hb", job, me)] * 100)
    send(push_results, "results", [result(other, 1, 0)] * 100)
    try:
        req.send(pack("hb", other, 1), flags=zmq.DONTWAIT)
        sent["control-req"] = sent.get("control-req", 0) + 1
    except zmq.ZMQError:
        pass                        # REQ waits for a reply that never comes
    # hellos with huge names: one under the control limit, one over it
    for s, size in zip(huge, (200 * 1024, 2 * 1024 * 1024)):
        send(s, "control-huge", [pack("hello", "worker", "n" * size, 0)])
        try:
            while s.poll(0):
                reply = msgpack.unpackb(s.recv(), raw=False)
                if reply[1] == "welcome":
                    s.send(pack("bye", reply[2], reply[3]))
        except Exception:
            pass
    # raw bytes on every ipc file. Bytes that read as a ZMTP/1.0 or 2.0
    # greeting make a peer whose socket type libzmq does not check, which a
    # task pipe would deal tasks to, like a PULL: task pipes get only ZMTP
    # 3.0 greetings libzmq refuses (a PUSH peer, a malformed READY), and a
    # ZMTP/1.0 identity frame longer than any socket's inbound limit
    ready = b"\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH"
    zmtp3 = b"\xff" + bytes(8) + b"\x7f\x03\x00NULL" + bytes(16) + b"\x00" + bytes(31)
    refused = [zmtp3 + bytes([0x04, len(ready)]) + ready,
               zmtp3 + b"\x04\x29\x05READY" + b"\xff" * 40,
               b"\xff\x40" + rng.randbytes(7) + b"\x00" + rng.randbytes(16)]
    for path in [directory + "/control", directory + "/results"] + glob.glob(directory + "/task-*"):
        data = rng.choice(refused)
        if "/task-" not in path:
            data = rng.choice(refused + [b"GET / HTTP/1.0\r\n\r\n", b"\x01\x00" + junk()[-1],
                                         b"\xff" + rng.randbytes(8) + b"\x00" + rng.randbytes(64)])
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stream:
                stream.settimeout(0.2)
                stream.connect(path)
                stream.sendall(data)
                sent["raw"] = sent.get("raw", 0) + 1
        except OSError:
            pass
    time.sleep(0.05)
print("rounds %d, task pipes %d, sent %s" % (rounds, len(pipes), sent))
if not pipes or not sent.get("control") or not sent.get("results") or not sent.get("sink-hello"):
    sys.exit("the junk did not reach every endpoint")
PYEOF
cat "$SCRATCH/junk.txt"

# the junk ended while the job still ran, and every stage was alive then
kill -0 "$job" 2>/dev/null || fail "the job ended before the junk did: $(tail -n 5 "$SCRATCH/err.txt")"
for pid in $stages; do
    kill -0 "$pid" 2>/dev/null || fail "stage $pid died under junk: $(tail -n 20 "$SCRATCH/err.txt")"
done
# a stage that took a forged peer for a real one would hang the job
for _ in $(seq 600); do
    kill -0 "$job" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$job" 2>/dev/null && fail "the job hung after the junk: $(grep -v dropped "$SCRATCH/err.txt" | tail -n 5)"
status=0
wait "$job" || status=$?
job=
[ "$status" -eq 0 ] || { tail -n 40 "$SCRATCH/err.txt" >&2; fail "the job exited $status"; }
same "$SCRATCH/in.txt" "$SCRATCH/out.txt" "output after junk"
! grep -E "ended with status|AddressSanitizer|runtime error|Assertion|Segmentation" \
    "$SCRATCH/err.txt" >&2 || fail "a stage crashed or was replaced"
grep -q "^fanfold-ventilator: dropped:" "$SCRATCH/err.txt" || fail "the ventilator logged no drop"
grep -q "^fanfold-sink: dropped:" "$SCRATCH/err.txt" || fail "the sink logged no drop"
grep -E "dropped|refused" "$SCRATCH/err.txt" | sed -n '1,12p'
no_stage_left "$topology"
