"""polykv.compat.volnux: volnux's documented classes, methods, parameters and defaults, on memory, sqlite
and a real redis-server (started here on a free port)."""

from __future__ import annotations

import inspect
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from polykv.backends.sqlite import SQLiteStore
from polykv.compat import volnux
from polykv.errors import InvalidArgumentError, RecordExistsError, RecordNotFoundError
from polykv.store import KeyValueStore

EMPTY = inspect.Parameter.empty

#: From volnux-backend-api.txt: class -> method -> documented parameters (name, default) in order.
#: ``EMPTY`` means the document gives no default.
DOCUMENTED: dict[str, dict[str, list[tuple[str, Any]]]] = {
    "KeyValueStoreBackendBase": {
        "__init__": [("connector_klass", None)],
        "exists": [("schema_name", EMPTY), ("record_key", EMPTY)],
        "count": [("schema_name", EMPTY)],
        "insert_record": [("schema_name", EMPTY), ("record_key", EMPTY), ("record", EMPTY)],
        "update_record": [("schema_name", EMPTY), ("record_key", EMPTY), ("record", EMPTY)],
        "delete_record": [("schema_name", EMPTY), ("record_key", EMPTY)],
        "get_record": [("schema_name", EMPTY), ("klass", EMPTY), ("record_key", EMPTY)],
        "reload_record": [("schema_name", EMPTY), ("record", EMPTY)],
        "filter_record": [("schema_name", EMPTY), ("record_klass", EMPTY), ("filter_kwargs", "**")],
    },
    "BackendConnectorBase": {
        "__init__": [("host", "*"), ("port", "*"), ("username", "*"), ("password", "*"), ("db", "*")],
        "connect": [],
        "disconnect": [],
        "is_connected": [],
    },
    "RedisConnector": {"__init__": [("host", "*"), ("port", "*"), ("db", "*")]},
    "HDFSConnector": {"__init__": [("host", "*"), ("port", "*"), ("username", "*")]},
    "HDFSStoreBackend": {"__init__": [("connector_klass", None), ("base_path", "/volnux")]},
    "ConnectorManagerFactory": {
        "create_manager": [
            ("connector_class", EMPTY),
            ("connector_config", EMPTY),
            ("connection_mode", None),
            ("kwargs", "**"),
        ]
    },
    "PooledConnectorManager": {
        "__init__": [("max_connections", "*"), ("connection_timeout", "*"), ("idle_timeout", "*")]
    },
}


#: Required parameters the document does not list: a manager made directly (not through the factory) must
#: still be told which connector class it manages.
UNDOCUMENTED_REQUIRED = {("PooledConnectorManager", "__init__"): {"connector_class"}}


