"""What a running task can ask about its job: fanfold.shared(name)."""

import threading

_state = threading.local()


def set_shares(table):
    """Makes table (name -> read-only array, or a callable giving it) the
    shared arrays of the tasks this thread runs next."""
    _state.shares = table


def shared(name):
    """The read-only array shared with the pool under name (pool.share), as
    a zero-copy view; KeyError when the job has none by that name."""
    table = getattr(_state, "shares", None) or {}
    try:
        entry = table[name]
    except KeyError:
        raise KeyError("no array shared under the name %r (pool.share)" % name) from None
    return entry() if callable(entry) else entry
