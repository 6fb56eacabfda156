"""The opt-in ordered key index of a ``RedisStore`` (``key_index=True``): prefix listing that scales with the answer.

Without it, listing the keys under a prefix is ``SCAN MATCH``, which visits the whole database: 1,000 keys
among 1M others took 1,001 round trips. With it, the store keeps every KV key it writes in a sorted set,
``<prefix>:kx`` (all scores 0, so ordered by the key's UTF-8 bytes), updated by the same Lua script as the
write itself, so a write and its index entry happen together or not at all (a crash of the client or the
server between them is impossible: a script is atomic and replicated and persisted as one unit). Listing
is then ``ZRANGEBYLEX`` (O(log N + k)), ``count(prefix=...)`` is ``ZLEXCOUNT`` (O(log N)), ``count()`` is
``ZCARD`` (O(1)), and ``clear(prefix)`` deletes page by page from the range.

Keys written with a TTL are also kept in ``<prefix>:kx:x`` (score: expiry time in ms, server clock); counting
first drops the index entries of keys that have expired (O(expired)). Keys that vanish any other way (a
``DEL`` by another program, eviction) are dropped from the index when a listing finds them gone (repair on
read); until then ``count`` includes them.

The first read of the index by a store instance checks the marker ``<prefix>:kx:built``; if it is missing
(data written before the index was on) the index is built once from a ``SCAN`` of the store's keys. Every
client writing a prefix must use the same ``key_index`` setting (as with ``buckets``): a writer without it
leaves its keys out of the index.

Single Redis server only: on a Redis Cluster the KV keys carry no hash tag (so they spread over all slots),
and a script cannot update one sorted set atomically with keys in other slots; the cluster store lists by
``SCAN`` of every primary, as before. Not combined with the change feed yet (its logged scripts do not
maintain the index): asking for both raises ``InvalidArgumentError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

from .layout import KeyLayout
from .scripts import LuaScript

__all__ = ["KeyIndex", "prefix_range"]

T = TypeVar("T")

#: Members per ZRANGEBYLEX page (a page of values is read in the same script).
PAGE = 1000

_NOW = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

#: KEYS: index, expiries, then one Redis name per pair. ARGV: mode (set|add|replace), ttl ms or '', then
#: key, data per pair. Writes (SET [PX]) and indexes each pair the mode allows; returns how many were written.
WRITE = LuaScript(
    _NOW
    + """
local kx, xx, mode, ttl = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local expiring = redis.call('EXISTS', xx) == 1
local written = 0
for i = 3, #KEYS do
  local name, key, data = KEYS[i], ARGV[2 * i - 3], ARGV[2 * i - 2]
  local ok = true
  if mode ~= 'set' then
    local exists = redis.call('EXISTS', name) == 1
    ok = (mode == 'add' and not exists) or (mode == 'replace' and exists)
  end
  if ok then
    if ttl ~= '' then
      redis.call('SET', name, data, 'PX', ttl)
      redis.call('ZADD', xx, now_ms() + tonumber(ttl), key)
      expiring = true
    else
      redis.call('SET', name, data)
      if expiring then redis.call('ZREM', xx, key) end
    end
    redis.call('ZADD', kx, 0, key)
    written = written + 1
  end
end
return written
"""
)

#: KEYS: index, expiries, then one Redis name per key. ARGV: the keys. Returns how many existed.
DELETE = LuaScript(
    """
local removed = 0
for i = 3, #KEYS do
  removed = removed + redis.call('DEL', KEYS[i])
  redis.call('ZREM', KEYS[1], ARGV[i - 2])
  redis.call('ZREM', KEYS[2], ARGV[i - 2])
end
return removed
"""
)

#: KEYS: name, index. ARGV: amount, key. INCRBY and index; as ``scripts.KV_INCR`` (errors returned as {err}).
INCR = LuaScript(
    """
local r = redis.pcall('INCRBY', KEYS[1], ARGV[1])
if type(r) == 'table' and r.err then return {r.err} end
redis.call('ZADD', KEYS[2], 0, ARGV[2])
return redis.call('GET', KEYS[1])
"""
)

#: KEYS: index, expiries. ARGV: KV name head, min, max (ZRANGEBYLEX bounds), limit, values (1|0). Returns
#: {last member seen or false, key1, value1, key2, value2...} (values only when asked), skipping and
#: unindexing members whose key is gone.
RANGE = LuaScript(
    """
