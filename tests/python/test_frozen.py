"""Frozen arrays in shared memory: the pages a process keeps mapped
(Segment.release, the workers' budget, Pool(frozen_resident=)) and arrays
written in place (fanfold.filled)."""

import os
import stat
import sys
import unittest

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, HERE)

import fanfold  # noqa: E402
import frozenkernels  # noqa: E402
from fanfold import shm  # noqa: E402
from test_pool import own_segments, serve_available  # noqa: E402

MB = 1 << 20


def table(megabytes):
    return numpy.arange(megabytes * MB // 8, dtype=numpy.float64)


class ReleaseTest(unittest.TestCase):
    def setUp(self):
        if shm.shmem_resident() is None:
            self.skipTest("no RssShmem in /proc/self/status")

    def test_release_unmaps_the_pages_and_keeps_the_bytes(self):
        data = table(32)
        segment = shm.create(shm.new_name("pyt", "frozen"), data)
        try:
            view = segment.view(data.dtype, data.shape)
            before = shm.shmem_resident()
            self.assertEqual(float(view.sum()), float(data.sum()))
            touched = shm.shmem_resident()
            self.assertGreater(touched - before, 30 * MB)
            segment.release()
            self.assertLess(shm.shmem_resident(), touched - 30 * MB)
            self.assertFalse(view.flags.writeable)
            self.assertTrue(numpy.array_equal(view, data))      # mapped again
        finally:
            segment.unlink()

    def test_a_frozen_mapping_releases_the_callers_pages(self):
        data = table(16)
        with fanfold.freeze({"t": data}) as frozen:
            before = shm.shmem_resident()
            self.assertTrue(numpy.array_equal(frozen["t"], data))
            self.assertGreater(shm.shmem_resident() - before, 15 * MB)
            frozen.release()
            self.assertLess(shm.shmem_resident() - before, 1 * MB)
            self.assertTrue(numpy.array_equal(frozen["t"], data))

    def test_release_leaves_a_private_mapping_alone(self):
        data = table(1)
        segment = shm.create(shm.new_name("pyt", "frozen"), data)
        try:
            private = shm.open_checked(segment.name, ["ff_%d_" % os.getuid()], data.nbytes,
                                       private=True)
            view = private.view(data.dtype, data.shape, writeable=True)
            view[5] = -1.0
            private.release()
            self.assertEqual(view[5], -1.0)                      # its copy is kept
            self.assertEqual(segment.view(data.dtype, data.shape)[5], 5.0)
        finally:
            segment.unlink()

    def test_a_budget_keeps_the_mapped_pages_under_it(self):
        data = table(64)
        segment = shm.create(shm.new_name("pyt", "frozen"), data)
        try:
            base = shm.shmem_resident()
            budget = shm.ResidentBudget(16 * MB)
            view = segment.view(data.dtype, data.shape)
            self.assertEqual(float(view.sum()), float(data.sum()))
            self.assertGreater(shm.shmem_resident() - base, 60 * MB)
            budget.check({segment.name: segment})
            self.assertLessEqual(shm.shmem_resident() - base, 16 * MB)
            self.assertEqual(budget.releases, 1)
            self.assertGreater(budget.released, 40 * MB)
            budget.check({segment.name: segment})                # under it: nothing to do
            self.assertEqual(budget.releases, 1)
            self.assertTrue(numpy.array_equal(view, data))       # mapped again
            budget.check({segment.name: segment})
            self.assertEqual(budget.releases, 2)
            self.assertLessEqual(shm.shmem_resident() - base, 16 * MB)
        finally:
            segment.unlink()

    def test_a_guard_costs_nothing_under_the_budget_and_checks_over_it(self):
        data = table(4)
        segment = shm.create(shm.new_name("pyt", "frozen"), data)
        try:
            budget = shm.ResidentBudget()
            segments = {segment.name: segment}
            self.assertIs(budget.guard(len, segments, 8 * MB), len)
            self.assertIs(budget.guard(len, segments, None), len)
            self.assertIs(budget.guard(len, {}, 0), len)
            guarded = budget.guard(lambda a: float(a.sum()), segments, 1 * MB)
            self.assertEqual(guarded(segment.view(data.dtype, data.shape)), float(data.sum()))
            self.assertEqual(budget.releases, 1)
        finally:
            segment.unlink()


class FilledTest(unittest.TestCase):
    def test_filled_writes_in_place_then_seals(self):
        def fill(out):
            self.assertTrue(out.flags.writeable)
            out[:] = numpy.arange(6000.0).reshape(1000, 6)

        with fanfold.freeze({"t": fanfold.filled((1000, 6), "f8", fill)}) as frozen:
            view = frozen["t"]
            self.assertFalse(view.flags.writeable)
            self.assertTrue(numpy.array_equal(view, numpy.arange(6000.0).reshape(1000, 6)))
            name = frozen.segments()[0].name
            info = os.stat("/dev/shm/" + name)
            self.assertEqual(stat.S_IMODE(info.st_mode), 0o600)
            self.assertEqual(info.st_size, 48000)
        self.assertNotIn(name, own_segments())

    def test_a_fill_that_keeps_its_array_fails_and_leaves_no_segment(self):
        kept = []
        before = own_segments()
        with self.assertRaisesRegex(ValueError, "kept a view"):
            fanfold.freeze({"t": fanfold.filled((100,), "i4", kept.append)})
        kept.clear()
        self.assertEqual(own_segments(), before)

    def test_a_fill_that_fails_raises_and_leaves_no_segment(self):
        def fill(out):
            raise KeyError("no data")

        before = own_segments()
        with self.assertRaisesRegex(KeyError, "no data"):
            fanfold.freeze({"t": fanfold.filled((100,), "f8", fill)})
        self.assertEqual(own_segments(), before)

    def test_filled_refuses_what_does_not_travel(self):
        with self.assertRaises(TypeError):
            fanfold.filled((3,), "f8", None)
        with self.assertRaises(ValueError):
            fanfold.freeze({"t": fanfold.filled((3,), object, lambda out: None)})

    def test_pool_share_takes_a_filled_array(self):
        with fanfold.Pool(workers=0) as pool:
            view = pool.share("t", fanfold.filled((10,), "i8", lambda out: out.fill(7)))
            self.assertFalse(view.flags.writeable)
            self.assertEqual(int(view.sum()), 70)


class WorkerBudgetTest(unittest.TestCase):
    def setUp(self):
        why = serve_available()
        if why:
            self.skipTest(why)
        if shm.shmem_resident() is None:
            self.skipTest("no RssShmem in /proc/self/status")

    def calls(self, frozen_resident):
        data = table(64)
        with fanfold.Pool(workers=1, frozen_resident=frozen_resident) as pool:
            pool.share("big", data)
            results = pool.map(frozenkernels.touch_all, ["big"] * 3, chunksize=1)
        for _, total, writeable in results:
            self.assertEqual(total, float(data.sum()))
            self.assertFalse(writeable)
        return [before for before, _, _ in results]

    def test_a_worker_unmaps_frozen_pages_over_its_budget(self):
        before = self.calls(8 * MB)
        self.assertLessEqual(max(before[1:]), 8 * MB)

    def test_without_a_budget_a_worker_keeps_them(self):
        before = self.calls(None)
        self.assertGreater(min(before[1:]), 60 * MB)

    def test_frozen_resident_is_bytes_or_none(self):
        for wrong in (-1, 1.5, "1M"):
            with self.assertRaises(ValueError):
                fanfold.Pool(workers=0, frozen_resident=wrong)


if __name__ == "__main__":
    unittest.main()
