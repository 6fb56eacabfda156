"""The ``polykv`` command, driven as a real subprocess (``python -m polykv``) in a scratch directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
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


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a failed run: no traceback, nothing on stderr but the store line(s) and it."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("polykv: store ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def fails(cwd: Path, *args: str) -> str:
    """Run a command that must fail with one error line on stderr and no traceback; return that line."""
    return error_line(polykv(cwd, *args))


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
    assert "KeyNotFoundError" in fails(tmp_path, "rm", "missing", "--must-exist")
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


@pytest.mark.skipif(Capability.WATCH in SQLiteStore.capabilities, reason="not applicable: sqlite supports watch")
def test_watch_on_a_store_without_change_feed(tmp_path: Path) -> None:
    assert "does not support watch" in fails(tmp_path, "watch", "--no-follow")


def test_watch_prints_json_lines(tmp_path: Path) -> None:
    SQLiteStore(str(tmp_path / "polykv.db"), change_log=True).close()  # a sqlite file with a change feed
    ok(tmp_path, "set", "a", "1")
    ok(tmp_path, "set", "a", "2")
    ok(tmp_path, "rm", "a")
    lines = [json.loads(line) for line in ok(tmp_path, "watch", "--since", "0", "--no-follow").splitlines()]
    expected = [("insert", "a", 1), ("update", "a", 2), ("delete", "a", None)]
    assert [(e["op"], e["key"], e["value"]) for e in lines] == expected
    rest = ok(tmp_path, "watch", "--since", lines[0]["cursor"], "--no-follow", "--ops", "delete")
    assert [json.loads(line)["op"] for line in rest.splitlines()] == ["delete"]


def test_watch_rejects_unknown_kinds(tmp_path: Path) -> None:
    result = polykv(tmp_path, "watch", "--url", "memory://", "--ops", "insert,upsert")
    assert result.returncode == 2 and "unknown change kind 'upsert'" in result.stderr


# == the rules every command follows (parametrised over cli.commands: a new command is held to them) ==========
from polykv.cli import DEFAULT_URL, EXIT_CODES, URL_ENVVAR, URL_HELP, cli  # noqa: E402

ALL_COMMANDS = sorted(cli.commands)
#: Commands that open no store, or not one (copy opens SRC and DST, given as arguments).
NOT_ONE_STORE = {"backends", "copy"}
#: Arguments that make each command run successfully on an empty store (a new command must be added here).
RUN_ARGS: dict[str, list[str]] = {
    "backends": [],
    "get": ["k"],
    "set": ["k", "1"],
    "rm": ["k"],
    "clear": ["--all"],
    "ls": [],
    "count": [],
    "copy": ["sqlite:///src.db", "sqlite:///dst.db"],
    "watch": ["--no-follow"],
    "check": [],
    "bench": ["-n", "10", "--batch", "5"],
    "demo": [],
}


def runnable(cwd: Path, name: str) -> list[str]:
    """``RUN_ARGS[name]`` with what it needs present in the store(s) it opens."""
    assert name in RUN_ARGS, f"add the new command {name!r} to RUN_ARGS"
    return [name, *RUN_ARGS[name]]


def prepare(cwd: Path, db: str = "polykv.db") -> None:
    """A store at ``db`` with KV pair k=1 (watch-capable) and a record users/r; src.db for copy."""
    with SQLiteStore(str(cwd / db), change_log=True) as store:
        store.set("k", 1)
        store.upsert_record("users", "r", {"name": "ann"})
    with SQLiteStore(str(cwd / "src.db")) as store:
        store.set("s", 1)


def store_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("polykv: store ")]


def option(command: str, name: str) -> click.Parameter | None:
    return next((p for p in cli.commands[command].params if p.name == name), None)


def test_run_args_cover_every_command() -> None:
    assert set(RUN_ARGS) == set(cli.commands)


@pytest.mark.parametrize("name", ALL_COMMANDS)
def test_every_one_store_command_takes_the_url_the_same_way(name: str) -> None:
    url = option(name, "url")
    if name in NOT_ONE_STORE:
        assert url is None
        return
    assert isinstance(url, click.Option), f"{name} must take the store as --url"
    assert url.opts == ["--url"] and url.envvar == URL_ENVVAR and url.default == DEFAULT_URL
    assert url.help == URL_HELP and url.show_default and url.show_envvar


@pytest.mark.parametrize("name", ALL_COMMANDS)
def test_every_command_honours_polykv_url_and_names_the_store_it_opened(tmp_path: Path, name: str) -> None:
    prepare(tmp_path, "env.db")
    result = polykv(tmp_path, *runnable(tmp_path, name), env={URL_ENVVAR: "sqlite:///env.db"})
    assert result.returncode == 0, result.stderr
    lines = store_lines(result.stderr)
    if name == "backends":
        assert lines == []
    elif name == "copy":
        assert lines == ["polykv: store sqlite:///src.db (source)", "polykv: store sqlite:///dst.db (destination)"]
    else:
        assert lines == ["polykv: store sqlite:///env.db"]
        assert not (tmp_path / "polykv.db").exists()  # the default was not opened
        with_option = polykv(tmp_path, *runnable(tmp_path, name), "--url", "sqlite:///env.db", env={URL_ENVVAR: "x:"})
        assert store_lines(with_option.stderr) == ["polykv: store sqlite:///env.db"]  # --url beats the env


@pytest.mark.parametrize("name", [n for n in ALL_COMMANDS if option(n, "legacy_url") is not None])
def test_the_old_positional_url_still_works(tmp_path: Path, name: str) -> None:
    prepare(tmp_path, "old.db")
    args = runnable(tmp_path, name)
    result = polykv(tmp_path, args[0], "sqlite:///old.db", *args[1:])
    assert result.returncode == 0, result.stderr
    assert store_lines(result.stderr) == ["polykv: store sqlite:///old.db"]
    both = polykv(tmp_path, args[0], "sqlite:///old.db", "--url", "sqlite:///other.db", *args[1:])
    assert both.returncode == 2 and "not two different ones" in both.stderr


@pytest.mark.parametrize("name", [n for n in ALL_COMMANDS if n != "backends"])
def test_the_store_named_has_its_secrets_redacted(tmp_path: Path, name: str) -> None:
    url = "redis://admin:hunter2secret@127.0.0.1:1/0"
    args = runnable(tmp_path, name)
    if name == "copy":
        args = ["copy", url, url]
    result = polykv(tmp_path, *args, env={URL_ENVVAR: url})
    assert result.returncode == 1
    assert "hunter2secret" not in result.stderr + result.stdout
    assert store_lines(result.stderr)[0].startswith("polykv: store redis://admin:***@127.0.0.1:1/0")
    error_line(result)


@pytest.mark.parametrize("name", ALL_COMMANDS)
def test_global_options_work_before_and_after_the_subcommand(tmp_path: Path, name: str) -> None:
    for flag in ("--debug", "--quiet", "-q", "--version"):
        assert flag in {o for p in cli.commands[name].params for o in getattr(p, "opts", [])}
    assert ok(tmp_path, name, "--version") == ok(tmp_path, "--version") != ""
    assert ok(tmp_path, name, "-h") == ok(tmp_path, name, "--help") != ""
    prepare(tmp_path)
    args = runnable(tmp_path, name)
    for quiet in (["--quiet", *args], [*args, "--quiet"], [*args, "-q"]):
        result = polykv(tmp_path, *quiet)
        assert result.returncode == 0, result.stderr
        assert store_lines(result.stderr) == []
    if name == "backends":
        return  # opens nothing that could fail; the option is there (above)
    broken = ["copy", "nosuch://x", "sqlite:///dst.db"] if name == "copy" else [*args, "--url", "nosuch://x"]
    for debug in (["--debug", *broken], [*broken, "--debug"]):
        result = polykv(tmp_path, *debug)
        assert result.returncode == 1
        assert "Traceback" in result.stderr and result.stderr.strip().splitlines()[-1].startswith("polykv: error: ")
    assert "InvalidURLError" in error_line(polykv(tmp_path, *broken))


@pytest.mark.parametrize("name", ALL_COMMANDS)
def test_every_command_that_filters_by_prefix_takes_the_prefix_option(name: str) -> None:
    params = {p.name: p for p in cli.commands[name].params}
    if "prefix" not in params and "prefix_option" not in params:
        return
    prefix = params.get("prefix_option", params["prefix"])
    assert isinstance(prefix, click.Option) and prefix.opts == ["--prefix"]


@pytest.mark.parametrize("name", ["ls", "clear"])
def test_positional_prefix_and_prefix_option_are_the_same(tmp_path: Path, name: str) -> None:
    for args in (["ab"], ["--prefix", "ab"]):
        ok(tmp_path, "set", "abc", "1")
        ok(tmp_path, "set", "xyz", "1")
        assert ok(tmp_path, name, *args).split() == (["abc"] if name == "ls" else ["1"])
    assert polykv(tmp_path, name, "ab", "--prefix", "x").returncode == 2


REMOVERS: dict[str, list[str]] = {"rm": ["k"], "clear": ["k"]}


def test_removers_cover_every_command_that_removes() -> None:
    assert {n for n in ALL_COMMANDS if option(n, "must_exist") is not None} == set(REMOVERS)


@pytest.mark.parametrize("schema", [[], ["--schema", "users"]], ids=["kv", "record"])
@pytest.mark.parametrize("name", sorted(REMOVERS))
def test_removing_what_is_not_there_succeeds_unless_must_exist(tmp_path: Path, name: str, schema: list[str]) -> None:
    with SQLiteStore(str(tmp_path / "polykv.db")) as store:
        store.set("k", 1)
        store.upsert_record("users", "k", {"n": 1})
    args = [name, *REMOVERS[name], *schema]
    first = polykv(tmp_path, *args)
    assert first.returncode == 0, first.stderr and "nothing to remove" not in first.stderr
    with SQLiteStore(str(tmp_path / "polykv.db")) as store:
        assert ("k" in store) == bool(schema) and store.count("users") == (0 if schema else 1)  # only its namespace
    again = polykv(tmp_path, *args)
    assert again.returncode == 0 and "polykv: nothing to remove: " in again.stderr
    strict = polykv(tmp_path, *args, "--must-exist")
    assert strict.returncode == 3
    assert ("RecordNotFoundError" if schema else "KeyNotFoundError") in error_line(strict)


# -- help says what each option does by default, and that is what it does ----------------------------------
def _own_options(name: str) -> list[click.Option]:
    return [
        p
        for p in cli.commands[name].params
        if isinstance(p, click.Option) and p.name not in ("help", "debug", "quiet", "url")
    ]


@pytest.mark.parametrize("name", ALL_COMMANDS)
def test_every_option_says_its_default(name: str) -> None:
    assert cli.commands[name].help, f"{name} has no help"
    for opt in _own_options(name):
        assert opt.help, f"{name} {opt.opts[0]} has no help"
        if opt.is_flag:
            continue  # off unless given
        if opt.default is None or opt.multiple or opt.default == "":
            # no value shown by click: the help says what leaving it out does
            assert "default:" in opt.help, f"{name} {opt.opts[0]}: say what leaving it out does"
        else:  # click shows the real default, so the help cannot drift from it
            assert opt.show_default, f"{name} {opt.opts[0]}: show_default=True"


def _kv_only(cwd: Path, name: str, result: subprocess.CompletedProcess[str]) -> None:
    """Checks that a command run without --schema worked on the KV pairs, never on records."""
    with SQLiteStore(str(cwd / "polykv.db")) as store:
        record = store.get_record("users", dict, "r")
        kv = store.get("k")
    assert record == {"name": "ann"}
    out = result.stdout.split()
    expected = {
        "get": lambda: json.loads(result.stdout) == 1,
        "set": lambda: kv == 1,
        "rm": lambda: kv is None,
        "clear": lambda: kv is None and out == ["1"],
        "ls": lambda: out == ["k"],
        "count": lambda: out == ["1"],
    }
    assert expected[name](), (name, result.stdout)


SCHEMA_DEFAULT_RUNS: dict[str, list[str]] = {
    "get": ["get", "k"],
    "set": ["set", "k", "1"],
    "rm": ["rm", "k"],
    "clear": ["clear", "--all"],
    "ls": ["ls"],
    "count": ["count"],
    "watch": ["watch", "--since", "0", "--no-follow"],
    "copy": ["copy", "sqlite:///polykv.db", "sqlite:///dst.db"],
}


@pytest.mark.parametrize("name", [n for n in ALL_COMMANDS if option(n, "schema") or option(n, "schemas")])
def test_schema_default_is_what_help_says(tmp_path: Path, name: str) -> None:
    assert name in SCHEMA_DEFAULT_RUNS, f"add {name} to SCHEMA_DEFAULT_RUNS"
    help_text = (option(name, "schema") or option(name, "schemas")).help  # type: ignore[union-attr]
    prepare(tmp_path)
    result = polykv(tmp_path, *SCHEMA_DEFAULT_RUNS[name])
    assert result.returncode == 0, result.stderr
    if "default: the plain KV pairs" in help_text:
        _kv_only(tmp_path, name, result)
    elif "default: every change" in help_text:
        events = {(e["schema"], e["key"]) for e in map(json.loads, result.stdout.splitlines())}
        assert {e[1] for e in events} == {"k", "r"} and len({e[0] for e in events}) == 2
    elif "default: the KV pairs and every schema" in help_text:
        with SQLiteStore(str(tmp_path / "dst.db")) as dst:
            assert dst["k"] == 1 and dst.get_record("users", dict, "r") == {"name": "ann"}
    else:
        pytest.fail(f"{name} --schema: help states a default this test does not know: {help_text!r}")


# -- exit codes ---------------------------------------------------------------------------------------------
_BROKEN_STORES = """
import sys
from polykv.backends.memory import MemoryStore
from polykv.cli import main

