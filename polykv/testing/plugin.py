"""pytest plugin (entry point ``pytest11``): registers the conformance suite's marker and gives
``polykv.testing.progress`` pytest's terminal reporter; imports nothing heavy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import progress

#: The writers replaced by each configured pytest session (a pytester run nests one inside another).
_replaced: list[Callable[[str], None] | None] = []


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "polykv_requires(*capabilities): skip unless the store declares these capabilities"
    )

    def write(line: str) -> None:
        # Capture is on while fixtures and tests run: suspend it around the line, as pytest's live logging does.
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:  # -p no:terminal
            progress.write_stderr(line)
        elif capture is None:  # -p no:capture
            reporter.write_line(line)
        else:
            with capture.global_and_fixture_disabled():
                reporter.write_line(line)

    _replaced.append(progress.current_writer())
    progress.set_writer(write)


def pytest_unconfigure(config: Any) -> None:
    progress.set_writer(_replaced.pop() if _replaced else None)
