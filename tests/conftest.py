"""Fixtures shared by the core tests.

``make_dist`` installs throwaway plugin distributions for the entry-point tests (tests/test_registry.py,
tests/test_plugin_conflicts.py). ``store`` opens the store of a conformance class that names how with an
``open_store`` static method, and ``inner`` is a bare memory or sqlite store for a wrapper to wrap (the
tests/test_wrappers_*.py files).
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

import polykv
from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.registration import STORE_CLASSES
from polykv.store import KeyValueStore


@pytest.fixture
def make_dist(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """A factory ``make(name, entry_points, modules) -> Path`` that installs a throwaway distribution.

    ``entry_points`` maps a group to ``{entry point name: target}``; ``modules`` maps a module name to its
    source (dedented). The distribution is a ``<name>-0.1.dist-info`` folder (METADATA, entry_points.txt)
    beside the modules in ``tmp_path / name``, which goes on ``sys.path``; the folder is returned. Afterwards
    the modules are forgotten, ``sys.path`` and the store class table are restored, and the default registry
    re-reads the installed entry points (so no later test sees the throwaway plugins).
    """
    created_modules: list[str] = []
    before = dict(STORE_CLASSES)
    path_before = list(sys.path)

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
        sys.path.insert(0, str(root))
        importlib.invalidate_caches()
        return root

    yield make
    # sys.path is restored here, not by monkeypatch: its undo runs after this teardown, and the default
    # registry's refresh below would otherwise read the throwaway entry points back in.
    sys.path[:] = path_before
    importlib.invalidate_caches()
    for module in created_modules:
        sys.modules.pop(module, None)
    STORE_CLASSES.clear()
    STORE_CLASSES.update(before)
    polykv.default_registry().refresh()


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyValueStore]:
    """The store of a conformance class (a ``polykv.testing.StoreSuite`` subclass), closed afterwards.

    The class says how to open it with ``open_store(tmp_path) -> KeyValueStore`` (a static method; files go
    under ``tmp_path``). A test module or class with its own ``store`` fixture overrides this one; a class
    with neither fails with a message naming it.
    """
    open_store: Callable[[Path], KeyValueStore] | None = getattr(request.cls, "open_store", None)
    if open_store is None:
        pytest.fail(f"{request.node.nodeid}: the class needs an open_store(tmp_path) static method or a store fixture")
    with open_store(tmp_path) as opened:
        yield opened


@pytest.fixture(params=["memory", "sqlite"])
def inner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyValueStore]:
    """A bare, empty memory or sqlite store (``tmp_path / "i.db"``) for a wrapper to wrap; closed afterwards."""
    store: KeyValueStore = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "i.db")
    try:
        yield store
    finally:
        store.close()
