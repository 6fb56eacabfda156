"""What commands print: values as JSON (``to_json``), JSON arguments parsed (``parse_json``), rich consoles."""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["console", "parse_json", "to_json"]


def to_json(value: Any) -> str:
    """``value`` as one line of JSON; bytes become ``{"$bytes_b64": "<base64>"}``."""

    def default(obj: Any) -> Any:
        if isinstance(obj, bytes):
            import base64

            return {"$bytes_b64": base64.b64encode(obj).decode("ascii")}
        raise TypeError(f"{type(obj).__name__} is not JSON serialisable")

    return json.dumps(value, ensure_ascii=False, default=default)


def parse_json(text: str, what: str) -> Any:
    """``text`` parsed as JSON; ``click.BadParameter`` (exit 2) naming ``what`` if it is not JSON."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"{what} must be JSON (quote strings: '\"text\"'): {exc}") from None


def console(stderr: bool = False) -> Any:
    """A rich ``Console`` on stdout (or stderr); rich is imported only when a command prints a table."""
    from rich.console import Console

    return Console(stderr=stderr)