def check_documented(owner: Any, method: str, documented: list[tuple[str, Any]]) -> None:
    """Every documented parameter exists with the documented default, documented positionals in order
    ("*" = any default; "**" = a **kwargs catch-all). Extra parameters must be optional."""
    params = dict(inspect.signature(getattr(owner, method)).parameters)
    params.pop("self", None)
    for name, default in documented:
        assert name in params, f"{owner.__name__}.{method} lacks parameter {name!r}"
        param = params[name]
        if default == "**":
            assert param.kind is inspect.Parameter.VAR_KEYWORD
        elif default != "*":
            assert param.default == default, f"{owner.__name__}.{method}({name}) default {param.default!r}"
    positional = [n for n, d in documented if d is EMPTY]
    actual = [n for n, p in params.items() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert actual[: len(positional)] == positional
    named = {n for n, _ in documented} | UNDOCUMENTED_REQUIRED.get((owner.__name__, method), set())
    for name, param in params.items():
        if name not in named and param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            assert param.default is not EMPTY, f"{owner.__name__}.{method} requires undocumented {name!r}"


@pytest.mark.parametrize(("cls", "method"), [(c, m) for c, ms in DOCUMENTED.items() for m in ms])
def test_documented_signatures(cls: str, method: str) -> None:
    check_documented(getattr(volnux, cls), method, DOCUMENTED[cls][method])


def test_documented_names_exist() -> None:
    for name in volnux.__all__:
        assert getattr(volnux, name) is not None
    assert [m.name for m in volnux.ConnectionMode] == ["SINGLE", "POOLED"]
    assert issubclass(volnux.InMemoryKeyValueStoreBackend, volnux.KeyValueStoreBackendBase)
    assert issubclass(volnux.RedisStoreBackend, volnux.KeyValueStoreBackendBase)
    assert issubclass(volnux.HDFSStoreBackend, volnux.KeyValueStoreBackendBase)
    assert isinstance(
        volnux.ConnectorManagerFactory.create_manager(volnux.RedisConnector, {}), volnux.SingleConnectorManager
    )


def test_redis_connector_positional_order_is_host_port_db() -> None:
    connector = volnux.RedisConnector("127.0.0.1", 7000, 3)
    assert (connector.host, connector.port, connector.db, connector.username) == ("127.0.0.1", 7000, 3, None)


def test_import_polykv_does_not_import_compat() -> None:
    code = "import sys, polykv; polykv.registry; assert not any(m.startswith('polykv.compat') for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_plugin_names_the_distribution() -> None:
    code = (
        "import sys; sys.modules['polykv_redis'] = None\n"
        "from polykv.errors import PluginLoadError\n"
        "import polykv.compat.volnux as v\n"
        "try:\n    v.RedisStoreBackend\nexcept PluginLoadError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert "pip install polykv-redis" in out


def test_bad_connector_klass_is_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        volnux.InMemoryKeyValueStoreBackend(connector_klass=dict)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="RedisConnector"):
        volnux.RedisStoreBackend(connector_klass=volnux.HDFSConnector)


@dataclass
class Event(volnux.BackendIntegrationMixin):
    id: str
    name: str
    size: int = 0

    __schema_name__ = "events"


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    from polykv_redis.testing import RedisServer

    server = RedisServer()
    try:
        server.start()
        yield server.port
    finally:
        server.stop()


@pytest.fixture(params=["memory", "sqlite", "redis", "redis-pooled"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[KeyValueStore]:
    if request.param == "memory":
        made: KeyValueStore = volnux.InMemoryKeyValueStoreBackend()
    elif request.param == "sqlite":  # polykv's own sqlite store answers the same record calls
        made = SQLiteStore(tmp_path / "v.db")
    else:
        port = request.getfixturevalue("redis_port")
        mode = volnux.ConnectionMode.POOLED if request.param == "redis-pooled" else None
        extra = {"max_connections": 4} if mode else {}
        made = volnux.RedisStoreBackend(
            connection_mode=mode, host="127.0.0.1", port=port, db=0, prefix="t" + uuid.uuid4().hex[:8], **extra
        )
    with made:
        yield made


def test_record_api(store: KeyValueStore) -> None:
    first = Event("1", "start", 3)
    store.insert_record("events", "1", first)
    store.insert_record(schema_name="events", record_key="2", record=Event("2", "stop", 9))
    assert store.exists("events", "1") and not store.exists("events", "3")
    assert store.count("events") == 2
    with pytest.raises(RecordExistsError):
        store.insert_record("events", "1", first)
    assert store.get_record("events", Event, "2") == Event("2", "stop", 9)
    if isinstance(store, volnux.KeyValueStoreBackendBase):
        assert store.get_record("events", Event, 2) == Event("2", "stop", 9)  # documented: str | int
    store.update_record("events", "1", Event("1", "restart", 4))
    stale = Event("1", "start", 3)
    store.reload_record("events", stale)
    assert stale == Event("1", "restart", 4)
    assert store.filter_record("events", Event, name="stop") == [Event("2", "stop", 9)]
    assert store.filter_record("events", Event, size__gte=4, name__contains="art") == [Event("1", "restart", 4)]
    store.delete_record("events", "2")
    assert store.count("events") == 1
    with pytest.raises(RecordNotFoundError):
        store.update_record("events", "2", Event("2", "x"))
    with pytest.raises(RecordNotFoundError):
        store.get_record("events", Event, "2")


def test_redis_backend_uses_its_connector_and_manager(redis_port: int) -> None:
    class Counting(volnux.RedisConnector):
        made = 0

        def connect(self) -> Any:
            type(self).made += 1
            return super().connect()

    pool = {"max_connections": 2, "connection_timeout": 1.0, "idle_timeout": 30.0}
    with volnux.RedisStoreBackend(Counting, "pooled", host="127.0.0.1", port=redis_port, db=1, **pool) as store:
        assert isinstance(store.connector_manager, volnux.PooledConnectorManager)
        assert store.connector_manager.max_connections == 2
        store.set("k", 1)
        assert store["k"] == 1
        assert Counting.made == 1
    with volnux.RedisStoreBackend(host="127.0.0.1", port=redis_port, db=1) as single:
        assert isinstance(single.connector_manager, volnux.SingleConnectorManager)
        assert single["k"] == 1  # same server and database, default prefix: the same data
        single.delete("k")
