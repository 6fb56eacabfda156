"""polykv.ops: dispatch rules, copy (batches, overwrite, codecs, resume), JSON lines, schema operations."""

from __future__ import annotations

import io
import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polykv import ops
from polykv.backends import sqlite_ops
from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.capabilities import Capability
from polykv.changes import BEGINNING, ChangeOp
from polykv.errors import InvalidArgumentError, NotSupportedError, RecordError, RegistrationError, SerializationError
from polykv.store import KeyValueStore


def filled(n: int = 2500, records: int = 30) -> MemoryStore:
    store = MemoryStore()
    store.set_many({f"k{i:05d}": {"n": i} for i in range(n)})
    store.set_many({f"other{i}": i for i in range(5)})
    for i in range(records):
        store.upsert_record("users", f"u{i}", {"name": f"user{i}", "age": i})
        store.upsert_record("orders", f"o{i}", {"total": i * 1.5})
    return store


class NoWatchMemory(MemoryStore):
    """A memory store that declares no watch capability (not registered: no _backend_type of its own)."""

    capabilities = MemoryStore.capabilities - {Capability.WATCH}


class TestDispatch:
    def test_operation_on_a_non_store_names_type_and_operation(self) -> None:
        with pytest.raises(NotSupportedError) as info:
            ops.copy(object(), MemoryStore())
        assert "object" in str(info.value) and "'copy'" in str(info.value)
        assert info.value.capability == "copy"

    def test_every_generic_is_listed(self) -> None:
        assert {"copy", "export_jsonl", "import_jsonl", "create_schema", "drop_schema", "list_schemas", "watch"} <= set(
            ops.GENERIC_OPERATIONS
        )

    def test_registrar_rejects_unknown_operation(self) -> None:
        register = ops.registrar(ops)
        with pytest.raises(RegistrationError, match=r"no generic operation 'copy_fast'.*available: copy"):

            @register(MemoryStore)
            def copy_fast(src: object, dst: object) -> None: ...

    def test_registrar_rejects_non_dispatchable(self) -> None:
        register = ops.registrar(ops)
        with pytest.raises(RegistrationError, match="count_items is not a single-dispatch"):

            @register(MemoryStore)
            def count_items(store: object) -> int:
                return 0

    def test_registrar_rejects_non_class(self) -> None:
        with pytest.raises(RegistrationError):
            ops.registrar(ops)("memory")  # type: ignore[arg-type]

    def test_registered_fast_path_is_used_for_its_class_only(self) -> None:
        class FastMemory(MemoryStore):
            pass

        @ops.implements(FastMemory)
        def list_schemas(store: FastMemory) -> list[str]:
            return ["from-fast-path"]

        # FastMemory is local to this test, so the registration reaches no other test
        assert ops.list_schemas(FastMemory()) == ["from-fast-path"]
        assert ops.list_schemas(filled(1, 1)) == ["orders", "users"]

    def test_registrar_works_for_another_module_of_generics(self) -> None:
        module = types.ModuleType("thirdparty_ops")

        @ops.generic
        def vacuum(store: object) -> str:
            raise NotSupportedError("no vacuum")

        module.vacuum = vacuum  # type: ignore[attr-defined]
        sys.modules["thirdparty_ops"] = module
        try:

            @ops.registrar(module)(MemoryStore)
            def vacuum(store: MemoryStore) -> str:
                return "vacuumed"

            assert module.vacuum(MemoryStore()) == "vacuumed"  # type: ignore[attr-defined]
            with pytest.raises(NotSupportedError):
                module.vacuum(object())  # type: ignore[attr-defined]
        finally:
            del sys.modules["thirdparty_ops"]
            ops.GENERIC_OPERATIONS.pop("vacuum", None)