class LyingStore(MemoryStore):
    _backend_type = "lying_test"
    url_schemes = ("lying",)
    def _delete(self, ns, key):
        super()._delete(ns, key)
        return True  # claims a missing key existed: check must fail

class InterruptedStore(MemoryStore):
    _backend_type = "interrupted_test"
    url_schemes = ("ctrlc",)
    def _get(self, ns, key):
        raise KeyboardInterrupt

sys.argv[0] = "polykv"
main()
"""


def run_with_test_stores(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BROKEN_STORES, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


EXIT_CASES: list[tuple[list[str], int]] = [
    (["set", "k", "1"], 0),
    (["rm", "missing"], 0),
    (["get", "k", "--url", "nosuch://x"], 1),
    (["get", ""], 1),
    (["set", "k", "not json"], 2),
    (["get"], 2),
    (["get", "k", "--no-such-option"], 2),
    (["get", "missing"], 3),
    (["get", "--schema", "users", "missing"], 3),
    (["rm", "missing", "--must-exist"], 3),
    (["clear", "nothing-here", "--must-exist"], 3),
    (["check", "--url", "lying://"], 4),
    (["get", "k", "--url", "ctrlc://"], 130),
]


@pytest.mark.parametrize(("args", "code"), EXIT_CASES, ids=[" ".join(a) for a, _ in EXIT_CASES])
def test_exit_codes_follow_the_table(tmp_path: Path, args: list[str], code: int) -> None:
    result = run_with_test_stores(tmp_path, *args)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    if code != 0:  # one line, usage errors included
        assert error_line(result).startswith(("polykv: error: ", "polykv: interrupted"))


def test_every_documented_exit_code_is_tested_and_documented() -> None:
    assert {code for _, code in EXIT_CASES} == set(EXIT_CODES)
    page = (Path(__file__).parents[1] / "docs" / "guide" / "cli.rst").read_text()
    for code in EXIT_CODES:
        assert f"\n   * - {code}\n" in page, f"exit code {code} missing from the table in docs/guide/cli.rst"
    assert str(EXIT_CODES[3].split(":")[0]) in cli.epilog  # type: ignore[operator]


@pytest.mark.parametrize("name", [n for n in ALL_COMMANDS if n not in ("backends", "copy")])
def test_every_command_exits_2_on_usage_and_1_on_a_store_error(tmp_path: Path, name: str) -> None:
    args = runnable(tmp_path, name)
    usage = polykv(tmp_path, *args, "--no-such-option")
    assert usage.returncode == 2
    assert error_line(usage) == f"polykv: error: usage: No such option '--no-such-option'. (see 'polykv {name} --help')"
    assert "InvalidURLError" in error_line(polykv(tmp_path, *args, "--url", "nosuch://x"))
    assert polykv(tmp_path, *args, "--url", "nosuch://x").returncode == 1
