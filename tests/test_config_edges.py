"""Issue 11, items 6 and 9: configuration faults surface at construction as polykv errors naming what is
accepted, a missing optional dependency names its extra, and secrets in URL queries never show."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import polykv
from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.cli import cli
from polykv.errors import InvalidArgumentError, InvalidURLError, MissingDependencyError, PluginLoadError, PolyKVError
from polykv.options import check_options, store_options
from polykv.urls import redact_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'c.db'}"


# == item 6: unknown options =========================================================================
def test_every_configuration_path_refuses_an_unknown_option(sqlite_url: str) -> None:
    attempts: list[Any] = [
        lambda: MemoryStore(prefx="a"),
        lambda: SQLiteStore(":memory:", prefx="a"),
        lambda: polykv.connect("memory://?prefx=a"),
        lambda: polykv.connect(f"{sqlite_url}?prefx=a"),
        lambda: polykv.connect("memory://", prefx="a"),
        lambda: polykv.connect(sqlite_url, prefx="a"),
        lambda: polykv.connect("readonly+memory://?prefx=a"),
        lambda: polykv.connect("prefix:t/+memory://", prefx="a"),
        lambda: polykv.BackendRegistry({"memory": {"prefx": "a"}})["memory"],
        lambda: polykv.BackendRegistry({"sqlite": {"path": ":memory:", "prefx": "a"}})["sqlite"],
    ]
    for attempt in attempts:
        with pytest.raises(InvalidArgumentError, match="prefx") as info:
            attempt()
        assert "codec" in str(info.value), "the message lists the accepted options"


def test_malformed_values_are_polykv_errors(sqlite_url: str) -> None:
    attempts: list[Any] = [
        lambda: MemoryStore(codec=5),
        lambda: MemoryStore(change_log_size="many"),
        lambda: polykv.connect("memory://?change_log_size=many"),
        lambda: polykv.connect(f"{sqlite_url}?timeout=soon"),
        lambda: polykv.connect(f"{sqlite_url}?change_log=maybe"),
        lambda: SQLiteStore(":memory:", synchronous=3),
        lambda: polykv.BackendRegistry({"memory": {"codec": object()}})["memory"],
    ]
    for attempt in attempts:
        with pytest.raises(InvalidArgumentError) as info:
            attempt()
        assert isinstance(info.value, PolyKVError)


def test_store_options_reads_the_signature_and_accepted_options() -> None:
    assert store_options(MemoryStore) == {"codec", "change_log_size"}

    class Loose:
        def __init__(self, **kwargs: Any) -> None: ...

    class Declared:
        def __init__(self, **kwargs: Any) -> None: ...

        @classmethod
        def accepted_options(cls) -> frozenset[str]:
            return frozenset({"a"})

    assert store_options(Loose) is None  # a **kwargs store checks its own options
    check_options(Loose, {"anything": 1})
    check_options(Declared, {"a": 1})
    with pytest.raises(InvalidArgumentError, match="accepted: a"):
        check_options(Declared, {"b": 1})


def test_invalid_url_error_is_an_invalid_argument_error() -> None:
    assert issubclass(InvalidURLError, InvalidArgumentError)
    assert issubclass(MissingDependencyError, PluginLoadError) and issubclass(MissingDependencyError, ImportError)


# == item 6: missing optional dependencies (for real: the module is made unimportable) =================
_HIDE = """
import sys, importlib.abc
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {hidden!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Hide())
"""


def _run_hidden(hidden: set[str], body: str) -> subprocess.CompletedProcess[str]:
    code = _HIDE.format(hidden=sorted(hidden)) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)


def test_missing_s3fs_names_the_extra() -> None:
    pytest.importorskip("polykv_fsspec")
    result = _run_hidden(
        {"s3fs"},
        """
        import polykv
        from polykv.errors import MissingDependencyError
        registry = polykv.BackendRegistry({"s3": {"bucket": "b"}})
        attempts = (lambda: polykv.connect("s3://bucket/p"), lambda: registry["s3"])
        for attempt in attempts:
            try:
                attempt()
            except MissingDependencyError as exc:
                print("OK", exc)
            else:
                print("NO ERROR")
        """,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("OK") for line in lines), result.stdout
    assert all('pip install "polykv-fsspec[s3]"' in line for line in lines)


def test_missing_hdfs_client_names_the_extra_not_pyarrow() -> None:
    pytest.importorskip("polykv_fsspec")
    result = _run_hidden(
        {"hdfs_native", "pyarrow"},
        """
        import polykv
        from polykv.errors import MissingDependencyError
        try:
            polykv.connect("hdfs://127.0.0.1:9/base")
        except MissingDependencyError as exc:
            print("OK", exc)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK") and 'pip install "polykv-fsspec[hdfs]"' in result.stdout, result.stdout