class TestCopy:
    def test_copies_kv_and_every_schema(self) -> None:
        src, dst = filled(), MemoryStore()
        result = ops.copy(src, dst, batch_size=300)
        assert result.copied == 2505 + 60 and result.skipped == 0 and result.resumed == 0
        assert result.namespaces == ["", "orders", "users"]
        assert dict(dst.fetch_by_prefix()) == dict(src.fetch_by_prefix())
        assert dst.list_schemas() == ["orders", "users"]
        assert dst.get_record("users", dict, "u7") == {"name": "user7", "age": 7}

    def test_prefix_and_schemas(self) -> None:
        src, dst = filled(), MemoryStore()
        result = ops.copy(src, dst, prefix="other", schemas=[""])
        assert result.copied == 5
        assert sorted(dst.keys()) == [f"other{i}" for i in range(5)]
        assert dst.list_schemas() == []
        ops.copy(src, dst, schemas=["users"], prefix="u1")
        assert sorted(dst.record_keys("users")) == sorted(k for k in src.record_keys("users") if k.startswith("u1"))

    def test_overwrite_false_keeps_destination_values(self) -> None:
        src, dst = filled(100, 0), MemoryStore()
        dst.set("k00001", "mine")
        result = ops.copy(src, dst)
        assert dst.get("k00001") == "mine"
        assert result.skipped == 1 and result.copied == 104
        result = ops.copy(src, dst, overwrite=True)
        assert dst.get("k00001") == {"n": 1} and result.copied == 105

    def test_converts_between_codecs(self) -> None:
        src, dst = filled(50, 2), MemoryStore(codec="msgpack")
        ops.copy(src, dst)
        assert dst.get("k00049") == {"n": 49}
        assert dst._get("", "k00049") != src._get("", "k00049")  # re-encoded, not copied as JSON bytes

    def test_unencodable_value_for_destination_codec_names_key(self) -> None:
        src, dst = MemoryStore(), MemoryStore(codec="bytes")
        src.set("a", {"x": 1})
        with pytest.raises(SerializationError, match="key='a'"):
            ops.copy(src, dst)

    def test_bad_arguments(self) -> None:
        src = filled(1, 0)
        with pytest.raises(InvalidArgumentError, match="same store"):
            ops.copy(src, src)
        with pytest.raises(InvalidArgumentError, match="batch_size"):
            ops.copy(src, MemoryStore(), batch_size=0)
        with pytest.raises(InvalidArgumentError, match="list of names"):
            ops.copy(src, MemoryStore(), schemas="users")
        with pytest.raises(InvalidArgumentError, match="destination"):
            ops.copy(src, {})

    def test_progress_reports_every_item(self) -> None:
        src = filled()
        seen: list[int] = []
        ops.copy(src, MemoryStore(), batch_size=1000, progress=seen.append)
        assert sum(seen) == ops.count_items(src) == 2565

    def test_resume_after_interruption_does_not_redo_finished_batches(self, tmp_path: Path) -> None:
        src, dst = filled(), MemoryStore()
        checkpoint = tmp_path / "copy.json"
        batches = 0

        def interrupt(_: int) -> None:
            nonlocal batches
            batches += 1
            if batches == 2:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            ops.copy(src, dst, batch_size=1000, checkpoint=checkpoint, progress=interrupt)
        assert checkpoint.exists() and len(dst) == 2000
        state = json.loads(checkpoint.read_text())
        assert state["ns"] == "" and state["position"] == 2000

        result = ops.copy(src, dst, batch_size=1000, checkpoint=checkpoint)
        assert result.resumed == 2000 and result.copied == 565
        assert not checkpoint.exists()
        # the destination's change log shows every key written exactly once over both runs
        events = list(ops.watch(dst, since=BEGINNING, follow=False))
        assert len(events) == 2565 and {e.op for e in events} == {ChangeOp.INSERT}
        assert dict(dst.fetch_by_prefix()) == dict(src.fetch_by_prefix())

    def test_resume_skips_finished_namespaces(self, tmp_path: Path) -> None:
        src, dst = filled(10, 30), MemoryStore()
        checkpoint = tmp_path / "copy.json"
        seen: list[int] = []

        def interrupt(n: int) -> None:
            seen.append(n)
            if len(seen) == 3:  # KV pairs done, both batches of orders written; orders not yet marked done
                raise RuntimeError("network down")

        with pytest.raises(RuntimeError):
            ops.copy(src, dst, batch_size=20, checkpoint=checkpoint, progress=interrupt)
        assert json.loads(checkpoint.read_text())["done"] == [""]
        result = ops.copy(src, dst, batch_size=20, checkpoint=checkpoint)
        assert result.resumed == 15 + 30
        assert result.copied == 30
        assert dst.count("users") == 30 and dst.count("orders") == 30

    def test_changed_scan_order_falls_back_to_a_safe_redo(self, tmp_path: Path) -> None:
        src, dst = filled(100, 0), MemoryStore()
        checkpoint = tmp_path / "copy.json"
        checkpoint.write_text(
            json.dumps({"fingerprint": _fingerprint(src, dst), "done": [], "ns": "", "position": 50, "last_key": "zz"})
        )
        result = ops.copy(src, dst, checkpoint=checkpoint)
        assert result.resumed == 0 and result.copied == 105

    def test_checkpoint_of_another_copy_is_refused(self, tmp_path: Path) -> None:
        checkpoint = tmp_path / "copy.json"
        checkpoint.write_text(json.dumps({"fingerprint": "nope", "done": [""]}))
        with pytest.raises(InvalidArgumentError, match="belongs to another copy"):
            ops.copy(filled(1, 0), MemoryStore(), checkpoint=checkpoint)
        assert checkpoint.exists()


