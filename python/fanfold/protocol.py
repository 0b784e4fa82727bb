"""The fanfold wire protocol (docs/PROTOCOL.md) for Python peers: one
msgpack array per ZeroMQ frame, [version, type, field, ...].

Every frame that arrives is decoded by decode(), which checks it against the
schema of its type and version and returns a Message, or None for a frame
that is not exactly one of these messages (the caller counts it). Nothing is
unpickled, no ext type is accepted, and no field is used before it is
checked.
"""

import msgpack

# field kinds of a schema
U = "uint"
I = "int"
S = "str"
B = "bin"

MAX_ITEMS = 4096          # items of a task or result message
MAX_KERNELS = 32          # kernels of a job
MAX_PARAMS = 64           # parameters of a job
MAX_ARRAYS = 4            # array handles of a task
MAX_ACK = 65536           # seqs of an ack
MAX_SHAPE = 4             # extents of an array

HANDLE = (S, U, [U, MAX_SHAPE], S, U, U, B)
PARAM = (S, S)
TASK_ITEM = (U, U, S, B, U, U, U, [HANDLE, MAX_ARRAYS])
RUN = (U, U, U, U, U, U, U)
RESULT_ITEM = (U, U, U, U, S, B, S, RUN)

# (version, type) -> fields after version and type
SCHEMAS = {
    # a worker's control socket and task pipe
    (1, "welcome"): (S, U, S, U, [S, MAX_KERNELS], [PARAM, MAX_PARAMS]),
    (2, "welcome"): (S, U, S, U),
    (1, "hb"): (S, U),
    (2, "hb"): (S, U),
    (1, "end"): (S, U),
    (2, "end"): (S, U),
    (2, "cancel"): (S,),
    (2, "jobspec"): (S, [S, MAX_KERNELS], [PARAM, MAX_PARAMS]),
    (1, "task"): (S, [TASK_ITEM, MAX_ITEMS]),
    (2, "task"): (S, [TASK_ITEM, MAX_ITEMS]),
    (2, "forget"): (S,),
    (2, "fetched"): (S, U, S, U, U, B),
    # a client of the server
    (2, "accepted"): (S, U, U),
    (2, "refused"): (S,),
    (1, "result"): (S, U, [RESULT_ITEM, MAX_ITEMS]),
    (2, "result"): (S, U, [RESULT_ITEM, MAX_ITEMS]),
    (2, "status"): (S,),
    # what a server or ventilator receives (used by tests that play one)
    (1, "hello"): (S, S, U),
    (2, "hello"): (S, S, U),
    (1, "bye"): (S, U),
    (2, "bye"): (S, U),
    (2, "fetch"): (S, U, U, S, U, U),
}


class Message(list):
    """A decoded, checked message: message.version, message.type, and the
    fields as list items from index 0."""
    __slots__ = ("version", "type")


def _check(value, kind):
    """Returns value converted to its kind (str accepted for bin), or raises
    ValueError."""
    if kind is U:
        if type(value) is int and value >= 0:
            return value
        raise ValueError("not a uint")
    if kind is I:
        if type(value) is int:
            return value
        raise ValueError("not an int")
    if kind is S:
        if type(value) is str:
            return value
        raise ValueError("not a str")
    if kind is B:
        if type(value) is bytes:
            return value
        if type(value) is str:
            return value.encode("utf-8", "surrogateescape")
        raise ValueError("not a bin")
    if type(kind) is list:                       # [element, most]
        element, most = kind
        if type(value) is not list or len(value) > most:
            raise ValueError("not a list of at most %d" % most)
        return [_check(item, element) for item in value]
    if type(kind) is tuple:                      # fixed array
        if type(value) is not list or len(value) != len(kind):
            raise ValueError("wrong arity")
        return [_check(item, sub) for item, sub in zip(value, kind)]
    raise AssertionError("bad schema %r" % (kind,))


def decode(frame, accept=None):
    """Returns the Message a frame holds, or None when it is not exactly one
    of SCHEMAS (wrong version, type, arity or field type, trailing bytes,
    invalid UTF-8, ext types). accept, when given, is a set of
    (version, type) pairs this peer takes; others are None too."""
    try:
        value = msgpack.unpackb(frame, raw=False, use_list=True,
                                strict_map_key=True, max_bin_len=1 << 31,
                                ext_hook=_refuse_ext)
    except Exception:                            # malformed, trailing data
        return None
    if type(value) is not list or len(value) < 2:
        return None
    version, kind = value[0], value[1]
    if type(version) is not int or type(kind) is not str:
        return None
    key = (version, kind)
    if accept is not None and key not in accept:
        return None
    schema = SCHEMAS.get(key)
    if schema is None:
        return None
    try:
        fields = _check(value[2:], schema)
    except ValueError:
        return None
    message = Message(fields)
    message.version = version
    message.type = kind
    return message


def _refuse_ext(code, data):
    raise ValueError("ext type %d in a protocol frame" % code)


def encode(version, kind, *fields):
    """One frame: [version, kind, fields...], bytes as bin, text as str."""
    return msgpack.packb([version, kind, *fields], use_bin_type=True)


class DropCounter:
    """Counts frames that were dropped, and says so on stderr at most once a
    second."""

    def __init__(self, who):
        self.who = who
        self.count = 0
        self._said = 0.0

    def drop(self, where):
        import sys
        import time
        self.count += 1
        now = time.monotonic()
        if now - self._said >= 1.0:
            self._said = now
            print("%s: dropped a malformed frame on %s (%d so far)"
                  % (self.who, where, self.count), file=sys.stderr)
