"""``S3Store``: the fsspec store on S3 (s3fs), with bounded timeouts and optional conditional writes."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from polykv.errors import InvalidArgumentError, InvalidURLError
from polykv.options import require_module

from .fsoptions import check_filesystem_options
from .store import FsspecStore, parse_options

__all__ = ["S3Store"]


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
        check_filesystem_options(s3fs.S3FileSystem, storage_options, backend="s3", own_options=_OWN_OPTIONS)
        try:
            fs = s3fs.S3FileSystem(
                key=key,
                secret=secret,
                client_kwargs=client_kwargs,
                config_kwargs=config_kwargs,
                skip_instance_cache=True,
                **storage_options,
            )
        except (KeyError, TypeError, ValueError) as exc:  # s3fs's own checks ("Supply secret or password, not both")
            message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            for value in (key, secret, *storage_options.values()):
                if isinstance(value, str) and len(value) >= 4:
                    message = message.replace(value, "***")
            raise InvalidArgumentError(f"s3fs refused the s3 store's options: {message}", backend="s3") from None
        fs.retries = max(1, int(retries))  # s3fs's own retry loop (class attribute, default 5)
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
        merged = {**parse_options(parts.query), **options}
        return cls(parts.netloc, parts.path.strip("/"), **merged)

    def close(self) -> None:
        """Drop the S3 client's cached listings (s3fs closes its session when collected)."""
        self.fs.invalidate_cache()
