"""The import graph keeps its layers (issue 12): read with scripts/import_graph.py, which imports nothing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def graph() -> ModuleType:
    spec = importlib.util.spec_from_file_location("polykv_import_graph", ROOT / "scripts" / "import_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def test_events_is_a_leaf(graph: ModuleType) -> None:
    modules = graph.module_files()
    imported = {e.target for e in graph.edges(modules) if e.source == "polykv.events"}
    assert imported == set(), f"polykv.events must import nothing from polykv, imports {sorted(imported)}"


@pytest.mark.parametrize("module", ["polykv.codecs", "polykv.hooks", "polykv.backend_registry", "polykv.store"])
def test_core_modules_are_in_no_cycle(graph: ModuleType, module: str) -> None:
    modules = graph.module_files()
    cycles = graph.cycles(list(modules), graph.edges(modules))
    assert not [c for c in cycles if module in c], f"{module} is in an import cycle: {cycles}"


def test_lower_layers_do_not_import_hooks_or_the_registry(graph: ModuleType) -> None:
    """Hooks push into codecs, catalog and events; the store contract and registration sit below the registry."""
    modules = graph.module_files()
    below = {"polykv.codecs", "polykv.catalog", "polykv.claims", "polykv.events", "polykv.registration", "polykv.store"}
    bad = [
        f"{e.source}:{e.line} -> {e.target}"
        for e in graph.edges(modules)
        if e.source in below and e.target in {"polykv.hooks", "polykv.backend_registry", "polykv.urls"}
    ]
    assert bad == []
