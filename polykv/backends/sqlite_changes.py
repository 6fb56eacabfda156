"""Reading the sqlite store's change log (``polykv_changes``, filled by the triggers of ``sqlite_schema``).

Cursors are change ids as decimal strings; ``"0"`` is the start of an empty log. A cursor past the newest
change comes from another database; one older than the retained window has expired.
"""

from __future__ import annotations

import sqlite3
import time

from ..changes import ChangeOp, CursorExpiredError, RawChange
from ..errors import InvalidArgumentError
from .sqlite_connection import SQLiteConnections

__all__ = ["CHANGES", "CHANGES_HEAD", "CHANGES_OLDEST", "CHANGES_PRUNE", "head", "prune", "read_changes"]

POLL = 0.05  # seconds between two looks at the change log while a watcher waits
CHANGES = "SELECT id, op, ns, key, value FROM polykv_changes WHERE id > ? ORDER BY id LIMIT ?"
CHANGES_OLDEST = "SELECT min(id) FROM polykv_changes"
CHANGES_HEAD = "SELECT max(id) FROM polykv_changes"
CHANGES_PRUNE = "DELETE FROM polykv_changes WHERE id <= (SELECT max(id) FROM polykv_changes) - ?"


def head(db: SQLiteConnections) -> str:
    """The cursor of the newest change (``"0"`` when the log is empty)."""
    with db._errors():
        row = db._con().execute(CHANGES_HEAD).fetchone()
    return "0" if row is None or row[0] is None else str(row[0])


def prune(db: SQLiteConnections, keep: int) -> int:
    """Keep only the last ``keep`` changes (a rowid range); returns how many were removed."""
    with db._errors():
        return int(db._con().execute(CHANGES_PRUNE, (keep,)).rowcount)


def read_changes(
    db: SQLiteConnections, since: str, limit: int, wait: float, *, retained: int, backend: str
) -> list[RawChange]:
    """Up to ``limit`` changes after cursor ``since``, waiting up to ``wait`` seconds for the first one.

    Polls the table while waiting: writers in other processes cannot wake this one. Raises
    ``InvalidArgumentError`` for a cursor that is not this log's and ``CursorExpiredError`` for one older than
    the last ``retained`` changes (``backend`` names the store in both).
    """
    try:
        after = int(since)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"not a sqlite-store cursor: {since!r}", backend=backend) from None
    if after < 0:
        raise InvalidArgumentError(f"not a sqlite-store cursor: {since!r}", backend=backend)
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        with db._errors():
            con = db._con()
            rows = con.execute(CHANGES, (after, limit)).fetchall()
            if not rows or rows[0][0] != after + 1:
                _check_cursor(con, since, after, retained, backend)
        if rows:
            return [RawChange(str(id_), ChangeOp(op), ns, key, data) for id_, op, ns, key, data in rows]
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return []
        time.sleep(min(POLL, remaining))


def _check_cursor(con: sqlite3.Connection, since: str, after: int, retained: int, backend: str) -> None:
    """Raise if ``after`` is ahead of the log (another file's cursor) or older than what it retains."""
    row = con.execute(CHANGES_HEAD).fetchone()
    newest = 0 if row is None or row[0] is None else int(row[0])
    if after > newest:
        raise InvalidArgumentError(
            f"cursor {since!r} is ahead of this database's change log (latest {newest}); it comes from another store",
            backend=backend,
        )
    oldest = con.execute(CHANGES_OLDEST).fetchone()[0]
    oldest = newest + 1 if oldest is None else int(oldest)
    if after < oldest - 1:
        raise CursorExpiredError(
            f"cursor {since!r} is older than the change log retains (oldest kept: {oldest}; the log keeps "
            f"the last {retained} changes)",
            backend=backend,
        )
