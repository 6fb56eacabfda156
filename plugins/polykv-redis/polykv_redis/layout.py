"""Where polykv keeps things in Redis: key names, glob escaping, index tokens.

KV pairs: ``<prefix>:k:<key>`` (one string key each). A record schema is split into ``buckets`` hash-tagged
groups (bucket = crc32(record key) % buckets), so its records spread over that many cluster slots while
each record's bookkeeping lives in its own record's slot and is updated by one Lua script:

- ``{<prefix>:<schema>:<b>}:r:<key>``  the record (a string key, so per-record TTL works on Redis 7.0)
- ``{<prefix>:<schema>:<b>}:h``        hash: ``n`` = records in the bucket, ``i:<field>`` = records indexed on field
- ``{<prefix>:<schema>:<b>}:m``        hash: record key -> JSON list of its index sets
- ``{<prefix>:<schema>:<b>}:x``        sorted set: record key -> expiry time (ms, server clock)
- ``{<prefix>:<schema>:<b>}:i:<json>`` set: record keys whose field has one value
"""

from __future__ import annotations

import json
import math
import re
import zlib
from typing import Any

from polykv.errors import InvalidArgumentError

__all__ = ["KeyLayout", "glob_escape", "index_token"]

PREFIX_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def glob_escape(text: str) -> str:
    """Escape Redis glob characters (``* ? [ ] \\``) so a SCAN MATCH pattern matches ``text`` literally."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


def index_token(value: Any) -> str | None:
    """A string equal for values Python considers equal (``1 == 1.0 == True``), or None if not indexable.

    Only str, int, float, bool and None are indexed; anything else gets ``"o"`` (never looked up).
    """
    if value is None:
        return "z"
    if isinstance(value, str):
        return "s:" + value
    if isinstance(value, (bool, int)):
        return f"n:{int(value)}"
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return f"n:{int(value)}"
        return "n:" + repr(value)
    return "o"


def query_token(value: Any) -> str | None:
    """The token to look up for ``field=value``, or None when the index cannot answer (the store scans)."""
    if value is None or not isinstance(value, (str, int, float, bool)):
        return None
    return index_token(value)


class KeyLayout:
    """Key names for one store (``prefix``) and schema split (``buckets``)."""

    def __init__(self, prefix: str = "polykv", buckets: int = 16) -> None:
        if not isinstance(prefix, str) or PREFIX_PATTERN.fullmatch(prefix) is None:
            raise InvalidArgumentError(
                f"prefix must be 1-64 letters, digits, '_', '.' or '-', got {prefix!r}", backend="redis"
            )
        if isinstance(buckets, bool) or not isinstance(buckets, int) or not 1 <= buckets <= 16384:
            raise InvalidArgumentError(f"buckets must be an int in 1..16384, got {buckets!r}", backend="redis")
        self.prefix = prefix
        self.buckets = buckets
        self._kv = f"{prefix}:k:"
        self._kv_pattern = glob_escape(self._kv)

    # -- KV ---------------------------------------------------------------------------------------
    def kv(self, key: str) -> str:
        return self._kv + key

    def kv_pattern(self, prefix: str) -> str:
        return self._kv_pattern + glob_escape(prefix) + "*"

    def kv_key_of(self, name: str) -> str:
        return name[len(self._kv) :]

    # -- records ----------------------------------------------------------------------------------
    def bucket_of(self, key: str) -> int:
        return zlib.crc32(key.encode("utf-8")) % self.buckets

    def tag(self, schema: str, bucket: int) -> str:
        return f"{{{self.prefix}:{schema}:{bucket}}}"

    def record_prefix(self, schema: str, bucket: int) -> str:
        return self.tag(schema, bucket) + ":r:"

    def record(self, schema: str, key: str) -> str:
        return self.record_prefix(schema, self.bucket_of(key)) + key

    def bookkeeping(self, schema: str, bucket: int) -> tuple[str, str, str]:
        """The bucket's ``h`` (counters), ``m`` (memberships) and ``x`` (expiries) keys."""
        tag = self.tag(schema, bucket)
        return tag + ":h", tag + ":m", tag + ":x"

    def index_set(self, schema: str, bucket: int, field: str, token: str) -> str:
        return self.tag(schema, bucket) + ":i:" + json.dumps([field, token], ensure_ascii=False)

    def record_pattern(self, schema: str, prefix: str) -> str:
        return "{" + glob_escape(f"{self.prefix}:{schema}:") + "*}:r:" + glob_escape(prefix) + "*"

    def record_key_of(self, name: str) -> str:
        """The record key in a record's Redis key (the tag ends at the first ``}``)."""
        return name[name.index("}:r:") + 4 :]

    def schema_pattern(self, schema: str | None = None) -> str:
        """Every bookkeeping or record key of ``schema`` (all schemas' ``h`` keys when None)."""
        if schema is None:
            return "{" + glob_escape(self.prefix + ":") + "*}:h"
        return "{" + glob_escape(f"{self.prefix}:{schema}:") + "*"

    def schema_of_counter(self, name: str) -> str | None:
        inner = name[1 : name.find("}")]
        head = self.prefix + ":"
        if not inner.startswith(head):
            return None
        return inner[len(head) : inner.rfind(":")]
