"""pluggy hooks: store events, extra codecs, URL-scheme aliases, entry-point plugins, lazy pluggy import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import polykv
from polykv import events, hooks
from polykv.backends.memory import MemoryStore
from polykv.codecs import JSONCodec
from polykv.errors import InvalidArgumentError, InvalidURLError


class Recorder:
    """A hook plugin that records every event it is told about."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str | None, tuple[str, ...]]] = []
        self.created: list[Any] = []

    @hooks.hookimpl
    def polykv_write_done(self, store: Any, op: str, schema: str | None, keys: tuple[str, ...]) -> None:
        self.writes.append((op, schema, keys))

    @hooks.hookimpl
    def polykv_store_created(self, store: Any) -> None:
        self.created.append(store)


class HookedJSON(JSONCodec):
    name = "hooked-json"


class Extras:
    @hooks.hookimpl
    def polykv_codecs(self) -> dict[str, Any]:
        return {"hooked-json": HookedJSON}

    @hooks.hookimpl
    def polykv_url_scheme_aliases(self) -> dict[str, str]:
        return {"mem": "memory"}


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    plugin = Recorder()
    hooks.register(plugin)
    try:
        yield plugin
    finally:
        hooks.unregister(plugin)


def test_write_events(recorder: Recorder) -> None:
    store = MemoryStore()
    store.set("a", 1)
    store.set_many({"b": 2, "c": 3})
    store.delete("a")
    store.insert_record("users", "u1", {"n": 1})
    store.update_record("users", "u1", {"n": 2})
    store.add("a", 1)
    store.add("a", 1)  # not stored: no event
    store.clear("b")
    store.drop_schema("users")
    assert recorder.writes == [
        ("set", None, ("a",)),
        ("set", None, ("b", "c")),
        ("delete", None, ("a",)),
        ("insert", "users", ("u1",)),
        ("update", "users", ("u1",)),
        ("add", None, ("a",)),
        ("clear", None, ("b",)),
        ("drop_schema", "users", ()),
    ]
    assert recorder.created == [store]


def test_copy_reports_its_writes(recorder: Recorder) -> None:
    from polykv import ops

    src, dst = MemoryStore(), MemoryStore()
    src.set_many({"x": 1, "y": 2})
    recorder.writes.clear()
    ops.copy(src, dst)
    assert recorder.writes == [("set", None, ("x", "y"))]


def test_seams_are_empty_when_nothing_is_registered() -> None:
    plugin = Recorder()
    hooks.register(plugin)
    assert events.write_observers and events.created_observers
    hooks.unregister(plugin)
    assert not events.write_observers and not events.created_observers


def test_extra_codec_and_scheme_alias() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown codec 'hooked-json'"):
        MemoryStore(codec="hooked-json")
    with pytest.raises(InvalidURLError, match="no store serves the URL scheme 'mem'"):
        polykv.connect("mem://")
    plugin = Extras()
    hooks.register(plugin)
    try:
        store = MemoryStore(codec="hooked-json")
        assert store.codec.name == "hooked-json"
        opened = polykv.connect("mem://")
        assert isinstance(opened, MemoryStore)
    finally:
        hooks.unregister(plugin)


def run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )


def test_import_and_writes_do_not_load_pluggy() -> None:
    result = run(
        """
        import sys, polykv
        from polykv.backends.memory import MemoryStore
        store = MemoryStore()
        store.set("a", 1)
        store["b"] = 2
        print("pluggy" in sys.modules)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_entry_point_plugin_is_loaded_at_first_store(tmp_path: Path) -> None:
    (tmp_path / "polykv_audit.py").write_text(
        textwrap.dedent(
            """
            import pluggy
            hookimpl = pluggy.HookimplMarker("polykv")
            EVENTS = []

            @hookimpl
            def polykv_write_done(store, op, schema, keys):
                EVENTS.append([op, schema, list(keys)])

            @hookimpl
            def polykv_url_scheme_aliases():
                return {"scratch": "memory"}
            """
        )
    )
    dist = tmp_path / "polykv_audit-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: polykv-audit\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[polykv.plugins]\naudit = polykv_audit\n")
    code = """
        import json, polykv, polykv_audit
        store = polykv.connect("scratch://")
        store.set("k", 1)
        print(json.dumps(polykv_audit.EVENTS))
        """
    result = run(code, PYTHONPATH=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [["set", None, ["k"]]]
    disabled = run(code, PYTHONPATH=str(tmp_path), POLYKV_DISABLE_PLUGIN_AUTOLOAD="1")
    assert disabled.returncode != 0 and "no store serves the URL scheme 'scratch'" in disabled.stderr
