"""Record filters answered by SQLite expression indexes on ``json_extract`` (``__indexes__`` fields).

With the json codec, an equality (or ``__in``) term on an indexed field becomes a partial expression index
per (schema, field), created on first use, and a query that names it (``INDEXED BY``). The caller checks
every term in Python on the rows the query returns. SQL text here is built only from a validated schema
name (quoted as a literal), a field matching ``FIELD`` and placeholders; values are always parameters.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from ..records import Condition
from .sqlite_sql import IN_CHUNKS

__all__ = ["FIELD", "create_index_sql", "index_name", "index_term", "indexed_select_sql"]

#: Field names an index can be built on (they are spliced into a JSON path).
FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_INT64 = (-(2**63), 2**63 - 1)


def _indexable(operand: Any) -> bool:
    """Whether SQL equality on a json_extract value finds every record Python equality would."""
    if isinstance(operand, (str, bool)):
        return True
    if isinstance(operand, int):
        return _INT64[0] <= operand <= _INT64[1]
    return isinstance(operand, float) and math.isfinite(operand)


def _json_expr(field: str) -> str:
    return f"json_extract(CAST(value AS TEXT), '$.{field}')"


def _index_where(ns: str) -> str:
    """The partial-index condition, repeated word for word by queries so the planner can use the index.

    Rows that are not valid JSON are left out of the index rather than failing the write that adds them.
    """
    literal = ns.replace("'", "''")
    return f"ns = '{literal}' AND json_valid(CAST(value AS TEXT))"


def index_name(ns: str, field: str) -> str:
    """The SQLite name of the expression index of ``field`` in schema ``ns`` (sanitised, collision-free)."""
    digest = hashlib.sha1(f"{ns}\0{field}".encode(), usedforsecurity=False).hexdigest()[:8]
    return "polykv_ix_" + re.sub(r"[^A-Za-z0-9_]", "_", f"{ns}_{field}")[:80] + "_" + digest


def index_term(conditions: list[Condition], indexes: tuple[str, ...]) -> tuple[str, list[Any]] | None:
    """The first condition an index can answer: (field, operands), or None (then scan and decode)."""
    for condition in conditions:
        if condition.field not in indexes or FIELD.fullmatch(condition.field) is None:
            continue
        if condition.lookup == "exact" and _indexable(condition.operand):
            return condition.field, [condition.operand]
        if (
            condition.lookup == "in"
            and 0 < len(condition.operand) <= IN_CHUNKS[-1]
            and all(_indexable(o) for o in condition.operand)
        ):
            return condition.field, list(condition.operand)
    return None


def create_index_sql(name: str, ns: str, field: str) -> str:
    """``CREATE INDEX IF NOT EXISTS`` index ``name`` (``index_name(ns, field)``) on ``field`` of schema ``ns``
    (other processes may race: the statement is idempotent)."""
    return f'CREATE INDEX IF NOT EXISTS "{name}" ON polykv_items ({_json_expr(field)}) WHERE {_index_where(ns)}'


def indexed_select_sql(name: str, ns: str, field: str, operands: int) -> str:
    """``SELECT key, value`` of the live rows of ``ns`` whose ``field`` is one of ``operands`` parameters
    (followed by one parameter: now, Unix seconds), in key order, through index ``name`` on that field.

    ``INDEXED BY``: without ANALYZE statistics the planner would pick the primary key (ns = ...) and read the
    whole schema; with it, SQLite uses the expression index or fails loudly, never scans.
    """
    marks = ", ".join("?" * operands)
    return (
        f'SELECT key, value FROM polykv_items INDEXED BY "{name}" WHERE {_index_where(ns)} '  # noqa: S608
        f"AND {_json_expr(field)} IN ({marks}) AND (expires IS NULL OR expires > ?) ORDER BY key"
    )
