"""``filter_record`` terms translated to SQL on the ``doc jsonb`` column, pushed down to the server.

Each supported term becomes a predicate that keeps every row Python's lookup would match (and the rows on
which Python would raise, so errors stay the same), and drops the rows it certainly would not match; the
store then checks every returned row with ``polykv.records.matches_all``, so results equal the portable
filter's. Field names are quoted as literals and operands bound as parameters by ``psycopg.sql``; nothing
from the caller is formatted into SQL text.

Equality and ``in`` are ``(doc -> 'field') = ANY(%s::jsonb[])``, which an expression index on
``(ns, (doc -> 'field'))`` answers. Numbers are pushed down within +-2**53 (where a JSON number's decimal
text and Python's int/float comparison agree); ``1 == True`` is kept (both forms are looked up).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from polykv.records import Condition

__all__ = ["Pushdown", "translate"]

_EXACT_LIMIT = 2**53
_ORDER = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


@dataclass
class Pushdown:
    """The SQL of the pushed-down terms (``AND``-ed), their parameters, and the fields equality used."""

    predicates: list[sql.Composable] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    equality_fields: list[str] = field(default_factory=list)


def _text_ok(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -_EXACT_LIMIT < value < _EXACT_LIMIT
    return isinstance(value, float) and math.isfinite(value) and -_EXACT_LIMIT < value < _EXACT_LIMIT


def equal_forms(operand: Any) -> list[str] | None:
    """The JSON texts a stored value equal (in Python) to ``operand`` can have, or None if not pushable."""
    if isinstance(operand, str):
        return [json.dumps(operand, ensure_ascii=False)] if _text_ok(operand) else None
    if isinstance(operand, bool):
        return ["true", "1"] if operand else ["false", "0"]
    if _number(operand):
        forms = [json.dumps(operand)]
        if operand == 1:
            forms.append("true")
        elif operand == 0:
            forms.append("false")
        return forms
    return None


def _term(condition: Condition, v: sql.Composable, params: list[Any]) -> sql.Composable | None:
    lookup, operand = condition.lookup, condition.operand
    if lookup in ("exact", "ne"):
        if operand is None:  # never equal in Python's filter; "ne None": any present, non-null value
            return (
                sql.SQL("false")
                if lookup == "exact"
                else sql.SQL("({v} IS NOT NULL AND {v} <> 'null'::jsonb)").format(v=v)
            )
        forms = equal_forms(operand)
        if forms is None:
            return None
        params.append(forms)
        if lookup == "exact":
            return sql.SQL("{v} = ANY(%s::text[]::jsonb[])").format(v=v)
        return sql.SQL("({v} = ANY(%s::text[]::jsonb[])) IS NOT TRUE").format(v=v)
    if lookup == "in":
        union: list[str] = []
        for item in operand:
            if item is None:
                continue  # a None operand matches nothing (a stored null is "isnull")
            forms = equal_forms(item)
            if forms is None:
                return None
            union.extend(forms)
        if not union:
            return sql.SQL("false")
        params.append(union)
        return sql.SQL("{v} = ANY(%s::text[]::jsonb[])").format(v=v)
    if lookup in _ORDER:
        op = sql.SQL(_ORDER[lookup])
        if _number(operand):
            params.append(json.dumps(operand))
            # jsonb order: numbers numerically; booleans above numbers, strings and null below them
            if lookup in ("lt", "lte"):  # True < 5 holds in Python: keep booleans for the Python check
                return sql.SQL("({v} {op} %s::jsonb OR jsonb_typeof({v}) = 'boolean')").format(v=v, op=op)
            return sql.SQL("{v} {op} %s::jsonb").format(v=v, op=op)
        if isinstance(operand, str) and _text_ok(operand):
            params.append(operand)
            return sql.SQL(
                "(CASE WHEN jsonb_typeof({v}) = 'string' THEN ({v} #>> '{{}}') COLLATE \"C\" {op} %s "
                "ELSE jsonb_typeof({v}) <> 'null' END)"
            ).format(v=v, op=op)
        return None
    if lookup == "contains":
        if isinstance(operand, str):
            if not _text_ok(operand):
                return None
            params.extend([operand, json.dumps([operand], ensure_ascii=False), operand])
            return sql.SQL(
                "(CASE jsonb_typeof({v}) WHEN 'string' THEN strpos({v} #>> '{{}}', %s) > 0 "
                "WHEN 'array' THEN {v} @> %s::jsonb WHEN 'object' THEN {v} ? %s WHEN 'null' THEN false ELSE true END)"
            ).format(v=v)
        forms = equal_forms(operand)
        if forms is None:
            return None
        params.append([f"[{form}]" for form in forms])
        return sql.SQL(
            "(CASE jsonb_typeof({v}) WHEN 'array' THEN {v} @> ANY(%s::text[]::jsonb[]) "
            "WHEN 'null' THEN false ELSE true END)"
        ).format(v=v)
    if lookup == "startswith":
        if not _text_ok(operand):
            return None
        params.append(operand)
        return sql.SQL("(jsonb_typeof({v}) = 'string' AND starts_with({v} #>> '{{}}', %s))").format(v=v)
    if lookup == "isnull":
        if operand:
            return sql.SQL("({v} IS NULL OR {v} = 'null'::jsonb)").format(v=v)
        return sql.SQL("({v} IS NOT NULL AND {v} <> 'null'::jsonb)").format(v=v)
    return None


def field_literal(name: str) -> sql.SQL:
    """``name`` quoted as a string literal by ``psycopg.sql``, with ``%`` doubled: the text goes into a query
    that also has ``%s`` parameters, where psycopg would read a ``%`` inside the literal as a placeholder."""
    return sql.SQL(sql.Literal(name).as_string(None).replace("%", "%%"))


def translate(conditions: list[Condition]) -> Pushdown:
    """The pushable terms of ``conditions`` as SQL (terms that cannot be pushed are left to Python)."""
    pushed = Pushdown()
    for condition in conditions:
        if not _text_ok(condition.field):
            continue
        v = sql.SQL("(doc -> {})").format(field_literal(condition.field))
        params: list[Any] = []
        predicate = _term(condition, v, params)
        if predicate is None:
            continue
        pushed.predicates.append(predicate)
        pushed.params.extend(params)
        if condition.lookup in ("exact", "in") and params:
            pushed.equality_fields.append(condition.field)
    return pushed
