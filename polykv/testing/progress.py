"""One line on the real terminal when a test server starts and when it is ready.

The servers the tests start (Redis, a Redis Cluster, TLS Redis, SeaweedFS for S3, HDFS with WebHDFS) take
from a fraction of a second to a minute; without a word, a long pause in the progress dots looks like a
hang. ``server_start`` prints::

    [polykv] starting redis-server on 127.0.0.1:40213
    [polykv] redis-server ready on 127.0.0.1:40213 after 0.03 s

Inside pytest the lines go through its terminal reporter (``polykv.testing.plugin`` hands it over), so
``-q`` and output capture do not swallow them; elsewhere (the docs build, benchmarks, the server scripts)
they go to the process's original stderr. This module uses only the standard library.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["announce", "current_writer", "server_start", "set_writer", "write_stderr"]

#: Where lines go; ``None`` means the process's original stderr.
_writer: Callable[[str], None] | None = None


def set_writer(writer: Callable[[str], None] | None) -> None:
    """Send ``announce`` lines to ``writer`` (one call per line, no newline), or back to stderr with ``None``."""
    global _writer
    _writer = writer


def current_writer() -> Callable[[str], None] | None:
    """The writer ``announce`` uses now (``None``: stderr)."""
    return _writer


def announce(message: str) -> None:
    """Write ``[polykv] message`` as one line where the user sees it, even under pytest's output capture."""
    (_writer or write_stderr)(f"[polykv] {message}")


def write_stderr(line: str) -> None:
    """Write ``line`` and a newline to the process's original stderr (not a replaced ``sys.stderr``)."""
    stream = sys.__stderr__
    if stream is not None:
        stream.write(line + "\n")
        stream.flush()


@contextmanager
def server_start(what: str, where: str) -> Iterator[None]:
    """Announce that ``what`` (e.g. ``"redis-server"``) starts on ``where`` (``"127.0.0.1:PORT"``), and when
    the block ends, that it is ready and after how many seconds, or that it did not start (the block's
    exception then propagates unchanged)."""
    announce(f"starting {what} on {where}")
    started = time.monotonic()
    try:
        yield
    except BaseException:
        announce(f"{what} on {where} did not start ({time.monotonic() - started:.2f} s)")
        raise
    announce(f"{what} ready on {where} after {time.monotonic() - started:.2f} s")
