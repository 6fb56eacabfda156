"""Record filters answered by SQLite expression indexes on ``json_extract`` (``__indexes__`` fields).

With the json codec, an equality (or ``__in``) term on an indexed field becomes an expression index per
(schema, field) on the schema's own table, created on first use, and a query that names it (``INDEXED
BY``). The caller checks every term in Python on the rows the query returns. SQL text here is built only
from ``sqlite_sql.table_names`` (``[a-z0-9_]`` names), a field matching ``FIELD`` and placeholders; values
are always parameters.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..records import Condition
from .sqlite_sql import MAX_IN, NOW, table_names

__all__ = ["FIELD", "create_index_sql", "index_name", "index_term", "indexed_select_sql"]

#: Field names an index can be built on (they are spliced into a JSON path).
FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_INT64 = (-(2**63), 2**63 - 1)
# Rows that are not valid JSON are left out of the index rather than failing the write that adds them; the
# query repeats the condition word for word so that the planner may use the partial index.
_VALID = "json_valid(CAST(value AS TEXT))"


def _indexable(operand: Any) -> bool:
    """Whether SQL equality on a json_extract value finds every record Python equality would."""
    if isinstance(operand, (str, bool)):
        return True
    if isinstance(operand, int):
        return _INT64[0] <= operand <= _INT64[1]
    return isinstance(operand, float) and math.isfinite(operand)


def _json_expr(field: str) -> str:
    return f"json_extract(CAST(value AS TEXT), '$.{field}')"


def index_name(ns: str, field: str) -> str:
    """The SQLite name of the expression index of ``field`` in schema ``ns`` (distinct for every pair)."""
    return table_names(ns).index(field)


def index_term(conditions: list[Condition], indexes: tuple[str, ...]) -> tuple[str, list[Any]] | None:
    """The first condition an index can answer: (field, operands), or None (then scan and decode)."""
    for condition in conditions:
        if condition.field not in indexes or FIELD.fullmatch(condition.field) is None:
            continue
        if condition.lookup == "exact" and _indexable(condition.operand):
            return condition.field, [condition.operand]
        if (
            condition.lookup == "in"
            and 0 < len(condition.operand) <= MAX_IN
            and all(_indexable(o) for o in condition.operand)
        ):
            return condition.field, list(condition.operand)
    return None


def create_index_sql(ns: str, field: str) -> str:
    """``CREATE INDEX IF NOT EXISTS`` ``index_name(ns, field)`` on ``field`` of schema ``ns``'s table (other
    processes may race: the statement is idempotent)."""
    names = table_names(ns)
    return f"CREATE INDEX IF NOT EXISTS {names.index(field)} ON {names.table} ({_json_expr(field)}) WHERE {_VALID}"


def indexed_select_sql(ns: str, field: str, operands: int) -> str:
    """``SELECT key, value`` of the live rows of ``ns`` whose ``field`` is one of ``operands`` parameters,
    in key order, through the index on that field.

    ``INDEXED BY``: without ANALYZE statistics the planner might read the whole table; with it, SQLite uses
    the expression index or fails loudly ("no such index"), never scans.
    """
    names = table_names(ns)
    marks = ", ".join("?" * operands)
    return (
        f"SELECT key, value FROM {names.table} t INDEXED BY {names.index(field)} WHERE {_VALID} "  # noqa: S608
        f"AND {_json_expr(field)} IN ({marks}) "
        f"AND NOT EXISTS (SELECT 1 FROM {names.ttl} x WHERE x.key = t.key AND x.expires <= {NOW}) ORDER BY key"
    )
