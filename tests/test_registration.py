"""Registration rules of StoreMeta: who registers, under which key, and what clashes."""

from __future__ import annotations

import importlib
import sys
import textwrap
from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path

import pytest

from polykv.backends.memory import MemoryStore
from polykv.errors import RegistrationError
from polykv.registration import STORE_CLASSES
from polykv.store import KeyValueStore


@pytest.fixture(autouse=True)
def _restore_store_classes() -> Iterator[None]:
    before = dict(STORE_CLASSES)
    yield
    STORE_CLASSES.clear()
    STORE_CLASSES.update(before)


def test_concrete_subclass_registers_under_its_key() -> None:
    class Mine(MemoryStore):
        _backend_type = "test_mine"

    assert STORE_CLASSES["test_mine"] is Mine
    assert STORE_CLASSES["memory"] is MemoryStore


def test_subclass_without_own_key_is_not_registered_and_does_not_clash() -> None:
    class Traced(MemoryStore):
        def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
            super()._set(ns, key, data, ttl)

    assert STORE_CLASSES["memory"] is MemoryStore
    assert Traced not in STORE_CLASSES.values()
    store = Traced()
    store.set("k", 1)
    assert store.get("k") == 1 and store.backend_name == "memory"


def test_abstract_class_is_not_registered() -> None:
    class Half(KeyValueStore):
        _backend_type = "test_half"

        @abstractmethod
        def extra(self) -> None: ...

    assert "test_half" not in STORE_CLASSES


def test_key_set_to_none_is_not_registered() -> None:
    class Anonymous(MemoryStore):
        _backend_type = None

    assert Anonymous not in STORE_CLASSES.values()


@pytest.mark.parametrize("bad", ["Redis", "has-dash", "1abc", "", "a" * 65, "with space"])
def test_invalid_backend_type_is_a_clear_error(bad: str) -> None:
    with pytest.raises(RegistrationError, match="Broken") as info:

        class Broken(MemoryStore):
            _backend_type = bad

    assert isinstance(info.value, TypeError)


def test_non_str_backend_type_is_rejected() -> None:
    with pytest.raises(RegistrationError, match="must be a str"):

        class Broken(MemoryStore):
            _backend_type = 3  # type: ignore[assignment]


def test_two_classes_claiming_one_key_name_both() -> None:
    class First(MemoryStore):
        _backend_type = "test_dup"

    with pytest.raises(RegistrationError) as info:

        class Second(MemoryStore):
            _backend_type = "test_dup"

    message = str(info.value)
    assert "First" in message and "Second" in message and __name__ in message
    assert "__replaces_registered__" in message
    assert STORE_CLASSES["test_dup"] is First


def test_explicit_replacement() -> None:
    class Original(MemoryStore):
        _backend_type = "test_replace"

    class Better(MemoryStore):
        _backend_type = "test_replace"
        __replaces_registered__ = Original

    assert STORE_CLASSES["test_replace"] is Better


def test_module_reload_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "reloadable_store.py").write_text(
        textwrap.dedent(
            """
            from polykv.backends.memory import MemoryStore

            class ReloadableStore(MemoryStore):
                _backend_type = "test_reloadable"
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("reloadable_store")
    try:
        first = STORE_CLASSES["test_reloadable"]
        reloaded = importlib.reload(module)
        assert STORE_CLASSES["test_reloadable"] is reloaded.ReloadableStore is not first
    finally:
        sys.modules.pop("reloadable_store", None)


def test_metaclass_registry_discovery_is_not_enabled() -> None:
    config = KeyValueStore.__registry_config__
    assert config.discovery_package is None
    assert type(config.registry_dict) is dict
