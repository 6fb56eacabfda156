"""``polykv copy SRC DST``: copy every item between two stores with a progress bar, resumable."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..context import opened
from ..output import console

if TYPE_CHECKING:
    from rich.progress import Task
    from rich.text import Text

__all__ = ["copy"]


def _default_checkpoint(src: str, dst: str, prefix: str, schemas: tuple[str, ...]) -> Path:
    from ...urls import redact_url

    digest = hashlib.sha256(json.dumps([redact_url(src), redact_url(dst), prefix, schemas]).encode()).hexdigest()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "polykv"
    return cache / f"copy-{digest[:16]}.json"


@click.command()
@click.argument("src")
@click.argument("dst")
@click.option("--prefix", default="", help="Copy only keys starting with it, in every namespace (default: all).")
@click.option(
    "--schema",
    "schemas",
    multiple=True,
    help="Copy only this schema ('' for the KV pairs); repeatable (default: the KV pairs and every schema).",
)
@click.option("--overwrite", is_flag=True, help="Replace keys that exist in DST (default: leave them).")
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=1000, show_default=True, help="Items read and written at once."
)
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Progress file for resuming (default: one per SRC/DST pair in ~/.cache/polykv).",
)
@click.option("--no-resume", is_flag=True, help="Ignore and remove an earlier checkpoint; start over.")
def copy(
    src: str,
    dst: str,
    prefix: str,
    schemas: tuple[str, ...],
    overwrite: bool,
    batch_size: int,
    checkpoint: Path | None,
    no_resume: bool,
) -> None:
    """Copy every item of the store at URL SRC into the store at URL DST with a progress bar; re-running
    after an interruption resumes."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ... import ops

    class RateColumn(ProgressColumn):
        """Items per second."""

        def render(self, task: Task) -> Text:
            from rich.text import Text

            speed = task.finished_speed or task.speed
            return Text("-" if speed is None else f"{speed:,.0f} items/s")

    path = checkpoint or _default_checkpoint(src, dst, prefix, schemas)
    if no_resume:
        path.unlink(missing_ok=True)
    with opened(src, "source") as source, opened(dst, "destination") as target:
        selected = list(schemas) if schemas else None
        total = ops.count_items(source, prefix=prefix, schemas=selected)
        progress = Progress(
            TextColumn("copy"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console(stderr=True),
        )
        task = progress.add_task("copy", total=total)

        def advance(items: int) -> None:
            if not progress.live.is_started:  # shown from the first batch: argument errors stay one line
                progress.start()
            progress.advance(task, items)

        try:
            result = ops.copy(
                source,
                target,
                prefix=prefix,
                schemas=selected,
                overwrite=overwrite,
                batch_size=batch_size,
                checkpoint=path,
                progress=advance,
            )
        finally:
            if progress.live.is_started:
                progress.stop()
    click.echo(
        f"copied {result.copied}, skipped {result.skipped} (present in destination), resumed past {result.resumed}"
    )
