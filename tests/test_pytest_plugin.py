"""Installing polykv never breaks anyone's pytest (issue 11, item 1).

polykv registers a ``pytest11`` entry point, so pytest loads ``polykv.testing.plugin`` in *every* run in an
environment where polykv is installed. These tests install the core with pytest only (no hypothesis, the
``testing`` extra) into a fresh virtualenv and run an unrelated project's test file there.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

UNRELATED_TEST = """
def test_unrelated():
    assert 1 + 1 == 2
"""

USE_THE_SUITE = """
import pytest
from polykv.errors import MissingDependencyError

def test_suite_names_the_extra():
    with pytest.raises(MissingDependencyError, match=r'pip install "polykv-core\\[testing\\]"'):
        from polykv.testing import StoreSuite  # noqa: F401
"""


@pytest.fixture(scope="module")
def core_only_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding polykv (from this checkout), its hard dependencies and pytest: no extras."""
    env_dir = tmp_path_factory.mktemp("core-only") / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT), "pytest"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    found = subprocess.run([str(python), "-c", "import hypothesis"], capture_output=True)
    assert found.returncode != 0, "hypothesis must not be installed with the core alone"
    return python


def _run_pytest(python: Path, project: Path, source: str) -> subprocess.CompletedProcess[str]:
    project.mkdir()
    (project / "test_it.py").write_text(textwrap.dedent(source))
    return subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_it.py"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_unrelated_project_runs_green_with_only_the_core_installed(core_only_venv: Path, tmp_path: Path) -> None:
    result = _run_pytest(core_only_venv, tmp_path / "unrelated", UNRELATED_TEST)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    plugins = subprocess.run(
        [
            str(core_only_venv),
            "-c",
            "import importlib.metadata as m; print([e.value for e in m.entry_points(group='pytest11')])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "polykv.testing.plugin" in plugins.stdout  # the plugin really was registered and loaded


def test_using_the_suite_without_its_extra_names_the_extra(core_only_venv: Path, tmp_path: Path) -> None:
    result = _run_pytest(core_only_venv, tmp_path / "uses-suite", USE_THE_SUITE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_plugin_module_imports_no_optional_package() -> None:
    """In this environment too: loading the pytest plugin imports neither hypothesis nor the suite."""
    code = (
        "import sys; import polykv.testing.plugin; "
        "bad = [m for m in ('hypothesis', 'polykv.testing.suite', 'polykv.testing.watch', 'msgpack', 'click', 'rich')"
        " if m in sys.modules]; print(bad)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
