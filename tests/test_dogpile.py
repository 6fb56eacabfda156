"""The ``polykv`` dogpile.cache backend: dogpile's own shipped backend and mutex fixtures
(``dogpile.testing.fixtures``) on memory and sqlite, the entry point, and no pickle by default."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
import tomllib

dogpile_cache = pytest.importorskip("dogpile.cache")

from dogpile.cache import make_region  # noqa: E402
from dogpile.cache.api import NO_VALUE  # noqa: E402
from dogpile.cache.region import _backend_loader, register_backend  # noqa: E402
from dogpile.testing import fixtures  # noqa: E402

from polykv.backends.memory import MemoryStore  # noqa: E402
from polykv.integrations.dogpile import PolykvBackend, PolykvMutex  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# The test environment's installed metadata may predate the entry point: register it by hand as well.
register_backend("polykv", "polykv.integrations.dogpile", "PolykvBackend")


def test_the_entry_point_is_declared_and_resolves() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    value = project["project"]["entry-points"]["dogpile.cache"]["polykv"]
    assert value == "polykv.integrations.dogpile:PolykvBackend"
    assert EntryPoint(name="polykv", value=value, group="dogpile.cache").load() is PolykvBackend
    assert _backend_loader.load("polykv") is PolykvBackend


def test_import_polykv_does_not_import_dogpile() -> None:
    import subprocess

    code = "import sys, polykv; polykv.connect('memory://'); print('dogpile' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_region_from_a_url_without_imports(tmp_path: Path) -> None:
    region = make_region().configure("polykv", arguments={"url": f"sqlite:///{tmp_path / 'cache.db'}"})
    assert region.get_or_create("k", lambda: {"a": [1, 2]}) == {"a": [1, 2]}
    assert isinstance(region.backend, PolykvBackend)
    assert isinstance(region.backend.get_mutex("k"), PolykvMutex)
    raw = region.backend.get_serialized("k")
    assert raw.endswith(b'|{"a":[1,2]}')  # JSON payloads, never pickle by default
    region.backend.close()


def test_payloads_the_codec_cannot_store_are_refused() -> None:
    region = make_region().configure("polykv", arguments={"url": "memory://"})
    with pytest.raises(Exception, match="json codec"):
        region.set("k", {1, 2})


def test_an_undecodable_payload_regenerates() -> None:
    store = MemoryStore(codec="bytes")
    region = make_region().configure("polykv", arguments={"store": store})
    store.set("k", b'{"ct": 1e12, "v": 2}|not json')
    assert region.get("k") is NO_VALUE
    assert region.get_or_create("k", lambda: 3) == 3


def test_arguments() -> None:
    with pytest.raises(Exception, match="url"):
        PolykvBackend({})
    with pytest.raises(Exception, match="codec='bytes'"):
        PolykvBackend({"store": MemoryStore()})
    backend = PolykvBackend({"url": "memory://", "distributed_lock": False, "ttl": 5})
    assert backend.get_mutex("k") is None and not backend.has_lock_timeout()
    backend.set_serialized("k", b"x")
    left = backend.store.ttl("k")
    assert left is not None and 4 < left <= 5


class _PerTestURL:
    """dogpile's fixtures read ``config_args`` in ``setup_class``; here the URL is made per test."""

    config_args: dict[str, Any] = {"arguments": {"url": "memory://"}}

    @classmethod
    def setup_class(cls) -> None:
        """The backend is built by each test."""


class TestMemoryBackend(_PerTestURL, fixtures._GenericBackendTestSuite):
    backend = "polykv"


class TestMemoryMutex(_PerTestURL, fixtures._GenericMutexTestSuite):
    backend = "polykv"


class _SQLiteURL(_PerTestURL):
    @pytest.fixture(autouse=True)
    def _sqlite_url(self, tmp_path: Path) -> Iterator[None]:
        type(self).config_args = {"arguments": {"url": f"sqlite:///{tmp_path / 'dogpile.db'}"}}
        yield


class TestSQLiteBackend(_SQLiteURL, fixtures._GenericBackendTestSuite):
    backend = "polykv"


class TestSQLiteMutex(_SQLiteURL, fixtures._GenericMutexTestSuite):
    backend = "polykv"


class TestSQLiteSerializer(_SQLiteURL, fixtures._GenericSerializerTestSuite, fixtures._GenericBackendTestSuite):
    backend = "polykv"