def _fingerprint(src: KeyValueStore, dst: KeyValueStore) -> str:
    import hashlib

    return hashlib.sha256(json.dumps([src.backend_name, dst.backend_name, "", None]).encode()).hexdigest()[:16]


class TestJsonLines:
    def test_round_trip(self, tmp_path: Path) -> None:
        src = filled(200, 5)
        path = tmp_path / "dump.jsonl"
        assert ops.export_jsonl(src, path) == 205 + 10
        first = json.loads(path.read_text().splitlines()[0])
        assert first == {"schema": None, "key": "k00000", "value": {"n": 0}}
        dst = MemoryStore()
        assert ops.import_jsonl(dst, path, batch_size=64) == 215
        assert dict(dst.fetch_by_prefix()) == dict(src.fetch_by_prefix())
        assert dst.get_record("orders", dict, "o3") == {"total": 4.5}

    def test_bytes_values(self) -> None:
        src = MemoryStore(codec="bytes")
        src.set("blob", b"\x00\xff")
        buffer = io.StringIO()
        ops.export_jsonl(src, buffer)
        assert '"value_b64"' in buffer.getvalue()
        dst = MemoryStore(codec="bytes")
        ops.import_jsonl(dst, io.StringIO(buffer.getvalue()))
        assert dst["blob"] == b"\x00\xff"

    def test_overwrite_false(self) -> None:
        dst = MemoryStore()
        dst.set("a", "mine")
        lines = '{"schema": null, "key": "a", "value": 1}\n{"schema": null, "key": "b", "value": 2}\n'
        assert ops.import_jsonl(dst, io.StringIO(lines), overwrite=False) == 1
        assert dst.get_many(["a", "b"]) == {"a": "mine", "b": 2}

    @pytest.mark.parametrize(
        "line", ['{"key": "a"}', "[1, 2]", "not json", '{"schema": "bad name!", "key": "a", "value": 1}', '{"key": ""}']
    )
    def test_bad_line_names_its_number(self, line: str) -> None:
        dst = MemoryStore()
        text = '{"schema": null, "key": "ok", "value": 1}\n\n' + line + "\n"
        with pytest.raises(InvalidArgumentError, match="line 3"):
            ops.import_jsonl(dst, io.StringIO(text))


class TestSchemas:
    def test_create_list_drop(self) -> None:
        store = filled(1, 3)
        ops.create_schema(store, "empty")
        assert ops.list_schemas(store) == ["orders", "users"]  # schemas are listed once they hold a record
        ops.drop_schema(store, "users")
        assert ops.list_schemas(store) == ["orders"]
        with pytest.raises(InvalidArgumentError):
            ops.create_schema(store, "bad name")


def test_watch_needs_the_capability() -> None:
    store = NoWatchMemory()
    with pytest.raises(NotSupportedError, match="watch") as info:
        ops.watch(store)
    assert info.value.capability == "watch" and info.value.backend == "memory"


