"""Arguments and results of Python kernels as msgpack, without pickle.

Plain msgpack types travel as they are; a few more travel as ext types so
that a task sees what a serial loop would: tuples, sets, complex numbers,
big integers, numpy scalars and numpy arrays. An array of SHM_MIN bytes or
more travels as a handle to a shared-memory segment when both ends are on
one host; frozen and shared arrays always travel as handles. Decoding
builds only data (numbers, strings, containers, arrays of numeric dtypes):
no code, no class named by the sender.
"""

import collections.abc
import os

import msgpack
import numpy

from . import shm

SHM_MIN = 64 * 1024                # arrays this large travel in shared memory

EXT_ARRAY = 1        # [dtype, shape, bytes]
EXT_ARRAY_SHM = 2    # [segment, offset, length, dtype, shape]
EXT_TUPLE = 3        # packed list
EXT_SCALAR = 4       # [dtype, bytes]
EXT_FROZEN = 5       # [[name, segment, dtype, shape, length], ...]
EXT_SHARED = 6       # [name, segment, dtype, shape, length]
EXT_COMPLEX = 7      # [real, imag]
EXT_SET = 8          # packed list
EXT_FROZENSET = 9    # packed list
EXT_BIGINT = 10      # decimal text


class EncodeError(TypeError):
    """A value that cannot travel (it would need pickle)."""


def _dtype_ok(text):
    """The numpy dtype named by text when it is plain numeric data."""
    if type(text) is not str or len(text) > 8:
        raise ValueError("bad dtype")
    dtype = numpy.dtype(text)
    if dtype.hasobject or dtype.fields is not None or dtype.kind not in "biufcSU":
        raise ValueError("dtype %s does not travel" % text)
    return dtype


def _shape_ok(shape):
    if (type(shape) is not list or len(shape) > 32
            or any(type(e) is not int or e < 0 for e in shape)):
        raise ValueError("bad shape")
    return tuple(shape)


class Shared:
    """A reference to an array placed in shared memory once (pool.share):
    it travels as a handle, and a task receives a read-only view."""

    def __init__(self, name, segment, dtype, shape, length):
        self.name = name
        self.segment = segment
        self.dtype = dtype
        self.shape = tuple(shape)
        self.length = length
        self._view = None

    def handle(self):
        return [self.name, self.segment.name, self.dtype.str, list(self.shape), self.length]

    @property
    def array(self):
        """The read-only view (zero copy)."""
        if self._view is None:
            self._view = self.segment.view(self.dtype, self.shape, 0, self.length)
        return self._view

    def __repr__(self):
        return "<fanfold.Shared %s %s%r>" % (self.name, self.dtype, self.shape)


def place(name, array, job="pyshared"):
    """Copies array into a new sealed segment; returns its Shared reference.
    array may also be an iterator of arrays of one dtype and row shape,
    stacked along the first axis as they are written: a table built block
    by block never exists whole outside shared memory; or a shm.Filled
    (fanfold.filled), written in place."""
    if isinstance(array, shm.Filled):
        _dtype_ok(array.dtype.str)
        segment = shm.create_filled(shm.new_name(job, "frozen"), array)
        return Shared(name, segment, array.dtype, array.shape, array.nbytes)
    if isinstance(array, numpy.ndarray) or not hasattr(array, "__next__"):
        array = numpy.ascontiguousarray(numpy.asarray(array))
        _dtype_ok(array.dtype.str)
        segment = shm.create(shm.new_name(job, "frozen"), array)
        return Shared(name, segment, array.dtype, array.shape, array.nbytes)
    segment = shm.create(shm.new_name(job, "frozen"), array)
    try:
        if not segment.blocks:
            raise ValueError("%s: no blocks to freeze" % name)
        dtype, shape = segment.blocks[0]
        _dtype_ok(dtype.str)
        if any(d != dtype or s[1:] != shape[1:] or not s for d, s in segment.blocks):
            raise ValueError("%s: blocks differ in dtype or row shape" % name)
        shape = (sum(s[0] for _, s in segment.blocks),) + tuple(shape[1:])
    except BaseException:
        segment.unlink()
        raise
    return Shared(name, segment, dtype, shape, segment.size)


