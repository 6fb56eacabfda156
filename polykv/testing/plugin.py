"""pytest plugin (entry point ``pytest11``): registers the conformance suite's marker; imports nothing heavy."""

from __future__ import annotations

from typing import Any


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "polykv_requires(*capabilities): skip unless the store declares these capabilities"
    )
