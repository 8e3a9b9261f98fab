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

#: Time kept back from a table's share for each table still to start (encoders, fake
#: text, calibration of a table that trains for only a moment).
_TABLE_OVERHEAD_SECONDS = 0.15


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


def fit_tables(
    synth: Synthesizer,
    source: Mapping[str, pd.DataFrame],
    layouts: Mapping[str, TableLayout],
    base_seed: int,
    deadline: float | None,
    progress: Progress | None,
    total: int,
    dp: DPFit | None = None,
) -> dict[str, FittedTable]:
    """Fit every table (independent tasks), largest first, on ``n_jobs`` workers;
    ``dp``: under differential privacy, each private table's DP inputs."""
    from relsynth.synthesis._parallel import resolve_jobs, run_tasks

    order = synth.plan_.order
    jobs = resolve_jobs(synth.n_jobs)
    weights = {n: _fit_weight(synth, n, source, layouts) for n in order}
    queue = sorted(order, key=lambda n: -weights[n])  # stable: plan order among ties
    unstarted = [sum(weights.values())]
    shell = synth._shell()
    done = [1]  # the keys
    if deadline is not None:
        from relsynth.models._torch import warm_up

        warm_up()  # one-off imports, before the tables' shares of the budget are set

    waiting = set(order)

    def make_args(name: str) -> tuple[Any, ...]:
        budget = None
        waiting.discard(name)
        if deadline is not None:  # the share of what is left, by expected time
            # every table still to start needs a moment for its encoders and text
            others = sum(1 for n in waiting if weights[n] > 0) / jobs
            left = deadline - time.time()
            left -= min(_TABLE_OVERHEAD_SECONDS * others, left / 2)
            share = weights[name] / unstarted[0] if unstarted[0] > 0 else 1.0
            budget = max(min(left, left * jobs * share), MIN_TABLE_SECONDS)
        elif synth.max_seconds is not None:  # deprecated: a clock cap per table
            budget = synth.max_seconds
        unstarted[0] -= weights[name]
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
