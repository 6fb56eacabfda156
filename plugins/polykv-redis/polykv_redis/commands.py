"""How a Redis store's commands reach the server: a strategy object per store class.

``RedisStore`` calls ``self._commands.<command>(client, ...)`` for every command of its KV and record paths;
each method is an *operation* (its first argument the client the connection manager hands out), so the
manager's retry machinery runs it like any other. Two strategies, same results:

- ``DirectCommands`` (one Redis server): packed commands straight on a redis-py ``Connection`` of the store's
  pool (``polykv_redis.direct``), raw replies; about a tenth of the client CPU of ``Redis.execute_command``.
- ``ClientCommands`` (Redis Cluster, and any client without a ``PolyBlockingConnectionPool``): redis-py's
  client methods, so ``RedisCluster`` routes each command by slot and follows MOVED/ASK itself.

Results are normalised here (``set_if`` a bool, ``scan`` an int cursor and a list of bytes), so the store never
sees which strategy ran. Errors are redis-py's exceptions either way; the store translates them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis import exceptions as rexc

from . import direct
from .direct import DEL, GET, MGET_NAME, PTTL, PX, SET, SET_PX, bulk, execute, execute_many, pack
from .scripts import LuaScript

__all__ = ["ClientCommands", "DirectCommands", "ScriptCalls"]

#: Scripts to run in one round trip: (script, KEYS, ARGV) each.
ScriptCalls = Sequence[tuple[LuaScript, Sequence[str], Sequence[Any]]]


class ClientCommands:
    """Commands through redis-py's client methods (``redis.Redis`` or ``redis.cluster.RedisCluster``)."""

    def get(self, client: Any, name: str) -> bytes | None:
        data: bytes | None = client.get(name)
        return data

    def set(self, client: Any, name: str, data: bytes, px: int | None) -> None:
        client.set(name, data, px=px)

    def set_if(
        self, client: Any, name: str, data: bytes, px: int | None, *, nx: bool = False, xx: bool = False
    ) -> bool:
        """SET with NX (only if absent) or XX (only if present): whether it was written."""
        return bool(client.set(name, data, px=px, nx=nx, xx=xx))

    def delete(self, client: Any, names: Sequence[str]) -> int:
        return int(client.delete(*names))

    def unlink(self, client: Any, names: Sequence[str]) -> int:
        return int(client.unlink(*names))

    def pttl(self, client: Any, name: str) -> int:
        return int(client.pttl(name))

    def mget(self, client: Any, names: Sequence[str]) -> list[bytes | None]:
        result: list[bytes | None] = client.mget(names)
        return result

    def mset(self, client: Any, names: Sequence[str], datas: Sequence[bytes]) -> None:
        flat: list[Any] = [None] * (2 * len(names))  # MSET n1 d1 n2 d2 ..., interleaved by slices, not per pair
        flat[::2] = names
        flat[1::2] = datas
        client.execute_command("MSET", *flat)

    def set_px_many(self, client: Any, names: Sequence[str], datas: Sequence[bytes], px: int) -> None:
        """``SET name data PX px`` for each pair, pipelined (not atomic)."""
        pipe = client.pipeline(transaction=False)
        for name, data in zip(names, datas, strict=True):
            pipe.set(name, data, px=px)
        pipe.execute()

    def scan(self, client: Any, cursor: int, pattern: str, count: int) -> tuple[int, list[bytes]]:
        cursor, batch = client.scan(cursor, match=pattern, count=count)
        return int(cursor), list(batch)

    def evalsha(self, client: Any, script: LuaScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run ``script`` by its SHA; on NOSCRIPT (a new or restarted server: nothing ran) load it and run again."""
        try:
            return client.evalsha(script.sha, len(keys), *keys, *args)
        except rexc.NoScriptError:
            client.script_load(script.body)
            return client.evalsha(script.sha, len(keys), *keys, *args)

    def evalsha_many(self, client: Any, calls: ScriptCalls) -> list[Any]:
        """Every script by SHA in one pipeline; error replies (NOSCRIPT included) in place of their results."""
        pipe = client.pipeline(transaction=False)
        for script, keys, args in calls:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        replies: list[Any] = pipe.execute(raise_on_error=False)
        return replies

    def script_load(self, client: Any, script: LuaScript) -> None:
        client.script_load(script.body)


_EVALSHA = b"EVALSHA"
_SCRIPT_LOAD = (b"SCRIPT", b"LOAD")


class DirectCommands(ClientCommands):
    """The same commands packed here and sent on a connection of the client's ``PolyBlockingConnectionPool``
    (``polykv_redis.direct``): no ``execute_command``, no response callbacks.

    Every command goes out through ``execute`` (one packed command, its raw reply) or ``execute_many`` (a
    pipeline of packed commands in one write): the only two methods that touch a connection, so a subclass
    that sends the same bytes another way (the asyncio face, ``polykv_redis.aio``) overrides those two."""

    #: ``execute(client, packed) -> reply``: one command on a connection of ``client``'s pool.
    execute = staticmethod(execute)
    #: ``execute_many(client, packed, raise_on_error=True) -> replies``: a pipeline in one write.
    execute_many = staticmethod(execute_many)

    def get(self, client: Any, name: str) -> bytes | None:
        data = name.encode()
        reply: bytes | None = self.execute(client, b"%b$%d\r\n%b\r\n" % (GET, len(data), data))
        return reply

    def set(self, client: Any, name: str, data: bytes, px: int | None) -> None:
        raw = name.encode()
        if px is None:
            self.execute(client, b"%b$%d\r\n%b\r\n$%d\r\n%b\r\n" % (SET, len(raw), raw, len(data), data))
        else:
            self.execute(client, SET_PX + bulk(raw) + bulk(data) + PX + bulk(str(px)))

    def set_if(
        self, client: Any, name: str, data: bytes, px: int | None, *, nx: bool = False, xx: bool = False
    ) -> bool:
        args: list[Any] = [b"SET", name, data]
        if px is not None:
            args += [b"PX", px]
        if nx:
            args.append(b"NX")
        if xx:
            args.append(b"XX")
        return self.execute(client, pack(args)) is not None

    def delete(self, client: Any, names: Sequence[str]) -> int:
        if len(names) == 1:
            return int(self.execute(client, DEL + bulk(names[0])))
        return int(self.execute(client, pack([b"DEL", *names])))

    def unlink(self, client: Any, names: Sequence[str]) -> int:
        return int(self.execute(client, pack([b"UNLINK", *names])))

    def pttl(self, client: Any, name: str) -> int:
        return int(self.execute(client, PTTL + bulk(name)))

    def mget(self, client: Any, names: Sequence[str]) -> list[bytes | None]:
        reply: list[bytes | None] = self.execute(client, direct.pack_keys(MGET_NAME, names))
        return reply

    def mset(self, client: Any, names: Sequence[str], datas: Sequence[bytes]) -> None:
        self.execute(client, direct.pack_pairs(b"MSET", names, datas))

    def set_px_many(self, client: Any, names: Sequence[str], datas: Sequence[bytes], px: int) -> None:
        tail = PX + bulk(str(px))
        packed = [SET_PX + bulk(name) + bulk(data) + tail for name, data in zip(names, datas, strict=True)]
        self.execute_many(client, packed)

    def scan(self, client: Any, cursor: int, pattern: str, count: int) -> tuple[int, list[bytes]]:
        reply = self.execute(client, pack([b"SCAN", cursor, b"MATCH", pattern, b"COUNT", count]))
        return int(reply[0]), list(reply[1])

    def evalsha(self, client: Any, script: LuaScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        packed = pack([_EVALSHA, script.sha, len(keys), *keys, *args])
        try:
            return self.execute(client, packed)
        except rexc.NoScriptError:
            self.execute(client, pack([*_SCRIPT_LOAD, script.body]))
            return self.execute(client, packed)

    def evalsha_many(self, client: Any, calls: ScriptCalls) -> list[Any]:
        packed = [pack([_EVALSHA, script.sha, len(keys), *keys, *args]) for script, keys, args in calls]
        return self.execute_many(client, packed, raise_on_error=False)

    def script_load(self, client: Any, script: LuaScript) -> None:
        self.execute(client, pack([*_SCRIPT_LOAD, script.body]))
