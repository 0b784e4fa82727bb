"""fanfold from Python: an ordered process pool over a warm fanfold service,
kernels written in Python (`py:MODULE:FUNC`), and read-only arrays placed in
shared memory once.

    import fanfold
    with fanfold.Pool(workers=4) as pool:
        for value in pool.imap(evaluate, specs):
            ...

Arguments and results travel as msgpack (numpy arrays of 64 KiB or more as
shared-memory handles on one host); nothing is pickled. See README.md, "From
Python", and docs/PROTOCOL.md.
"""

from .context import shared
from .errors import FanfoldError, RemoteError, RemoteTraceback, TaskError
from .pool import Pool, freeze
from .shm import filled
from .values import Frozen

__all__ = ["Pool", "freeze", "filled", "shared", "Frozen", "FanfoldError", "TaskError",
           "RemoteError", "RemoteTraceback"]
__version__ = "0.1"
