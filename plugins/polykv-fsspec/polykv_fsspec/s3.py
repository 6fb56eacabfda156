"""``S3Store``: the fsspec store on S3 (s3fs), with bounded timeouts and optional conditional writes."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from polykv.errors import InvalidArgumentError, InvalidURLError
from polykv.options import options_from_url, require_module

from .fsoptions import check_filesystem_options
from .store import FsspecStore, parse_options

__all__ = ["CLOSE_TIMEOUT", "S3Store", "close_s3fs"]

#: Seconds a close waits for the S3 client's connections to shut.
CLOSE_TIMEOUT = 10.0


#: S3Store's own keyword options (the rest go to s3fs.S3FileSystem and are checked against it).
_OWN_OPTIONS = (
    "bucket",
    "prefix",
    "endpoint_url",
    "key",
    "secret",
    "conditional_writes",
    "connect_timeout",
    "read_timeout",
    "retries",
    "max_connections",
    "codec",
)


class S3Store(FsspecStore):
    """Objects under ``s3://{bucket}/{prefix}``; a PUT is atomic, batches run concurrently (s3fs is async).

    ``conditional_writes=True`` (default) makes ``add``/``insert_record`` atomic with ``If-None-Match: *``;
    turn it off for servers that ignore that header (the store then declares no ADD capability).
    """

    _backend_type = "s3"
    url_schemes = ("s3",)
    #: polykv.aio serves this store natively: the subclass awaits s3fs's coroutines on the event loop.
    async_face: ClassVar[str | None] = "polykv_fsspec.aio:AsyncS3Store"
    #: Options whose values are masked in reprs, logs and errors (beside polykv's generic secret names).
    secret_options: ClassVar[frozenset[str]] = frozenset({"key", "secret", "token", "session_token"})

    def __init__(
        self,
        bucket: str | None = None,
        prefix: str = "polykv",
        *,
        endpoint_url: str | None = None,
        key: str | None = None,
        secret: str | None = None,
        conditional_writes: bool = True,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retries: int = 3,
        max_connections: int = 64,
        codec: Any = "json",
        **storage_options: Any,
    ) -> None:
        if bucket is None:
            raise InvalidArgumentError(
                "the s3 store needs a bucket: configure it, e.g. BackendRegistry({'s3': {'bucket': 'name', "
                "'endpoint_url': ..., 'key': ..., 'secret': ...}}), S3Store('name') or connect('s3://name/prefix')",
                backend="s3",
            )
        if not isinstance(bucket, str) or not bucket or "/" in bucket:
            raise InvalidURLError(f"S3Store needs a bucket name, got {bucket!r}", backend="s3")
        s3fs = require_module("s3fs", "polykv-fsspec[s3]", "the s3 store", backend="s3")
        client_kwargs = dict(storage_options.pop("client_kwargs", {}))
        if endpoint_url:
            client_kwargs["endpoint_url"] = endpoint_url
        config_kwargs = {
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "retries": {"max_attempts": 1, "mode": "standard"},
            "max_pool_connections": max_connections,  # botocore's default of 10 caps batch concurrency
            **storage_options.pop("config_kwargs", {}),
        }
        # records are small: s3fs's ranged parallel download (max_concurrency > 1) costs a HEAD before every GET
        storage_options.setdefault("max_concurrency", 1)
        # s3fs answers exists() from a cached listing of the folder: a key another client wrote (or deleted)
        # after this store listed that folder would be reported absent (present), and delete() would skip it
        storage_options.setdefault("use_listings_cache", False)
        check_filesystem_options(s3fs.S3FileSystem, storage_options, backend="s3", own_options=_OWN_OPTIONS)
        self._s3fs_options: dict[str, Any] = {
            "key": key,
            "secret": secret,
            "client_kwargs": client_kwargs,
            "config_kwargs": config_kwargs,
            "skip_instance_cache": True,
            **storage_options,
        }
        self._s3fs_retries = max(1, int(retries))
        #: Requests a batch runs at once (botocore's connection pool size).
        self.max_connections = max_connections
        fs = self._filesystem()
        prefix = prefix.strip("/")
        base = f"{bucket}/{prefix}" if prefix else bucket
        super().__init__(fs, base, codec=codec, conditional_writes=conditional_writes)
        where = f" at {endpoint_url}" if endpoint_url else ""
        self._location = f"s3://{base}{where}"

    @classmethod
    def from_url(cls, url: str, **options: Any) -> S3Store:
        """``s3://bucket/prefix?endpoint_url=...&key=...&secret=...`` (other options go to s3fs, which checks
        them when the file system is created: an option s3fs does not know raises ``InvalidArgumentError``)."""
        parts = urlsplit(url)
        if not parts.hostname:
            raise InvalidURLError("an s3:// URL needs a bucket: s3://bucket/prefix", backend="s3")
        query = parse_options(parts.query)
        with options_from_url(query, options):
            return cls(parts.netloc, parts.path.strip("/"), **{**query, **options})

    def _filesystem(self) -> Any:
        """The file system the store's I/O goes through (called once, by ``__init__``): a synchronous s3fs.
        The asyncio face (``polykv_fsspec.aio``) overrides this, and nothing else of the I/O."""
        return self._new_s3fs()

    def _new_s3fs(self, **extra: Any) -> Any:
        """A new ``s3fs.S3FileSystem`` with this store's options and ``extra`` (``asynchronous=True``); connects
        to nothing. s3fs's own refusals ("Supply secret or password, not both") raise ``InvalidArgumentError``
        with every credential masked."""
        import s3fs

        try:
            fs = s3fs.S3FileSystem(**self._s3fs_options, **extra)
        except (KeyError, TypeError, ValueError) as exc:
            message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            for value in _strings(self._s3fs_options):
                if len(value) >= 4:
                    message = message.replace(value, "***")
            raise InvalidArgumentError(f"s3fs refused the s3 store's options: {message}", backend="s3") from None
        fs.retries = self._s3fs_retries  # s3fs's own retry loop (class attribute, default 5)
        return fs

    def close(self) -> None:
        """Close the S3 client's connections now (the next call opens new ones)."""
        close_s3fs(self.fs)


def close_s3fs(fs: Any) -> None:
    """Close a synchronous s3fs's S3 client now, on fsspec's I/O loop, and drop its cached listings.

    Left to itself s3fs closes the client when the file system is collected, by scheduling the close on the
    loop running in the collecting thread: inside an asyncio program that is the program's loop, where it
    fails ("attached to a different loop") and the connections stay open. The file system reconnects on
    its next call; a client that never connected has nothing to close.
    """
    fs.invalidate_cache()
    creator = getattr(fs, "_s3creator", None)
    if creator is None or getattr(fs, "_s3", None) is None:
        return
    fs._s3 = None
    from fsspec.asyn import sync

    sync(fs.loop, creator.__aexit__, None, None, None, timeout=CLOSE_TIMEOUT)


def _strings(options: dict[str, Any]) -> list[str]:
    """The string values of ``options`` and of the dicts among them (``client_kwargs`` may hold a secret)."""
    out = []
    for value in options.values():
        for each in value.values() if isinstance(value, dict) else (value,):
            if isinstance(each, str):
                out.append(each)
    return out
