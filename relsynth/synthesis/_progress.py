"""The progress callback shared by ``fit`` and ``sample``."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress", "report"]

Progress = Callable[[str, str, int, int], None]
"""``progress(stage, table, done, total)``: called as each table finishes a stage."""


def report(progress: Progress | None, stage: str, table: str, done: int, total: int) -> None:
    """Call ``progress`` if one was given."""
    if progress is not None:
        progress(stage, table, done, total)
