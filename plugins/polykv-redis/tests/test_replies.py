"""Redis error replies become polykv errors by ``polykv_redis.replies``' table, reply kind by reply kind.

Each reply is produced on a real redis-server the test starts (or the session's server), through a polykv
store, and each test checks the polykv error class (and code) AND that nothing stored before was lost.
Kinds with no quick way to make a real server answer them (EXECABORT: polykv's transactions queue nothing a
server refuses; ASK and TRYAGAIN: a slot caught mid-migration; MISCONF: a failing snapshot) are checked on
redis-py's own exception, built by redis-py's reply parser from the reply text (``test_constructed_reply``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from polykv_redis import replies
from polykv_redis.cluster import RedisClusterStore
from polykv_redis.connector import RedisConnector
from polykv_redis.store import RedisStore
from polykv_redis.testing import RedisClusterServers, RedisServer, free_port
from redis._parsers.base import BaseParser

from polykv.errors import (
    AccessDeniedError,
    AuthenticationFailedError,
    BackendBusyError,
    BackendError,
    BackendUnavailableError,
    InvalidArgumentError,
    PolyKVError,
    StorageError,
    WrongTypeError,
)
from polykv.store import INCR_MAX

#: The total deadline of the stores that meet transient replies: the manager retries within it, then gives up.
TIMEOUT = 0.4

SEED_KV = {"keep": {"a": [1, 2]}, "n": 5, "text": "hello"}
SEED_RECORD = ("users", "u1", {"name": "ada"})


def _seed(store: RedisStore) -> None:
    for key, value in SEED_KV.items():  # one key per command: a single cluster-mode node refuses cross-slot MSET
        store.set(key, value)
    store.insert_record(SEED_RECORD[0], SEED_RECORD[1], SEED_RECORD[2])


def _assert_intact(store: RedisStore, **changed: Any) -> None:
    """Everything ``_seed`` stored reads back (``changed`` names the values a test changed on purpose)."""
    assert {key: store.get(key) for key in SEED_KV} == {**SEED_KV, **changed}
    assert store.get_record(SEED_RECORD[0], dict, SEED_RECORD[1]) == SEED_RECORD[2]
    assert store.count(SEED_RECORD[0]) == 1


def _raises(kind: type[PolyKVError], code: str | None, call: Callable[[], Any]) -> PolyKVError:
    """``call()`` raises exactly the table's ``kind`` (not a subclass picked by accident) with ``code``."""
    with pytest.raises(kind) as info:
        call()
    error = info.value
    assert type(error) is kind, repr(error)
    assert error.backend in ("redis", "redis_cluster")
    if code is not None:
        assert isinstance(error, BackendError) and error.code == code, str(error)
    return error


