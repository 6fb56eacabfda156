"""polykv.compat.polystore: the documented registry, auto-registration, FileManager and built-in backends."""

from __future__ import annotations

import inspect
import threading
import uuid
from abc import abstractmethod
from pathlib import Path
from typing import Any

import pytest

from polykv.backends.sqlite import SQLiteStore
from polykv.compat import polystore
from polykv.compat.polystore import (
    BackendRegistry,
    DiskBackend,
    FileManager,
    MemoryBackend,
    ReadOnlyBackend,
    StorageBackend,
    StoreBackend,
)
from polykv.errors import BackendNotFoundError, InvalidKeyError, KeyNotFoundError, NotSupportedError, RegistrationError

EMPTY = inspect.Parameter.empty

#: From polystore-backend-registry.txt: documented calls and their parameters.
DOCUMENTED = {
    (StorageBackend, "save"): ["data", "file_path", "**kwargs"],
    (StorageBackend, "load"): ["file_path", "**kwargs"],
    (FileManager, "__init__"): ["registry"],
    (BackendRegistry, "__init__"): [],
    (MemoryBackend, "__init__"): [],
    (DiskBackend, "__init__"): [],
}


@pytest.mark.parametrize(("owner", "method"), list(DOCUMENTED))
def test_documented_signatures(owner: type, method: str) -> None:
    params = [p for n, p in inspect.signature(getattr(owner, method)).parameters.items() if n != "self"]
    wanted = DOCUMENTED[(owner, method)]
    shown = [("**" + p.name) if p.kind is p.VAR_KEYWORD else p.name for p in params]
    assert [n for n in shown if n in wanted] == wanted
    assert all(p.default is not EMPTY for p in params if p.name not in wanted and p.kind is not p.VAR_KEYWORD)


def name() -> str:
    return "b" + uuid.uuid4().hex[:10]


def test_registry_lists_memory_and_disk_first_and_caches_instances() -> None:
    registry = BackendRegistry()
    assert list(registry.keys())[:2] == ["memory", "disk"]
    assert registry["disk"] is registry["disk"]
    assert isinstance(registry["memory"], MemoryBackend)
    assert BackendRegistry()["memory"] is not registry["memory"]
    with pytest.raises(BackendNotFoundError, match="memory, disk"):
        registry["zarr-nope"]


def test_lazy_instances_are_made_once_under_threads() -> None:
    made: list[object] = []
    key = name()

    class Slow(StorageBackend):
        _backend_type = key

        def __init__(self) -> None:
            made.append(self)

        def save(self, data: Any, file_path: str, **kwargs: Any) -> None: ...
        def load(self, file_path: str, **kwargs: Any) -> Any: ...

    registry = BackendRegistry()
    assert made == []  # listed, not created
    assert key in registry
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(registry[key])) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and all(s is made[0] for s in seen)


def test_auto_registration_and_abstract_and_inherited_keys() -> None:
    key, abstract_key = name(), name()

    class Mine(StorageBackend):
        _backend_type = key

        def save(self, data: Any, file_path: str, **kwargs: Any) -> None:
            self.last = (data, file_path)

        def load(self, file_path: str, **kwargs: Any) -> Any:
            return self.last[0]

    class Base(StorageBackend):
        _backend_type = abstract_key

        @abstractmethod
        def custom_method(self) -> None: ...

    class Tweaked(Mine):  # inherits the key: not registered, no clash
        pass

    registry = BackendRegistry()
    assert key in registry and abstract_key not in registry
    assert polystore.STORAGE_BACKENDS[key] is Mine
    FileManager(registry).save(5, "x", key)
    assert FileManager(registry).load("x", key) == 5  # shared instance
    with pytest.raises(RegistrationError):

        class Clash(StorageBackend):
            _backend_type = key

            def save(self, data: Any, file_path: str, **kwargs: Any) -> None: ...
            def load(self, file_path: str, **kwargs: Any) -> Any: ...

    assert Tweaked._backend_type == key


def test_file_manager_shared_and_isolated() -> None:
    registry = BackendRegistry()
    fm1, fm2 = FileManager(registry), FileManager(registry)
    fm1.save({"a": 1}, "cfg.json", "memory")
    assert fm2.load("cfg.json", "memory") == {"a": 1}
    iso1, iso2 = FileManager({"memory": MemoryBackend()}), FileManager({"memory": MemoryBackend()})
    iso1.save([1], "x", "memory")
    with pytest.raises(KeyNotFoundError):
        iso2.load("x", "memory")
    with pytest.raises(BackendNotFoundError, match="memory"):
        iso1.load("x", "disk")


def test_disk_backend_files_under_base(tmp_path: Path) -> None:
    disk = DiskBackend(tmp_path)
    disk.save(b"\x00raw", "a/b.bin")
    disk.save("text é", "notes.txt")
    assert (tmp_path / "a" / "b.bin").read_bytes() == b"\x00raw"
    assert disk.load("notes.txt", encoding="utf-8") == "text é"
    assert FileManager({"disk": disk}).load("a/b.bin", "disk") == b"\x00raw"
    with pytest.raises(KeyNotFoundError):
        disk.load("missing")
    (tmp_path / "link").symlink_to("/")
    for bad in ("../out", "/etc/passwd", "a/../../x", "link/etc/passwd", ""):
        with pytest.raises(InvalidKeyError):
            disk.save(b"x", bad)
    assert not (tmp_path.parent / "out").exists()
    with pytest.raises(Exception, match="bytes or str"):
        disk.save(object(), "o")


def test_store_backend_over_sqlite_and_read_only(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        backend = StoreBackend(store)
        FileManager({"db": backend}).save([1, 2], "p/q", "db")
        assert store["p/q"] == [1, 2]
        assert backend.load("p/q") == [1, 2]

    class Fixed(ReadOnlyBackend):
        def load(self, file_path: str, **kwargs: Any) -> Any:
            return file_path.upper()

    with pytest.raises(NotSupportedError):
        Fixed().save(1, "x")
    assert Fixed().load("x") == "X"
