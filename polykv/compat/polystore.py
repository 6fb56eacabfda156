"""polystore's backend registry names (``BackendRegistry``, ``FileManager``, ``StorageBackend``...) on polykv.

polystore's backends *save* and *load* whole objects under file paths. Here they are a small family of their
own, auto-registered by ``_backend_type`` through a metaclass built on metaclass-registry (like polykv's
stores, an inherited key does not register a subclass, and abstract classes are skipped). The relation to
polykv's store contract: ``MemoryBackend`` (and any ``StoreBackend``) serves save/load from a polykv store,
with the file path as the key; ``DiskBackend`` writes real files under one base directory.

Note the name clash: this ``BackendRegistry`` maps names to save/load backends; ``polykv.BackendRegistry``
maps names to polykv stores.
"""

from __future__ import annotations

import os
import tempfile
import threading
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from metaclass_registry import AutoRegisterMeta, DuplicateRegistryKeyError, RegistryConfig

from ..errors import BackendNotFoundError, InvalidArgumentError, InvalidKeyError, KeyNotFoundError, RegistrationError
from ..keys import validate_key
from ..store import KeyValueStore

__all__ = [
    "STORAGE_BACKENDS",
    "AutoRegisterMeta",
    "BackendMeta",
    "BackendRegistry",
    "DiskBackend",
    "FileManager",
    "MemoryBackend",
    "ReadOnlyBackend",
    "StorageBackend",
    "StoreBackend",
]

#: Every registered save/load backend class by ``_backend_type``, in definition order.
STORAGE_BACKENDS: dict[str, type[StorageBackend]] = {}


class BackendMeta(AutoRegisterMeta):  # type: ignore[misc]  # metaclass-registry ships no types
    """Registers a concrete backend class under the ``_backend_type`` written in its own class body."""

    def __new__(mcs: type[BackendMeta], name: str, bases: tuple[type, ...], attrs: dict[str, Any], **kw: Any) -> Any:
        try:
            return super().__new__(mcs, name, bases, attrs, **kw)
        except DuplicateRegistryKeyError as exc:
            raise RegistrationError(str(exc), backend=attrs.get("_backend_type")) from None

    @staticmethod
    def _get_registration_key(name: str, cls: type, config: RegistryConfig) -> str | None:
        key = vars(cls).get(config.key_attribute)
        return key if isinstance(key, str) else None


class StorageBackend(metaclass=BackendMeta):
    """Base of save/load backends: set ``_backend_type`` and implement ``save`` and ``load``.

    ``save`` and ``load`` are the whole contract ``FileManager`` calls.
    """

    __registry_config__ = RegistryConfig(
        registry_dict=STORAGE_BACKENDS,
        key_attribute="_backend_type",
        skip_if_no_key=True,
        registry_name="polykv.compat.polystore backend",
        log_registration=False,
    )
    _backend_type: ClassVar[str | None] = None

    @abstractmethod
    def save(self, data: Any, file_path: str, **kwargs: Any) -> None:
        """Store ``data`` under ``file_path``, replacing what was there."""

    @abstractmethod
    def load(self, file_path: str, **kwargs: Any) -> Any:
        """Return what is stored under ``file_path``; ``KeyNotFoundError`` (a ``KeyError``) if nothing is."""


class ReadOnlyBackend(StorageBackend):
    """Base of backends that only load: ``save`` raises ``NotSupportedError``."""

    def save(self, data: Any, file_path: str, **kwargs: Any) -> None:
        from ..errors import NotSupportedError

        raise NotSupportedError(
            f"the {self._backend_type or type(self).__name__!r} backend is read-only",
            capability="save",
            backend=self._backend_type,
        )


class StoreBackend(StorageBackend):
    """save/load served by a polykv store: the file path is the key, the value goes through its codec."""

    def __init__(self, store: KeyValueStore) -> None:
        if not isinstance(store, KeyValueStore):
            raise InvalidArgumentError(f"StoreBackend takes a polykv store, got {type(store).__name__}")
        self.store = store

    def save(self, data: Any, file_path: str, **kwargs: Any) -> None:
        """``store.set(file_path, data)``; keyword arguments (``ttl``) go to ``set``."""
        self.store.set(file_path, data, **kwargs)

    def load(self, file_path: str, **kwargs: Any) -> Any:
        """``store[file_path]``; raises ``KeyNotFoundError`` when absent."""
        return self.store[file_path]


class MemoryBackend(StoreBackend):
    """Objects kept in a polykv ``MemoryStore`` (encoded with ``codec``, JSON by default: a loaded value
    is a copy)."""

    _backend_type = "memory"

    def __init__(self, *, codec: Any = "json") -> None:
        from ..backends.memory import MemoryStore

        super().__init__(MemoryStore(codec=codec))


