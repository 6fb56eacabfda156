"""The polykv conformance suite, shipped for plugin authors.

Subclass ``StoreSuite`` in a test module and give it a ``store`` fixture that yields a fresh, empty store::

    import pytest
    from polykv.testing import StoreSuite

    class TestMyStore(StoreSuite):
        @pytest.fixture
        def store(self):
            store = MyStore()
            yield store
            store.close()

Tests that need a capability the store does not declare are skipped; every other test must pass.

The suite needs the ``testing`` extra (pytest and hypothesis: ``pip install "polykv-core[testing]"``). This package
imports neither until a suite name is used, because its pytest plugin (``polykv.testing.plugin``, loaded by
every pytest run in an environment where polykv is installed) must not depend on an optional package.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .suite import StoreSuite, requires

__all__ = ["StoreSuite", "requires"]

#: Public name -> the submodule that defines it (imported on first use).
_LAZY = {"StoreSuite": "suite", "requires": "suite"}

#: The optional packages the suite imports, and the extra that installs them.
TESTING_EXTRA = 'pip install "polykv-core[testing]"'


def _import_suite_module(name: str) -> Any:
    """Import ``polykv.testing.<name>``; a missing optional package raises a polykv error naming the extra."""
    try:
        return import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name in ("hypothesis", "pytest") or (exc.name or "").startswith(("hypothesis.", "_pytest")):
            from ..errors import MissingDependencyError

            raise MissingDependencyError(
                f"the polykv conformance suite needs {exc.name!r}, which is not installed: {TESTING_EXTRA}"
            ) from exc
        raise


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_import_suite_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
