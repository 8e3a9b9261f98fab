"""The progress callback shared by ``fit`` and ``sample``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Progress", "QueueSink", "drain_steps", "report"]

Progress = Callable[[str, str, int, int], None]
"""``progress(stage, table, done, total)``: called as each table finishes a stage."""


def report(progress: Progress | None, stage: str, table: str, done: int, total: int) -> None:
    """Call ``progress`` if one was given."""
    if progress is not None:
        progress(stage, table, done, total)


class QueueSink:
    """A task's ``on_step`` where the task runs elsewhere (a worker process, a Ray
    task): ``(key, step, total)`` onto a queue that the parent drains while it waits.

    ``queue`` is anything with ``put`` that pickles with the task's arguments: a
    multiprocessing manager's queue proxy, or a Ray queue (an actor handle).
    """

    def __init__(self, queue: Any, key: Any) -> None:
        self.queue, self.key = queue, key

    def __call__(self, step: int, total: int) -> None:
        self.queue.put((self.key, step, total))


def drain_steps(steps: Any, on_step: Callable[[Any, int, int], None] | None) -> None:
    """Pass the step reports queued by :class:`QueueSink` to ``on_step``, without waiting
    (``steps`` raises a :class:`queue.Empty` when it has none left, as both a manager's
    queue and a Ray queue do)."""
    import queue

    while steps is not None and on_step is not None:
        try:
            key, step, total = steps.get_nowait()
        except queue.Empty:
            return
        on_step(key, step, total)
