"""``FsspecStore``: records and KV pairs as one codec file each on any fsspec file system.

Layout under ``base_path`` (see ``naming`` for file names)::

    {base_path}/_kv/{name(key)}                  KV pairs (``_kv`` cannot be a schema name)
    {base_path}/{name(schema)}/{name(key)}       records of a schema

A file holds the codec bytes of one value (JSON by default); names longer than the plain limit hold a
``polykv-key:`` header line first. Names starting with ``.`` are writes in progress and are ignored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from polykv.capabilities import Capability
from polykv.errors import InvalidURLError, MissingDependencyError, PolyKVError
from polykv.options import options_from_url, require_module
from polykv.store import KeyValueStore
from polykv.urls import redact_url

from .faults import translate_faults
from .fileio import FileIO, io_for
from .fsoptions import check_filesystem_options
from .naming import (
    MAX_PLAIN_NAME,
    decode_name,
    encode_key,
    hashed_name,
    is_hashed,
    is_temporary,
    may_match,
    pack_long,
    unpack_long,
)

__all__ = ["KV_FOLDER", "FsspecStore", "parse_options"]

#: Folder of the KV pairs; schema names start with a letter or digit, so no schema can use it.
KV_FOLDER = "_kv"


def parse_options(query: str) -> dict[str, Any]:
    """URL query parameters as keyword options (``true``/``false`` and integers converted)."""
    options: dict[str, Any] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        lowered = value.lower()
        if lowered in ("true", "false"):
            options[name] = lowered == "true"
        elif value.isdigit():
            options[name] = int(value)
        else:
            options[name] = value
    return options


def _check_url_options(fsspec: Any, url: str, storage_options: dict[str, Any], backend: str) -> None:
    """Refuse options the URL's file system class does not take (a chained ``a::b://`` URL is fsspec's to check)."""
    if "::" in url:
        return
    protocol = fsspec.core.split_protocol(url)[0] or "file"
    try:
        fs_class = fsspec.get_filesystem_class(protocol)
    except ImportError as exc:  # fsspec knows the protocol, its implementation is not installed
        raise MissingDependencyError(
            f"the file system of {redact_url(url)!r} is not installed: {exc}", backend=backend
        ) from exc
    except ValueError as exc:
        raise InvalidURLError(
            f"fsspec knows no file system {protocol!r} ({redact_url(url)!r})", backend=backend
        ) from exc
    check_filesystem_options(fs_class, storage_options, backend=backend, own_options=("codec", "conditional_writes"))


class FsspecStore(KeyValueStore):
    """A store on any fsspec file system: ``FsspecStore("memory://data")``, ``FsspecStore(fs, "/base")``."""

    _backend_type = "fsspec"
    url_schemes: ClassVar[tuple[str, ...]] = ("file", "fsspec+")  # "fsspec+": every fsspec+PROTOCOL:// scheme

    def __init__(
        self,
        fs: Any = None,
        base_path: str | None = None,
        *,
        codec: Any = "json",
        conditional_writes: bool = False,
        **storage_options: Any,
    ) -> None:
        super().__init__(codec=codec)
        if fs is None or isinstance(fs, str):
            fsspec = require_module("fsspec", "polykv-fsspec", "the fsspec store", backend=self.backend_name)

            url = fs if isinstance(fs, str) else base_path
            if not url:
                raise InvalidURLError("FsspecStore needs a file system or a URL", backend=self.backend_name)
            _check_url_options(fsspec, url, storage_options, self.backend_name)
            try:
                fs, path = fsspec.core.url_to_fs(url, **storage_options)
            except ImportError as exc:  # fsspec knows the protocol, its implementation is not installed
                raise MissingDependencyError(
                    f"the file system of {redact_url(url)!r} is not installed: {exc}", backend=self.backend_name
                ) from exc
            self._location = redact_url(url)
            base_path = path if base_path is None or base_path == url else base_path
        else:
            if base_path is None:
                raise InvalidURLError("FsspecStore(fs, base_path) needs a base_path", backend=self.backend_name)
            self._location = f"{_protocol(fs)}://{base_path}"
        self._setup(fs, str(base_path), conditional_writes)

    def _setup(self, fs: Any, base_path: str, conditional_writes: bool) -> None:
        self.fs = fs
        self.io: FileIO = io_for(fs, conditional_writes=conditional_writes)
        self.base_path = fs._strip_protocol(base_path).rstrip("/") or ""
        self.capabilities = frozenset({Capability.ADD}) if self.io.atomic_add else frozenset()  # type: ignore[misc]
        self._folders: dict[str, str] = {"": f"{self.base_path}/{KV_FOLDER}"}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> FsspecStore:
        """``file:///dir`` or ``fsspec+PROTOCOL://path?option=value`` (options go to fsspec)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        inner_scheme = scheme.split("+", 1)[1] if scheme.startswith("fsspec+") else scheme
        if not inner_scheme:
            raise InvalidURLError(f"cannot tell the file system of {redact_url(url)!r}", backend="fsspec")
        query_options = parse_options(parts.query)
        inner = urlunsplit((inner_scheme, parts.netloc, parts.path, "", ""))
        with options_from_url(query_options, options):
            return cls(inner, **{**query_options, **options})

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._location!r} codec={self.codec.name!r}>"

    # -- paths ------------------------------------------------------------------------------------
    def _folder(self, ns: str) -> str:
        folder = self._folders.get(ns)
        if folder is None:
            folder = self._folders[ns] = f"{self.base_path}/{encode_key(ns)}"
        return folder

    def _path(self, ns: str, key: str) -> tuple[str, bool]:
        """The file of ``key`` and whether its name is the hashed form."""
        name = encode_key(key)
        if len(name) > MAX_PLAIN_NAME:
            return f"{self._folder(ns)}/{hashed_name(key, name)}", True
        return f"{self._folder(ns)}/{name}", False

    def _faults(self, ns: str = "", key: str | None = None) -> Any:
        return translate_faults(self.backend_name, self._location, ns or None, key)

    def _unpack(self, ns: str, key: str, content: bytes) -> bytes:
        stored_key, data = unpack_long(content)
        if stored_key != key:
            raise PolyKVError(
                "a different key is stored under this key's hashed file name",
                backend=self.backend_name,
                schema=ns or None,
                key=key,
            )
        return data

    # -- primitives -------------------------------------------------------------------------------
    def _get(self, ns: str, key: str) -> bytes | None:
        path, hashed = self._path(ns, key)
        with self._faults(ns, key):
            data = self.io.read(path)
        if data is None or not hashed:
            return data
        return self._unpack(ns, key, data)

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        path, hashed = self._path(ns, key)
        with self._faults(ns, key):
            self.io.write(path, pack_long(key, data) if hashed else data)

    def _delete(self, ns: str, key: str) -> bool:
        path, _ = self._path(ns, key)
        with self._faults(ns, key):
            return self.io.delete(path)

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        encoded = encode_key(prefix)
        folder = self._folder(ns)
        with self._faults(ns):
            names = sorted(n for n in self.io.list_names(folder) if not is_temporary(n) and may_match(n, encoded))
        long_names = []
        for name in names:
            if is_hashed(name):
                long_names.append(f"{folder}/{name}")
            else:
                yield decode_name(name)
        if long_names:
            with self._faults(ns):
                contents = self.io.read_many(long_names)
            for content in contents.values():
                key, _ = unpack_long(content)
                if key.startswith(prefix):
                    yield key

    def _schemas(self) -> Iterator[str]:
        with self._faults():
            folders = self.io.list_names(self.base_path, dirs=True)
        for name in sorted(folders):
            if is_temporary(name) or name == KV_FOLDER or is_hashed(name):
                continue
            ns = decode_name(name)
            if next(self._scan(ns, ""), None) is not None:
                yield ns

    # -- batches ----------------------------------------------------------------------------------
    def _get_many(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        located = [self._path(ns, key) for key in keys]
        with self._faults(ns):
            found = self.io.read_many([path for path, _ in located])
        out: list[bytes | None] = []
        for key, (path, hashed) in zip(keys, located, strict=True):
            data = found.get(path)
            out.append(self._unpack(ns, key, data) if data is not None and hashed else data)
        return out

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        batch = {}
        for key, data in items:
            path, hashed = self._path(ns, key)
            batch[path] = pack_long(key, data) if hashed else data
        with self._faults(ns):
            self.io.write_many(batch)

    def _delete_many(self, ns: str, keys: Sequence[str]) -> int:
        paths = list(dict.fromkeys(self._path(ns, key)[0] for key in keys))
        with self._faults(ns):
            return self.io.delete_many(paths)

    def _drop_schema(self, ns: str) -> None:
        with self._faults(ns):
            self.io.remove_tree(self._folder(ns))

    # -- capabilities -----------------------------------------------------------------------------
    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        if not self.io.atomic_add:
            raise self._unsupported(Capability.ADD)
        path, hashed = self._path(ns, key)
        with self._faults(ns, key):
            return self.io.add(path, pack_long(key, data) if hashed else data)

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        """Overwrite only an existing key (atomic where ``self.io.atomic_replace``; see ``fileio``)."""
        path, hashed = self._path(ns, key)
        with self._faults(ns, key):
            return self.io.replace(path, pack_long(key, data) if hashed else data)

    def close(self) -> None:
        """Release the file system client's connections where it has a way to."""
        self.io.close()


def _protocol(fs: Any) -> str:
    protocol = fs.protocol
    return str(protocol[0] if isinstance(protocol, (tuple, list)) else protocol)