class Frozen(collections.abc.Mapping):
    """Read-only arrays in shared memory, by name (fanfold.freeze). Passed to
    a task it travels as handles; the task gets the same mapping of
    zero-copy read-only views. close() unlinks the segments of the process
    that froze them (at exit at the latest)."""

    def __init__(self, entries):
        self._entries = dict(entries)        # name -> Shared
        self._owner = os.getpid()

    def __getitem__(self, name):
        return self._entries[name].array

    def __iter__(self):
        return iter(self._entries)

    def __len__(self):
        return len(self._entries)

    def handles(self):
        return [entry.handle() for entry in self._entries.values()]

    def segments(self):
        return [entry.segment for entry in self._entries.values()]

    def release(self):
        """Unmaps this process's pages of the arrays (Segment.release): they
        stay in shared memory, the views stay valid, a read maps them again."""
        for entry in self._entries.values():
            entry.segment.release()

    def close(self):
        if os.getpid() != self._owner:
            return                           # a forked child's exit unlinks nothing
        for entry in self._entries.values():
            entry.segment.unlink()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<fanfold.Frozen %s>" % ", ".join(
            "%s %s%r" % (n, e.dtype, e.shape) for n, e in self._entries.items())


class Encoder:
    """Packs values; arrays of SHM_MIN bytes or more go into new segments
    named for job when use_shm is set (their names are kept in
    self.segments, for the caller to unlink once the task is answered).
    The packer (it holds a 1 MiB buffer) refers to a _Defaults, never to
    the Encoder, so that no reference cycle keeps buffers waiting for the
    garbage collector."""

    def __init__(self, job="", use_shm=False, kind="arg", owner=None):
        self._defaults = _Defaults(job, use_shm, kind, owner)
        self.segments = self._defaults.segments
        self._packer = msgpack.Packer(use_bin_type=True, strict_types=True,
                                      default=self._defaults.default)

    @property
    def job(self):
        return self._defaults.job

    def pack(self, value):
        try:
            return self._packer.pack(value)
        except EncodeError:
            self._packer.reset()
            raise
        except (TypeError, ValueError, OverflowError) as error:
            self._packer.reset()
            raise EncodeError(str(error)) from None


class _Defaults:
    """What msgpack cannot pack by itself, as ext types."""

    def __init__(self, job, use_shm, kind, owner):
        self.job = job
        self.use_shm = use_shm
        self.kind = kind
        self.owner = owner
        self.segments = []

    def _array(self, array):
        if not array.flags.c_contiguous:
            array = numpy.ascontiguousarray(array)
        try:
            dtype = _dtype_ok(array.dtype.str)
        except (ValueError, TypeError):
            raise EncodeError("numpy arrays of dtype %s cannot travel" % array.dtype) from None
        if self.use_shm and array.nbytes >= SHM_MIN:
            segment = shm.create(shm.new_name(self.job, self.kind, self.owner), array)
            self.segments.append(segment)
            return msgpack.ExtType(EXT_ARRAY_SHM, msgpack.packb(
                [segment.name, 0, array.nbytes, dtype.str, list(array.shape)]))
        return msgpack.ExtType(EXT_ARRAY, msgpack.packb(
            [dtype.str, list(array.shape), array.tobytes()], use_bin_type=True))

    def default(self, value):
        if isinstance(value, numpy.ndarray):
            return self._array(value)
        if isinstance(value, numpy.generic):
            if value.dtype.hasobject:
                raise EncodeError("numpy object scalars cannot travel")
            return msgpack.ExtType(EXT_SCALAR, msgpack.packb(
                [value.dtype.str, value.tobytes()], use_bin_type=True))
        if isinstance(value, tuple):
            return msgpack.ExtType(EXT_TUPLE, self._nested(list(value)))
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            if -(1 << 63) <= value < (1 << 64):
                return int(value)
            return msgpack.ExtType(EXT_BIGINT, str(int(value)).encode())
        if isinstance(value, float):
            return float(value)
        if isinstance(value, str):
            return str(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, complex):
            return msgpack.ExtType(EXT_COMPLEX, msgpack.packb([value.real, value.imag]))
        if isinstance(value, frozenset):
            return msgpack.ExtType(EXT_FROZENSET, self._nested(list(value)))
        if isinstance(value, set):
            return msgpack.ExtType(EXT_SET, self._nested(list(value)))
        if isinstance(value, dict):
            return dict(value)
        if isinstance(value, list):
            return list(value)
        if isinstance(value, Frozen):
            return msgpack.ExtType(EXT_FROZEN, msgpack.packb(value.handles()))
        if isinstance(value, Shared):
            return msgpack.ExtType(EXT_SHARED, msgpack.packb(value.handle()))
        raise EncodeError("a %s cannot travel to a worker: only msgpack types, tuples, "
                          "sets, complex, numpy arrays and scalars, fanfold.freeze() "
                          "and pool.share() values do (nothing is pickled)"
                          % type(value).__name__)

    def _nested(self, items):
        return msgpack.packb(items, use_bin_type=True, strict_types=True, default=self.default)


