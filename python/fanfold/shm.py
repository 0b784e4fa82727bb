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
import time

import numpy

SHM_DIR = "/dev/shm"
PAGE = mmap.PAGESIZE
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

    def __init__(self, name, mapping, size, owner, shared=False):
        self.name = name
        self.mapping = mapping
        self.size = size
        self.owner = owner
        self.shared = shared          # a MAP_SHARED read-only mmap (release() applies)

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

    def release(self, start=0, length=None):
        """Drops this process's resident pages of bytes [start, start +
        length) (all by default) with madvise(MADV_DONTNEED). On a shared
        read-only mapping of /dev/shm that only unmaps them: the bytes stay
        in the segment, views stay valid, and the next read maps each page
        again (a minor fault). Does nothing on other mappings (fetched
        bytes, private copy-on-write views, whose changes it would lose)."""
        if not self.shared or self.mapping.closed or self.size == 0:
            return
        end = self.size if length is None else min(self.size, start + length)
        start = max(0, start) // PAGE * PAGE
        if end > start:
            self.mapping.madvise(mmap.MADV_DONTNEED, start, end - start)

    def unlink(self):
        if self.owner:
            self.owner = False
            unlink_quietly(self.name)


def _new_segment(name, write):
    """Creates segment name (0600, O_EXCL), has write(fd) fill it and
    return (size, blocks), then maps it read-only and returns the Segment.
    The segment is removed when anything fails."""
    if not _NAME_OK.match(name) or len(name) > NAME_MAX:
        raise ValueError("bad segment name %r" % name)
    path = os.path.join(SHM_DIR, name)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NOFOLLOW
                 | os.O_CLOEXEC, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)                 # whatever the umask
            size, blocks = write(fd)
            if size == 0:
                os.ftruncate(fd, 1)
            mapping = mmap.mmap(fd, max(size, 1), mmap.MAP_SHARED, mmap.PROT_READ)
        except BaseException:
            unlink_quietly(name)
            raise
    finally:
        os.close(fd)
    segment = Segment(name, mapping, size, owner=True, shared=True)
    segment.blocks = blocks
    return segment


def create(name, data):
    """Creates segment name holding data (bytes-like, a numpy array, or an
    iterator of numpy arrays written one after the other) and returns it as
    a read-only Segment: 0600, O_EXCL, written once with write(2) (so the
    writer holds no page of it), then mapped read-only. For an iterator,
    segment.blocks holds the (dtype, shape) of each block."""
    def write(fd):
        if isinstance(data, (bytes, bytearray, memoryview, numpy.ndarray)):
            parts = [data]
        else:
            parts = data
        size, blocks = 0, []
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
        return size, blocks
    return _new_segment(name, write)


class Filled:
    """An array built in place in shared memory (fanfold.filled): freeze()
    and pool.share() make its segment, call fill(out) with a writable view
    of it, then seal it."""

    def __init__(self, shape, dtype, fill):
        if not callable(fill):
            raise TypeError("fill is a function that writes the array it is given")
        self.shape = tuple(int(extent) for extent in shape)
        if any(extent < 0 for extent in self.shape):
            raise ValueError("a negative extent in shape %r" % (self.shape,))
        self.dtype = numpy.dtype(dtype).newbyteorder("<")    # the protocol's order
        self.fill = fill
        count = 1
        for extent in self.shape:
            count *= extent
        self.nbytes = count * self.dtype.itemsize


def filled(shape, dtype, fill):
    """An array of shape and dtype that fill(out) writes straight into
    shared memory, for fanfold.freeze or pool.share: the table is never
    built in the caller's own memory and then copied. out is writable
    while fill runs, and only then: fill must not keep it, or a view of it
    (freezing fails if it does)."""
    return Filled(shape, dtype, fill)