def test_missing_msgpack_names_the_extra() -> None:
    result = _run_hidden(
        {"msgpack"},
        """
        import polykv
        from polykv.errors import MissingDependencyError
        try:
            polykv.connect("memory://?codec=msgpack")
        except MissingDependencyError as exc:
            print("OK", exc)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK") and 'pip install "polykv-core[msgpack]"' in result.stdout, result.stdout


def test_s3_without_a_bucket_says_what_to_configure() -> None:
    pytest.importorskip("polykv_fsspec")
    with pytest.raises(InvalidArgumentError, match="bucket"):
        polykv.BackendRegistry()["s3"]


# == item 9: secrets in URL queries ===================================================================
SECRETS = ("TOPSECRET", "AKIAEXAMPLE", "hunter2", "tok3n", "userinfopw")


@pytest.mark.parametrize(
    "url",
    [
        "s3://b/p?key=AKIAEXAMPLE&secret=TOPSECRET",
        "redis://u:userinfopw@h:1/0?password=hunter2&prefix=x",
        "redis://h:1/0?Password=hunter2",
        "readonly+redis://:userinfopw@h/0?token=tok3n",
        "prefix:p/+fallback:redis%3A//h/0+s3://b?aws_secret_access_key=TOPSECRET&session_token=tok3n",
        "webhdfs://h:1/b?user=me&token=tok3n",
        "redis://u:user@info@h/0?ssl_password=hunter2",
    ],
)
def test_redact_url_masks_query_secrets(url: str) -> None:
    redacted = redact_url(url)
    for secret in (*SECRETS, "info@h"):
        if secret == "info@h":
            continue
        assert secret not in redacted, redacted
    assert "***" in redacted


def test_redact_url_keeps_what_is_not_secret() -> None:
    assert redact_url("sqlite:///x.db?timeout=3") == "sqlite:///x.db?timeout=3"
    assert redact_url("redis://h:1/0?prefix=a&buckets=4") == "redis://h:1/0?prefix=a&buckets=4"


def test_secrets_never_appear_in_errors_and_logs(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    urls = [
        "memory://?password=hunter2",
        f"{sqlite_url}?token=tok3n",
        "readonly+memory://?secret=TOPSECRET",
        "nosuchscheme://u:userinfopw@h/?key=AKIAEXAMPLE",
        "sqlite://u:userinfopw@h/x.db",
    ]
    for url in urls:
        with pytest.raises(PolyKVError) as info:
            polykv.connect(url)
        for secret in SECRETS:
            assert secret not in str(info.value) and secret not in repr(info.value)
    with pytest.raises(InvalidArgumentError) as info2:
        MemoryStore(password="hunter2")  # an unknown secret option: named, its value never shown
    assert "hunter2" not in str(info2.value)
    for secret in SECRETS:
        assert secret not in caplog.text


def test_cli_scrubs_query_secrets(sqlite_url: str) -> None:
    runner = CliRunner()
    for url in (f"{sqlite_url}?password=hunter2", "memory://?secret=TOPSECRET&key=AKIAEXAMPLE"):
        result = runner.invoke(cli, ["get", "k", "--url", url])
        assert result.exit_code == 1
        output = result.output + (result.stderr if result.stderr_bytes is not None else "")
        assert "unknown" in output
        for secret in SECRETS:
            assert secret not in output, output
