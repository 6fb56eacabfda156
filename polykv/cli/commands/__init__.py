"""The ``polykv`` commands, one module per command group; ``COMMANDS`` lists them in the order they are added."""

from __future__ import annotations

import click

from . import backends, bench, check, copy, demo, kv, watch

__all__ = ["COMMANDS"]

#: Every command of ``polykv``; ``polykv.cli`` adds them to its group.
COMMANDS: tuple[click.Command, ...] = (
    backends.backends,
    kv.get,
    kv.set_,
    kv.rm,
    kv.clear,
    kv.ls,
    kv.count,
    copy.copy,
    watch.watch,
    check.check,
    bench.bench,
    demo.demo,
)
