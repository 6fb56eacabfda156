"""``redis``: the polykv contract on one Redis server, with TTL, ADD, COMPARE_AND_SET, INCR and INDEX.

Key layout: see ``polykv_redis.layout``. Single-key operations are one command; record writes are one Lua
script that also keeps the bucket's counter, expiries and index sets (so ``count(schema)`` reads one
counter per bucket and ``filter_record`` on an indexed field reads only the matching records). Batches use
MGET/MSET or pipelines; listings use SCAN with a glob-escaped literal prefix, never KEYS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from redis import exceptions as rexc

from polykv.capabilities import Capability
from polykv.changes import RawChange
from polykv.codecs import JSONCodec
from polykv.connectors import (
    BackendConnectorBase,
    BaseConnectorManager,
    ConnectionMode,
    ConnectorManagerFactory,
    RetryPolicy,
)
from polykv.errors import (
    AuthenticationFailedError,
    BackendError,
    BackendUnavailableError,
    InvalidArgumentError,
    InvalidURLError,
    PolyKVError,
    PoolTimeoutError,
)
from polykv.options import as_bool, is_secret_option, options_from_url
from polykv.records import Condition, matches_all
from polykv.store import MISSING, KeyValueStore, _Missing
from polykv.urls import redact_url

from . import replies, scripts
from .commands import ClientCommands, DirectCommands, ScriptCalls
from .connector import RedisConnector
from .feed import ChangeFeed, ScriptCall
from .keyindex import KeyIndex
from .layout import KeyLayout, index_token, query_token
from .scripts import LuaScript

__all__ = ["RedisStore"]

T = TypeVar("T")

#: Keys asked for per SCAN call, and records/keys per MGET or pipeline batch.
SCAN_COUNT = 1000
BATCH_SIZE = 500

_INT_OPTIONS = {"buckets", "max_connections", "db", "change_feed_size"}
_BOOL_OPTIONS = {"change_feed", "key_index"}
_FLOAT_OPTIONS = {
    "connection_timeout", "idle_timeout", "socket_timeout", "connect_timeout", "pool_timeout", "timeout",
}  # fmt: skip


#: redis-py settings the store sets itself (under its own names), so they cannot be passed through.
_MANAGED_REDIS_OPTIONS = frozenset(
    {
        "host", "port", "db", "username", "password", "socket_timeout", "socket_connect_timeout", "retry",
        "connection_class", "connection_pool", "connection_pool_class", "max_connections", "timeout", "url",
        "queue_class", "startup_nodes", "kwargs", "self", "ssl",
    }
)  # fmt: skip


#: redis-py ``Connection`` parameters that are its own plumbing, set by its clients and pools (parsers,
#: packers, callbacks, the maintenance-notification and HIMPORT state), not settings for users: refused
#: as unknown options rather than passed through.
_INTERNAL_REDIS_OPTIONS = frozenset(
    {
        "parser_class", "command_packer", "redis_connect_func", "event_dispatcher", "orig_host_address",
        "orig_socket_connect_timeout", "orig_socket_timeout", "maint_notifications_config",
        "maint_notifications_pool_handler", "maintenance_notification_hash", "maintenance_state",
        "oss_cluster_maint_notifications_handler", "himport_registry", "legacy_responses",
    }
)  # fmt: skip


def _parameters(func: Any) -> set[str]:
    import inspect

    return set(inspect.signature(func).parameters)


def redis_passthrough_options(cluster: bool = False) -> frozenset[str]:
    """The redis-py options a Redis store passes through to redis-py (its ``Connection`` classes, or for a
    cluster ``RedisCluster`` and the node settings it keeps), read from the installed redis-py."""
    import redis
    from redis.connection import AbstractConnection

    names = _parameters(AbstractConnection.__init__) | _parameters(redis.Connection.__init__)
    names |= _parameters(redis.SSLConnection.__init__)
    if cluster:
        from redis import cluster as rc

        names = (names & set(rc.REDIS_ALLOWED_KEYS)) | _parameters(rc.RedisCluster.__init__)
    return frozenset(names - _MANAGED_REDIS_OPTIONS - _INTERNAL_REDIS_OPTIONS) | {"pool_timeout"}


def _refuse_reply_decoding(options: Mapping[str, Any], backend: str) -> None:
    """``InvalidArgumentError`` for redis-py options that change what bytes polykv reads or writes: replies
    decoded to ``str`` (``decode_responses``) or in RESP3 shapes (``protocol=3``), or keys and arguments
    encoded other than as UTF-8 (``encoding``), would break the codec's values, the replies polykv parses
    and the key layout the other clients of the data share."""
    if options.get("decode_responses"):
        raise InvalidArgumentError(
            "decode_responses is not supported: polykv reads every reply as bytes and its codec decodes the "
            "values (codec='json' by default gives str, numbers, lists and dicts back)",
            backend=backend,
        )
    protocol = options.get("protocol")
    if protocol not in (None, 2, "2"):
        raise InvalidArgumentError(
            f"protocol must be 2 (RESP2), got {protocol!r}: polykv reads RESP2 replies (RESP3 maps would break "
            "the change feed and the scripts' replies)",
            backend=backend,
        )
    encoding = options.get("encoding", "utf-8")
    if not isinstance(encoding, str) or encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise InvalidArgumentError(
            f"encoding must be 'utf-8' (keys are stored as UTF-8, as every polykv client reads them), got {encoding!r}",
            backend=backend,
        )


def _convert_passthrough(name: str, value: str) -> Any:
    """A redis-py option from a URL query: converted to the type of redis-py's default (int, float, bool)."""
    import inspect

    import redis
    from redis.connection import AbstractConnection

    for func in (AbstractConnection.__init__, redis.Connection.__init__, redis.SSLConnection.__init__):
        param = inspect.signature(func).parameters.get(name)
        if param is not None and param.default is not inspect.Parameter.empty and param.default is not None:
            default = param.default
            if isinstance(default, bool):
                return as_bool(value)
            if isinstance(default, int):
                return int(value)
            if isinstance(default, float):
                return float(value)
    return value


