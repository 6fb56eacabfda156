"""The import graph keeps its layers (issue 12): read with scripts/import_graph.py, which imports nothing."""

from __future__ import annotations

import importlib
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


def test_there_is_no_import_cycle_at_all(graph: ModuleType) -> None:
    """No module of the core or of a plugin is in a cycle, function-level imports included."""
    modules = graph.module_files()
    assert graph.cycles(list(modules), graph.edges(modules)) == []


def test_shipped_stores_override_primitives_not_helpers() -> None:
    """A backend writes the methods of StorePrimitives; KeyValueStore's private helpers are never overridden,
    so a reader of KeyValueStore knows which underscore methods are a backend's (issue 12 item 4)."""
    from polykv.backends.memory import MemoryStore
    from polykv.backends.sqlite import SQLiteStore
    from polykv.primitives import PRIMITIVES, StorePrimitives
    from polykv.store import KeyValueStore

    stores: list[type] = [MemoryStore, SQLiteStore]
    for module, name in [
        ("polykv_redis.store", "RedisStore"),
        ("polykv_redis.cluster", "RedisClusterStore"),
        ("polykv_fsspec.store", "FsspecStore"),
        ("polykv_fsspec.s3", "S3Store"),
        ("polykv_fsspec.hdfs", "HDFSStore"),
        ("polykv_postgres.store", "PostgresStore"),
    ]:
        try:
            stores.append(getattr(importlib.import_module(module), name))
        except ImportError:
            continue
    helpers = {
        n
        for n in vars(KeyValueStore)
        if n.startswith("_") and not n.startswith("__") and n not in vars(StorePrimitives)
    }
    assert set(PRIMITIVES) >= {"_get", "_set", "_delete", "_scan", "_schemas"}
    assert not helpers & set(PRIMITIVES)
    overridden = {
        f"{store.__name__}.{n}"
        for store in stores
        for klass in store.__mro__
        if issubclass(klass, KeyValueStore) and klass is not KeyValueStore
        for n in vars(klass)
        if n in helpers
    }
    assert overridden == set(), f"helpers overridden (make them primitives or rename): {sorted(overridden)}"