local kx, xx, head = KEYS[1], KEYS[2], ARGV[1]
local members = redis.call('ZRANGEBYLEX', kx, ARGV[2], ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
local out = {members[#members] or false}
for _, member in ipairs(members) do
  local value = false
  if ARGV[5] == '1' then
    value = redis.call('GET', head .. member)
  else
    value = redis.call('EXISTS', head .. member) == 1
  end
  if value then
    out[#out + 1] = member
    if ARGV[5] == '1' then out[#out + 1] = value end
  else
    redis.call('ZREM', kx, member)
    redis.call('ZREM', xx, member)
  end
end
return out
"""
)

#: KEYS: index, expiries. ARGV: KV name head, min, max. Drops the entries of expired keys, then counts the
#: range (ZCARD for the whole index).
COUNT = LuaScript(
    _NOW
    + """
local kx, xx, head = KEYS[1], KEYS[2], ARGV[1]
for _, member in ipairs(redis.call('ZRANGEBYSCORE', xx, '-inf', now_ms())) do
  if redis.call('EXISTS', head .. member) == 0 then
    redis.call('ZREM', kx, member)
    redis.call('ZREM', xx, member)
  end
end
if ARGV[2] == '-' and ARGV[3] == '+' then return redis.call('ZCARD', kx) end
return redis.call('ZLEXCOUNT', kx, ARGV[2], ARGV[3])
"""
)

#: KEYS: index, expiries. ARGV: KV name head, min, max, limit. Deletes up to ``limit`` keys of the range
#: with their entries; returns {entries seen, keys that existed}.
CLEAR = LuaScript(
    """
local kx, xx, head = KEYS[1], KEYS[2], ARGV[1]
local members = redis.call('ZRANGEBYLEX', kx, ARGV[2], ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
local removed = 0
for _, member in ipairs(members) do
  removed = removed + redis.call('DEL', head .. member)
  redis.call('ZREM', kx, member)
  redis.call('ZREM', xx, member)
end
return {#members, removed}
"""
)

#: KEYS: index, marker. ARGV: the keys found by one SCAN page. Adds them (the one-time build); NX keeps
#: nothing else from changing.
ADD_FOUND = LuaScript(
    """
for i = 1, #ARGV do redis.call('ZADD', KEYS[1], 'NX', 0, ARGV[i]) end
return #ARGV
"""
)


def prefix_range(prefix: str) -> tuple[bytes, bytes]:
    """ZRANGEBYLEX bounds of every member that starts with ``prefix``: ``[prefix`` to ``[prefix\\xff``
    (0xFF never occurs in UTF-8, so no key under the prefix sorts after the upper bound); ``-``/``+`` for
    the empty prefix."""
    if not prefix:
        return b"-", b"+"
    data = prefix.encode()
    return b"[" + data, b"[" + data + b"\xff"


Run = Callable[[Callable[[Any], T]], T]
#: One script to run: the script, its KEYS, its ARGV.
ScriptCall = tuple[LuaScript, list[str], list[Any]]


class KeyIndex:
    """The ordered key index of one store: the script calls its writes run, and its readers.

    ``layout`` gives the names (``<prefix>:kx``, ``<prefix>:kx:x``, the marker); ``evalsha(client, script,
    keys, args)`` runs a script (``RedisStore._eval``).
    """

    def __init__(self, layout: KeyLayout) -> None:
        self.layout = layout
        self.index = f"{layout.prefix}:kx"
        self.expiries = f"{layout.prefix}:kx:x"
        self.marker = f"{layout.prefix}:kx:built"
        self.head = layout.kv("")
        self.built = False

    # -- writes: script calls for the store to run -----------------------------------------------
    def write(
        self, mode: str, items: Sequence[tuple[str, bytes]], ttl_ms: str
    ) -> tuple[LuaScript, list[str], list[Any]]:
        """SET (``mode`` set), SET NX (add) or SET XX (replace) of each pair with its index entry."""
        head = self.head
        keys = [self.index, self.expiries, *(head + k for k, _ in items)]
        args: list[Any] = [mode, ttl_ms]
        for k, d in items:
            args += [k, d]
        return WRITE, keys, args

    def delete(self, keys: Sequence[str]) -> ScriptCall:
        head = self.head
        return DELETE, [self.index, self.expiries, *(head + k for k in keys)], list(keys)

    def incr(self, key: str, amount: int) -> ScriptCall:
        return INCR, [self.head + key, self.index], [amount, key]

    # -- reads ---------------------------------------------------------------------------------------
    def ensure_built(self, run: Run[Any], evalsha: Callable[..., Any], scan: Callable[[str], Iterator[str]]) -> None:
        """Build the index once from a SCAN of the store's keys if no store has built it yet (marker)."""
        if self.built:
            return
        if not run(partial(evalsha, script=_EXISTS, keys=[self.marker], args=[])):
            batch: list[str] = []
            for name in scan(self.layout.kv_pattern("")):
                batch.append(self.layout.kv_key_of(name))
                if len(batch) >= PAGE:
                    run(partial(evalsha, script=ADD_FOUND, keys=[self.index, self.marker], args=batch))
                    batch = []
            if batch:
                run(partial(evalsha, script=ADD_FOUND, keys=[self.index, self.marker], args=batch))
            run(partial(evalsha, script=_MARK, keys=[self.marker], args=[]))
        self.built = True

    def pages(self, run: Run[Any], evalsha: Callable[..., Any], prefix: str, values: bool) -> Iterator[list[Any]]:
        """Pages of ``[key, value, key, value...]`` (``values``) or ``[key, key...]`` under ``prefix``, in key
        order (bytes)."""
        low, high = prefix_range(prefix)
        flag = b"1" if values else b"0"
        while True:
            args = [self.head, low, high, PAGE, flag]
            reply = run(partial(evalsha, script=RANGE, keys=[self.index, self.expiries], args=args))
            last = reply[0]
            if reply[1:]:
                yield reply[1:]
            if not last:
                return
            low = b"(" + last

    def count(self, run: Run[Any], evalsha: Callable[..., Any], prefix: str) -> int:
        low, high = prefix_range(prefix)
        return int(run(partial(evalsha, script=COUNT, keys=[self.index, self.expiries], args=[self.head, low, high])))

    def clear(self, run: Run[Any], evalsha: Callable[..., Any], prefix: str, page: int) -> int:
        low, high = prefix_range(prefix)
        removed = 0
        while True:
            args = [self.head, low, high, page]
            seen, gone = run(partial(evalsha, script=CLEAR, keys=[self.index, self.expiries], args=args))
            removed += int(gone)
            if int(seen) < page:
                return removed


_EXISTS = LuaScript("return redis.call('EXISTS', KEYS[1])")
_MARK = LuaScript("redis.call('SET', KEYS[1], '1') return 1")
