"""``AwaitedS3FileSystem``: the synchronous fsspec calls the store's ``ObjectIO`` makes, each one awaiting the
asynchronous s3fs coroutine behind it on the caller's event loop (through ``polykv.aio.bridge.await_``).

This is the one seam between the two faces of the S3 store. ``ObjectIO`` (conditional writes, the ETag
compare-and-swap, listing, existence checks, batches) and ``FsspecStore`` (key naming, codecs, error mapping)
are the same code on both; the sync store hands them an ``s3fs.S3FileSystem``, the async store this object,
whose methods carry the same names and return the same values:

=========================  ============================================================================
``cat_file``/``pipe_file``  ``_cat_file``/``_pipe_file`` (``IfNoneMatch``/``IfMatch`` go through as they are)
``info``/``exists``/``ls``  ``_info``/``_exists``/``_ls``
``rm_file``                 ``_rm_file``
``cat``/``pipe``            one ``_cat_file``/``_pipe_file`` per path, concurrently (``gather_bounded``)
``rm``                      S3 multi-object deletes of up to 1,000 keys (``_bulk_delete``), 3 at once;
                            ``recursive`` first expands the folder (``_expand_path``, one listing)
=========================  ============================================================================

Every batch is one awaitable (one ``await_``), so its requests share the loop with each other and with the
caller's other tasks. It is bounded by ``concurrency`` (``AsyncS3Store.batch_concurrency``, at most the connection
pool that bounds the sync store's batches); s3fs's ``_cat``/``_pipe``/``_rm`` are not used, because a cancelled
caller leaves their requests running (see ``gather``).

An aiohttp session belongs to the loop it was made on, so there is one s3fs per event loop, made (without
I/O) the first time a call runs on that loop; its session opens with its first request.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from polykv.aio.bridge import await_, in_bridge

from .gather import gather_bounded
from .s3 import CLOSE_TIMEOUT

__all__ = ["BULK_DELETE_LIMIT", "AwaitedS3FileSystem"]

#: Keys one S3 DeleteObjects request takes.
BULK_DELETE_LIMIT = 1000
#: DeleteObjects requests in flight at once (s3fs's ``_rm`` uses 3).
BULK_DELETES_AT_ONCE = 3


class AwaitedS3FileSystem:
    """fsspec's synchronous method names over an asynchronous s3fs, one per event loop.

    ``new_filesystem()`` returns a new ``s3fs.S3FileSystem(asynchronous=True, ...)``; the first is made here,
    so the store's options are checked at construction. ``concurrency`` bounds a batch's requests in flight.
    Each I/O method hands one coroutine to ``polykv.aio.bridge.await_``, which picks the s3fs of the loop it
    runs on; so it works wherever ``await_`` does (a bridged call, a ``polykv.aio`` thread) and raises
    ``await_``'s ``RuntimeError`` anywhere else.
    """

    def __init__(self, new_filesystem: Callable[[], Any], concurrency: int) -> None:
        first = new_filesystem()
        self._new_filesystem = new_filesystem
        self._spare: Any = first  # given to the first loop that calls
        self.protocol: tuple[str, ...] = tuple(first.protocol)
        self._strip = first._strip_protocol
        self.concurrency = max(1, int(concurrency))
        self._by_loop: dict[asyncio.AbstractEventLoop, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} loops={len(self._by_loop)} concurrency={self.concurrency}>"

    def _strip_protocol(self, path: str) -> str:
        """``path`` without ``s3://`` (s3fs's own rule; no I/O)."""
        return str(self._strip(path))

    # -- the s3fs of the running loop ---------------------------------------------------------------
    def filesystem(self) -> Any:
        """The asynchronous s3fs of the running event loop, made on first use (call it on the loop)."""
        loop = asyncio.get_running_loop()
        fs = self._by_loop.get(loop)
        return fs if fs is not None else self._attach(loop)

    def _attach(self, loop: asyncio.AbstractEventLoop) -> Any:
        with self._lock:
            fs = self._by_loop.get(loop)
            if fs is None:
                for gone in [each for each in self._by_loop if each.is_closed()]:
                    del self._by_loop[gone]  # its session died with its loop; nothing can await its close now
                fs, self._spare = (self._spare or self._new_filesystem()), None
                self._by_loop[loop] = fs
            return fs

    async def _call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        """``await fs.<method>(*args, **kwargs)`` on the s3fs of the loop this runs on."""
        return await getattr(self.filesystem(), method)(*args, **kwargs)

    # -- one file -------------------------------------------------------------------------------------
    def cat_file(self, path: str, **kwargs: Any) -> bytes:
        """The object's bytes; ``FileNotFoundError`` when it does not exist."""
        data: bytes = await_(self._call("_cat_file", path, **kwargs))
        return data

    def pipe_file(self, path: str, data: bytes, **kwargs: Any) -> None:
        """PUT the object (``IfNoneMatch="*"``/``IfMatch=etag`` make it conditional)."""
        await_(self._call("_pipe_file", path, data, **kwargs))

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """The object's details (``ETag``, ``size``...); ``FileNotFoundError`` when absent."""
        details: dict[str, Any] = await_(self._call("_info", path, **kwargs))
        return details

    def exists(self, path: str) -> bool:
        """Whether the object (or folder) exists."""
        return bool(await_(self._call("_exists", path)))

    def rm_file(self, path: str) -> None:
        """DELETE the object (S3 answers the same whether or not it existed)."""
        await_(self._call("_rm_file", path))

    def ls(self, path: str, detail: bool = False) -> list[Any]:
        """The entries directly in the folder ``path``; ``FileNotFoundError`` when it holds nothing."""
        entries: list[Any] = await_(self._call("_ls", path, detail=detail))
        return entries

    def invalidate_cache(self, path: str | None = None) -> None:
        """Forget cached listings (of ``path``, or all) on every loop's s3fs; no I/O."""
        for fs in list(self._by_loop.values()):
            fs.invalidate_cache(path)

    # -- batches: one await each ------------------------------------------------------------------
    def cat(self, paths: Sequence[str], on_error: str = "raise") -> dict[str, Any]:
        """``{path: bytes}`` for ``paths`` fetched concurrently; with ``on_error="return"`` a failed path maps to
        its exception (``FileNotFoundError`` when absent), else the first failure is raised."""
        found = await_(self._cat(list(paths)))
        if on_error != "return":
            error = next((each for each in found if isinstance(each, BaseException)), None)
            if error is not None:
                raise error
        return {self._strip(path): each for path, each in zip(paths, found, strict=True)}

    async def _cat(self, paths: list[str]) -> list[Any]:
        fs = self.filesystem()
        calls = [partial(fs._cat_file, path) for path in paths]
        return await gather_bounded(calls, self.concurrency, return_exceptions=True)

    def pipe(self, items: dict[str, bytes]) -> None:
        """PUT every ``{path: bytes}`` concurrently; the first failure cancels the rest and is raised."""
        await_(self._pipe(items))

    async def _pipe(self, items: dict[str, bytes]) -> None:
        fs = self.filesystem()
        await gather_bounded([partial(fs._pipe_file, path, data) for path, data in items.items()], self.concurrency)

    def rm(self, path: str | Sequence[str], recursive: bool = False) -> None:
        """Delete the objects ``path`` (one or a list), or with ``recursive`` everything under the folder."""
        await_(self._remove(path, recursive))

    async def _remove(self, path: str | Sequence[str], recursive: bool) -> None:
        fs = self.filesystem()
        paths = [path] if isinstance(path, str) else list(path)
        if recursive:
            with contextlib.suppress(FileNotFoundError):  # nothing under the folder
                paths = await fs._expand_path(paths, recursive=True)
        files = [each for each in paths if fs.split_path(each)[1]]  # a bare bucket name is no object
        chunks = [files[i : i + BULK_DELETE_LIMIT] for i in range(0, len(files), BULK_DELETE_LIMIT)]
        await gather_bounded([partial(fs._bulk_delete, chunk) for chunk in chunks], BULK_DELETES_AT_ONCE)
        for each in paths:
            fs.invalidate_cache(each)

    # -- lifecycle ------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close every loop's S3 client: awaited inside a bridged call on that loop, else run on its loop
        (waited for unless called from that loop's own thread); dropped where the loop is closed, since
        nothing can run there. The next call opens a new client."""
        with self._lock:
            attached, self._by_loop = list(self._by_loop.items()), {}
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, fs in attached:
            fs.invalidate_cache()
            creator = getattr(fs, "_s3creator", None)
            if creator is None or getattr(fs, "_s3", None) is None:
                continue  # never connected
            fs._s3 = None
            closing = creator.__aexit__(None, None, None)
            if loop is current and in_bridge():
                await_(closing)
            elif loop.is_closed():
                closing.close()
            elif loop.is_running():
                future = asyncio.run_coroutine_threadsafe(closing, loop)
                if loop is not current:
                    future.result(CLOSE_TIMEOUT)
            else:
                loop.run_until_complete(closing)
