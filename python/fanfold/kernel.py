"""Python kernels by name: `py:MODULE:FUNC`.

A caller names a module-level function; a worker imports MODULE once (its
module-level state lives as long as the worker) and calls FUNC. The wire
carries the name only, never code. A worker imports a module only when it
is not part of Python's standard library (or when --allow lists it), and
calls only a function defined in that module itself: a message cannot make
it call os.system or the like."""

import fnmatch
import importlib
import os
import sys

PREFIX = "py:"


class KernelError(Exception):
    """A kernel name that cannot be served."""


def name_of(fn):
    """`py:MODULE:FUNC` for a module-level function (or such a name given as
    "MODULE:FUNC" or "py:MODULE:FUNC"); raises TypeError for a lambda, a
    nested function or a method. A function of the main script is named by
    the script's file name, which workers import (as multiprocessing's
    spawn does)."""
    if isinstance(fn, str):
        text = fn[len(PREFIX):] if fn.startswith(PREFIX) else fn
        module, _, func = text.partition(":")
        if not module or not func:
            raise TypeError("a kernel name is MODULE:FUNC, not %r" % fn)
        return PREFIX + text
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", "")
    if not callable(fn) or module is None or "<" in qualname or "." in qualname:
        raise TypeError("%r is not a module-level function: a worker finds a "
                        "function by its import path" % (fn,))
    if module == "__main__":
        module = main_module_name()
        if module is None:
            raise TypeError("%s is defined in an interactive session: define it "
                            "in a module a worker can import" % qualname)
    return "%s%s:%s" % (PREFIX, module, qualname)


def main_module_name():
    """The import name of the main script (its file name), or None."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return spec.name
    path = getattr(main, "__file__", None)
    if not path:
        return None
    return os.path.splitext(os.path.basename(path))[0]


def main_directory():
    """The directory of the main script, which workers need on their path."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return os.path.dirname(os.path.abspath(path)) if path else None


def _stdlib(module):
    top = module.split(".", 1)[0]
    names = getattr(sys, "stdlib_module_names", ())
    return top in names or top in sys.builtin_module_names


class Loader:
    """Imports kernels once per process. allow: module patterns (fnmatch)
    that may be imported even from the standard library; without any, every
    module outside the standard library may."""

    def __init__(self, allow=()):
        self.allow = list(allow)
        self.loaded = {}

    def allowed(self, module):
        if any(fnmatch.fnmatchcase(module, pattern) for pattern in self.allow):
            return True
        return not _stdlib(module) and module.split(".", 1)[0] != "fanfold"

    def load(self, name):
        """The function named `py:MODULE:FUNC`; raises KernelError."""
        fn = self.loaded.get(name)
        if fn is not None:
            return fn
        if not name.startswith(PREFIX):
            raise KernelError("kernel %s is not a Python one" % name)
        module_name, _, func_name = name[len(PREFIX):].partition(":")
        valid = module_name and func_name and all(
            part.isidentifier() for part in module_name.split(".")) \
            and func_name.isidentifier() and not func_name.startswith("_")
        if not valid:
            raise KernelError("kernel name %r is not py:MODULE:FUNC" % name[:200])
        if not self.allowed(module_name):
            raise KernelError("module %s may not be run by a message (standard "
                              "library; start the worker with --allow %s)"
                              % (module_name, module_name))
        try:
            module = importlib.import_module(module_name)
        except Exception as error:
            raise KernelError("cannot import %s: %s: %s"
                              % (module_name, type(error).__name__, error)) from None
        fn = getattr(module, func_name, None)
        if fn is None or not callable(fn):
            raise KernelError("module %s has no function %s" % (module_name, func_name))
        if getattr(fn, "__module__", None) != module.__name__:
            raise KernelError("%s.%s is not defined in %s itself"
                              % (module_name, func_name, module_name))
        self.loaded[name] = fn
        return fn
