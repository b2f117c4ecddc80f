"""The compiled engine and numpy, imported once with an error that says what to do when either
does not load in this interpreter (the rest of the package imports them from here)."""

from __future__ import annotations

import sys as _sys

try:
    import numpy as _np  # noqa: F401  (imported from here by the other modules)
except ImportError as _e:  # pragma: no cover - depends on the interpreter
    raise ImportError(
        f"clapsearch needs numpy, which this Python ({_sys.executable}) does not have ({_e}); "
        "install it (Debian: python3-numpy) or use the interpreter clapsearch was built for "
        "(Python_EXECUTABLE in the build's CMakeCache.txt)"
    ) from None

try:
    from . import _clapsearch as _c
except ImportError as _e:  # pragma: no cover - depends on the interpreter
    raise ImportError(
        f"clapsearch's compiled module does not load in this Python ({_sys.executable}, "
        f"{_sys.version.split()[0]}): {_e}. It is built for one interpreter version: use the one it was "
        "built for (Python_EXECUTABLE in the build's CMakeCache.txt) or build it with -DPython_EXECUTABLE=..."
    ) from None

Error = _c.Error
NotFoundError = _c.NotFoundError
# A NotFoundError carries errno, strerror and filename as FileNotFoundError does; its str() is
# clapsearch's message, not OSError's "[Errno 2] No such file or directory: 'x'" made of them.
NotFoundError.__str__ = BaseException.__str__
InvalidInputError = _c.InvalidInputError