class TestSQLiteCopyFastPath:
    """``copy`` from sqlite reads one ordered cursor per namespace and resumes by seeking (sqlite_ops)."""

    @pytest.fixture
    def src(self, tmp_path: Path) -> Iterator[SQLiteStore]:
        store = SQLiteStore(tmp_path / "src.db")
        store.set_many({f"k{i:05d}": {"n": i} for i in range(2500)})
        store.set_many({f"other{i}": i for i in range(5)})
        for i in range(30):
            store.upsert_record("users", f"u{i}", {"age": i})
        store._set("", "k99999", b"1", -1.0)  # expired already: invisible, so never copied
        yield store
        store.close()

    def test_registered_for_sqlite_sources(self) -> None:
        assert ops.copy.dispatch(SQLiteStore) is sqlite_ops.copy

    @pytest.mark.parametrize(
        "options", [{}, {"prefix": "k0"}, {"schemas": ["users"]}, {"schemas": [""], "prefix": "other"}]
    )
    def test_same_result_as_the_portable_copy(self, src: SQLiteStore, options: dict[str, object]) -> None:
        fast, portable = MemoryStore(), MemoryStore()
        fast.set("k00001", "kept")
        portable.set("k00001", "kept")
        result = ops.copy(src, fast, batch_size=300, **options)
        expected = ops.copy_batches(src, portable, ops._batches, batch_size=300, **options)  # type: ignore[arg-type]
        assert result == expected
        assert dict(fast.fetch_by_prefix()) == dict(portable.fetch_by_prefix()) and "k99999" not in fast
        assert list(fast.iter_records("users", dict)) == list(portable.iter_records("users", dict))

    def test_resume_seeks_past_finished_batches(self, src: SQLiteStore, tmp_path: Path) -> None:
        dst = MemoryStore()
        checkpoint = tmp_path / "copy.json"
        seen: list[int] = []

        def interrupt(n: int) -> None:
            seen.append(n)
            if len(seen) == 2:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            ops.copy(src, dst, batch_size=1000, checkpoint=checkpoint, progress=interrupt)
        result = ops.copy(src, dst, batch_size=1000, checkpoint=checkpoint)
        assert result.resumed == 2000 and result.copied == 505 + 30
        events = list(ops.watch(dst, since=BEGINNING, follow=False))  # every key written once over both runs
        assert len(events) == 2535 and {e.op for e in events} == {ChangeOp.INSERT}

    def test_a_source_changed_before_the_position_is_copied_again(self, src: SQLiteStore, tmp_path: Path) -> None:
        dst = MemoryStore()
        checkpoint = tmp_path / "copy.json"
        checkpoint.write_text(
            json.dumps(
                {"fingerprint": _fingerprint(src, dst), "done": [], "ns": "", "position": 1000, "last_key": "k00999"}
            )
        )
        src.delete("k00005")  # 999 keys up to the recorded one now: the position no longer matches
        result = ops.copy(src, dst, checkpoint=checkpoint)
        assert result.resumed == 0 and result.copied == 2504 + 30 and len(dst) == 2504


def test_an_unknown_option_names_the_operation_not_its_helper() -> None:
    """ops.copy's portable path hands its options to copy_batches; a misspelt one was that helper's TypeError."""
    src, dst = MemoryStore(), MemoryStore()
    src.set("a", 1)
    for call, name in (
        (lambda: ops.copy(src, dst, overwrit=True), "copy"),
        (lambda: ops.watch(src, folow=False), "watch"),
    ):
        with pytest.raises(InvalidArgumentError, match=rf"polykv\.ops\.{name} has no option") as info:
            call()
        assert "batches" not in str(info.value) and "_portable" not in str(info.value)
        accepted = str(info.value).partition("its options: ")[2].partition(" [")[0].split(", ")
        assert accepted == ops.operation_options(name, src)
        assert ("overwrite" if name == "copy" else "follow") in accepted
    assert dst.count() == 0
    with pytest.raises(TypeError):  # a positional mistake is still Python's own
        ops.copy(src, dst, "extra")  # type: ignore[call-arg]