def _poll(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _info(client: redis.Redis, section: str) -> dict[str, Any]:
    info: dict[str, Any] = client.info(section)
    return info


@pytest.fixture
def store(redis_server: RedisServer, key_prefix: str) -> Iterator[RedisStore]:
    s = RedisStore(port=redis_server.port, prefix=key_prefix, timeout=TIMEOUT)
    try:
        _seed(s)
        yield s
    finally:
        s.close()


# -- the table itself ---------------------------------------------------------------------------------
def test_table_is_explicit_and_every_kind_round_trips_through_redis_pys_parser() -> None:
    seen = set()
    for kind in replies.REPLY_KINDS:
        assert (kind.code, kind.detail) not in seen
        seen.add((kind.code, kind.detail))
        assert issubclass(kind.error, PolyKVError) and kind.error is not PolyKVError
        assert kind.retryable == issubclass(kind.error, BackendBusyError)
        sample = "3999 127.0.0.1:6381" if kind.code in ("MOVED", "ASK") else kind.detail or "anything at all"
        exc = BaseParser.parse_error(f"{kind.code} {sample}")
        reply = replies.reply_of(exc)
        assert reply is not None and reply.code == kind.code
        assert replies.kind_of(reply) is kind
    codes = [k.code for k in replies.REPLY_KINDS]
    for code in set(codes):  # within a code, the catch-all comes last
        details = [k.detail for k in replies.REPLY_KINDS if k.code == code]
        assert "" not in details[:-1]


def test_unknown_code_is_a_backend_error_naming_it(store: RedisStore) -> None:
    exc = BaseParser.parse_error("NEWFANGLED something the server invented")
    error = store._translate(exc, "", "k")
    assert type(error) is BackendError and error.code == "NEWFANGLED" and "NEWFANGLED" in str(error)
    _assert_intact(store)


def test_echoed_arguments_and_own_secrets_never_reach_a_message(redis_server: RedisServer) -> None:
    store = RedisStore(port=redis_server.port, password="pw-4-echo", timeout=TIMEOUT)
    try:
        exc = BaseParser.parse_error("ERR unknown command 'AUTH', with args beginning with: 'pw-4-echo' ")
        assert "pw-4-echo" not in str(store._translate(exc, "", None))
        exc = BaseParser.parse_error("WEIRD the server says pw-4-echo")
        assert "pw-4-echo" not in str(store._translate(exc, "", None))
    finally:
        store.close()


# -- the data under the store's key -----------------------------------------------------------------
def test_wrongtype_foreign_value_under_the_stores_own_key(store: RedisStore, raw: redis.Redis) -> None:
    raw.rpush(store.layout.kv("list"), "x", "y")
    raw.hset(store.layout.record("users", "u2"), "f", "v")
    _raises(WrongTypeError, "WRONGTYPE", lambda: store.get("list"))
    _raises(WrongTypeError, "WRONGTYPE", lambda: store.incr("list"))  # the script's pcall hands the reply back
    error = _raises(WrongTypeError, "WRONGTYPE", lambda: store.get_record("users", dict, "u2"))
    assert str(error).count("WRONGTYPE") == 1, str(error)
    # the key is taken, though unreadable: membership and exists say so (and never raise), add does not take it
    assert "list" in store and store.exists("list") and store.exists("users", "u2")
    assert store.add("list", 1) is False
    _raises(WrongTypeError, "WRONGTYPE", lambda: store.compare_and_set("list", 1, 2))
    assert raw.lrange(store.layout.kv("list"), 0, -1) == [b"x", b"y"]
    assert raw.hgetall(store.layout.record("users", "u2")) == {b"f": b"v"}
    _assert_intact(store)


@pytest.mark.parametrize("change_feed", [False, True])
def test_incr_past_the_64_bit_range(redis_server: RedisServer, key_prefix: str, change_feed: bool) -> None:
    store = RedisStore(port=redis_server.port, prefix=key_prefix, change_feed=change_feed)
    try:
        _seed(store)
        assert store.incr("c", INCR_MAX) == INCR_MAX
        error = _raises(InvalidArgumentError, None, lambda: store.incr("c", 1))  # ERR ... would overflow
        assert error.key == "c" and "64-bit" in str(error)
        assert store.get("c") == INCR_MAX
        _raises(InvalidArgumentError, None, lambda: store.incr("text", 1))  # ERR value is not an integer...
        _assert_intact(store)
    finally:
        store.close()


def test_incr_overflow_of_a_plain_command_uses_the_same_table(store: RedisStore) -> None:
    """The same reply to a plain INCRBY (not through polykv's script) reaches ``_translate``."""
    store.incr("c", INCR_MAX)
    name = store.layout.kv("c")
    error = _raises(
        InvalidArgumentError, None, lambda: store._run(lambda c: c.incrby(name, 1), idempotent=False, key="c")
    )
    assert error.key == "c" and "64-bit" in str(error)
    assert store.get("c") == INCR_MAX
    _assert_intact(store)


# -- who may do what ----------------------------------------------------------------------------------
def test_noperm_acl_without_write_commands(store: RedisStore, raw: redis.Redis, redis_server: RedisServer) -> None:
    user = f"reader-{store.layout.prefix}"
    raw.execute_command(
        "ACL", "SETUSER", user, "on", ">reader-pw", "~*", "+@read", "+@connection", "+evalsha", "+script|load"
    )
    reader = RedisStore(
        port=redis_server.port, prefix=store.layout.prefix, username=user, password="reader-pw", timeout=TIMEOUT
    )
    try:
        _raises(AccessDeniedError, "NOPERM", lambda: reader.set("keep", 0))
        _raises(AccessDeniedError, "NOPERM", lambda: reader.delete("n"))
        # inside polykv's write script the server says "ERR The user executing the script can't run..."
        _raises(AccessDeniedError, "ERR", lambda: reader.insert_record("users", "u9", {"name": "eve"}))
        assert reader.get("keep") == SEED_KV["keep"]  # reading is allowed
    finally:
        reader.close()
        raw.execute_command("ACL", "DELUSER", user)
    assert not store.exists("users", "u9")
    _assert_intact(store)


def test_wrongpass_bad_password(store: RedisStore, raw: redis.Redis, redis_server: RedisServer) -> None:
    user = f"bob-{store.layout.prefix}"
    raw.execute_command("ACL", "SETUSER", user, "on", ">right-pw", "~*", "+@all")
    bad = RedisStore(port=redis_server.port, username=user, password="wrong-pw-123", timeout=TIMEOUT)
    try:
        error = _raises(AuthenticationFailedError, "WRONGPASS", lambda: bad.get("keep"))
        assert isinstance(error, BackendUnavailableError) and isinstance(error, AccessDeniedError)
        assert "wrong-pw-123" not in str(error) and "credentials" in str(error)
    finally:
        bad.close()
        raw.execute_command("ACL", "DELUSER", user)
    _assert_intact(store)


def test_noauth_requirepass_and_no_password(own_server: RedisServer, key_prefix: str) -> None:
    good = RedisStore(port=own_server.port, password="server-pw", prefix=key_prefix, timeout=TIMEOUT)
    anonymous = RedisStore(port=own_server.port, prefix=key_prefix, timeout=TIMEOUT)
    try:
        with redis.Redis(port=own_server.port) as admin:
            admin.config_set("requirepass", "server-pw")
        _seed(good)
        error = _raises(AuthenticationFailedError, "NOAUTH", lambda: anonymous.get("keep"))
        assert "server-pw" not in str(error)
        _raises(AuthenticationFailedError, "NOAUTH", lambda: anonymous.set("keep", 0))
        _assert_intact(good)
    finally:
        anonymous.close()
        good.close()


# -- capacity -----------------------------------------------------------------------------------------
def test_oom_maxmemory_noeviction(own_server: RedisServer, key_prefix: str) -> None:
    store = RedisStore(port=own_server.port, prefix=key_prefix, timeout=TIMEOUT)
    admin = redis.Redis(port=own_server.port)
    try:
        _seed(store)
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", 1)
        _raises(StorageError, "OOM", lambda: store.set("new", 1))
        _raises(StorageError, "OOM", lambda: store.set_many({"new": 1, "other": 2}))
        _raises(StorageError, "OOM", lambda: store.insert_record("users", "u2", {"name": "bob"}))  # in the script
        _raises(StorageError, "OOM", lambda: store.incr("n"))  # the script's pcall hands the reply back
        _assert_intact(store)  # reads still work
        admin.config_set("maxmemory", 0)
        assert store.get_many(["new", "other"]) == {}
        assert not store.exists("users", "u2")
        _assert_intact(store)
    finally:
        admin.close()
        store.close()


# -- polykv's own protocol ----------------------------------------------------------------------------
def test_noscript_after_script_flush_is_recovered_by_reloading(store: RedisStore, raw: redis.Redis) -> None:
    raw.script_flush()
    store.insert_record("users", "u2", {"name": "bob"})  # WRITE via EVALSHA: NOSCRIPT, load, run again
    raw.script_flush()
    assert store.count("users") == 2  # COUNT per bucket in one pipeline (_eval_many)
    assert store.incr("n", 2) == 7  # KV_INCR
    raw.script_flush()
    store.delete_record("users", "u2")
    _assert_intact(store, n=7)


def test_moved_and_crossslot_from_a_plain_store_on_a_cluster_node(
    redis_cluster: RedisClusterServers, key_prefix: str
) -> None:
    cluster = RedisClusterStore(port=redis_cluster.port, prefix=key_prefix)
    plain = RedisStore(port=redis_cluster.port, prefix=key_prefix, timeout=TIMEOUT)
    try:
        _seed(cluster)
        keys = [f"k{i}" for i in range(30)]
        cluster.set_many(dict.fromkeys(keys, 1))
        codes = set()
        for key in keys:
            try:
                plain.get(key)
            except BackendError as error:
                assert type(error) is BackendError and "redis+cluster://" in str(error)
                codes.add(error.code)
        assert codes == {"MOVED"}
        _raises(BackendError, "CROSSSLOT", lambda: plain.set_many({"a": 1, "b": 2, "c": 3, "d": 4}))
        _assert_intact(cluster)
        assert cluster.get_many(keys) == dict.fromkeys(keys, 1)
    finally:
        plain.close()
        cluster.close()


# -- transient: the server answers but cannot serve now ---------------------------------------------
def test_readonly_store_pointed_at_a_replica(own_server: RedisServer, key_prefix: str) -> None:
    primary = RedisStore(port=own_server.port, prefix=key_prefix, timeout=TIMEOUT)
    with RedisServer(extra_args=("--replicaof", "127.0.0.1", str(own_server.port))) as replica_server:
        replica = RedisStore(port=replica_server.port, prefix=key_prefix, timeout=TIMEOUT)
        admin = redis.Redis(port=replica_server.port)
        try:
            _seed(primary)
            _poll(lambda: _info(admin, "replication").get("master_link_status") == "up", "the replica to sync")
            _poll(lambda: replica.get("keep") == SEED_KV["keep"] and replica.count("users") == 1, "replication")
            error = _raises(BackendBusyError, "READONLY", lambda: replica.set("keep", 0))  # retried, then gave up
            assert isinstance(error, BackendUnavailableError)
            _raises(BackendBusyError, "READONLY", lambda: replica.incr("n"))  # not retried
            _raises(BackendBusyError, "READONLY", lambda: replica.insert_record("users", "u2", {"name": "x"}))
            _assert_intact(replica)
            _assert_intact(primary)
        finally:
            admin.close()
            replica.close()
            primary.close()


def test_masterdown_replica_that_lost_its_master(key_prefix: str) -> None:
    with RedisServer() as primary_server:
        primary = RedisStore(port=primary_server.port, prefix=key_prefix, timeout=TIMEOUT)
        replica_args = ("--replicaof", "127.0.0.1", str(primary_server.port), "--replica-serve-stale-data", "no")
        with RedisServer(extra_args=replica_args) as replica_server:
            replica = RedisStore(port=replica_server.port, prefix=key_prefix, timeout=TIMEOUT)
            admin = redis.Redis(port=replica_server.port)
            try:
                _seed(primary)
                _poll(lambda: admin.get(replica.layout.kv("n")) == b"5", "replication")
                primary_server.stop()
                _poll(lambda: _info(admin, "replication").get("master_link_status") == "down", "the link to drop")
                _raises(BackendBusyError, "MASTERDOWN", lambda: replica.get("keep"))
                admin.config_set("replica-serve-stale-data", "yes")
                _assert_intact(replica)
            finally:
                admin.close()
                replica.close()
                primary.close()


def test_clusterdown_slot_not_served(key_prefix: str) -> None:
    cluster_args = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
    with RedisServer(extra_args=cluster_args) as server:
        admin = redis.Redis(port=server.port)
        store = RedisStore(port=server.port, prefix=key_prefix, timeout=TIMEOUT)
        try:
            admin.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
            _poll(lambda: _info(admin, "cluster").get("cluster_enabled") == 1, "cluster mode")
            _poll(lambda: b"cluster_state:ok" in admin.execute_command("CLUSTER", "INFO"), "cluster_state:ok")
            _seed(store)
            slot = admin.execute_command("CLUSTER", "KEYSLOT", store.layout.kv("keep"))
            admin.execute_command("CLUSTER", "DELSLOTS", slot)
            _raises(BackendBusyError, "CLUSTERDOWN", lambda: store.get("keep"))  # retried, then gave up
            _raises(BackendBusyError, "CLUSTERDOWN", lambda: store.incr("n"))
            admin.execute_command("CLUSTER", "ADDSLOTS", slot)
            _poll(lambda: b"cluster_state:ok" in admin.execute_command("CLUSTER", "INFO"), "cluster_state:ok")
            _assert_intact(store)
        finally:
            store.close()
            admin.close()


def test_noreplicas_min_replicas_to_write(own_server: RedisServer, key_prefix: str) -> None:
    store = RedisStore(port=own_server.port, prefix=key_prefix, timeout=TIMEOUT)
    admin = redis.Redis(port=own_server.port)
    try:
        _seed(store)
        admin.config_set("min-replicas-to-write", 1)
        _raises(BackendBusyError, "NOREPLICAS", lambda: store.set("keep", 0))
        _raises(BackendBusyError, "NOREPLICAS", lambda: store.insert_record("users", "u2", {"name": "x"}))
        _assert_intact(store)
        admin.config_set("min-replicas-to-write", 0)
        _assert_intact(store)
    finally:
        admin.close()
        store.close()


def test_max_number_of_clients_reached(own_server: RedisServer, key_prefix: str) -> None:
    store = RedisStore(port=own_server.port, prefix=key_prefix, timeout=TIMEOUT)
    admin = redis.Redis(port=own_server.port, single_connection_client=True)
    try:
        _seed(store)
        store.close()  # the store's connections go; the admin's one stays
        admin.config_set("maxclients", 1)
        _raises(BackendBusyError, "ERR", lambda: store.get("keep"))  # ERR max number of clients reached
        admin.config_set("maxclients", 100)
        _assert_intact(store)
    finally:
        admin.close()
        store.close()


def test_busy_long_script_on_another_connection(own_server: RedisServer, key_prefix: str) -> None:
    store = RedisStore(port=own_server.port, prefix=key_prefix, timeout=TIMEOUT)
    admin = redis.Redis(port=own_server.port)
    runner = redis.Redis(port=own_server.port)
    ended: list[BaseException] = []

    def run_forever() -> None:
        try:
            runner.eval("while true do end", 0)
        except redis.RedisError as exc:  # SCRIPT KILL ends it with an error reply
            ended.append(exc)

    def busy() -> bool:
        try:
            admin.ping()
        except redis.ResponseError as exc:
            return str(exc).startswith("BUSY")
        return False

    thread = threading.Thread(target=run_forever, daemon=True)
    try:
        _seed(store)
        admin.config_set("busy-reply-threshold", 20)
        thread.start()
        _poll(busy, "the script to make the server busy")
        error = _raises(BackendBusyError, "BUSY", lambda: store.get("keep"))  # idempotent: retried, gave up
        assert error.key == "keep"
        _raises(BackendBusyError, "BUSY", lambda: store.incr("n"))  # not idempotent: not re-sent
        _raises(BackendBusyError, "BUSY", lambda: store.insert_record("users", "u2", {"name": "x"}))
    finally:
        if thread.is_alive():
            _poll(lambda: _kill_script(admin), "SCRIPT KILL")
            thread.join(timeout=10)
        admin.close()
        runner.close()
    assert ended and not thread.is_alive()
    _assert_intact(store)
    store.close()


def _kill_script(admin: redis.Redis) -> bool:
    try:
        admin.script_kill()
    except redis.ResponseError as exc:
        return str(exc).startswith("NOTBUSY")
    return True


class _LoadingServer(RedisServer):
    """A server whose start counts as done once it answers, even if the answer is ``-LOADING``."""

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith((b"+PONG", b"-LOADING"))
        except OSError:
            return False


def test_loading_while_the_server_loads_its_dataset(key_prefix: str) -> None:
    server = _LoadingServer(free_port())
    store = RedisStore(port=server.port, prefix=key_prefix, timeout=TIMEOUT)
    try:
        server.start()
        _seed(store)
        store.set_many({f"bulk{i}": i for i in range(3000)})
        with redis.Redis(port=server.port) as admin:
            admin.save()
        store.close()
        # 3000+ keys at 1 ms each: the dataset takes about 3 s to load, answering LOADING meanwhile
        server.extra_args = ("--key-load-delay", "1000", "--loading-process-events-interval-bytes", "1024")
        server.restart()
        _raises(BackendBusyError, "LOADING", lambda: store.get("keep"))  # retried, then gave up
        _raises(BackendBusyError, "LOADING", lambda: store.incr("n"))
        with redis.Redis(port=server.port) as admin:
            _poll(lambda: _info(admin, "persistence").get("loading") == 0, "the dataset to load", timeout=60)
        _assert_intact(store)
        assert store.get_many([f"bulk{i}" for i in range(3000)]) == {f"bulk{i}": i for i in range(3000)}
    finally:
        store.close()
        server.cleanup()


@pytest.mark.parametrize(
    ("text", "error", "retryable"),
    [
        ("EXECABORT Transaction discarded because of previous errors.", BackendError, False),
        ("ASK 3999 127.0.0.1:6381", BackendError, False),
        ("TRYAGAIN Multiple keys request during rehashing of slot", BackendBusyError, True),
        ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
         StorageError, False),
        ("NOSCRIPT No matching script. Please use EVAL.", BackendError, False),
        # Redis 7 lets any password through for a default user with nopass, so this needs an older server
        ("ERR AUTH <password> called without any password configured for the default user. Are you sure "
         "your configuration is correct?", AuthenticationFailedError, False),
    ],
)  # fmt: skip
def test_constructed_reply(store: RedisStore, text: str, error: type[PolyKVError], retryable: bool) -> None:
    """Kinds not produced on a real server here: redis-py's own exception, parsed from the reply text."""
    exc = BaseParser.parse_error(text)
    translated = store._translate(exc, "users", "u1")
    assert type(translated) is error
    assert isinstance(translated, BackendError) and translated.code == text.split()[0]
    assert text.split()[0] in str(translated)
    assert (translated.schema, translated.key) == ("users", "u1")
    connector = RedisConnector(port=1)
    assert connector.is_transient(exc) is retryable
    _assert_intact(store)


def test_connection_faults_stay_transient_and_auth_faults_do_not() -> None:
    connector = RedisConnector(port=1)
    assert connector.is_transient(redis.ConnectionError("Connection reset by peer"))
    assert connector.is_transient(redis.TimeoutError("Timeout reading from socket"))
    assert not connector.is_transient(BaseParser.parse_error("WRONGPASS invalid username-password pair"))
    assert not connector.is_transient(BaseParser.parse_error("NOAUTH Authentication required."))
    assert not connector.is_transient(BaseParser.parse_error("WRONGTYPE Operation against a key"))
    assert connector.is_transient(BaseParser.parse_error("LOADING Redis is loading the dataset in memory"))
    assert connector.is_transient(BaseParser.parse_error("BUSY Redis is busy running a script."))
