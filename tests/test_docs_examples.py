"""Every Python example in ``docs/`` is one the docs build runs (issue 11 item 10).

Sphinx's doctest builder runs ``.. doctest::``, ``.. testcode::`` and ``>>>`` blocks; it never runs a
``.. code-block:: python`` or a plain ``::`` literal block. This test reads the ``.rst`` sources and
fails on any Python example written in a form the build would not run, so an example cannot rot
silently. Shell lines, URLs and file layouts in ``::`` blocks are fine: they do not parse as Python.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
SOURCES = sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts)

#: Directives whose body is Python the doctest builder never executes.
UNRUN_PYTHON = re.compile(r"^\s*\.\. (code-block|code|sourcecode)::\s*(python3?|py|pycon|ipython)\s*$")
#: A paragraph that ends in ``::`` introduces a literal block (but ``.. directive::`` lines do not).
LITERAL_INTRO = re.compile(r"::\s*$")
DIRECTIVE = re.compile(r"^\s*\.\. [\w:-]+::")


def literal_blocks(lines: list[str]) -> list[tuple[int, str]]:
    """(line number, dedented text) of each ``::`` literal block in reStructuredText ``lines``."""
    blocks: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if LITERAL_INTRO.search(line) and not DIRECTIVE.match(line):
            indent = len(line) - len(line.lstrip())
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            body: list[str] = []
            while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
                body.append(lines[j])
                j += 1
            text = "\n".join(body).strip("\n")
            if text:
                width = min(len(b) - len(b.lstrip()) for b in body if b.strip())
                blocks.append((i + 1, "\n".join(b[width:] for b in body).strip("\n")))
            i = j
            continue
        i += 1
    return blocks


def looks_like_python(text: str) -> bool:
    """True when ``text`` is a doctest session or a Python program of more than a bare expression."""
    if text.lstrip().startswith(">>>"):
        return True
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    return any(not isinstance(node, ast.Expr) or isinstance(node.value, ast.Call) for node in tree.body)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(DOCS)))
def test_every_python_example_runs_in_the_docs_build(source: Path) -> None:
    lines = source.read_text(encoding="utf-8").splitlines()
    unrun = [f"{source.name}:{n}: {line.strip()}" for n, line in enumerate(lines, 1) if UNRUN_PYTHON.match(line)]
    unrun += [
        f"{source.name}:{n}: a '::' literal block holding Python"
        for n, text in literal_blocks(lines)
        if looks_like_python(text)
    ]
    assert not unrun, "Python examples the docs build would not run (use .. testcode:: or .. doctest::):\n" + "\n".join(
        unrun
    )


def test_the_checker_catches_what_it_should() -> None:
    """The two forms the build would not run are recognised; shell lines and URL lists are not Python."""
    assert UNRUN_PYTHON.match(".. code-block:: python")
    assert UNRUN_PYTHON.match("   .. code-block:: pycon")
    assert not UNRUN_PYTHON.match(".. code-block:: bash")
    page = ["In Python::", "", "   import polykv", "   polykv.connect('memory://')", "", "Then."]
    assert [n for n, text in literal_blocks(page) if looks_like_python(text)] == [1]
    shell = ["Run::", "", "   .venv/bin/pytest plugins/polykv-redis/tests", "   polykv get k --url sqlite:///x.db"]
    urls = [
        "Stacked::",
        "",
        "   readonly+prefix:tenant1/+sqlite:///data.db",
        "   fallback:sqlite:///r.db+redis://h:6379/0",
    ]
    layout = ["Layout::", "", "   {base}/_kv/{name(key)}                 one file per KV pair"]
    for page in (shell, urls, layout):
        assert not [n for n, text in literal_blocks(page) if looks_like_python(text)], page


def _processes_marked(marker: str) -> list[str]:
    """Command lines of live processes whose environment carries ``POLYKV_DOCS_RUN=marker``."""
    found = []
    needle = f"POLYKV_DOCS_RUN={marker}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc to see leftover processes")
def test_the_docs_build_runs_every_example_and_leaves_no_process(tmp_path: Path) -> None:
    """``sphinx-build -b doctest`` passes, and no process it started (a redis-server, say) outlives it."""
    import os
    import subprocess
    import sys
    import uuid

    pytest.importorskip("sphinx", reason="the docs build needs the docs extra (sphinx)")
    marker = uuid.uuid4().hex
    env = {**os.environ, "POLYKV_DOCS_RUN": marker}
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-W", "-b", "doctest", str(DOCS), str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = (tmp_path / "out" / "output.txt").read_text() if (tmp_path / "out" / "output.txt").exists() else ""
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:] + report[-4000:]
    assert "0 failures in tests" in report, report[-4000:]
    assert _processes_marked(marker) == []
