"""Fixtures shared by the core tests.

``make_dist`` installs throwaway plugin distributions for the entry-point tests (tests/test_registry.py,
tests/test_plugin_conflicts.py).
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

import polykv
from polykv.registration import STORE_CLASSES


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """A factory ``make(name, entry_points, modules) -> Path`` that installs a throwaway distribution.

    ``entry_points`` maps a group to ``{entry point name: target}``; ``modules`` maps a module name to its
    source (dedented). The distribution is a ``<name>-0.1.dist-info`` folder (METADATA, entry_points.txt)
    beside the modules in ``tmp_path / name``, which goes on ``sys.path``; the folder is returned. Afterwards
    the modules are forgotten, ``sys.path`` and the store class table are restored, and the default registry
    re-reads the installed entry points (so no later test sees the throwaway plugins).
    """
    created_modules: list[str] = []
    before = dict(STORE_CLASSES)

    def make(name: str, entry_points: Mapping[str, Mapping[str, str]], modules: Mapping[str, str]) -> Path:
        root = tmp_path / name
        info = root / f"{name.replace('-', '_')}-0.1.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
        lines = []
        for group, eps in entry_points.items():
            lines.append(f"[{group}]")
            lines.extend(f"{ep} = {target}" for ep, target in eps.items())
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for module, source in modules.items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
            created_modules.append(module)
        monkeypatch.syspath_prepend(str(root))
        importlib.invalidate_caches()
        return root

    yield make
    for module in created_modules:
        sys.modules.pop(module, None)
    STORE_CLASSES.clear()
    STORE_CLASSES.update(before)
    polykv.default_registry().refresh()