class DiskBackend(StorageBackend):
    """Files under ``base_dir`` (default: the current directory when the backend is created).

    ``save`` takes ``bytes`` (written as they are) or ``str`` (written in ``encoding``, UTF-8 by default);
    ``load`` returns ``bytes``, or ``str`` when given ``encoding``. Paths are relative to ``base_dir``; a
    path that would leave it (``..``, an absolute path, a symlink out) raises ``InvalidKeyError``.
    Writes go to a temporary file that then replaces the target, so a reader never sees half a file.
    """

    _backend_type = "disk"

    def __init__(self, base_dir: str | os.PathLike[str] | None = None) -> None:
        self.base_dir = Path(base_dir if base_dir is not None else os.getcwd()).resolve()

    def _path(self, file_path: str) -> Path:
        validate_key(file_path, "disk")
        relative = Path(file_path)
        if relative.is_absolute() or ".." in relative.parts or "\x00" in file_path:
            raise InvalidKeyError(f"path {file_path!r} must be relative to {str(self.base_dir)!r}", backend="disk")
        target = (self.base_dir / relative).resolve()
        if not target.is_relative_to(self.base_dir) or target == self.base_dir:
            raise InvalidKeyError(f"path {file_path!r} leaves {str(self.base_dir)!r}", backend="disk")
        return target

    def save(self, data: Any, file_path: str, *, encoding: str = "utf-8", **kwargs: Any) -> None:
        """Write ``data`` (bytes or str) to ``base_dir/file_path``, creating folders as needed."""
        if isinstance(data, str):
            payload = data.encode(encoding)
        elif isinstance(data, (bytes, bytearray, memoryview)):
            payload = bytes(data)
        else:
            raise InvalidArgumentError(
                f"DiskBackend saves bytes or str, got {type(data).__name__}", backend="disk", key=file_path
            )
        target = self._path(file_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(payload)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def load(self, file_path: str, *, encoding: str | None = None, **kwargs: Any) -> Any:
        """The file's bytes (or text in ``encoding``); ``KeyNotFoundError`` if it does not exist."""
        target = self._path(file_path)
        try:
            payload = target.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise KeyNotFoundError("no such file", backend="disk", key=file_path) from None
        return payload if encoding is None else payload.decode(encoding)


class BackendRegistry(Mapping[str, StorageBackend]):
    """Every registered save/load backend by name; an instance is created on first access, cached, and
    shared by everyone using this registry (creation is thread-safe). ``KeyError`` lists known names."""

    def __init__(self) -> None:
        self._classes = dict(STORAGE_BACKENDS)
        self._instances: dict[str, StorageBackend] = {}
        self._lock = threading.Lock()

    def _names(self) -> list[str]:
        self._classes.update(STORAGE_BACKENDS)  # classes defined after this registry was made
        return list(self._classes)

    def __getitem__(self, name: str) -> StorageBackend:
        instance = self._instances.get(name)
        if instance is not None:
            return instance
        with self._lock:
            instance = self._instances.get(name)
            if instance is None:
                if name not in self._names():
                    raise BackendNotFoundError(
                        f"no save/load backend named {name!r} (available: {', '.join(self._names())})",
                        backend=str(name),
                    )
                instance = self._instances[name] = self._classes[name]()
        return instance

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return f"<polystore BackendRegistry backends={self._names()!r} created={list(self._instances)!r}>"


class FileManager:
    """Saves and loads through the backends of ``registry`` (a ``BackendRegistry`` or a plain dict of
    backend instances). Two managers over one registry share its backend instances."""

    def __init__(self, registry: Mapping[str, StorageBackend]) -> None:
        if not isinstance(registry, Mapping):
            raise InvalidArgumentError(f"FileManager takes a registry or a dict, got {type(registry).__name__}")
        self.registry = registry

    def _backend(self, backend: str) -> StorageBackend:
        try:
            return self.registry[backend]
        except BackendNotFoundError:
            raise
        except KeyError:
            raise BackendNotFoundError(
                f"no backend {backend!r} in this FileManager's registry (available: {', '.join(self.registry)})",
                backend=str(backend),
            ) from None

    def save(self, data: Any, file_path: str, backend: str, **kwargs: Any) -> None:
        """Save ``data`` under ``file_path`` with the named backend."""
        self._backend(backend).save(data, file_path, **kwargs)

    def load(self, file_path: str, backend: str, **kwargs: Any) -> Any:
        """Load ``file_path`` with the named backend."""
        return self._backend(backend).load(file_path, **kwargs)
