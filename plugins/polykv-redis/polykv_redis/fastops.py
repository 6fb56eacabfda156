"""Fast paths of ``polykv.ops`` for Redis destinations, registered when ``polykv_redis.store`` is imported.

``write_batch`` (the write step of every ``ops.copy`` and ``ops.import_jsonl`` into a Redis store, whatever
the source) writes a batch of records with one ``WRITE_BUCKET`` script per bucket, all in one pipeline,
instead of one ``WRITE`` script per record; the rest of copy (prefix, schemas, overwrite, checkpoints) is the
portable machinery.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from polykv import ops

from . import scripts
from .scripts import LuaScript

if TYPE_CHECKING:
    from .store import RedisStore

__all__ = ["register_fast_paths", "write_batch"]


def write_batch(dst: RedisStore, ns: str, items: Sequence[tuple[str, bytes]]) -> None:
    """Records of a schema without known indexes, on a store without change feed: one script per bucket.
    Anything else (KV pairs: MSET; indexed schemas; the logged writes of a change feed) uses ``_set_many``."""
    if not ns or dst.change_feed or dst._indexes.get(ns):
        dst._set_many(ns, items, None)
        return
    layout = dst.layout
    buckets: dict[int, tuple[list[str], list[Any]]] = {}
    for key, data in items:
        number = layout.bucket_of(key)
        entry = buckets.get(number)
        if entry is None:
            entry = buckets[number] = (list(layout.bookkeeping(ns, number)), [])
        entry[0].append(layout.record_prefix(ns, number) + key)
        entry[1].extend((key, data))
    calls: list[tuple[LuaScript, Sequence[str], Sequence[Any]]] = [
        (scripts.WRITE_BUCKET, keys, args) for keys, args in buckets.values()
    ]
    dst._run(partial(dst._eval_many, calls=calls), ns=ns)


def register_fast_paths(store_class: type[RedisStore]) -> None:
    """Register this module's implementations of the generic operations for ``store_class``."""
    ops.implements(store_class)(write_batch)
