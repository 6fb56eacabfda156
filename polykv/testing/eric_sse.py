"""eric-sse's channel and connection repositories over a polykv store, and an end-to-end check of them.

``repositories(store)`` builds eric-sse's ``SSEChannelRepository`` (with its ``ConnectionRepository``) over
one polykv store through ``polykv.integrations.eric_sse.KvStorageAdapter``; ``scenario(first, reopen)``
persists a channel with its connections, reloads, changes and deletes it through stores over the same data,
asserting what eric-sse expects at each step. A backend's tests call it::

    import pytest

    pytest.importorskip("eric_sse")

    from polykv.testing.eric_sse import scenario

    def test_eric_sse_end_to_end():
        store = MyStore()
        scenario(store, lambda: store)

This module imports eric-sse (and pytest): import it only where eric-sse is installed
(``pytest.importorskip("eric_sse")`` first). ``polykv.testing`` itself does not import it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eric_sse.connection import InMemoryConnectionsFactory  # type: ignore[import-untyped]
from eric_sse.exception import ItemNotFound  # type: ignore[import-untyped]
from eric_sse.interfaces import ListenerRepositoryInterface, QueueRepositoryInterface  # type: ignore[import-untyped]
from eric_sse.listener import MessageQueueListener  # type: ignore[import-untyped]
from eric_sse.message import Message  # type: ignore[import-untyped]
from eric_sse.prefabs import SSEChannel, SSEChannelRepository  # type: ignore[import-untyped]
from eric_sse.queues import InMemoryQueue, Queue  # type: ignore[import-untyped]
from eric_sse.repository import ConnectionRepository, KvStorage  # type: ignore[import-untyped]

from ..integrations.eric_sse import KvStorageAdapter
from ..store import KeyValueStore
from ..wrappers import PrefixStore

__all__ = ["ListenerRepository", "QueueRepository", "repositories", "scenario"]


class ListenerRepository(ListenerRepositoryInterface):  # type: ignore[misc]  # eric-sse ships no types
    """Listeners kept by id in a KvStorage (eric-sse 2.1 ships only the interface)."""

    def __init__(self, storage: KvStorage) -> None:
        self.storage = storage

    def load(self, connection_id: str) -> MessageQueueListener:
        return MessageQueueListener(listener_id=self.storage.fetch_one(connection_id)["id"])

    def persist(self, connection_id: str, listener: MessageQueueListener) -> None:
        self.storage.upsert(connection_id, {"id": listener.id})

    def delete(self, connection_id: str) -> None:
        self.storage.delete(connection_id)


class QueueRepository(QueueRepositoryInterface):  # type: ignore[misc]  # eric-sse ships no types
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
    """eric-sse's repositories over one polykv store, each in its own prefix (a repository lists all it holds).

    Channels live under ``"channels:"``, connections under ``"connections:"``, listeners under ``"listeners:"``;
    queues stay in memory (``QueueRepository``).
    """
    connections = ConnectionRepository(
        KvStorageAdapter(PrefixStore(store, "connections:")),
        ListenerRepository(KvStorageAdapter(PrefixStore(store, "listeners:"))),
        QueueRepository(),
    )
    return SSEChannelRepository(
        KvStorageAdapter(PrefixStore(store, "channels:")), connections, InMemoryConnectionsFactory()
    )


def scenario(first: KeyValueStore, reopen: Callable[[], KeyValueStore]) -> None:
    """Persist through ``first``, reload and delete through stores from ``reopen()`` (same data).

    ``first`` must start empty; ``reopen`` returns a store over the same data each call (``first`` itself
    for an in-process store); the caller closes what it opens. Raises ``AssertionError`` at the first step
    whose result differs from what eric-sse expects.
    """
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
