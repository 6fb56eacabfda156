"""The ``polykv`` command, driven as a real subprocess (``python -m polykv``) in a scratch directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polykv import ops
from polykv.backends.sqlite import SQLiteStore
from polykv.capabilities import Capability
from polykv.changes import BEGINNING, ChangeOp


def polykv(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "polykv", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "XDG_CACHE_HOME": str(cwd / "cache"), "COLUMNS": "200", **(env or {})},
        check=False,
    )


def ok(cwd: Path, *args: str) -> str:
    result = polykv(cwd, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def fails(cwd: Path, *args: str) -> str:
    """Run a command that must fail with one line on stderr and no traceback; return that line."""
    result = polykv(cwd, *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_demo_uses_the_embedded_default_store(tmp_path: Path) -> None:
    out = ok(tmp_path, "demo")
    assert "records    : 5 books in schema 'demo-books'" in out
    assert "filter     : year >= 1900 -> 3 books" in out
    assert "visits     : 1" in out
    assert (tmp_path / "polykv.db").exists()
    assert "visits     : 2" in ok(tmp_path, "demo")  # the data persisted in the sqlite file
    assert ok(tmp_path, "count", "--schema", "demo-books").strip() == "5"


def test_kv_commands_round_trip_json(tmp_path: Path) -> None:
    ok(tmp_path, "set", "user:1", '{"name": "ann", "tags": ["a", "b"]}')
    ok(tmp_path, "set", "user:2", "42")
    ok(tmp_path, "set", "other", '"text"')
    assert json.loads(ok(tmp_path, "get", "user:1")) == {"name": "ann", "tags": ["a", "b"]}
    assert ok(tmp_path, "ls", "user:").split() == ["user:1", "user:2"]
    lines = [json.loads(line) for line in ok(tmp_path, "ls", "--values", "user:").splitlines()]
    assert lines == [{"key": "user:1", "value": {"name": "ann", "tags": ["a", "b"]}}, {"key": "user:2", "value": 42}]
    assert ok(tmp_path, "count").strip() == "3"
    assert ok(tmp_path, "count", "--prefix", "user:").strip() == "2"
    ok(tmp_path, "rm", "user:2")
    assert ok(tmp_path, "count", "--prefix", "user:").strip() == "1"


def test_record_commands(tmp_path: Path) -> None:
    ok(tmp_path, "set", "--schema", "users", "u1", '{"name": "ann"}')
    assert json.loads(ok(tmp_path, "get", "--schema", "users", "u1")) == {"name": "ann"}
    assert ok(tmp_path, "ls", "--schema", "users").split() == ["u1"]
    assert "a record VALUE must be a JSON object" in polykv(tmp_path, "set", "--schema", "users", "u2", "1").stderr
    ok(tmp_path, "rm", "--schema", "users", "u1")
    assert ok(tmp_path, "count", "--schema", "users").strip() == "0"


def test_bad_input_is_one_line_without_traceback(tmp_path: Path) -> None:
    assert "KeyNotFoundError: no such key" in fails(tmp_path, "get", "missing")
    assert "KeyNotFoundError" in fails(tmp_path, "rm", "missing")
    assert "RecordNotFoundError" in fails(tmp_path, "get", "--schema", "users", "missing")
    assert "no store serves the URL scheme 'nosuch'" in fails(tmp_path, "count", "--url", "nosuch://x")
    assert "does not exist" in fails(tmp_path, "count", "--url", "sqlite:///no-such-folder/x.db")
    result = polykv(tmp_path, "set", "k", "not json")
    assert result.returncode == 2 and "VALUE must be JSON" in result.stderr and "Traceback" not in result.stderr
    debug = polykv(tmp_path, "--debug", "get", "missing")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_passwords_are_never_echoed(tmp_path: Path) -> None:
    for url in ("nosuch://admin:hunter2secret@127.0.0.1:1/0", "redis://admin:hunter2secret@127.0.0.1:1/0"):
        result = polykv(tmp_path, "get", "k", "--url", url)
        assert result.returncode != 0
        assert "hunter2secret" not in result.stderr + result.stdout
    result = polykv(tmp_path, "copy", "sqlite:///a.db", "nosuch://u:hunter2secret@h/")
    assert result.returncode != 0 and "hunter2secret" not in result.stderr + result.stdout


def test_backends_table_imports_nothing_it_does_not_need(tmp_path: Path) -> None:
    out = ok(tmp_path, "backends")
    for name in ("memory", "sqlite", "polykv.backends.sqlite:SQLiteStore"):
        assert name in out
    code = (
        "import sys\nfrom polykv.cli import cli\n"
        "cli.main(['backends'], standalone_mode=False)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('polykv.backends.', 'polykv_'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    loaded = ok(tmp_path, "backends", "--load")
    assert "compare_and_set" in loaded  # capabilities of the imported built-in stores


def test_copy_with_progress_and_checkpoint(tmp_path: Path) -> None:
    with SQLiteStore(str(tmp_path / "src.db")) as src:
        src.set_many({f"k{i:04d}": {"i": i} for i in range(2500)})
        for i in range(20):
            src.upsert_record("users", f"u{i}", {"i": i})
    with SQLiteStore(str(tmp_path / "dst.db")) as dst:
        dst.set("k0000", "kept")
    checkpoint = tmp_path / "ck.json"
    result = polykv(
        tmp_path, "copy", "sqlite:///src.db", "sqlite:///dst.db", "--batch-size", "500", "--checkpoint", str(checkpoint)
    )
    assert result.returncode == 0, result.stderr
    assert "copied 2519, skipped 1 (present in destination), resumed past 0" in result.stdout
    assert "2520/2520" in result.stderr  # the rich progress bar's final count
    assert not checkpoint.exists()
    with SQLiteStore(str(tmp_path / "dst.db")) as dst:
        assert len(dst) == 2500 and dst["k0000"] == "kept" and dst.count("users") == 20
    # a checkpoint left by an interrupted run is honoured (here: the KV pairs were finished)
    checkpoint.write_text(json.dumps({"fingerprint": "other", "done": [""]}))
    line = fails(tmp_path, "copy", "sqlite:///src.db", "sqlite:///dst.db", "--checkpoint", str(checkpoint))
    assert "belongs to another copy" in line
    out = ok(tmp_path, "copy", "sqlite:///src.db", "sqlite:///dst.db", "--checkpoint", str(checkpoint), "--no-resume")
    assert "skipped 2520" in out


def test_copy_killed_mid_way_resumes_without_redoing_finished_batches(tmp_path: Path) -> None:
    n, batch = 20_000, 20
    with SQLiteStore(str(tmp_path / "src.db")) as src:
        src.set_many({f"k{i:06d}": i for i in range(n)})
    SQLiteStore(str(tmp_path / "dst.db"), change_log=True).close()  # counts every write the copies make
    checkpoint = tmp_path / "ck.json"
    args = ["copy", "sqlite:///src.db", "sqlite:///dst.db", "--batch-size", str(batch), "--checkpoint", str(checkpoint)]
    args.append("--overwrite")  # a redone batch would be written again, and show as updates
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    process = subprocess.Popen(
        [sys.executable, "-m", "polykv", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def progressed() -> bool:
        try:
            return int(json.loads(checkpoint.read_text())["position"]) >= 10 * batch
        except (OSError, ValueError, KeyError):
            return False

    try:
        deadline = time.monotonic() + 60
        while not progressed() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)  # polling an observable condition (the checkpoint), bounded by the deadline
    finally:
        process.kill()  # SIGKILL: no cleanup, as a crash
        process.wait(30)
    assert process.returncode == -signal.SIGKILL, "the copy ended before it could be interrupted"
    position = int(json.loads(checkpoint.read_text())["position"])
    with SQLiteStore(str(tmp_path / "dst.db")) as dst:
        written_before = len(list(ops.watch(dst, since=BEGINNING, follow=False)))
    assert 0 < position <= written_before <= position + batch  # at most the batch in flight was not recorded

    out = ok(tmp_path, *args)
    assert f"copied {n - position}, skipped 0 (present in destination), resumed past {position}" in out
    assert not checkpoint.exists()
    with SQLiteStore(str(tmp_path / "dst.db")) as dst:
        assert len(dst) == n and dst["k000000"] == 0 and dst[f"k{n - 1:06d}"] == n - 1
        events = list(ops.watch(dst, since=BEGINNING, follow=False))
    inserts = [e.key for e in events if e.op is ChangeOp.INSERT]
    updates = [e.key for e in events if e.op is ChangeOp.UPDATE]
    assert sorted(inserts) == [f"k{i:06d}" for i in range(n)]  # every key written once ...
    assert len(updates) == written_before - position  # ... but the unrecorded batch in flight
    assert all(key >= f"k{position:06d}" for key in updates)  # no recorded batch was redone


def test_check_and_bench_leave_no_trace(tmp_path: Path) -> None:
    ok(tmp_path, "set", "mine", "1")
    out = ok(tmp_path, "check")
    assert out.count("ok") >= 6 and "FAILED" not in out
    out = ok(tmp_path, "bench", "-n", "200", "--batch", "50")
    for op in ("set", "get", "set_many", "get_many"):
        assert f"│ {op} " in out
    assert ok(tmp_path, "ls").split() == ["mine"]
    assert ok(tmp_path, "count", "--schema", "polykv-check").strip() == "0"
    assert ok(tmp_path, "check", "memory://").count("ok") >= 6


@pytest.mark.skipif(Capability.WATCH in SQLiteStore.capabilities, reason="sqlite declares watch")
def test_watch_on_a_store_without_change_feed(tmp_path: Path) -> None:
    assert "does not support watch" in fails(tmp_path, "watch", "--no-follow")


@pytest.mark.skipif(Capability.WATCH not in SQLiteStore.capabilities, reason="sqlite does not declare watch")
def test_watch_prints_json_lines(tmp_path: Path) -> None:
    ok(tmp_path, "set", "a", "1")
    ok(tmp_path, "set", "a", "2")
    ok(tmp_path, "rm", "a")
    lines = [json.loads(line) for line in ok(tmp_path, "watch", "--since", "0", "--no-follow").splitlines()]
    expected = [("insert", "a", 1), ("update", "a", 2), ("delete", "a", None)]
    assert [(e["op"], e["key"], e["value"]) for e in lines] == expected
    rest = ok(tmp_path, "watch", "--since", lines[0]["cursor"], "--no-follow", "--ops", "delete")
    assert [json.loads(line)["op"] for line in rest.splitlines()] == ["delete"]


def test_watch_rejects_unknown_kinds(tmp_path: Path) -> None:
    result = polykv(tmp_path, "watch", "memory://", "--ops", "insert,upsert")
    assert result.returncode == 2 and "unknown change kind 'upsert'" in result.stderr
