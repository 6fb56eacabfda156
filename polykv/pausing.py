"""``pause(seconds)``: the one place polykv's own waits sleep (lock and lease backoff), so that a face can
make them cooperative.

A leaf module: ``polykv.aio`` pushes a pauser here that awaits ``asyncio.sleep`` when the caller runs on
the event loop through its bridge, so a waiting ``lock()`` or ``get_or_set`` never blocks the loop. With
no pauser that takes the wait, ``time.sleep``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["pause", "pausers"]

#: Each takes the seconds to wait and returns True if it waited (its caller runs where it can wait).
pausers: list[Callable[[float], bool]] = []


def pause(seconds: float) -> None:
    """Wait ``seconds``: through the first pauser that takes the wait, else ``time.sleep``."""
    for pauser in pausers:
        if pauser(seconds):
            return
    time.sleep(seconds)
