"""Change-feed types: what ``polykv.ops.watch`` yields and what a backend's change log hands back.

A backend with the ``watch`` capability keeps an ordered change log and implements two primitives:

* ``_change_head() -> str``: the cursor of the latest change now (``BEGINNING`` when there is none);
* ``_changes(since, limit, wait) -> list[RawChange]``: up to ``limit`` changes strictly after the cursor
  ``since``, oldest first; when there are none it may block up to ``wait`` seconds for one to arrive. A
  cursor older than the log's retention raises ``CursorExpiredError`` instead of silently skipping changes.

Cursors are opaque strings owned by the backend (a sequence number, a table row id, a Redis stream id).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, NamedTuple

from .errors import PolyKVError

__all__ = ["BEGINNING", "Change", "ChangeOp", "CursorExpiredError", "RawChange"]

#: ``since=BEGINNING`` replays every change the backend still retains.
BEGINNING = "0"


class ChangeOp(enum.Flag):
    """The kinds of change; combine them with ``|`` to choose what ``watch`` reports."""

    INSERT = 1
    UPDATE = 2
    DELETE = 4
    ALL = INSERT | UPDATE | DELETE

    @property
    def label(self) -> str:
        """``"insert"``, ``"update"`` or ``"delete"`` (for JSON output)."""
        return (self.name or str(self.value)).lower()


class RawChange(NamedTuple):
    """One entry of a backend's change log, before decoding; ``ns`` is ``""`` for the KV surface."""

    cursor: str
    op: ChangeOp
    ns: str
    key: str
    data: bytes | None


@dataclass(frozen=True)
class Change:
    """A change event: ``schema`` is None for a plain KV pair; ``value`` is None for a delete."""

    op: ChangeOp
    schema: str | None
    key: str
    value: Any
    cursor: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``op`` as its lowercase name)."""
        return {"op": self.op.label, "schema": self.schema, "key": self.key, "value": self.value, "cursor": self.cursor}


class CursorExpiredError(PolyKVError, LookupError):
    """The cursor given as ``since`` is older than what the change log retains: changes were dropped."""
