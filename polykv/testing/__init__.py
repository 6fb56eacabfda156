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
"""

from __future__ import annotations

from .suite import StoreSuite, requires

__all__ = ["StoreSuite", "requires"]
