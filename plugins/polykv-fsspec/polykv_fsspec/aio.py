"""``AsyncS3Store``: the S3 store for ``polykv.aio``, on s3fs in asynchronous mode.

It is ``S3Store`` with one thing changed: the object its ``ObjectIO`` calls is an ``AwaitedS3FileSystem``, whose
fsspec-named methods await s3fs's coroutines (``_cat_file``, ``_pipe_file``, ``_info``, ``_ls``, ``_rm_file``,
``_bulk_delete``) on the running event loop through ``polykv.aio.bridge.await_``. Key naming, validation,
codecs, records, conditional writes and error mapping are the sync store's own code, run by ``polykv.aio`` in a
worker greenlet (``await bridge.run(store.get, "k")``). Batches are one await each, their requests concurrent
on the loop. Building the store connects to nothing; each event loop gets its own s3fs and aiohttp session,
opened by its first request and closed by ``close()`` (call it on that loop, through ``polykv.aio``).

Import this module only for the asyncio face: it imports ``polykv.aio.bridge`` (greenlet), and s3fs when a store
is built. ``S3Store.async_face`` names this class, so ``polykv.aio`` finds it.
"""

from __future__ import annotations

from .awaited import AwaitedS3FileSystem
from .s3 import S3Store

__all__ = ["AsyncS3Store"]


class AsyncS3Store(S3Store):
    """``S3Store`` whose I/O awaits natively on the event loop (same constructor, URL and options).

    Its synchronous methods must run inside ``polykv.aio.bridge.run`` on a loop; called directly they raise
    ``RuntimeError``. It declares no ``_backend_type`` of its own, so it is not registered: ``polykv.aio``
    reaches it through ``S3Store.async_face``.
    """

    fs: AwaitedS3FileSystem

    def _filesystem(self) -> AwaitedS3FileSystem:
        return AwaitedS3FileSystem(lambda: self._new_s3fs(asynchronous=True), concurrency=self.max_connections)

    def close(self) -> None:
        """Close the S3 client of each event loop the store ran on (awaited when run through ``polykv.aio``)."""
        self.fs.close()
