"""``ZarrStoreTests``: zarr's own ``StoreTests`` run on a ``polykv.integrations.zarr.ZarrStore``.

Subclass it with a ``store_kwargs`` fixture (the keyword arguments of ``ZarrStore``: ``{"store": url}`` or
``{"store": a_bytes_codec_store}``); the class name must start with ``Test`` for pytest to collect it::

    import pytest

    pytest.importorskip("zarr")

    from polykv.testing.zarr import ZarrStoreTests

    class TestZarrOnMyStore(ZarrStoreTests):
        repr_prefix = "ZarrStore(<MyStore"

        @pytest.fixture
        def store_kwargs(self):
            return {"store": "mystore://..."}

zarr's tests are coroutines, written for pytest-asyncio. Every subclass gets a synchronous twin of each
``async def test_*`` it has (``run_coroutine_tests``: a fresh event loop per test, what zarr's own suite does
through pytest-asyncio), so no asyncio pytest plugin is needed. The ``store`` and ``store_not_open``
fixtures are synchronous for the same reason, and close the store after the test.

This module imports zarr (and numpy): import it only where zarr is installed (``pytest.importorskip("zarr")``
first). ``polykv.testing`` itself does not import it.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Iterator
from typing import Any, ClassVar, TypeVar

import pytest
from zarr.core.buffer import Buffer, cpu
from zarr.testing.store import StoreTests

from ..integrations.zarr import ZarrStore

__all__ = ["ZarrStoreTests", "run_coroutine_tests"]

C = TypeVar("C", bound=type)


def run_coroutine_tests(cls: C) -> C:
    """Give ``cls`` a synchronous twin of every ``async def test_*`` it has: same name, signature and marks.

    Each twin runs its coroutine with ``asyncio.run`` (a fresh event loop per test). Returns ``cls``, changed
    in place, so it works as a class decorator too.
    """
    for name in dir(cls):
        test = getattr(cls, name)
        if name.startswith("test_") and inspect.iscoroutinefunction(test):

            @functools.wraps(test)
            def run(*args: Any, __test: Any = test, **kwargs: Any) -> None:
                asyncio.run(__test(*args, **kwargs))

            run.__signature__ = inspect.signature(test)  # type: ignore[attr-defined]
            setattr(cls, name, run)
    return cls


class ZarrStoreTests(StoreTests[ZarrStore, cpu.Buffer]):
    """zarr's ``StoreTests`` for ``ZarrStore``, synchronous; subclasses give a ``store_kwargs`` fixture.

    ``set`` and ``get`` (how zarr's tests put and read a value behind the store's back) go straight to the
    polykv store (``ZarrStore.kv``), as raw bytes. ``repr_prefix`` is what ``repr(store)`` must start with.
    """

    store_cls = ZarrStore
    buffer_cls = cpu.Buffer

    #: What ``repr(store)`` starts with; a subclass names its polykv store class: ``"ZarrStore(<RedisStore"``.
    repr_prefix: ClassVar[str] = "ZarrStore(<"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        run_coroutine_tests(cls)

    @pytest.fixture
    def store(self, open_kwargs: dict[str, Any]) -> Iterator[ZarrStore]:
        """An open ``ZarrStore`` (``ZarrStore.open(**open_kwargs)``), closed after the test."""
        store = asyncio.run(ZarrStore.open(**open_kwargs))
        try:
            yield store
        finally:
            store.close()

    @pytest.fixture
    def store_not_open(self, store_kwargs: dict[str, Any]) -> Iterator[ZarrStore]:
        """A ``ZarrStore(**store_kwargs)`` not yet opened, closed after the test."""
        store = ZarrStore(**store_kwargs)
        try:
            yield store
        finally:
            store.close()

    async def set(self, store: ZarrStore, key: str, value: Buffer) -> None:
        store.kv.set(key, value.to_bytes())  # straight into the polykv store, not through ZarrStore

    async def get(self, store: ZarrStore, key: str) -> cpu.Buffer:
        buffer: cpu.Buffer = cpu.Buffer.from_bytes(store.kv[key])
        return buffer

    def test_store_repr(self, store: ZarrStore) -> None:
        assert repr(store).startswith(self.repr_prefix)

    def test_store_supports_writes(self, store: ZarrStore) -> None:
        assert store.supports_writes

    def test_store_supports_listing(self, store: ZarrStore) -> None:
        assert store.supports_listing
