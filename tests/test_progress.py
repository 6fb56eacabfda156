"""Server start/ready lines reach the terminal in a ``-q`` run, through output capture (issue 12, item 6)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from polykv.testing import progress

STARTS_A_SERVER = """
import pytest
from polykv.testing.progress import server_start

@pytest.fixture(scope="session")
def server():
    with server_start("fake-server", "127.0.0.1:1"):
        print("captured, not shown")
    yield

def test_uses_it(server):
    pass

def test_fails_to_start():
    with pytest.raises(RuntimeError):
        with server_start("broken-server", "127.0.0.1:2"):
            raise RuntimeError("no")
"""


def test_lines_show_in_a_quiet_run_with_capture_on(tmp_path: Path) -> None:
    (tmp_path / "test_it.py").write_text(textwrap.dedent(STARTS_A_SERVER))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_it.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "[polykv] starting fake-server on 127.0.0.1:1" in lines
    assert any(line.startswith("[polykv] fake-server ready on 127.0.0.1:1 after ") for line in lines)
    assert any(line.startswith("[polykv] broken-server on 127.0.0.1:2 did not start (") for line in lines)
    assert "captured, not shown" not in result.stdout


def test_outside_pytest_lines_go_to_stderr() -> None:
    code = "from polykv.testing.progress import announce; announce('hello')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (result.stdout, result.stderr) == ("", "[polykv] hello\n")


def test_a_writer_receives_each_line(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    monkeypatch.setattr(progress, "_writer", seen.append)
    with progress.server_start("x", "here"):
        pass
    assert seen[0] == "[polykv] starting x on here"
    assert seen[1].startswith("[polykv] x ready on here after ") and seen[1].endswith(" s")
