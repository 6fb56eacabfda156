"""A zarr v3 ``Store`` over any polykv store: ``ZarrStore(store_or_url)``.

zarr (``pip install "polykv-core[zarr]"``, zarr 3.1 or later 3.x) reads and writes arrays through an asyncio
``Store``. ``ZarrStore`` is one, backed by a polykv store, so every polykv backend (sqlite, Redis, S3,
HDFS...) becomes a zarr backend: ``zarr.create_array(ZarrStore("sqlite:///data.db"), ...)``.

**The event loop stays free.** polykv stores are synchronous; every call a coroutine makes on one runs in a
worker thread (``asyncio.to_thread``: the running loop's default executor, which on zarr's own loop is sized
by zarr's ``threading.max_workers`` setting), so zarr's loop keeps scheduling other reads while one waits on
a server. Batches stay batches: ``get_partial_values``, ``_get_many`` and ``_set_many`` are one ``get_many``
or ``set_many`` call (one round trip on Redis), listing is one scan per call, ``delete_dir`` one ``clear``.

**Values are bytes.** A zarr value is a ``Buffer``; it is stored as its bytes, so the polykv store must use
the ``bytes`` codec. A URL is opened with ``codec="bytes"``; a store object with another codec is refused
(``InvalidArgumentError``) rather than wrapped, because a JSON or msgpack value under a zarr key would not
be a zarr chunk. Keys are zarr's keys unchanged (``"zarr.json"``, ``"a/b/c/0/0"``); listing sees the
store's plain key-value keys, never its records.

**Byte ranges** (``RangeByteRequest``, ``OffsetByteRequest``, ``SuffixByteRequest``) are cut from the
fetched value: polykv has no ranged read, so a partial read costs a whole-value read, in the worker thread.

Importing this module imports zarr (and numpy); a missing zarr raises ``MissingDependencyError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from ..capabilities import Capability
from ..errors import InvalidArgumentError, MissingDependencyError, NotSupportedError, a_type_name
from ..store import KeyValueStore

try:
    from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, Store, SuffixByteRequest
    from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype
except ImportError as exc:
    raise MissingDependencyError(
        f"polykv.integrations.zarr needs the 'zarr' package (3.x), which is not installed "
        f'({type(exc).__name__}: {exc}); install it with: pip install "polykv-core[zarr]"'
    ) from exc

__all__ = ["ZarrStore"]

T = TypeVar("T")

#: What the polykv store under a ``ZarrStore`` must use: zarr values are raw bytes.
REQUIRED_CODEC = "bytes"


def cut(data: bytes, byte_range: ByteRequest | None) -> bytes:
    """The part of ``data`` that ``byte_range`` asks for (all of it for None). Ranges past the end are cut
    short, as file reads are. ``InvalidArgumentError`` (a ``ValueError``) for anything else."""
    if byte_range is None:
        return data
    if isinstance(byte_range, RangeByteRequest):
        return data[byte_range.start : byte_range.end]
    if isinstance(byte_range, OffsetByteRequest):
        return data[byte_range.offset :]
    if isinstance(byte_range, SuffixByteRequest):
        return data[max(0, len(data) - byte_range.suffix) :]
    raise InvalidArgumentError(
        f"Unexpected byte_range, got {byte_range!r}: use a RangeByteRequest, OffsetByteRequest or SuffixByteRequest"
    )


def _innermost(store: KeyValueStore) -> KeyValueStore:
    """The store at the bottom of a stack of wrappers."""
    while isinstance(getattr(store, "inner", None), KeyValueStore):
        store = store.inner  # type: ignore[attr-defined]
    return store


def _in_process(store: KeyValueStore) -> bool:
    """Whether ``store`` keeps its data in this process only (a new one from the same URL starts empty)."""
    from ..backends.memory import MemoryStore

    return isinstance(_innermost(store), MemoryStore)


class ZarrStore(Store):
    """A zarr ``Store`` whose keys and values live in a polykv store.

    ``store`` is a ``KeyValueStore`` using the ``bytes`` codec (left open by ``close()``: its owner closes
    it), or a URL such as ``"sqlite:///data.db"`` or ``"redis://127.0.0.1:6379/0"``, opened with
    ``polykv.connect(url, codec="bytes", **options)`` and closed by ``close()``. ``read_only=True`` refuses
    writes with zarr's ``ValueError``. Errors from the backend are polykv errors naming backend and key.

    Two ``ZarrStore`` objects are equal when they use the same polykv store object, or were opened from the
    same URL and options naming shared data. A store opened from a URL pickles (the copy reopens the URL);
    one over a store object, or over an in-process ``memory://`` store, cannot (``NotSupportedError``).
    """

    def __init__(self, store: KeyValueStore | str, *, read_only: bool = False, **options: Any) -> None:
        super().__init__(read_only=read_only)
        self._url: str | None = None
        self._options: dict[str, Any] = {}
        if isinstance(store, str):
            codec = options.pop("codec", REQUIRED_CODEC)
            if codec != REQUIRED_CODEC:
                raise InvalidArgumentError(
                    f"ZarrStore stores zarr's bytes with the {REQUIRED_CODEC!r} codec; got codec={codec!r}"
                )
            from ..urls import connect

            self._kv = connect(store, codec=REQUIRED_CODEC, **options)
            self._url, self._options, self._owns = store, options, True
        elif isinstance(store, KeyValueStore):
            if options:
                raise InvalidArgumentError(
                    f"ZarrStore takes options ({', '.join(sorted(options))}) only with a URL, not with a store object",
                    backend=store.backend_name,
                )
            if store.codec.name != REQUIRED_CODEC:
                raise InvalidArgumentError(
                    f"ZarrStore needs a store with the {REQUIRED_CODEC!r} codec (zarr values are raw bytes), this one "
                    f"uses {store.codec.name!r}: open it with codec={REQUIRED_CODEC!r} or give ZarrStore its URL",
                    backend=store.backend_name,
                )
            self._kv, self._owns = store, False
        else:
            raise InvalidArgumentError(
                f"ZarrStore takes a polykv KeyValueStore or a store URL, got {a_type_name(store)}"
            )

    @classmethod
    async def open(cls, *args: Any, **kwargs: Any) -> ZarrStore:
        """Create the store in a worker thread (opening a URL may reach a server) and mark it open."""
        store = await asyncio.to_thread(cls, *args, **kwargs)
        await store._open()
        return store

    @property
    def kv(self) -> KeyValueStore:
        """The polykv store holding the data."""
        return self._kv

    def with_read_only(self, read_only: bool = False) -> ZarrStore:
        """A new, not yet open ``ZarrStore`` over the same polykv store with the given ``read_only``; closing it
        leaves the shared store open."""
        copy = type(self).__new__(type(self))
        Store.__init__(copy, read_only=read_only)
        copy._kv, copy._url, copy._options, copy._owns = self._kv, self._url, dict(self._options), False
        return copy

    def close(self) -> None:
        """Mark the store closed; close the polykv store too if this object opened it from a URL."""
        super().close()
        if self._owns:
            self._kv.close()

    def __repr__(self) -> str:
        return f"ZarrStore({self._kv!r}, read_only={self.read_only})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ZarrStore):
            return False
        if self._kv is other._kv:
            return True
        return (
            self._url is not None
            and (self._url, self._options) == (other._url, other._options)
            and not _in_process(self._kv)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable equality, like zarr's own stores

    def __getstate__(self) -> dict[str, Any]:
        if self._url is None or _in_process(self._kv):
            raise NotSupportedError(
                "a ZarrStore pickles only when opened from a URL naming shared data (sqlite file, Redis, S3...): "
                "the copy reopens the URL; this one wraps a store object or an in-process memory store",
                backend=self._kv.backend_name,
                capability="pickle",
            )
        return {"url": self._url, "options": self._options, "read_only": self.read_only}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], read_only=state["read_only"], **state["options"])  # type: ignore[misc]

    # -- capabilities zarr asks about ------------------------------------------------------------
    @property
    def supports_writes(self) -> bool:
        return True

    @property
    def supports_deletes(self) -> bool:
        return True

    @property
    def supports_listing(self) -> bool:
        return True

    # -- worker-thread calls ---------------------------------------------------------------------
    @staticmethod
    async def _off_loop(function: Callable[..., T], *args: Any) -> T:
        """Run the blocking ``function(*args)`` in a worker thread; the loop keeps running meanwhile."""
        return await asyncio.to_thread(function, *args)

    def _read(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        data = self._kv.get(key)
        return None if data is None else cut(data, byte_range)

    def _read_many(self, key_ranges: Sequence[tuple[str, ByteRequest | None]]) -> list[bytes | None]:
        found = self._kv.get_many(dict.fromkeys(key for key, _ in key_ranges))
        return [None if (data := found.get(key)) is None else cut(data, byte_range) for key, byte_range in key_ranges]

    def _write(self, key: str, value: Buffer) -> None:
        self._kv.set(key, value.to_bytes())

    def _write_if_absent(self, key: str, value: Buffer) -> None:
        if self._kv.supports(Capability.ADD):
            self._kv.add(key, value.to_bytes())  # atomic where the backend is
        elif not self._kv.exists(key):
            self._kv.set(key, value.to_bytes())

    def _keys(self, prefix: str) -> list[str]:
        return list(self._kv.keys_by_prefix(prefix))

    def _has_prefix(self, prefix: str) -> bool:
        keys: Iterator[str] = self._kv.keys_by_prefix(prefix)
        try:
            return next(keys, None) is not None
        finally:
            close = getattr(keys, "close", None)
            if close is not None:
                close()

    def _check_value(self, value: object) -> None:
        if not isinstance(value, Buffer):
            raise TypeError(
                f"ZarrStore.set(): `value` must be a Buffer instance. Got an instance of {type(value)} instead."
            )

    # -- zarr's Store API ------------------------------------------------------------------------
    async def get(self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None) -> Buffer | None:
        """The value under ``key`` (the part ``byte_range`` asks for) as a ``prototype`` buffer; None if absent."""
        data = await self._off_loop(self._read, key, byte_range)
        return None if data is None else prototype.buffer.from_bytes(data)

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        """The values (or parts) of ``key_ranges`` in order, None for missing keys, read in one batch."""
        wanted = list(key_ranges)
        if not wanted:
            return []
        datas = await self._off_loop(self._read_many, wanted)
        return [None if data is None else prototype.buffer.from_bytes(data) for data in datas]

    async def _get_many(
        self, requests: Iterable[tuple[str, BufferPrototype, ByteRequest | None]]
    ) -> AsyncGenerator[tuple[str, Buffer | None], None]:
        """``(key, buffer or None)`` for each request, read in one batch."""
        wanted = list(requests)
        if not wanted:
            return
        datas = await self._off_loop(self._read_many, [(key, byte_range) for key, _, byte_range in wanted])
        for (key, prototype, _), data in zip(wanted, datas, strict=True):
            yield key, None if data is None else prototype.buffer.from_bytes(data)

    async def exists(self, key: str) -> bool:
        """Whether a value is stored under ``key``."""
        return await self._off_loop(self._kv.exists, key)

    async def set(self, key: str, value: Buffer) -> None:
        """Store ``value``'s bytes under ``key``; ``ValueError`` on a read-only store."""
        self._check_writable()
        self._check_value(value)
        await self._off_loop(self._write, key, value)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        """Store ``value`` only if ``key`` is absent: atomic on stores with ``Capability.ADD`` (all built-in ones
        and Redis), check-then-set otherwise."""
        self._check_writable()
        self._check_value(value)
        await self._off_loop(self._write_if_absent, key, value)

    async def _set_many(self, values: Iterable[tuple[str, Buffer]]) -> None:
        """Store many pairs in one ``set_many`` batch."""
        self._check_writable()
        items = list(values)
        for _, value in items:
            self._check_value(value)
        if items:
            await self._off_loop(self._kv.set_many, [(key, value.to_bytes()) for key, value in items])

    async def delete(self, key: str) -> None:
        """Remove ``key``; an absent key is not an error."""
        self._check_writable()
        await self._off_loop(self._kv.delete, key)

    async def delete_dir(self, prefix: str) -> None:
        """Remove every key under the folder ``prefix`` (``"a"`` removes ``"a/..."``, not ``"ab/..."``) in one clear."""
        self._check_writable()
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        await self._off_loop(self._kv.clear, prefix)

    async def is_empty(self, prefix: str) -> bool:
        """Whether no key lies under the folder ``prefix`` (reads at most one key)."""
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return not await self._off_loop(self._has_prefix, prefix)

    async def list(self) -> AsyncIterator[str]:
        """Every key (one scan, collected in the worker thread)."""
        for key in await self._off_loop(self._keys, ""):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        """The keys starting with the literal ``prefix``, relative to the store's root."""
        for key in await self._off_loop(self._keys, prefix):
            yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        """The names directly under the folder ``prefix``: keys and sub-folders, each once."""
        prefix = prefix.rstrip("/")
        head = prefix + "/" if prefix else ""
        seen: set[str] = set()
        for key in await self._off_loop(self._keys, head):
            name = key[len(head) :].split("/", 1)[0]
            if name and name not in seen:
                seen.add(name)
                yield name

    # -- zarr's synchronous protocol (SupportsSyncStore): blocking, for synchronous callers only -----
    def get_sync(
        self, key: str, *, prototype: BufferPrototype | None = None, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        """``get`` for synchronous code: blocks the calling thread (never call it on an event loop)."""
        data = self._read(key, byte_range)
        if data is None:
            return None
        chosen = default_buffer_prototype() if prototype is None else prototype
        buffer: Buffer = chosen.buffer.from_bytes(data)
        return buffer

    def set_sync(self, key: str, value: Buffer) -> None:
        """``set`` for synchronous code: blocks the calling thread."""
        self._check_writable()
        self._check_value(value)
        self._write(key, value)

    def delete_sync(self, key: str) -> None:
        """``delete`` for synchronous code: blocks the calling thread."""
        self._check_writable()
        self._kv.delete(key)
