"""polykv.integrations.eric_sse: eric-sse's own channel and connection repositories, end to end, on memory and sqlite.

Each scenario persists a channel with its connections through one set of adapters, reloads it through a second
set over the same data (the same memory store; a second SQLiteStore on the same file), removes a listener,
then deletes the channel. The Redis run of the same scenario is in plugins/polykv-redis/tests/test_integrations.py.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("eric_sse")

from eric_sse.connection import InMemoryConnectionsFactory
from eric_sse.exception import ItemNotFound
from eric_sse.interfaces import ListenerRepositoryInterface, QueueRepositoryInterface
from eric_sse.listener import MessageQueueListener
from eric_sse.message import Message
from eric_sse.prefabs import SSEChannel, SSEChannelRepository
from eric_sse.queues import InMemoryQueue, Queue
from eric_sse.repository import ConnectionRepository, KvStorage

from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.errors import InvalidArgumentError, KeyNotFoundError, SerializationError
from polykv.integrations.eric_sse import ItemNotFoundError, KvStorageAdapter
from polykv.store import KeyValueStore
from polykv.wrappers import PrefixStore


class ListenerRepository(ListenerRepositoryInterface):  # type: ignore[misc]
    """Listeners kept by id in a KvStorage (eric-sse 2.1 ships only the interface)."""

    def __init__(self, storage: KvStorage) -> None:
        self.storage = storage

    def load(self, connection_id: str) -> MessageQueueListener:
        return MessageQueueListener(listener_id=self.storage.fetch_one(connection_id)["id"])

    def persist(self, connection_id: str, listener: MessageQueueListener) -> None:
        self.storage.upsert(connection_id, {"id": listener.id})

    def delete(self, connection_id: str) -> None:
        self.storage.delete(connection_id)


class QueueRepository(QueueRepositoryInterface):  # type: ignore[misc]
    """In-memory queues by connection id (queues are not what the adapter stores)."""

    def __init__(self) -> None:
        self.queues: dict[str, Queue] = {}

    def load(self, connection_id: str) -> Queue:
        return self.queues.setdefault(connection_id, InMemoryQueue())

    def persist(self, connection_id: str, queue: Queue) -> None:
        self.queues[connection_id] = queue

    def delete(self, connection_id: str) -> None:
        self.queues.pop(connection_id, None)


def repositories(store: KeyValueStore) -> SSEChannelRepository:
    """eric-sse's repositories over one polykv store, each in its own prefix (a repository lists all it holds)."""
    connections = ConnectionRepository(
        KvStorageAdapter(PrefixStore(store, "connections:")),
        ListenerRepository(KvStorageAdapter(PrefixStore(store, "listeners:"))),
        QueueRepository(),
    )
    return SSEChannelRepository(
        KvStorageAdapter(PrefixStore(store, "channels:")), connections, InMemoryConnectionsFactory()
    )


def scenario(first: KeyValueStore, reopen: Callable[[], KeyValueStore]) -> None:
    """Persist through ``first``, reload and delete through stores from ``reopen()`` (same data)."""
    channel = SSEChannel(retry_timeout_milliseconds=7, stream_delay_seconds=1, connections_factory=None)
    listeners = [channel.add_listener(), channel.add_listener()]
    other = SSEChannel()
    repo = repositories(first)
    repo.persist(channel)
    repo.persist(other)

    second = reopen()
    again = repositories(second)
    loaded = again.load_one(channel.id)
    assert isinstance(loaded, SSEChannel)
    assert (loaded.id, loaded.retry_timeout_milliseconds, loaded.stream_delay_seconds) == (channel.id, 7, 1)
    assert {c.listener.id for c in loaded.get_connections()} == {listener.id for listener in listeners}
    assert {c.id for c in loaded.get_connections()} == {c.id for c in channel.get_connections()}
    assert sorted(c.id for c in again.load_all()) == sorted([channel.id, other.id])
    # a reloaded channel delivers: its listeners are registered with queues
    loaded.dispatch(listeners[0].id, Message(msg_type="news", msg_payload={"n": 1}))
    loaded.get_listener(listeners[0].id).start()
    assert loaded.deliver_next(listeners[0].id).payload == {"n": 1}

    # a removed listener's connection is deleted from storage when the channel is persisted again
    loaded.remove_listener(listeners[1].id)
    again.persist(loaded)
    reloaded = repositories(reopen()).load_one(channel.id)
    assert [c.listener.id for c in reloaded.get_connections()] == [listeners[0].id]

    repo.delete(channel.id)
    with pytest.raises(ItemNotFound):
        again.load_one(channel.id)
    assert [c.id for c in again.load_all()] == [other.id]
    assert list(first.keys_by_prefix("connections:" + channel.id)) == []
    assert list(first.keys_by_prefix("listeners:")) == []
    repo.delete(channel.id)  # idempotent, as eric-sse's repositories expect


