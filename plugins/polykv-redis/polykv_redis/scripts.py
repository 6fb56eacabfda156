"""Lua scripts that keep a record, its bucket counter, expiry entry and index sets consistent in one step.

Every key a script touches shares the record's hash tag, so each script runs in one cluster slot.
Invariant per bucket: ``n`` counts records that are live, or expired but not yet settled (absent from
Redis while still listed in ``x``); settling (on any write to that key, on count and filter) removes them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from polykv.changes import ChangeOp

__all__ = [
    "CAS",
    "CAS_LOGGED",
    "COUNT",
    "DELETE",
    "DELETE_IF",
    "DELETE_IF_LOGGED",
    "DELETE_LOGGED",
    "EXPIRE_IF",
    "FILTER",
    "KV_DELETE_LOGGED",
    "KV_INCR",
    "KV_INCR_LOGGED",
    "KV_WRITE_LOGGED",
    "WRITE",
    "WRITE_BUCKET",
    "WRITE_LOGGED",
    "LuaScript",
    "ttl_arg",
]


@dataclass(frozen=True)
class LuaScript:
    """A script body and its SHA1 (for EVALSHA)."""

    body: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.body.encode(), usedforsecurity=False).hexdigest())


def ttl_arg(ttl: float | None) -> str:
    """A TTL as the scripts take it: whole milliseconds (at least 1), or ``""`` for none."""
    return "" if ttl is None else str(max(1, round(ttl * 1000)))


_PRELUDE = """
local function unindex(h, m, member)
  local old = redis.call('HGET', m, member)
  if old then
    local list = cjson.decode(old)
    for i = 1, #list, 2 do
      redis.call('SREM', list[i + 1], member)
      redis.call('HINCRBY', h, 'i:' .. list[i], -1)
    end
    redis.call('HDEL', m, member)
  end
end
local function forget(h, m, x, member)
  unindex(h, m, member)
  redis.call('ZREM', x, member)
  redis.call('HINCRBY', h, 'n', -1)
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function settle(h, m, x, rprefix)
  local due = redis.call('ZRANGEBYSCORE', x, '-inf', now_ms())
  for _, member in ipairs(due) do
    if redis.call('EXISTS', rprefix .. member) == 0 then forget(h, m, x, member) end
  end
end
"""

#: KEYS: record, h, m, x. ARGV: mode (set|add|replace), data, ttl ms or '', record key, JSON index pairs or ''.
WRITE = LuaScript(
    _PRELUDE
    + """
local rk, h, m, x = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local mode, member = ARGV[1], ARGV[4]
local exists = redis.call('EXISTS', rk) == 1
if not exists and redis.call('ZSCORE', x, member) then forget(h, m, x, member) end
if mode == 'add' and exists then return 0 end
if mode == 'replace' and not exists then return 0 end
if ARGV[3] ~= '' then
  redis.call('SET', rk, ARGV[2], 'PX', ARGV[3])
  redis.call('ZADD', x, now_ms() + tonumber(ARGV[3]), member)
else
  redis.call('SET', rk, ARGV[2])
  if exists then redis.call('ZREM', x, member) end
end
unindex(h, m, member)
if not exists then redis.call('HINCRBY', h, 'n', 1) end
if ARGV[5] ~= '' then
  local list = cjson.decode(ARGV[5])
  for i = 1, #list, 2 do
    redis.call('SADD', list[i + 1], member)
    redis.call('HINCRBY', h, 'i:' .. list[i], 1)
  end
  redis.call('HSET', m, member, ARGV[5])
end
return 1
"""
)

#: KEYS: record, h, m, x. ARGV: record key. Returns 1 if a live record was deleted.
DELETE = LuaScript(
    _PRELUDE
    + """
