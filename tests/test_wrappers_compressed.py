"""CompressedStore: the conformance suite over memory and sqlite, the frame rule, legacy values, hostile values."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

import polykv
from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.capabilities import Capability
from polykv.errors import InvalidArgumentError, InvalidURLError, SerializationError
from polykv.records import Record
from polykv.store import KeyValueStore
from polykv.testing import StoreSuite
from polykv.wrappers import CompressedCodec, CompressedStore, PrefixStore
from polykv.wrappers.compressed import MAGIC

BIG = {"text": "polykv " * 200, "n": list(range(50))}


class TestCompressedOverMemoryConformance(StoreSuite):
    @staticmethod
    def open_store(tmp_path: Path) -> KeyValueStore:
        return CompressedStore(MemoryStore(), min_size=0)


class TestCompressedZstdOverSQLiteConformance(StoreSuite):
    @staticmethod
    def open_store(tmp_path: Path) -> KeyValueStore:
        return CompressedStore(SQLiteStore(tmp_path / "z.db"), algorithm="zstd", min_size=0, owns=True)


class TestCompressedOverSQLiteConformance(StoreSuite):
    @staticmethod
    def open_store(tmp_path: Path) -> KeyValueStore:
        return CompressedStore(SQLiteStore(tmp_path / "c.db"), owns=True)


class TestCompressedStackedURLConformance(StoreSuite):
    @staticmethod
    def open_store(tmp_path: Path) -> KeyValueStore:
        return polykv.connect(f"compressed:min_size=0&level=9+prefix:p/+sqlite:///{tmp_path}/u.db")


@pytest.fixture(params=["zlib", "zstd"])
def algorithm(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# == the frame rule ====================================================================================
def test_large_values_are_stored_compressed_small_ones_as_they_are(inner: KeyValueStore, algorithm: str) -> None:
    store = CompressedStore(inner, algorithm=algorithm, min_size=100)
    store.set("big", BIG)
    store.set("small", {"a": 1})
    raw = inner._get("", "big")
    assert raw is not None and raw.startswith(MAGIC) and len(raw) < len(polykv.get_codec("json").encode(BIG)) / 5
    assert inner._get("", "small") == b'{"a":1}'
    assert store["big"] == BIG and store["small"] == {"a": 1}
    assert inner.get("big") == BIG  # the wrapped store reads through the installed codec too


def test_incompressible_values_are_stored_as_they_are(inner: KeyValueStore) -> None:
    inner.codec = polykv.get_codec("bytes")
    store = CompressedStore(inner, min_size=0)
    noise = bytes(range(256)) + zlib.compress(b"x" * 10_000)[:100]
    store.set("noise", noise)
    assert inner._get("", "noise") == noise
    assert store["noise"] == noise


def test_turning_compression_on_loses_nothing(inner: KeyValueStore) -> None:
    inner.set_many({"old-small": 1, "old-big": BIG, "old-text": "x" * 1000})
    inner.insert_record("users", "u1", {"id": "u1", "bio": "y" * 1000})
    store = CompressedStore(inner, min_size=10)
    assert store.get_many(["old-small", "old-big", "old-text"]) == {
        "old-small": 1,
        "old-big": BIG,
        "old-text": "x" * 1000,
    }
    assert store.get_record("users", dict, "u1")["bio"] == "y" * 1000
    store.set("new", BIG)
    assert dict(store.fetch_by_prefix("")) == {"old-small": 1, "old-big": BIG, "old-text": "x" * 1000, "new": BIG}


def test_switching_algorithm_reads_both(tmp_path: Path) -> None:
    path = tmp_path / "switch.db"
    with CompressedStore(SQLiteStore(path), algorithm="zstd", min_size=0, owns=True) as first:
        first.set("z", BIG)
    with CompressedStore(SQLiteStore(path), algorithm="zlib", min_size=0, owns=True) as second:
        second.set("l", BIG)
        assert second.get_many(["z", "l"]) == {"z": BIG, "l": BIG}
        assert second.inner._get("", "z")[:5] == MAGIC + b"\x02"  # type: ignore[index]
        assert second.inner._get("", "l")[:5] == MAGIC + b"\x01"  # type: ignore[index]


# == hostile plain values: bytes that start with the magic ============================================
@pytest.mark.parametrize(
    "value",
    [MAGIC, MAGIC + b"\x00", MAGIC + b"\x01garbage", MAGIC + b"\x02" + b"z" * 500, MAGIC + b"\x09", b"\xc1pk", b""],
)
def test_values_that_look_like_frames_round_trip(inner: KeyValueStore, value: bytes, algorithm: str) -> None:
    inner.codec = polykv.get_codec("bytes")
    store = CompressedStore(inner, algorithm=algorithm, min_size=1000)
    store.set("v", value)
    store.set_many({"w": value})
    assert store["v"] == value and store.get_many(["w"]) == {"w": value}
    assert dict(store.fetch_by_prefix("")) == {"v": value, "w": value}
    assert store.compare_and_set("v", value, b"next") and store["v"] == b"next"


@pytest.mark.parametrize("value", [MAGIC + b"\x01garbage", MAGIC + b"\x02garbage", MAGIC + b"\x07", MAGIC])
def test_legacy_bytes_value_with_the_magic_is_refused_not_altered(inner: KeyValueStore, value: bytes) -> None:
    """The one documented ambiguity: a bytes-codec value written before compression that starts with MAGIC."""
    inner.codec = polykv.get_codec("bytes")
    inner.set("legacy", value)
    store = CompressedStore(inner)
    with pytest.raises(SerializationError) as info:
        store.get("legacy")
    assert info.value.key == "legacy"
    with pytest.raises(SerializationError):
        store.get_many(["legacy"])


def test_json_and_msgpack_never_start_with_the_magic() -> None:
    """Why plain JSON/msgpack/pickle values stay readable: 0xc1 starts no UTF-8 text and no msgpack value."""
    with pytest.raises(UnicodeDecodeError):
        MAGIC.decode("utf-8")
    msgpack = pytest.importorskip("msgpack")
    with pytest.raises(Exception):  # msgpack raises its own FormatError, with no message
        msgpack.unpackb(MAGIC + b"\x00")


# == atomic operations keep working on compressed values =============================================
def test_cas_add_incr_records_on_compressed_values(inner: KeyValueStore, algorithm: str) -> None:
    store = CompressedStore(inner, algorithm=algorithm, min_size=50)
    store.set("doc", BIG)
    assert inner._get("", "doc")[:4] == MAGIC  # type: ignore[index]
    other = {**BIG, "n": []}
    assert not store.compare_and_set("doc", other, 1)
    assert store.compare_and_set("doc", BIG, other)
    assert store["doc"] == other
    assert not store.add("doc", 2)
    assert store.add("fresh", BIG) and store["fresh"] == BIG
    assert store.incr("count", 5) == 5 and store.incr("count") == 6
    store.set("big-int", 10**15)
    assert store.incr("big-int") == 10**15 + 1

    @dataclasses.dataclass
    class Doc(Record):
        __schema_name__ = "docs"
        __indexes__ = ("kind",)
        id: str
        kind: str
        body: str

    for n in range(5):
        store.insert_record("docs", f"d{n}", Doc(id=f"d{n}", kind="a" if n % 2 else "b", body="z" * 500))
    assert {d.id for d in store.filter_record("docs", Doc, kind="a")} == {"d1", "d3"}
    raw = inner._get("docs", "d1")
    assert raw is not None and raw[:4] == MAGIC
    assert Capability.INDEX not in store.capabilities  # the backend's index cannot read compressed bytes


def test_codecs_under_compression(inner: KeyValueStore, algorithm: str) -> None:
    for name, value in [("json", BIG), ("bytes", b"b" * 900), ("pickle", {"t": (1, 2), "s": {3}} | {"x": "y" * 900})]:
        inner.codec = polykv.get_codec(name)
        store = CompressedStore(inner, algorithm=algorithm, min_size=10)
        store.set(name, value)
        assert inner._get("", name)[:4] == MAGIC  # type: ignore[index]
        assert store[name] == value
        store.delete(name)


def test_wrapping_twice_is_refused() -> None:
    store = CompressedStore(MemoryStore())
    with pytest.raises(InvalidArgumentError, match="already has a CompressedCodec"):
        CompressedStore(store)
    with pytest.raises(InvalidArgumentError):
        CompressedStore(PrefixStore(store.inner, "p/"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"algorithm": "lz4"}, "algorithm"),
        ({"min_size": -1}, "min_size"),
        ({"min_size": True}, "min_size"),
        ({"level": "9"}, "level"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    inner = MemoryStore()
    with pytest.raises(InvalidArgumentError, match=message):
        CompressedStore(inner, **options)
    assert inner.codec.name == "json"  # nothing installed


def test_codec_name_repr_and_properties() -> None:
    inner = MemoryStore()
    store = CompressedStore(inner, algorithm="zstd", min_size=64)
    assert inner.codec.name == "zstd+json" and isinstance(inner.codec, CompressedCodec)
    assert store.algorithm == "zstd" and store.min_size == 64
    assert store.backend_name == "compressed+memory"
    assert "zstd min_size=64" in repr(store)


# == URLs ================================================================================================
def test_url_options() -> None:
    with polykv.connect("compressed:algorithm=zstd&min_size=10&level=5+memory://") as store:
        assert isinstance(store, CompressedStore) and store.algorithm == "zstd" and store.min_size == 10
    with polykv.connect("compressed+memory://") as store:
        assert isinstance(store, CompressedStore) and store.algorithm == "zlib" and store.min_size == 256


@pytest.mark.parametrize(
    "url",
    [
        "compressed:speed=1+memory://",
        "compressed:min_size=big+memory://",
        "compressed:level=x+memory://",
        "compressed:a+memory://",
    ],
)
def test_bad_url_options(url: str) -> None:
    with pytest.raises(InvalidURLError):
        polykv.connect(url)


def test_bad_algorithm_in_url_closes_what_was_opened(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="algorithm"):
        polykv.connect(f"compressed:algorithm=lz4+sqlite:///{tmp_path}/x.db")


# == optional imports ====================================================================================
def test_import_polykv_imports_no_optional_package() -> None:
    code = (
        "import sys, polykv, polykv.wrappers; from polykv.wrappers import CompressedStore, InstrumentedStore; "
        "import polykv.backends.memory as m; CompressedStore(m.MemoryStore()).set('k', 'v' * 999); "
        "bad = [n for n in sys.modules if n.split('.')[0] in ('zstandard', 'cryptography', 'opentelemetry')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_zstd_without_zstandard_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['zstandard'] = None\n"
        "from polykv.errors import MissingDependencyError\n"
        "from polykv.wrappers import CompressedStore\n"
        "from polykv.backends.memory import MemoryStore\n"
        "try:\n    CompressedStore(MemoryStore(), algorithm='zstd')\n"
        "except MissingDependencyError as exc:\n    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "polykv-core[zstd]" in done.stdout


# == hostile frames and concurrency ======================================================================
@pytest.mark.parametrize("algorithm", ["zlib", "zstd"])
def test_a_frame_that_would_inflate_past_the_limit_is_refused(
    monkeypatch: pytest.MonkeyPatch, inner: KeyValueStore, algorithm: str
) -> None:
    from polykv.wrappers import compressed

    store = CompressedStore(inner, algorithm=algorithm, min_size=0)
    store.set("bomb", "0" * 50_000)
    monkeypatch.setattr(compressed, "MAX_DECOMPRESSED", 10_000)
    with pytest.raises(SerializationError, match="10000") as info:
        store.get("bomb")
    assert info.value.key == "bomb"
    monkeypatch.undo()
    assert store.get("bomb") == "0" * 50_000


def test_cut_short_and_trailing_bytes_are_refused(inner: KeyValueStore) -> None:
    store = CompressedStore(inner, min_size=0)
    store.set("v", "x" * 5000)
    framed = inner._get("", "v")
    assert framed is not None
    for bad in (framed[:-3], framed + b"tail"):
        inner._set("", "v", bad, None)
        with pytest.raises(SerializationError):
            store.get("v")


def test_concurrent_compare_and_set_on_compressed_values(inner: KeyValueStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = CompressedStore(inner, min_size=0)
    store.set("doc", {"n": 0, "pad": "p" * 2000})

    def bump(_: int) -> int:
        tries = 0
        while True:
            tries += 1
            current = store["doc"]
            if store.compare_and_set("doc", current, {"n": current["n"] + 1, "pad": current["pad"]}):
                return tries

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(bump, range(100)))
    assert store["doc"]["n"] == 100
    assert (inner._get("", "doc") or b"")[:4] == MAGIC


@pytest.mark.parametrize(
    "url",
    ["compressed:level=99+memory://", "compressed:level=-2+memory://", "compressed:algorithm=zstd&level=23+memory://"],
)
def test_a_level_the_algorithm_refuses_is_refused_at_construction(url: str) -> None:
    with pytest.raises(InvalidArgumentError, match="level"):
        polykv.connect(url)