class RedisStore(KeyValueStore):
    """A polykv store on a Redis server (``redis://`` / ``rediss://``).

    ``prefix`` namespaces every key so several stores can share one server; ``buckets`` is how many
    cluster slots a schema's records spread over (every client of the same data must use the same value);
    ``indexes`` maps schema -> fields to index in addition to those record classes declare in
    ``__indexes__``. Connections: ``connection_mode`` ``"pooled"`` (default, redis-py's pool sized by
    ``max_connections``/``connection_timeout``/``idle_timeout``) or ``"single"``.

    ``change_feed=True`` turns on the durable change feed for ``polykv.ops.watch`` (``Capability.WATCH``):
    every write also appends to the stream ``<prefix>:changes`` in the same Lua script, which keeps about the
    last ``change_feed_size`` changes (``polykv_redis.feed``). Off by default: it costs a script per write.
    With it on, ``self._feed`` (a ``ChangeFeed``) gives each write primitive the logged script to run instead
    of its plain command (see the ``if feed is not None`` branches), and such a write is never re-sent.
    """

    _backend_type = "redis"
    url_schemes = ("redis", "rediss")
    #: The asyncio face (``polykv.aio``): this store's I/O on ``redis.asyncio``, everything else inherited.
    async_face = "polykv_redis.aio:AsyncRedisStore"
    capabilities = frozenset(
        {
            Capability.TTL,
            Capability.ADD,
            Capability.COMPARE_AND_SET,
            Capability.INCR,
            Capability.INDEX,
            Capability.LEASE,
        }
    )
    connector_class: ClassVar[type[BackendConnectorBase]] = RedisConnector
    #: Options whose values are masked in reprs, logs and errors (beside polykv's generic secret names).
    secret_options: ClassVar[frozenset[str]] = frozenset({"password", "ssl_password"})
    _cluster_client: ClassVar[bool] = False
    #: How commands reach the server (``polykv_redis.commands``): straight on redis-py's connections here.
    _commands: ClassVar[ClientCommands] = DirectCommands()

    @classmethod
    def accepted_options(cls) -> frozenset[str]:
        """Every keyword the constructor accepts: its own settings plus the redis-py options passed through
        (``redis_passthrough_options``); ``StoreMeta`` refuses any other name at construction."""
        return frozenset(_parameters(RedisStore.__init__) - {"self", "connector_options"}) | (
            redis_passthrough_options(cls._cluster_client)
        )

    @classmethod
    def listed_options(cls) -> list[str]:
        """The accepted options as an unknown-option error lists them: the TLS options as one ``ssl_*``
        entry, and without the redis-py ones polykv accepts only at their defaults (``decode_responses``,
        ``encoding``, ``encoding_errors``)."""
        names = cls.accepted_options() - {"decode_responses", "encoding", "encoding_errors"}
        return sorted({"ssl_* (redis-py's TLS options)" if n.startswith("ssl_") else n for n in names})

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6379,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        *,
        prefix: str = "polykv",
        buckets: int = 16,
        indexes: Mapping[str, Iterable[str]] | None = None,
        connection_mode: ConnectionMode | str = ConnectionMode.POOLED,
        max_connections: int = 16,
        connection_timeout: float = 5.0,
        idle_timeout: float = 300.0,
        connect_timeout: float = 5.0,
        socket_timeout: float = 5.0,
        timeout: float | None = None,
        ssl: bool = False,
        codec: Any = "json",
        change_feed: bool = False,
        change_feed_size: int = 100_000,
        key_index: bool = False,
        **connector_options: Any,
    ) -> None:
        super().__init__(codec=codec)
        _refuse_reply_decoding(connector_options, self._backend_type)
        self.layout = KeyLayout(prefix, buckets)
        if not isinstance(change_feed, bool):
            raise InvalidArgumentError(f"change_feed must be True or False, got {change_feed!r}", backend="redis")
        self.change_feed = change_feed
        #: The change feed's strategy object, or None when the feed is off.
        self._feed: ChangeFeed | None = None
        if change_feed:
            block_limit = socket_timeout and socket_timeout / 2
            self._feed = ChangeFeed(self.layout, change_feed_size, block_limit, self._backend_type)
            # this instance declares WATCH beside what the class declares (the class attribute stays as it is)
            object.__setattr__(self, "capabilities", type(self).capabilities | {Capability.WATCH})
        if not isinstance(key_index, bool):
            raise InvalidArgumentError(f"key_index must be True or False, got {key_index!r}", backend="redis")
        if key_index and change_feed:
            raise InvalidArgumentError(
                "key_index and change_feed cannot be combined yet (the change feed's scripts do not keep the key "
                "index); choose one",
                backend=self._backend_type,
            )
        #: The ordered key index (``polykv_redis.keyindex``), or None: KV listings then SCAN.
        self._kindex: KeyIndex | None = KeyIndex(self.layout) if key_index else None
        self._indexes: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in (indexes or {}).items()}
        config: dict[str, Any] = {
            "host": host,
            "port": port,
            "db": db,
            "username": username,
            "password": password,
            "connect_timeout": connect_timeout,
            "socket_timeout": socket_timeout,
            "ssl": ssl,
            **connector_options,
        }
        pool: dict[str, Any] = {}
        if ConnectionMode.parse(connection_mode, self._backend_type) is ConnectionMode.POOLED:
            pool = {
                "max_connections": max_connections,
                "connection_timeout": connection_timeout,
                "idle_timeout": idle_timeout,
            }
        total = socket_timeout if timeout is None else timeout
        if isinstance(total, bool) or not isinstance(total, (int, float)) or not 0 < total < float("inf"):
            raise InvalidArgumentError(
                f"timeout must be a finite number of seconds > 0, got {timeout!r}", backend=self._backend_type
            )
        self.timeout = float(total)
        self._manager: BaseConnectorManager = ConnectorManagerFactory.create_manager(
            self.connector_class, config, connection_mode, retry=RetryPolicy(deadline=self.timeout), **pool
        )
        self._where = f"{'rediss' if ssl else 'redis'}://{host}:{port}/{db}"
        #: Masked in every error message, should a server ever echo one back.
        self._secrets = tuple(str(s) for s in (password, connector_options.get("ssl_password")) if s)
        self._kv_head = self.layout.kv("")

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisStore:
        """``redis://[user[:password]@]host[:port][/db][?prefix=...&buckets=...&connection_mode=...]``;
        ``rediss://`` turns on TLS. Keyword ``options`` win over query parameters."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise InvalidURLError(f"cannot parse {redact_url(url)!r}: {exc}", backend=cls._backend_type) from None
        scheme = parts.scheme.lower()
        if scheme not in cls.url_schemes:
            raise InvalidURLError(
                f"{cls.__name__} serves {', '.join(cls.url_schemes)} URLs, not {redact_url(url)!r}",
                backend=cls._backend_type,
            )
        kwargs: dict[str, Any] = {"host": parts.hostname or "127.0.0.1", "port": port or 6379}
        if parts.username:
            kwargs["username"] = unquote(parts.username)
        if parts.password is not None:
            kwargs["password"] = unquote(parts.password)
        path = parts.path.strip("/")
        if path:
            if not path.isdigit():
                raise InvalidURLError(
                    f"the path of {redact_url(url)!r} must be a database number", backend=cls._backend_type
                )
            kwargs["db"] = int(path)
        query = parse_qsl(parts.query)
        for name, value in query:
            if name in _BOOL_OPTIONS:
                if value.lower() not in ("true", "false", "1", "0"):
                    raise InvalidURLError(
                        f"query parameter {name}={value!r} of {redact_url(url)!r} must be true or false",
                        backend=cls._backend_type,
                    )
                kwargs[name] = value.lower() in ("true", "1")
                continue
            try:
                if name in _INT_OPTIONS:
                    kwargs[name] = int(value)
                elif name in _FLOAT_OPTIONS:
                    kwargs[name] = float(value)
                else:
                    kwargs[name] = _convert_passthrough(name, value)
            except ValueError:
                shown = "***" if is_secret_option(name, cls.secret_options) else repr(value)
                raise InvalidURLError(
                    f"query parameter {name}={shown} of {redact_url(url)!r} is malformed (not a number or boolean)",
                    backend=cls._backend_type,
                ) from None
        if scheme.startswith("rediss"):
            kwargs["ssl"] = True
        kwargs.update(options)
        with options_from_url([name for name, _ in query], options):
            return cls(**kwargs)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self._where} prefix={self.layout.prefix!r} "
            f"codec={self.codec.name!r} manager={type(self._manager).__name__}>"
        )

    @property
    def manager(self) -> BaseConnectorManager:
        """The connection manager (``stats()``, ``close()``)."""
        return self._manager

    def close(self) -> None:
        """Close every connection; the store reconnects if used again."""
        self._manager.close()

    # -- running commands ---------------------------------------------------------------------------
    def _run(
        self, operation: Callable[[Any], T], *, idempotent: bool = True, ns: str = "", key: str | None = None
    ) -> T:
        """Run ``operation(client)`` with bounded retries of transient faults; redis-py errors become polykv
        errors. On the manager's shared client (``direct``) the retry machinery is entered only on a failure."""
        manager = self._manager
        client = manager.direct
        try:
            if client is not None:
                try:
                    return operation(client)
                except Exception as exc:
                    return manager.recover(exc, operation, idempotent=idempotent)
            return manager.execute(operation, idempotent=idempotent)
        except PolyKVError as exc:
            raise self._translate_gave_up(exc, ns, key) from exc.__cause__
        except rexc.RedisError as exc:
            raise self._translate(exc, ns, key) from exc

    def _recover(
        self, exc: Exception, operation: Callable[[Any], T], ns: str, key: str | None, idempotent: bool = True
    ) -> T:
        """After ``operation`` failed on the shared client: retry if transient (and idempotent, or never
        sent), translate."""
        try:
            return self._manager.recover(exc, operation, idempotent=idempotent)
        except PolyKVError as err:
            raise self._translate_gave_up(err, ns, key) from err.__cause__
        except rexc.RedisError as err:
            raise self._translate(err, ns, key) from err

    def _translate_gave_up(self, exc: PolyKVError, ns: str, key: str | None) -> PolyKVError:
        """``exc`` itself, unless the manager gave up on a transient error *reply* (``BUSY``, ``LOADING``...):
        then the table's error for that reply (``polykv_redis.replies``), naming schema and key."""
        cause = exc.__cause__
        if isinstance(exc, BackendUnavailableError) and isinstance(cause, rexc.RedisError):
            reply = replies.reply_of(cause)
            if reply is not None:
                return self._reply_error(reply, ns, key)
        return exc

    def _reply_error(self, reply: replies.Reply, ns: str, key: str | None) -> PolyKVError:
        return replies.reply_error(
            reply, server=self._where, backend=self.backend_name, schema=ns or None, key=key, secrets=self._secrets
        )

    def _translate(self, exc: rexc.RedisError, ns: str, key: str | None) -> PolyKVError:
        """The polykv error for a redis-py exception: error replies by ``polykv_redis.replies``' table; a full
        pool is ``PoolTimeoutError``; any other client-side fault a ``BackendError`` naming its class."""
        reply = replies.reply_of(exc)
        if reply is not None:
            return self._reply_error(reply, ns, key)
        where: dict[str, Any] = {"backend": self.backend_name, "schema": ns or None, "key": key}
        if isinstance(exc, rexc.MaxConnectionsError):
            return PoolTimeoutError(f"connection pool exhausted at {self._where}", **where)
        if isinstance(exc, (rexc.AuthenticationError, rexc.AuthorizationError)):  # raised by redis-py itself
            return AuthenticationFailedError(
                f"{self._where} refused the credentials: {type(exc).__name__} (check username/password)", **where
            )
        return BackendError(f"redis-py failed talking to {self._where}: {type(exc).__name__}", **where)

    def _eval(self, client: Any, script: LuaScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run ``script`` (loaded first if the server does not know it: a restarted or new server)."""
        return self._commands.evalsha(client, script, keys, args)

    def _eval_many(self, client: Any, calls: ScriptCalls, raise_on_error: bool = True) -> list[Any]:
        """Run many scripts in one round trip; any that hit NOSCRIPT are loaded and run again. With
        ``raise_on_error=False`` other failures are returned in place of their results."""
        commands = self._commands
        results: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        for _ in range(2):
            answers = commands.evalsha_many(client, [calls[i] for i in pending])
            missing = []
            for i, reply in zip(pending, answers, strict=False):
                if isinstance(reply, rexc.NoScriptError):
                    missing.append(i)
                elif isinstance(reply, Exception) and raise_on_error:
                    raise reply
                else:
                    results[i] = reply
            if not missing:
                return results
            for script in {calls[i][0] for i in missing}:
                commands.script_load(client, script)
            pending = missing
        raise self._reply_error(replies.Reply("NOSCRIPT", "scripts could not be loaded on the server"), "", None)

    # -- batches (overridden by the cluster store) --------------------------------------------------
    def _mget(self, client: Any, names: Sequence[str]) -> list[bytes | None]:
        return self._commands.mget(client, names)

    def _mset(self, client: Any, names: list[str], datas: list[bytes]) -> None:
        self._commands.mset(client, names, datas)

    def _scan_names(self, pattern: str) -> Iterator[str]:
        """Every key name matching ``pattern``, once each, one SCAN call per batch."""
        seen: set[bytes] = set()
        cursor = 0
        while True:
            cursor, batch = self._run(partial(self._commands.scan, cursor=cursor, pattern=pattern, count=SCAN_COUNT))
            for raw in batch:
                if raw not in seen:
                    seen.add(raw)
                    yield raw.decode("utf-8")
            if cursor == 0:
                return

    # -- indexes ------------------------------------------------------------------------------------
    def _indexes_declared(self, ns: str, fields: tuple[str, ...]) -> None:
        self._learn_indexes(ns, fields)

    def _learn_indexes(self, ns: str, fields: Iterable[str]) -> None:
        known = self._indexes.get(ns, ())
        new = tuple(f for f in fields if f not in known)
        if new:
            self._indexes[ns] = known + new

    def _index_pairs(self, ns: str, key: str, data: bytes) -> str:
        fields = self._indexes.get(ns)
        if not fields:
            return ""
        state = self._decode(data, ns, key)
        if not isinstance(state, dict):
            return ""
        bucket = self.layout.bucket_of(key)
        pairs: list[str] = []
        for field in fields:
            token = index_token(state.get(field))
            if token is not None:
                pairs += [field, self.layout.index_set(ns, bucket, field, token)]
        return json.dumps(pairs, ensure_ascii=False) if pairs else ""

    def _write_call(
        self, ns: str, mode: str, key: str, data: bytes, ttl: float | None
    ) -> tuple[LuaScript, list[str], list[Any]]:
        bucket = self.layout.bucket_of(key)
        h, m, x = self.layout.bookkeeping(ns, bucket)
        keys = [self.layout.record_prefix(ns, bucket) + key, h, m, x]
        call: ScriptCall = (
            scripts.WRITE, keys, [mode, data, scripts.ttl_arg(ttl), key, self._index_pairs(ns, key, data)]
        )  # fmt: skip
        return call if self._feed is None else self._feed.record_write(call, ns)

    def _delete_call(self, ns: str, key: str) -> tuple[LuaScript, list[str], list[Any]]:
        bucket = self.layout.bucket_of(key)
        h, m, x = self.layout.bookkeeping(ns, bucket)
        call: ScriptCall = (scripts.DELETE, [self.layout.record_prefix(ns, bucket) + key, h, m, x], [key])
        return call if self._feed is None else self._feed.record_delete(call, ns)

    def _record_write(self, ns: str, mode: str, key: str, data: bytes, ttl: float | None, idempotent: bool) -> bool:
        script, keys, args = self._write_call(ns, mode, key, data, ttl)
        return bool(self._run(lambda c: self._eval(c, script, keys, args), idempotent=idempotent, ns=ns, key=key))

    def _run_script(self, call: ScriptCall, idempotent: bool = True, ns: str = "", key: str | None = None) -> Any:
        """Run one script call (script, KEYS, ARGV)."""
        script, keys, args = call
        return self._run(lambda c: self._eval(c, script, keys, args), idempotent=idempotent, ns=ns, key=key)

    def _run_logged(self, call: ScriptCall, ns: str = "", key: str | None = None) -> Any:
        """Run one script of the change feed, never re-sent once it may have reached the server (a retry
        could log a change twice)."""
        script, keys, args = call
        return self._run(lambda c: self._eval(c, script, keys, args), idempotent=False, ns=ns, key=key)

    def _name(self, ns: str, key: str) -> str:
        return self.layout.kv(key) if not ns else self.layout.record(ns, key)

    # -- primitives ---------------------------------------------------------------------------------
    def _get(self, ns: str, key: str) -> bytes | None:
        name = self._kv_head + key if not ns else self.layout.record(ns, key)
        get = self._commands.get
        client = self._manager.direct
        if client is not None:  # the hot path: one command on a pooled connection, no closures unless it fails
            try:
                return get(client, name)
            except Exception as exc:
                return self._recover(exc, partial(get, name=name), ns, key)
        return self._run(partial(get, name=name), ns=ns, key=key)

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        if ns:
            self._record_write(ns, "set", key, data, ttl, idempotent=self._feed is None)
            return
        if self._feed is not None:
            self._run_logged(self._feed.kv_write("set", [(key, data)], ttl), key=key)
            return
        if self._kindex is not None:
            self._run_script(self._kindex.write("set", [(key, data)], scripts.ttl_arg(ttl)), key=key)
            return
        name = self._kv_head + key
        px = None if ttl is None else max(1, round(ttl * 1000))
        set_ = self._commands.set
        client = self._manager.direct
        if client is not None:  # the hot path, as in _get (SET is idempotent: a retry is safe)
            try:
                set_(client, name, data, px)
            except Exception as exc:
                self._recover(exc, partial(set_, name=name, data=data, px=px), "", key)
            return
        self._run(partial(set_, name=name, data=data, px=px), key=key)

    def _delete(self, ns: str, key: str) -> bool:
        if ns:
            script, keys, args = self._delete_call(ns, key)
            idempotent = self._feed is None
            return bool(self._run(lambda c: self._eval(c, script, keys, args), idempotent=idempotent, ns=ns, key=key))
        if self._feed is not None:
            return bool(self._run_logged(self._feed.kv_delete([key]), key=key))
        if self._kindex is not None:
            return bool(self._run_script(self._kindex.delete([key]), key=key))
        names = [self.layout.kv(key)]
        return bool(self._run(partial(self._commands.delete, names=names), key=key))

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        if not ns and self._kindex is not None:
            self._index_ready()
            for page in self._kindex.pages(self._run, self._eval, prefix, values=False):
                for raw in page:
                    yield raw.decode("utf-8")
            return
        if not ns:
            for name in self._scan_names(self.layout.kv_pattern(prefix)):
                yield self.layout.kv_key_of(name)
            return
        for name in self._scan_names(self.layout.record_pattern(ns, prefix)):
            key = self.layout.record_key_of(name)
            if key.startswith(prefix) and name.startswith(self.layout.tag(ns, self.layout.bucket_of(key))):
                yield key

    def _scan_items(self, ns: str, prefix: str) -> Iterator[tuple[str, bytes]]:
        if ns or self._kindex is None:
            yield from super()._scan_items(ns, prefix)
            return
        self._index_ready()
        for page in self._kindex.pages(self._run, self._eval, prefix, values=True):
            for i in range(0, len(page), 2):
                yield page[i].decode("utf-8"), page[i + 1]

    def _index_ready(self) -> None:
        """Build the key index once if this prefix's data predates it (``KeyIndex.ensure_built``)."""
        assert self._kindex is not None
        self._kindex.ensure_built(self._run, self._eval, self._scan_names)

    def _clear(self, ns: str, prefix: str) -> int:
        if ns or self._kindex is None:
            return super()._clear(ns, prefix)
        self._index_ready()
        return self._kindex.clear(self._run, self._eval, prefix, BATCH_SIZE)

    def _schemas(self) -> Iterator[str]:
        names = {self.layout.schema_of_counter(n) for n in self._scan_names(self.layout.schema_pattern())}
        for ns in sorted(n for n in names if n):
            if self._count(ns, "") > 0:
                yield ns

    def _get_many(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        if ns:
            record = self.layout.record
            names = [record(ns, k) for k in keys]
        else:
            head = self._kv_head
            names = [head + k for k in keys]
        if not names:
            return []
        if len(names) <= BATCH_SIZE:
            return self._run(partial(self._mget, names=names), ns=ns)
        out: list[bytes | None] = []
        for start in range(0, len(names), BATCH_SIZE):
            chunk = names[start : start + BATCH_SIZE]
            out += self._run(partial(self._mget, names=chunk), ns=ns)
        return out

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        for start in range(0, len(items), BATCH_SIZE):
            chunk = items[start : start + BATCH_SIZE]
            if ns:
                calls = [self._write_call(ns, "set", k, d, ttl) for k, d in chunk]
                self._run(partial(self._eval_many, calls=calls), idempotent=self._feed is None, ns=ns)
            elif self._feed is not None:
                self._run_logged(self._feed.kv_write("set", chunk, ttl), key=chunk[0][0] if len(chunk) == 1 else None)
            elif self._kindex is not None:
                self._run_script(self._kindex.write("set", chunk, scripts.ttl_arg(ttl)))
            elif ttl is None:
                head = self._kv_head
                names = [head + k for k, _ in chunk]
                datas = [d for _, d in chunk]
                self._run(partial(self._mset, names=names, datas=datas))
            else:
                px = max(1, round(ttl * 1000))

                names = [self.layout.kv(k) for k, _ in chunk]
                datas = [d for _, d in chunk]
                self._run(partial(self._commands.set_px_many, names=names, datas=datas, px=px))

    def _delete_many(self, ns: str, keys: Sequence[str]) -> int:
        removed = 0
        for start in range(0, len(keys), BATCH_SIZE):
            chunk = keys[start : start + BATCH_SIZE]
            if ns:
                calls = [self._delete_call(ns, k) for k in chunk]
                removed += sum(self._run(partial(self._eval_many, calls=calls), idempotent=self._feed is None, ns=ns))
            elif self._feed is not None:
                removed += int(self._run_logged(self._feed.kv_delete(chunk)))
            elif self._kindex is not None:
                removed += int(self._run_script(self._kindex.delete(chunk)))
            else:
                names = [self.layout.kv(k) for k in chunk]
                removed += self._run(partial(self._commands.delete, names=names))
        return removed

    def _count(self, ns: str, prefix: str) -> int:
        if not ns and self._kindex is not None:
            self._index_ready()
            return self._kindex.count(self._run, self._eval, prefix)
        if not ns or prefix:
            return super()._count(ns, prefix)
        calls = []
        for bucket in range(self.layout.buckets):
            h, m, x = self.layout.bookkeeping(ns, bucket)
            calls.append((scripts.COUNT, [h, m, x], [self.layout.record_prefix(ns, bucket)]))
        return sum(int(n) for n in self._run(lambda c: self._eval_many(c, calls), ns=ns))

    def _drop_schema(self, ns: str) -> None:
        """Unlink every key of the schema (records and bookkeeping), in SCAN batches. Not atomic against
        concurrent writers of the same schema. With the change feed on, each record is first deleted by a
        logged script (one DELETE event each)."""
        if self._feed is not None:
            self._clear(ns, "")
        batch: list[str] = []
        for name in self._scan_names(self.layout.schema_pattern(ns)):
            batch.append(name)
            if len(batch) >= BATCH_SIZE:
                self._unlink(batch, ns)
                batch = []
        if batch:
            self._unlink(batch, ns)

    def _unlink(self, names: list[str], ns: str) -> None:
        self._run(partial(self._commands.unlink, names=names), ns=ns)

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        if ns:
            return self._record_write(ns, "replace", key, data, ttl, idempotent=False)
        if self._feed is not None:
            return int(self._run_logged(self._feed.kv_write("replace", [(key, data)], ttl), key=key)) == 1
        if self._kindex is not None:
            call = self._kindex.write("replace", [(key, data)], scripts.ttl_arg(ttl))
            return int(self._run_script(call, idempotent=False, key=key)) == 1
        name = self.layout.kv(key)
        px = None if ttl is None else max(1, round(ttl * 1000))
        return self._run(
            partial(self._commands.set_if, name=name, data=data, px=px, xx=True), idempotent=False, key=key
        )

    def _filter(
        self, ns: str, conditions: list[Condition], indexes: tuple[str, ...]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        if indexes:
            self._learn_indexes(ns, indexes)
        lookup = next(
            (
                c
                for c in conditions
                if c.lookup == "exact" and c.field in indexes and query_token(c.operand) is not None
            ),
            None,
        )
        if lookup is None:
            yield from super()._filter(ns, conditions, indexes)
            return
        token = query_token(lookup.operand)
        assert token is not None
        calls = []
        for bucket in range(self.layout.buckets):
            h, m, x = self.layout.bookkeeping(ns, bucket)
            index = self.layout.index_set(ns, bucket, lookup.field, token)
            calls.append((scripts.FILTER, [h, m, x, index], [self.layout.record_prefix(ns, bucket), lookup.field]))
        replies = self._run(lambda c: self._eval_many(c, calls), ns=ns)
        if any(int(reply[0]) == 0 for reply in replies):  # some record is not indexed on the field: scan
            yield from super()._filter(ns, conditions, indexes)
            return
        keys = sorted(member.decode("utf-8") for reply in replies for member in reply[1])
        for key, data in zip(keys, self._get_many(ns, keys), strict=False):
            if data is None:
                continue
            state = self._decode(data, ns, key)
            if isinstance(state, dict) and matches_all(state, conditions):
                yield key, state

    # -- capabilities -------------------------------------------------------------------------------
    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        if ns:
            return self._record_write(ns, "add", key, data, ttl, idempotent=False)
        if self._feed is not None:
            return int(self._run_logged(self._feed.kv_write("add", [(key, data)], ttl), key=key)) == 1
        if self._kindex is not None:
            call = self._kindex.write("add", [(key, data)], scripts.ttl_arg(ttl))
            return int(self._run_script(call, idempotent=False, key=key)) == 1
        name = self.layout.kv(key)
        px = None if ttl is None else max(1, round(ttl * 1000))
        return self._run(
            partial(self._commands.set_if, name=name, data=data, px=px, nx=True), idempotent=False, key=key
        )

    def _cas_bytes(self, ns: str, key: str, old: bytes, new: bytes) -> bool:
        name = self._name(ns, key)
        if self._feed is not None:
            return bool(self._run_logged(self._feed.compare_and_set(name, ns, key, old, new), ns, key))
        return bool(
            self._run(lambda c: self._eval(c, scripts.CAS, [name], [old, new]), idempotent=False, ns=ns, key=key)
        )

    def _compare_and_set(self, ns: str, key: str, expected: Any, data: bytes) -> bool:
        while True:
            current = self._get(ns, key)
            if current is None or self._decode(current, ns, key) != expected:
                return False
            if self._cas_bytes(ns, key, current, data):
                return True

    def _incr(self, ns: str, key: str, amount: int) -> int:
        name = self._name(ns, key)
        if isinstance(self.codec, JSONCodec) and not ns:  # a JSON int is Redis's integer text: INCRBY
            if self._feed is not None:
                return self._incr_reply(ns, key, self._run_logged(self._feed.kv_incr(key, amount), key=key))
            if self._kindex is not None:
                return self._incr_reply(ns, key, self._run_script(self._kindex.incr(key, amount), False, key=key))
            reply = self._run(lambda c: self._eval(c, scripts.KV_INCR, [name], [amount]), idempotent=False, key=key)
            return self._incr_reply(ns, key, reply)
        while True:  # reads, then add / compare-and-set (logged ones with the change feed on)
            current = self._get(ns, key)
            value, data = self._incremented(ns, key, current, amount)  # raises before any write
            if current is None:
                if self._add(ns, key, data, None):
                    return value
            elif self._cas_bytes(ns, key, current, data):
                return value

    def _incr_reply(self, ns: str, key: str, reply: Any) -> int:
        """The result of ``scripts.KV_INCR``/``KV_INCR_LOGGED``: the new value, or the table's error for the
        reply Redis gave (``InvalidArgumentError`` for a non-integer or an overflow, ``WrongTypeError``...)."""
        if isinstance(reply, list):  # the script's pcall returned Redis's error reply: the table says which
            text = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
            raise self._reply_error(replies.reply_of_text(text), ns, key)
        return int(reply)

    def _delete_if(self, ns: str, key: str, expected: bytes) -> bool:
        """One script (GET, compare, DEL); never re-sent once it may have reached the server."""
        if ns:
            raise self._unsupported(Capability.LEASE, "owner-checked deletes of records")
        if self._feed is not None:
            return bool(self._run_logged(self._feed.kv_delete_if(key, expected), key=key))
        name = self.layout.kv(key)
        call = (scripts.DELETE_IF, [name], [expected])
        return bool(self._run(lambda c: self._eval(c, *call), idempotent=False, key=key))

    def _expire_if(self, ns: str, key: str, expected: bytes, ttl: float) -> bool:
        """One script (GET, compare, PEXPIRE); idempotent (a repeat sets the same TTL), so retried."""
        if ns:
            raise self._unsupported(Capability.LEASE, "owner-checked expiries of records")
        name = self.layout.kv(key)
        call = (scripts.EXPIRE_IF, [name], [expected, scripts.ttl_arg(ttl)])
        return bool(self._run(lambda c: self._eval(c, *call), key=key))

    def _ttl(self, ns: str, key: str) -> float | _Missing | None:
        name = self._name(ns, key)
        left = self._run(partial(self._commands.pttl, name=name), ns=ns, key=key)
        if left == -2:
            return MISSING
        if left == -1:
            return None
        return left / 1000.0

    # -- change feed (Capability.WATCH with change_feed=True) ---------------------------------------
    def _change_head(self) -> str:
        if self._feed is None:
            return super()._change_head()
        return self._feed.head(self._run)

    def _changes(self, since: str, limit: int, wait: float) -> list[RawChange]:
        if self._feed is None:
            return super()._changes(since, limit, wait)
        return self._feed.changes(self._run, since, limit, wait)


from .fastops import register_fast_paths  # noqa: E402 - registers ops fast paths for the class defined above

register_fast_paths(RedisStore)
