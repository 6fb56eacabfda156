"""The state of one ``polykv`` run (global flags, secrets seen) and the stores a command opens.

``opened(url)`` is how every command opens a store: it names it on stderr unless ``--quiet`` and closes it
afterwards; ``note(message)`` writes a line about what happened on stderr, secrets scrubbed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from .redaction import scrub, secrets_in

if TYPE_CHECKING:
    from ..store import KeyValueStore

__all__ = ["State", "note", "opened"]


@dataclass
class State:
    """What the global options set (``--debug``, ``--quiet``) and the secrets of every URL seen so far."""

    debug: bool = False
    quiet: bool = False
    secrets: tuple[str, ...] = ()


def note(message: str) -> None:
    """A line about what happened (not the output) on stderr, secrets scrubbed."""
    state = click.get_current_context().find_object(State) or State()
    click.echo(f"polykv: {scrub(message, state.secrets)}", err=True)


@contextmanager
def opened(url: str, role: str = "") -> Iterator[KeyValueStore]:
    """Open the store at ``url``, name it on stderr (``polykv: store <url> (role)``), close it afterwards."""
    from ..urls import connect, redact_url

    ctx = click.get_current_context()
    state = ctx.find_object(State)
    if state is None:
        state = ctx.ensure_object(State)
    state.secrets += secrets_in(url)
    store = connect(url)
    try:
        if not state.quiet:
            note(f"store {redact_url(url)}" + (f" ({role})" if role else ""))
        yield store
    finally:
        store.close()
