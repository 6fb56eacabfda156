"""Lua scripts that keep a record, its bucket counter, expiry entry and index sets consistent in one step.

Every key a script touches shares the record's hash tag, so each script runs in one cluster slot.
Invariant per bucket: ``n`` counts records that are live, or expired but not yet settled (absent from
Redis while still listed in ``x``); settling (on any write to that key, on count and filter) removes them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

__all__ = ["CAS", "COUNT", "DELETE", "FILTER", "WRITE", "LuaScript"]


@dataclass(frozen=True)
class LuaScript:
    """A script body and its SHA1 (for EVALSHA)."""

    body: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.body.encode(), usedforsecurity=False).hexdigest())


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