local existed = redis.call('DEL', KEYS[1])
if existed == 1 or redis.call('ZSCORE', KEYS[4], ARGV[1]) then forget(KEYS[2], KEYS[3], KEYS[4], ARGV[1]) end
return existed
"""
)

#: KEYS: h, m, x. ARGV: record-key prefix of the bucket. Returns the bucket's record count.
COUNT = LuaScript(
    _PRELUDE
    + """
settle(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
return tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
"""
)

#: KEYS: h, m, x, index set. ARGV: record-key prefix, field. Returns {0} when some record of the bucket is
#: not indexed on the field (the caller then scans), else {1, members}.
FILTER = LuaScript(
    _PRELUDE
    + """
settle(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local ni = tonumber(redis.call('HGET', KEYS[1], 'i:' .. ARGV[2]) or '0')
if n ~= ni then return {0} end
return {1, redis.call('SMEMBERS', KEYS[4])}
"""
)

#: Bulk ``set`` of many records of one bucket with no TTL and no index pairs (``polykv_redis.fastops``), the
#: same effect as WRITE per record. KEYS: h, m, x, then each record's Redis key. ARGV: record key and data per
#: record, in the order of their Redis keys. Returns how many records were new.
WRITE_BUCKET = LuaScript(
    _PRELUDE
    + """
local h, m, x = KEYS[1], KEYS[2], KEYS[3]
local indexed = redis.call('HLEN', m) > 0
local expiring = redis.call('ZCARD', x) > 0
local added = 0
for i = 4, #KEYS do
  local rk = KEYS[i]
  local member = ARGV[2 * (i - 3) - 1]
  local exists = redis.call('EXISTS', rk) == 1
  if expiring then
    if exists then redis.call('ZREM', x, member)
    elseif redis.call('ZSCORE', x, member) then forget(h, m, x, member) end
  end
  redis.call('SET', rk, ARGV[2 * (i - 3)])
  if indexed then unindex(h, m, member) end
  if not exists then added = added + 1 end
end
if added > 0 then redis.call('HINCRBY', h, 'n', added) end
return added
"""
)

#: KEYS: key. ARGV: expected bytes, new bytes. Replaces the value (keeping its TTL) only if unchanged.
CAS = LuaScript(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
"""
)


#: KEYS: key. ARGV: expected bytes. Deletes the key only while it holds exactly those bytes (an owner's
#: lease token): the owner-checked release of Capability.LEASE.
DELETE_IF = LuaScript(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
)

#: KEYS: key. ARGV: expected bytes, ttl ms. A new TTL only while the key holds exactly those bytes.
EXPIRE_IF = LuaScript(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
)

# == change feed (opt-in; see polykv_redis.feed) ======================================================
# The logged variants make the write and its XADD one script, so the stream holds an entry exactly for the
# writes that happened. Entry ids are consecutive (``<n>-0``, one more than the last entry's), so a trimmed
# entry is detectable exactly. A stream entry: o = ChangeOp value, n = namespace ("" for KV), k = key, v = new
# bytes (absent for a delete). Trimming is MAXLEN ~ (whole stream nodes), so at least ``maxlen`` entries stay.
_LOG = (
    """
local next_seq = nil
local function log_change(stream, maxlen, op, ns, key, data)
  if not next_seq then
    local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
    next_seq = 1
    if last[1] then next_seq = tonumber(string.match(last[1][1], '^(%d+)')) + 1 end
  end
  local id = string.format('%d-0', next_seq)
  next_seq = next_seq + 1
  if data then
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, id, 'o', op, 'n', ns, 'k', key, 'v', data)
  else
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, id, 'o', op, 'n', ns, 'k', key)
  end
end
"""
    + f"local INSERT, UPDATE, DELETE = {ChangeOp.INSERT.value}, {ChangeOp.UPDATE.value}, {ChangeOp.DELETE.value}\n"
)


def _logged(script: LuaScript, tail: str, logged_tail: str) -> LuaScript:
    """``script`` with ``logged_tail`` in place of its final ``tail`` (checked, so the two cannot drift)."""
    if not script.body.endswith(tail):
        raise RuntimeError(f"script body does not end with {tail!r}")
    return LuaScript(_LOG + script.body[: -len(tail)] + logged_tail)


#: WRITE, then log: KEYS as WRITE + stream; ARGV as WRITE + maxlen, namespace.
WRITE_LOGGED = _logged(
    WRITE,
    "return 1\n",
    "log_change(KEYS[5], ARGV[6], exists and UPDATE or INSERT, ARGV[7], member, ARGV[2])\nreturn 1\n",
)

#: DELETE, then log: KEYS as DELETE + stream; ARGV: record key, maxlen, namespace.
DELETE_LOGGED = _logged(
    DELETE,
    "return existed\n",
    "if existed == 1 then log_change(KEYS[5], ARGV[2], DELETE, ARGV[3], ARGV[1], false) end\nreturn existed\n",
)

#: KV pairs: KEYS: stream, one name per pair. ARGV: maxlen, mode (set|add|replace), ttl ms or '', then
#: key, data per pair. Returns how many pairs were written.
KV_WRITE_LOGGED = LuaScript(
    _LOG
    + """
local stream, maxlen, mode, ttl = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local written = 0
for i = 2, #KEYS do
  local name, key, data = KEYS[i], ARGV[2 * i], ARGV[2 * i + 1]
  local exists = redis.call('EXISTS', name) == 1
  if mode == 'set' or (mode == 'add' and not exists) or (mode == 'replace' and exists) then
    if ttl ~= '' then redis.call('SET', name, data, 'PX', ttl) else redis.call('SET', name, data) end
    log_change(stream, maxlen, exists and UPDATE or INSERT, '', key, data)
    written = written + 1
  end
end
return written
"""
)

#: KV pairs: KEYS: stream, one name per key. ARGV: maxlen, then the keys. Returns how many existed.
KV_DELETE_LOGGED = LuaScript(
    _LOG
    + """
local removed = 0
for i = 2, #KEYS do
  if redis.call('DEL', KEYS[i]) == 1 then
    log_change(KEYS[1], ARGV[1], DELETE, '', ARGV[i], false)
    removed = removed + 1
  end
end
return removed
"""
)

#: KEYS: name. ARGV: amount. INCRBY; returns the new value's text (exact: Lua numbers are doubles), or
#: ``{reply}`` (an array holding Redis's error text) when the value is not a 64-bit integer or would
#: overflow. The error is returned, not raised, so polykv decides the error class (InvalidArgumentError).
KV_INCR = LuaScript(
    """
local r = redis.pcall('INCRBY', KEYS[1], ARGV[1])
if type(r) == 'table' and r.err then return {r.err} end
return redis.call('GET', KEYS[1])
"""
)

#: KEYS: name, stream. ARGV: amount, maxlen, key. ``KV_INCR``, logging the new value's exact bytes.
KV_INCR_LOGGED = LuaScript(
    _LOG
    + """
local exists = redis.call('EXISTS', KEYS[1]) == 1
local r = redis.pcall('INCRBY', KEYS[1], ARGV[1])
if type(r) == 'table' and r.err then return {r.err} end
local data = redis.call('GET', KEYS[1])
log_change(KEYS[2], ARGV[2], exists and UPDATE or INSERT, '', ARGV[3], data)
return data
"""
)

#: CAS, then log: KEYS: name, stream. ARGV: expected bytes, new bytes, maxlen, namespace, key.
CAS_LOGGED = LuaScript(
    _LOG
    + """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  log_change(KEYS[2], ARGV[3], UPDATE, ARGV[4], ARGV[5], ARGV[2])
  return 1
end
return 0
"""
)

#: DELETE_IF, then log: KEYS: name, stream. ARGV: expected bytes, maxlen, key.
DELETE_IF_LOGGED = LuaScript(
    _LOG
    + """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  log_change(KEYS[2], ARGV[2], DELETE, '', ARGV[3], false)
  return 1
end
return 0
"""
)