def create_filled(name, spec):
    """Creates segment name as create() does, but lets spec.fill (a
    Filled) write it through a writable shared mapping; then unmaps that
    (so the writer's pages of it are dropped) and returns the segment
    mapped read-only. ValueError when fill kept a view of it."""
    def write(fd):
        size = spec.nbytes
        if size:
            os.posix_fallocate(fd, 0, size)     # ENOSPC now, not SIGBUS in fill
        else:
            os.ftruncate(fd, 1)
        writable = mmap.mmap(fd, max(size, 1), mmap.MAP_SHARED,
                             mmap.PROT_READ | mmap.PROT_WRITE)
        out = numpy.frombuffer(writable, dtype=spec.dtype,
                               count=size // spec.dtype.itemsize).reshape(spec.shape)
        spec.fill(out)
        del out
        try:
            writable.close()
        except BufferError:
            raise ValueError("segment %s: fill kept a view of the array it wrote, "
                             "which would stay writable" % name) from None
        return size, [(spec.dtype, spec.shape)]
    return _new_segment(name, write)


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
    return Segment(name, mapping, info.st_size, owner=False, shared=not private)


def unlink_quietly(name):
    """Unlinks segment name, if it exists."""
    try:
        os.unlink(os.path.join(SHM_DIR, name))
    except OSError:
        pass


# -- the resident pages of frozen segments -------------------------------

FROZEN_RESIDENT = 256 << 20       # default budget of a worker (Pool(frozen_resident=))
TRIM_EVERY = 0.002                # s: a running task checks the budget at most this often
TRIM_WINDOW = 16 << 20            # bytes released per madvise before counting again
TRIM_LOW = 0.875                  # a trim stops at this fraction of the budget


def _statm_shared(fd):
    """Resident file and shared-memory bytes of this process (/proc/self/statm,
    third field): cheap, but it counts mapped libraries too."""
    return int(os.pread(fd, 256, 0).split()[2]) * PAGE


def shmem_resident():
    """Resident bytes of shared memory mapped by this process (RssShmem of
    /proc/self/status), or None when unknown."""
    try:
        with open("/proc/self/status", "rb") as source:
            for line in source:
                if line.startswith(b"RssShmem:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class ResidentBudget:
    """Keeps the pages of frozen segments that this process holds resident
    below budget bytes. A task that reads a frozen array maps each page it
    touches, and a mapping keeps them: a worker that reads all of a table
    holds all of it, so that the table counts once per worker in their
    summed RSS (it is in memory once). Over budget, check() releases the
    segments' pages (Segment.release) a window at a time, round the
    segments like a clock hand, down to TRIM_LOW of the budget: a page
    read again is mapped again from /dev/shm by a minor fault.

    budget None: never release. The cheap test (the segments' total size,
    then /proc/self/statm) comes first; /proc/self/status, which says how
    much is shared memory, is read only when statm says it may be over."""

    def __init__(self, budget=FROZEN_RESIDENT):
        self.budget = budget
        self.hand = 0                  # byte offset in the segments, by name
        self.releases = 0              # trims made
        self.released = 0              # bytes they released
        self.checked = 0.0
        self._base = None              # statm bytes that are not shared memory
        self._other = 0                # shared memory that is not these segments'
        try:
            self._statm = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._statm = None

    def guard(self, fn, segments, budget):
        """fn, or, when the segments may exceed budget, fn wrapped to check
        the budget after each call (at most every TRIM_EVERY s)."""
        self.budget = budget
        if budget is None or not segments or self._statm is None \
                or sum(s.size for s in segments.values() if s.shared) <= budget:
            return fn
        check, clock = self.check, time.monotonic

        def guarded(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            finally:
                if clock() - self.checked >= TRIM_EVERY:
                    check(segments)
        return guarded

    def check(self, segments):
        """Releases pages of segments (name -> Segment) while this process
        holds more than the budget of them resident. It never raises: a
        failure to read /proc or to release leaves the pages mapped."""
        try:
            self._check(segments)
        except (OSError, ValueError, IndexError):
            pass

    def _check(self, segments):
        self.checked = time.monotonic()
        budget = self.budget
        if budget is None or not segments or self._statm is None:
            return
        live = [s for _, s in sorted(segments.items()) if s.shared and not s.mapping.closed]
        total = sum(s.size for s in live)
        if total <= budget:
            return
        shared = _statm_shared(self._statm)
        if self._base is not None and shared - self._base - self._other <= budget:
            return
        shmem = shmem_resident()
        if shmem is None:
            return
        self._base = shared - shmem
        self._other = min(self._other, shmem)
        if shmem - self._other <= budget:
            return
        goal = shmem - self._other - int(budget * TRIM_LOW)
        window = max(16 * PAGE, min(TRIM_WINDOW, budget // 8 // PAGE * PAGE))
        freed = walked = 0
        self.releases += 1
        while freed < goal and walked < total:
            offset = self.hand % total
            for segment in live:                # the segment under the hand
                if offset < segment.size:
                    break
                offset -= segment.size
            length = min(window, segment.size - offset)
            segment.release(offset, length)
            self.hand = (self.hand + length) % total
            walked += length
            after = _statm_shared(self._statm)
            freed += max(0, shared - after)
            shared = after
        self.released += freed
        if freed < goal:               # all released: the rest is not theirs
            self._other = shmem_resident() or 0