def test_copy_and_import_refuse_options_of_the_wrong_kind_before_writing(tmp_path: Path) -> None:
    """overwrite="no" is truthy and overwrote; progress=5 failed after the first batch was written."""
    src, dst = MemoryStore(), MemoryStore()
    src.set_many({f"k{i}": i for i in range(2500)})
    dst.set("k1", "keep")
    for options, name in (
        ({"overwrite": "no"}, "overwrite"),
        ({"progress": 5, "batch_size": 1000}, "progress"),
        ({"checkpoint": 5}, "checkpoint"),
    ):
        with pytest.raises(InvalidArgumentError, match=name):
            ops.copy(src, dst, **options)
    lines = tmp_path / "in.jsonl"
    ops.export_jsonl(src, lines)
    with pytest.raises(InvalidArgumentError, match="overwrite"):
        ops.import_jsonl(dst, lines, overwrite="no")
    assert dict(dst.items()) == {"k1": "keep"}


def test_the_async_operations_name_themselves_in_an_unknown_option() -> None:
    """polykv.aio.watch and polykv.aio.copy refuse a misspelt option at the call, under their own name."""
    import asyncio

    import polykv.aio

    async def main() -> None:
        src, dst = await polykv.aio.connect("memory://"), await polykv.aio.connect("memory://")
        await src.set("a", 1)
        with pytest.raises(
            InvalidArgumentError, match=r"polykv\.aio\.watch has no option 'folow'; its options: .*follow"
        ):
            polykv.aio.watch(src, folow=False)
        with pytest.raises(InvalidArgumentError, match=r"polykv\.aio\.copy has no option 'overwrit'; .*overwrite"):
            await polykv.aio.copy(src, dst, overwrit=True)
        assert await dst.count() == 0

    asyncio.run(main())


def test_copy_of_values_another_program_stored_in_sqlite(tmp_path: Path) -> None:
    """A TEXT row (valid JSON) written by another program was handed to the destination as a str; it is
    re-encoded as bytes. An INTEGER row no codec reads stops the copy with an error naming its key, before
    that batch is written."""
    import sqlite3

    path = tmp_path / "foreign.db"
    src = SQLiteStore(str(path))
    src.set("a", {"x": 1})
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("""INSERT INTO polykv_kv (key, value) VALUES ('text', '{"y": 2}')""")
    dst = MemoryStore()
    assert ops.copy(src, dst).copied == 2
    assert dict(dst.items()) == {"a": {"x": 1}, "text": {"y": 2}}
    assert all(type(data) is bytes for _, data in dst._scan_items("", ""))
    con.execute("INSERT INTO polykv_kv (key, value) VALUES ('int', 5)")
    con.close()
    other = MemoryStore()
    with pytest.raises(SerializationError, match=r"stored value is an int, not bytes") as info:
        ops.copy(src, other)
    assert (info.value.backend, info.value.key) == ("sqlite", "int")
    assert other.count() == 0
    src.close()


@pytest.mark.parametrize("make", [MemoryStore, lambda: SQLiteStore(":memory:")], ids=["memory", "sqlite"])
def test_import_refuses_a_record_that_is_not_an_object_and_keeps_the_lines_before(make: Any) -> None:
    """A schema line whose value is 5 was imported; filter_record and iter_records of that schema then failed
    with "'int' object is not iterable". It is refused naming the line, after the lines before it are
    written (as the docstring says: they were dropped with the unwritten batch); a non-record reached
    by other means is a RecordError naming its key."""
    store = make()
    lines = '{"schema": "s", "key": "z1", "value": {"a": 1}}\n{"schema": "s", "key": "z6", "value": 5}\n'
    with pytest.raises(InvalidArgumentError, match=r"line 2 holds a record of schema 's' that is an int") as info:
        ops.import_jsonl(store, io.StringIO(lines))
    assert (info.value.schema, info.value.key) == ("s", "z6")
    assert store.count("s") == 1 and store.get_record("s", dict, "z1") == {"a": 1}
    store._set("s", "raw", store._encode(5, "s", "raw"), None)  # as a raw copy from elsewhere would
    for call in (
        lambda: store.filter_record("s", dict),
        lambda: store.filter_record("s", dict, a=1),
        lambda: list(store.iter_records("s", dict)),
    ):
        with pytest.raises(RecordError, match="stored value is an int, not a record") as refused:
            call()
        assert refused.value.key == "raw"