def test_memory_end_to_end() -> None:
    store = MemoryStore()
    scenario(store, lambda: store)


def test_sqlite_end_to_end(tmp_path: Path) -> None:
    path = tmp_path / "eric.db"
    opened: list[SQLiteStore] = []

    def reopen() -> SQLiteStore:
        opened.append(SQLiteStore(path))
        return opened[-1]

    with SQLiteStore(path) as store:
        try:
            scenario(store, reopen)
        finally:
            for other in opened:
                other.close()


@pytest.fixture(params=["memory", "sqlite"])
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KvStorageAdapter]:
    store: KeyValueStore = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "kv.db")
    with store:
        yield KvStorageAdapter(store)


def test_is_an_eric_sse_kv_storage(adapter: KvStorageAdapter) -> None:
    assert isinstance(adapter, KvStorage)
    assert "KvStorageAdapter" in repr(adapter)


def test_kv_storage_contract(adapter: KvStorageAdapter) -> None:
    adapter.upsert("a:1", {"v": 1})
    adapter.upsert("a:2", {"v": 2})
    adapter.upsert("a*", {"v": 3})  # glob characters are literal
    adapter.upsert("b:1", None)
    adapter.upsert("a:1", {"v": 10})
    assert adapter.fetch_one("a:1") == {"v": 10}
    assert adapter.fetch_one("b:1") is None  # a stored None is a value, not a miss
    assert sorted(v["v"] for v in adapter.fetch_by_prefix("a:")) == [2, 10]
    assert [v["v"] for v in adapter.fetch_by_prefix("a*")] == [3]
    assert len(list(adapter.fetch_all())) == 4
    adapter.delete("a:1")
    adapter.delete("a:1")  # idempotent
    adapter.delete("never-there")
    with pytest.raises(ItemNotFound) as caught:
        adapter.fetch_one("a:1")
    assert caught.value.key == "a:1"


def test_records_are_not_items(adapter: KvStorageAdapter) -> None:
    adapter.store.insert_record("items", "a:1", {"v": 1})
    assert list(adapter.fetch_all()) == []


def test_missing_item_is_both_eric_sse_and_polykv_error(adapter: KvStorageAdapter) -> None:
    with pytest.raises(ItemNotFoundError) as caught:
        adapter.fetch_one("nope")
    error = caught.value
    assert isinstance(error, ItemNotFound)
    assert isinstance(error, KeyNotFoundError)
    assert isinstance(error, KeyError)
    assert (error.backend, error.key) == (adapter.store.backend_name, "nope")
    assert "key='nope'" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.key, copy.backend) == (ItemNotFoundError, "nope", error.backend)


def test_refusals_are_polykv_errors_and_write_nothing(adapter: KvStorageAdapter) -> None:
    with pytest.raises(SerializationError, match="cannot encode"):
        adapter.upsert("x", object())
    with pytest.raises(InvalidArgumentError):
        adapter.upsert("", {})
    assert list(adapter.fetch_all()) == []
    with pytest.raises(InvalidArgumentError, match="KeyValueStore"):
        KvStorageAdapter({})  # type: ignore[arg-type]


def test_two_adapters_over_one_store_see_the_same_items(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a.db") as one, SQLiteStore(tmp_path / "a.db") as two:
        KvStorageAdapter(one).upsert("k", {"x": [1, 2]})
        assert KvStorageAdapter(two).fetch_one("k") == {"x": [1, 2]}


def test_compat_module_points_at_the_adapter() -> None:
    from polykv.compat import eric_sse as compat

    assert compat.ADAPTER_MODULE == "polykv.integrations.eric_sse"
    assert compat.KvStorageAdapter is KvStorageAdapter
