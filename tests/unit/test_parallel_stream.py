"""Ordered task streams (``relsynth.synthesis._parallel.iter_tasks``, what chunked
sampling runs on): the workers make the next results while the consumer (the writer)
holds one, and no more than ``n_jobs`` ahead of it.

Not timing based: each task leaves a marker file when it has run, and a test waits
for the markers it expects (the wait only bounds a failure), then checks which
tasks ran, which depends on what was submitted alone.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from relsynth.synthesis._parallel import iter_tasks

WAIT_S = 300  # only a failing test waits this long (a worker starts in seconds)


def _mark(folder: str, i: int) -> int:
    """A task: leave ``ran-<i>`` in ``folder``; return ``i`` (runs in a worker)."""
    (Path(folder) / f"ran-{i}").touch()
    return i


def _wait_for(folder: Path, names: list[str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not all((folder / n).exists() for n in names):
        if time.monotonic() > deadline:
            ran = sorted(p.name for p in folder.glob("ran-*"))
            pytest.fail(f"{names} not made while the consumer held a result (ran: {ran})")
        time.sleep(0.05)


def _ran(folder: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in folder.glob("ran-*"))


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_the_next_results_are_made_while_the_consumer_holds_one(tmp_path, n_jobs):
    tasks = iter_tasks(_mark, 6, str(tmp_path), n_jobs=n_jobs)
    try:
        assert next(tasks) == 0
        # the consumer holds result 0 (a writer writing it): every worker makes one more
        _wait_for(tmp_path, [f"ran-{j}" for j in range(1, n_jobs + 1)])
        # and no further task was submitted: at most n_jobs results ahead (memory bound)
        assert _ran(tmp_path) == list(range(n_jobs + 1))
        assert next(tasks) == 1
        _wait_for(tmp_path, [f"ran-{n_jobs + 1}"])
        assert _ran(tmp_path) == list(range(n_jobs + 2))
        assert list(tasks) == [2, 3, 4, 5]  # in order, every one once
    finally:
        tasks.close()


def test_a_single_task_runs_here_without_a_worker(tmp_path):
    import os

    assert list(iter_tasks(lambda folder, i: os.getpid(), 1, str(tmp_path))) == [os.getpid()]