class Decoder:
    """Unpacks values built by Encoder. Segments of per-task arrays must
    start with one of prefixes; frozen and shared segments may be any of
    this user's ("_frozen" kind). mapped caches frozen segments by name, so
    a process maps each once. unlink removes per-task segments once mapped
    (results: the worker that made them is done with them)."""

    def __init__(self, prefixes=(), mapped=None, unlink=False, opener=None):
        self.prefixes = tuple(prefixes)
        self.mapped = {} if mapped is None else mapped
        self.unlink = unlink
        # opener(name, prefixes, min_size, private) gives a Segment: by
        # default it maps the segment; a worker without shared memory
        # fetches its bytes instead
        self.open = opener or shm.open_checked

    def unpack(self, data):
        return msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True,
                               ext_hook=self._ext)

    def _frozen(self, handle):
        if type(handle) is not list or len(handle) != 5:
            raise ValueError("bad shared handle")
        name, segment, dtype, shape, length = handle
        if type(name) is not str or type(segment) is not str or type(length) is not int:
            raise ValueError("bad shared handle")
        dtype, shape = _dtype_ok(dtype), _shape_ok(shape)
        if not segment.endswith("_frozen"):
            raise ValueError("segment %r is not a frozen one" % segment[:64])
        mapped = self.mapped.get(segment)
        if mapped is None:
            mapped = self.open(segment, ["ff_%d_" % shm.os.getuid()], length)
            if len(self.mapped) >= 4096:
                self.mapped.pop(next(iter(self.mapped)))
            self.mapped[segment] = mapped
        entry = Shared(name, mapped, dtype, shape, length)
        entry.array                                 # checks length and shape now
        return entry

    def _ext(self, code, data):
        if code == EXT_TUPLE:
            return tuple(self.unpack(data))
        if code == EXT_ARRAY:
            dtype, shape, raw = msgpack.unpackb(data, raw=False)
            dtype, shape = _dtype_ok(dtype), _shape_ok(shape)
            count = int(numpy.prod(shape, dtype=numpy.int64)) if shape else 1
            if type(raw) is not bytes or len(raw) != count * dtype.itemsize:
                raise ValueError("array bytes do not match its shape")
            return numpy.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        if code == EXT_ARRAY_SHM:
            segment, offset, length, dtype, shape = msgpack.unpackb(data, raw=False)
            dtype, shape = _dtype_ok(dtype), _shape_ok(shape)
            if type(segment) is not str or type(offset) is not int or type(length) is not int \
                    or offset < 0 or length < 0:
                raise ValueError("bad array handle")
            mapped = self.open(segment, self.prefixes, offset + length, private=True)
            if self.unlink:
                shm.unlink_quietly(segment)
            return mapped.view(dtype, shape, offset, length, writeable=True)
        if code == EXT_SCALAR:
            dtype, raw = msgpack.unpackb(data, raw=False)
            dtype = _dtype_ok(dtype)
            if type(raw) is not bytes or len(raw) != dtype.itemsize:
                raise ValueError("bad scalar")
            return numpy.frombuffer(raw, dtype=dtype)[0]
        if code == EXT_COMPLEX:
            real, imag = msgpack.unpackb(data)
            return complex(real, imag)
        if code == EXT_SET:
            return set(self.unpack(data))
        if code == EXT_FROZENSET:
            return frozenset(self.unpack(data))
        if code == EXT_BIGINT:
            text = data.decode("ascii")
            if len(text) > 4096:
                raise ValueError("integer too long")
            return int(text)
        if code == EXT_FROZEN:
            handles = msgpack.unpackb(data, raw=False)
            if type(handles) is not list:
                raise ValueError("bad frozen handles")
            return Frozen((entry.name, entry) for entry in map(self._frozen, handles))
        if code == EXT_SHARED:
            return self._frozen(msgpack.unpackb(data, raw=False)).array
        raise ValueError("unknown ext type %d" % code)
