"""POSIX shared-memory segments as fanfold names and checks them
(common/runtime/shm.c, docs/PROTOCOL.md "Task pipe").

A segment is /dev/shm/ff_<uid>_<job>_<pid>_<hash>_<n>_<kind>: created 0600
with O_EXCL, filled once, then only mapped read-only ("sealed"), and
unlinked by its owner when done, or by `fanfold clean` (and every
`fanfold run` as it starts) once its owner is gone. <pid> is the owner:
the process that made it, or for a worker's result segments the client
that reads them. The C cleanup (ff_shm_clean) takes the owner for live
while that pid runs and started before the segment's last change, so a
live Pool's frozen arrays survive any cleanup and a dead one's go. A
reader opens a segment only after checking its name, owner, mode and
size.
"""

import mmap
import os
import re
import secrets
import stat
import threading

import numpy

SHM_DIR = "/dev/shm"
NAME_MAX = 200
_NAME_OK = re.compile(r"^[A-Za-z0-9_.-]+$")
_counter = 0
_counter_lock = threading.Lock()

# protocol dtype codes (docs/PROTOCOL.md): little-endian, C order
DTYPES = {1: "<i1", 2: "<i2", 3: "<i4", 4: "<i8", 5: "<u1", 6: "<u2",
          7: "<u4", 8: "<u8", 9: "<f4", 10: "<f8"}
CODES = {numpy.dtype(v): k for k, v in DTYPES.items()}


def prefix(job):
    """ff_<uid>_<job>_: every segment of a job starts so."""
    return "ff_%d_%s_" % (os.getuid(), job)


def result_tag(job):
    """The job part of the names of result segments (made by a worker,
    unlinked by the client once mapped): not the job's own prefix, which the
    server unlinks when the job ends, perhaps before the client read them."""
    return job + ".r"


def new_name(job, kind, owner=None):
    """A fresh segment name of job, owned by process owner (this one by
    default): it lives as long as that process unless unlinked before."""
    global _counter
    with _counter_lock:
        _counter += 1
        number = _counter
    return "%s%d_%s_%d_%s" % (prefix(job), owner or os.getpid(), secrets.token_hex(4),
                              number, kind)


class Segment:
    """A read-only mapping of one segment; owner is True when this process
    created it (and unlinks it on close)."""

    def __init__(self, name, mapping, size, owner):
        self.name = name
        self.mapping = mapping
        self.size = size
        self.owner = owner

    def view(self, dtype, shape, offset=0, length=None, writeable=False):
        """A zero-copy numpy view of the segment's bytes: read-only, or
        writable on a private (copy-on-write) mapping."""
        dtype = numpy.dtype(dtype)
        count = 1
        for extent in shape:
            count *= extent
        if length is not None and length != count * dtype.itemsize:
            raise ValueError("segment %s: length %d is not shape %r of %s"
                             % (self.name, length, tuple(shape), dtype))
        if offset + count * dtype.itemsize > self.size:
            raise ValueError("segment %s holds %d bytes, not %d at %d"
                             % (self.name, self.size, count * dtype.itemsize, offset))
        if count == 0:
            return numpy.empty(shape, dtype)
        array = numpy.frombuffer(self.mapping, dtype=dtype, count=count,
                                 offset=offset).reshape(shape)
        if not writeable:
            array.flags.writeable = False
        return array

    def unlink(self):
        if self.owner:
            self.owner = False
            unlink_quietly(self.name)


def create(name, data):
    """Creates segment name holding data (bytes-like, a numpy array, or an
    iterator of numpy arrays written one after the other) and returns it as
    a read-only Segment: 0600, O_EXCL, written once with write(2) (so the
    writer holds no page of it), then mapped read-only. For an iterator,
    segment.blocks holds the (dtype, shape) of each block."""
    if not _NAME_OK.match(name) or len(name) > NAME_MAX:
        raise ValueError("bad segment name %r" % name)
    path = os.path.join(SHM_DIR, name)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NOFOLLOW
                 | os.O_CLOEXEC, 0o600)
    blocks = []
    try:
        try:
            os.fchmod(fd, 0o600)                 # whatever the umask
            if isinstance(data, (bytes, bytearray, memoryview, numpy.ndarray)):
                parts = [data]
            else:
                parts = data
            size = 0
            for part in parts:
                if isinstance(part, numpy.ndarray):
                    part = numpy.ascontiguousarray(part)
                    blocks.append((part.dtype, part.shape))
                    view = memoryview(part.reshape(-1).view(numpy.uint8)) if part.size else b""
                else:
                    view = memoryview(part).cast("B")
                while len(view):
                    written = os.write(fd, view[:1 << 26])
                    view = view[written:]
                    size += written
            if size == 0:
                os.ftruncate(fd, 1)
            mapping = mmap.mmap(fd, max(size, 1), mmap.MAP_SHARED, mmap.PROT_READ)
        except BaseException:
            unlink_quietly(name)
            raise
    finally:
        os.close(fd)
    segment = Segment(name, mapping, size, owner=True)
    segment.blocks = blocks
    return segment


def open_checked(name, allowed_prefixes, min_size, private=False):
    """Maps an existing segment read-only after checking that its name is
    plain and starts with one of allowed_prefixes, that it is a regular file
    of this user with mode 0600, and that it holds min_size bytes. private
    maps it copy-on-write (a writable array that never changes the segment).
    Raises ValueError with the reason."""
    if not _NAME_OK.match(name) or len(name) > NAME_MAX or name.startswith("."):
        raise ValueError("segment name %r is not plain" % name[:64])
    if not any(name.startswith(p) for p in allowed_prefixes):
        raise ValueError("segment name %r is not one of this job's" % name[:64])
    try:
        fd = os.open(os.path.join(SHM_DIR, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        raise ValueError("segment %s: %s" % (name, error.strerror)) from None
    try:
        info = os.fstat(fd)
        if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid()
                or stat.S_IMODE(info.st_mode) != 0o600):
            raise ValueError("segment %s: owner %d mode %o, not ours with 0600"
                             % (name, info.st_uid, stat.S_IMODE(info.st_mode)))
        if info.st_size < min_size:
            raise ValueError("segment %s holds %d bytes, fewer than %d"
                             % (name, info.st_size, min_size))
        size = max(info.st_size, 1)
        if private:
            mapping = mmap.mmap(fd, size, mmap.MAP_PRIVATE,
                                mmap.PROT_READ | mmap.PROT_WRITE)
        else:
            mapping = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
    finally:
        os.close(fd)
    return Segment(name, mapping, info.st_size, owner=False)


def unlink_quietly(name):
    """Unlinks segment name, if it exists."""
    try:
        os.unlink(os.path.join(SHM_DIR, name))
    except OSError:
        pass
