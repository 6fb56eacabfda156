"""``AsyncS3Store``: the S3 store for ``polykv.aio``, on s3fs in asynchronous mode.

It is ``S3Store`` with one thing changed: the object its ``ObjectIO`` calls is an ``AwaitedS3FileSystem``, whose
fsspec-named methods await s3fs's coroutines (``_cat_file``, ``_pipe_file``, ``_info``, ``_ls``, ``_rm_file``,
``_bulk_delete``) on the running event loop through ``polykv.aio.bridge.await_``. Key naming, validation,
codecs, records, conditional writes and error mapping are the sync store's own code, run by ``polykv.aio`` in a
worker greenlet. Batches are one await each, their requests concurrent on the loop (``batch_concurrency`` at
once). Building the store connects to nothing; each event loop gets its own s3fs and aiohttp session,
opened by its first request and closed by ``close()`` (call it on that loop, through ``polykv.aio``).

Import this module only for the asyncio face: it imports ``polykv.aio.bridge`` (greenlet), and s3fs when a store
is built. ``S3Store.async_face`` names this class, so ``polykv.aio`` finds it.
"""

from __future__ import annotations

from typing import ClassVar

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
    #: Requests one batch keeps in flight (at most ``max_connections``). Lower than the sync face's pool-sized
    #: bound, because here a batch's requests share the caller's loop: each one that becomes ready costs
    #: botocore 2-5 ms of CPU in the same loop pass, so 64 at once held other tasks back 0.8-1.2 s on a loaded
    #: 2-core machine, 16 about 0.3 s, with the same throughput (the client's CPU is the limit).
    batch_concurrency: ClassVar[int] = 16

    def _filesystem(self) -> AwaitedS3FileSystem:
        concurrency = min(self.max_connections, self.batch_concurrency)
        return AwaitedS3FileSystem(lambda: self._new_s3fs(asynchronous=True), concurrency=concurrency)

    def close(self) -> None:
        """Close the S3 client of each event loop the store ran on (awaited when run through ``polykv.aio``)."""
        self.fs.close()
