"""Atomic exchange of two file names (Linux ``renameat2(RENAME_EXCHANGE)``), the local replace-if-exists.

Swapping a finished temporary file with the target replaces the target's content in one step and fails with
``ENOENT`` when the target is absent, so "overwrite only an existing file" needs no separate check.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from typing import Any

__all__ = ["ExchangeUnsupportedError", "exchange"]

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
#: errnos meaning "this kernel or file system cannot exchange", not "the call failed".
_UNSUPPORTED = frozenset({errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP})


class ExchangeUnsupportedError(OSError):
    """The platform, C library or file system has no atomic exchange."""


def _load() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    function = getattr(ctypes.CDLL(name, use_errno=True), "renameat2", None)
    if function is not None:
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        function.restype = ctypes.c_int
    return function


_renameat2 = _load()


def exchange(first: str, second: str) -> bool:
    """Swap the two names atomically; False (nothing changed) if either does not exist.

    Raises ``ExchangeUnsupportedError`` where no atomic exchange exists, any other ``OSError`` as is.
    """
    if _renameat2 is None:
        raise ExchangeUnsupportedError(errno.ENOSYS, "renameat2 is not available")
    if _renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code == errno.ENOENT:
        return False
    if code in _UNSUPPORTED:
        raise ExchangeUnsupportedError(code, os.strerror(code))
    raise OSError(code, os.strerror(code), second)
