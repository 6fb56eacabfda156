"""``polykv backends``: the table of every backend, imported or not."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..output import console
from ..redaction import scrub

__all__ = ["backends"]


@click.command()
@click.option("--load", is_flag=True, help="Import every backend to show its capabilities.")
def backends(load: bool) -> None:
    """Table of every backend: name, class, distribution, imported or not, capabilities."""
    from rich.table import Table

    from ... import default_registry

    registry = default_registry()
    table = Table("name", "class", "distribution", "imported", "capabilities")
    table.columns[1].overflow = "fold"
    for name in registry:
        declaration = registry.describe(name)
        cls: Any = None
        note = ""
        if load:
            try:
                cls = registry.store_class(name)
            except Exception as exc:  # exactly what registry[name] raises when it looks the name up
                note = f"cannot load: {scrub(f'{type(exc).__name__}: {exc}', ())}"
        module = sys.modules.get(declaration.module)
        if cls is None and module is not None:
            cls = getattr(module, declaration.target.partition(":")[2], None)
        dist = f"{declaration.distribution} {declaration.version or ''}".strip() if declaration.distribution else "-"
        capabilities = (
            ", ".join(sorted(str(c) for c in cls.capabilities)) if cls is not None else note or "(--load shows them)"
        )
        table.add_row(name, declaration.target, dist, "yes" if module is not None else "no", capabilities or "-")
    console().print(table)
