"""One task of a Python kernel: a chunk of calls of one function.

payload (msgpack, values.py): [mode, items]
    mode 0: each item is one argument: fn(item)          (imap, map)
    mode 1: each item is [args, kwargs]: fn(*args, **kwargs)   (submit)
    mode 2: items is [start, stop, step]: fn(i) for i in that range
            (imap over a range: no item travels)
result body: the list of return values, one per item.
An exception in item i ends the task: an error result whose meta carries
the exception (errors.meta_members) with "py_index": i and, in "py_done",
the values of items 0..i-1 (base64 of their msgpack list).
"""

import base64

MODE_ONE = 0
MODE_CALL = 1
MODE_RANGE = 2
MAX_RANGE = 1 << 24                # items of one range task, at most
INT64 = 1 << 63


def range_fits(span):
    """True when a range's ends travel as msgpack integers."""
    return -INT64 <= span.start < INT64 and -INT64 <= span.stop < INT64 \
        and -INT64 <= span.step < INT64


def check_payload(value):
    """(mode, items) of a decoded payload (items a range for mode 2);
    ValueError when malformed."""
    if type(value) is not list or len(value) != 2 \
            or value[0] not in (MODE_ONE, MODE_CALL, MODE_RANGE) or type(value[1]) is not list:
        raise ValueError("malformed Python task payload")
    mode, items = value
    if mode == MODE_RANGE:
        if len(items) != 3 or any(type(i) is not int for i in items) or items[2] == 0:
            raise ValueError("malformed range in a task payload")
        span = range(*items)
        if len(span) > MAX_RANGE:
            raise ValueError("a range task of %d items exceeds %d" % (len(span), MAX_RANGE))
        return MODE_ONE, span
    if mode == MODE_CALL:
        for item in items:
            if type(item) is not list or len(item) != 2 or type(item[0]) is not list \
                    or type(item[1]) is not dict \
                    or any(type(k) is not str for k in item[1]):
                raise ValueError("malformed Python call in a task payload")
    return mode, items


def run(fn, mode, items):
    """(values, None, None) or (values before the failure, error, index)."""
    values = []
    try:
        if mode == MODE_ONE:
            # the calls run in C; list.extend keeps what map gave before an
            # exception, so len(values) is the index of the failing item
            values.extend(map(fn, items))
        else:
            append = values.append
            for args, kwargs in items:
                append(fn(*args, **kwargs))
    except Exception as error:
        return values, error, len(values)
    return values, None, None


def done_member(packed):
    return ',"py_done":"%s"' % base64.b64encode(packed).decode("ascii")


def done_values(members, decoder):
    """The values before the failure, from an error's meta members."""
    text = members.get("py_done")
    if not isinstance(text, str):
        return []
    try:
        values = decoder.unpack(base64.b64decode(text, validate=True))
    except Exception:
        return []
    return values if isinstance(values, list) else []
