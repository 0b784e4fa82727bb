"""Exceptions across processes, as text: a task's exception travels as its
type name, module, message and traceback text (in the result's meta), and
is raised again in the caller. A builtin exception comes back as its real
type; another type comes back as a subclass of RemoteError with the same
name and module (no class is imported or unpickled from the wire)."""

import builtins
import json
import traceback


class FanfoldError(Exception):
    """The pool could not do what was asked (start, submit, a job refused)."""


class TaskError(FanfoldError):
    """A task failed without a Python exception of its own (its worker died
    too often, its kernel is unknown, its result could not be read)."""


class RemoteError(Exception):
    """Base of exceptions raised by a task whose type is not a builtin one;
    type(error).__name__ and __module__ are the original's."""


class RemoteTraceback(Exception):
    """The __cause__ of a re-raised task exception: the worker's traceback."""

    def __init__(self, text):
        super().__init__(text)
        self.text = text

    def __str__(self):
        return self.text


_classes = {}


def meta_members(error, index=None):
    """The meta text (JSON object members) describing an exception."""
    kind = type(error)
    text = "".join(traceback.format_exception(kind, error, error.__traceback__))
    members = {"py_type": kind.__qualname__, "py_module": kind.__module__ or "",
               "py_message": str(error), "py_traceback": text}
    if index is not None:
        members["py_index"] = index
    return json.dumps(members, ensure_ascii=False)[1:-1]


def one_line(error):
    """The error result's body: `Type: message` on one line."""
    text = "%s: %s" % (type(error).__qualname__, error)
    return " ".join(text.split())[:1024].encode("utf-8", "replace")


def parse_meta(meta):
    """The members of a result's meta as a dict ({} when there are none or
    they do not parse)."""
    if not meta:
        return {}
    try:
        value = json.loads("{" + meta + "}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def rebuild(members, fallback_message):
    """The exception a task raised, from the members of its meta."""
    name = members.get("py_type")
    module = members.get("py_module")
    message = members.get("py_message", fallback_message)
    text = members.get("py_traceback", "")
    if not isinstance(name, str) or not isinstance(module, str):
        return TaskError(fallback_message)
    if not isinstance(message, str):
        message = str(message)
    kind = None
    if module == "builtins":
        candidate = getattr(builtins, name, None)
        if isinstance(candidate, type) and issubclass(candidate, BaseException):
            kind = candidate
    error = None
    if kind is not None:
        try:
            error = kind(message)
        except Exception:
            error = None
    if error is None:
        key = (module, name)
        kind = _classes.get(key)
        if kind is None:
            safe = name.rsplit(".", 1)[-1] if name.isprintable() else "RemoteError"
            kind = type(safe, (RemoteError,), {"__module__": module,
                                               "__qualname__": name})
            _classes[key] = kind
        error = kind(message)
    error.remote_traceback = text
    if text:
        error.__cause__ = RemoteTraceback(text)
    return error
