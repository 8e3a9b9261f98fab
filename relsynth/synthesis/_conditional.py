"""Conditional and seeded sampling: ``Synthesizer.sample(where=..., parents=...)``.

Semantics (docs/synthesizer.md, "Conditional and seeded sampling"):

* **The condition's rows come from the learned distribution.** A conditioned table
  is generated as usual (given the parents already sampled) and its rows that do
  not meet the condition are rejected. What is left is the model's own distribution
  restricted to the condition: a Germany-only sample looks like the German part of
  the source, and a condition on a child (``flights.dep_delay > 120``) favours the
  parents that make it likely, as the source does. The same distribution is reached
  from fewer rows where a model takes the condition: a root's category through the
  WGAN's conditional vector, other conditions by importance sampling in its noise
  (:mod:`._proposal`); sequence models and copied tables use plain rejection.
* **Size.** ``scale`` multiplies the qualifying part: ``--scale 0.2`` gives about a
  fifth as many German customers as the source has. ``sizes={"Customers": 50}``
  asks for exactly 50 qualifying rows of a root table (drawn in growing batches).
  A conditioned table keeps at least one row: when a batch keeps none, the next
  try draws ten times more (``MAX_TRIES`` in all), and a condition no try meets is
  a :class:`~relsynth.errors.ConditionError` naming it.
* **Families.** Rows of the other tables are the families of the kept rows: the
  children of a rejected row are never generated (tables are sampled in plan
  order, from the kept parents only); a conditioned child's driver ancestors (its
  family tree: the customer of an order) are trimmed to those with at least one
  kept child; rows that point at a removed row are removed (as ON DELETE CASCADE).
  Secondary parents (the airport of a flight, a reference table) are not trimmed.
* **Seeded rows** (``parents=``) are kept exactly (never trimmed, repaired or
  conditioned); the tables below them are generated from them.

The per-table work is the synthesizer's own (``_sample.sample_table``,
``_finish.finish_table``); this module only decides which rows to keep. A
:class:`SampleReport` says, per table, what was generated, kept and how many tries
it took (``Synthesizer.sample_report_``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from relsynth._random import stream
from relsynth.check import check
from relsynth.errors import ConditionError
from relsynth.synthesis import _rule_hooks as rule_hooks
from relsynth.synthesis._conditions import (
    Condition,
    category_target,
    meets,
    parse_conditions,
    range_target,
)
from relsynth.synthesis._family import cascade, limit_secondary, trim_ancestors
from relsynth.synthesis._finish import finish_table
from relsynth.synthesis._progress import Progress
from relsynth.synthesis._proposal import sample_by_proposal
from relsynth.synthesis._sample import sample_table
from relsynth.synthesis._seeded import as_done, given_frames
from relsynth.synthesis._tails import sample_by_tails

if TYPE_CHECKING:
    from relsynth.models._conditioned import Feed
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = ["MAX_TRIES", "SampleReport", "TableYield", "sample_conditional"]

logger = logging.getLogger(__name__)

#: Tries per conditioned table; each try after the first draws ten times more rows.
MAX_TRIES = 4
#: Largest batch a try of a root table draws.
_MAX_BATCH = 2_000_000


@dataclass(frozen=True)
class TableYield:
    """One conditioned table: rows generated (all tries), rows kept, tries."""

    table: str
    conditions: tuple[str, ...]
    generated: int
    kept: int
    tries: int
    seconds: float
    #: the column whose categories the model was asked for (conditional vector), if any
    fed: str | None = None
    #: the length of the generator-noise shift of the importance sampler (0: its pilot
    #: was plain rejection), None when the rows came from rejection
    shift: float | None = None
    #: model calls of the importance sampler (pilot, proposal, top-ups), None for rejection
    batches: int | None = None
    #: kept rows of a child remade from their quantile bin of the conditioned column
    refined: int = 0

    @property
    def rate(self) -> float:
        """Kept over generated (the rejection yield)."""
        return self.kept / self.generated if self.generated else 0.0


@dataclass(frozen=True)
class SampleReport:
    """What a conditional or seeded ``sample`` did."""

    conditioned: Mapping[str, TableYield] = field(default_factory=dict)
    given: Mapping[str, int] = field(default_factory=dict)
    #: rows removed after generation (trimmed ancestors, cascades, finishing), per table
    removed: Mapping[str, int] = field(default_factory=dict)
    rows: Mapping[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def __str__(self) -> str:
        lines = []
        for y in self.conditioned.values():
            lines.append(
                f"{y.table}: kept {y.kept:,} of {y.generated:,} generated rows "
                f"(yield {y.rate:.1%}, {y.tries} {'try' if y.tries == 1 else 'tries'}"
                f"{f', model asked for {y.fed}' if y.fed else ''}"
                f"{f', importance-sampled (noise shift {y.shift:.2f}' if y.shift else ''}"
                f"{f', {y.batches} batches)' if y.shift else ''}"
                f"{f', {y.refined:,} remade in their quantile bin' if y.refined else ''}) "
                f"meeting {' AND '.join(y.conditions)}"
            )
        for name, n in self.given.items():
            lines.append(f"{name}: {n:,} given rows kept unchanged")
        for name, n in self.removed.items():
            if n:
                lines.append(f"{name}: {n:,} rows removed with their family")
        return "\n".join(lines)


def sample_conditional(
    synth: Synthesizer,
    base: int,
    scale: float,
    sizes: Mapping[str, int] | None,
    where: str | Sequence[str] | None,
    parents: Mapping[str, pd.DataFrame] | None,
    progress: Progress | None = None,
) -> dict[str, pd.DataFrame]:
    """Sample the database ``synth`` learned, restricted to ``where``, below ``parents``."""
    from relsynth.models._torch import torch_threads

    with torch_threads(synth.n_threads):
        return _sample(synth, base, scale, sizes, where, parents, progress)


def _sample(
    synth: Synthesizer,
    base: int,
    scale: float,
    sizes: Mapping[str, int] | None,
    where: str | Sequence[str] | None,
    parents: Mapping[str, pd.DataFrame] | None,
    progress: Progress | None,
) -> dict[str, pd.DataFrame]:
    started = time.perf_counter()
    conditions = parse_conditions(synth.metadata, where, synth.dtypes_)
    given = given_frames(synth, parents)
    both = sorted(set(conditions) & set(given))
    if both:
        raise ConditionError(
            f"{', '.join(both)} is both given (parents=) and conditioned (where=); given "
            "rows are kept as they are: drop the condition or filter the rows you give."
        )
    order = synth.plan_.order
    keys = synth.key_generator_
    keys.selected_parents = _selections(synth, set(conditions) | set(given))
    try:
        done, yields, generated = _sample_tables(
            synth, base, scale, sizes, conditions, given, progress
        )
    finally:
        keys.selected_parents = frozenset()
    done = synth.key_generator_.fill_deferred(done, rng=stream(base, "deferred"))
    out = {
        name: given[name].copy()
        if name in given
        else finish_table(
            synth.metadata, name, done[name], synth.tables_[name], stream(base, "finish", name)
        )
        for name in order
    }
    out = rule_hooks.apply_aggregates(synth, out, stream(base, "rules", "aggregates"))
    out.update({name: frame.copy() for name, frame in given.items()})  # exactly as given
    for name, conds in conditions.items():  # finishing may move a value out of the condition
        out[name] = out[name][meets(conds, out[name])].reset_index(drop=True)
    out = cascade(synth.metadata, out, keep=set(given))
    check(synth.metadata, out).raise_for_violations()
    for frame in out.values():  # the writer refuses the source database by these
        frame.attrs["relsynth_source_digests"] = list(getattr(synth, "source_digests_", []))
    report = SampleReport(
        conditioned=yields,
        given={name: len(frame) for name, frame in given.items()},
        removed={n: generated[n] - len(out[n]) for n in order if generated[n] > len(out[n])},
        rows={n: len(out[n]) for n in order},
        seconds=time.perf_counter() - started,
    )
    synth.sample_report_ = report
    for line in str(report).splitlines():
        logger.info("%s", line)
    return out


def _selections(synth: Synthesizer, chosen: set[str]) -> frozenset[str]:
    """Tables whose rows are a selection: conditioned or given, or generated under one."""
    selected: set[str] = set()
    for name in synth.plan_.order:
        driver = synth.plan_.driver.get(name)
        if name in chosen or (driver is not None and driver.parent in selected):
            selected.add(name)
    return frozenset(selected)


def _sample_tables(
    synth: Synthesizer,
    base: int,
    scale: float,
    sizes: Mapping[str, int] | None,
    conditions: Mapping[str, list[Condition]],
    given: Mapping[str, pd.DataFrame],
    progress: Progress | None,
) -> tuple[dict[str, pd.DataFrame], dict[str, TableYield], dict[str, int]]:
    """Every table in plan order: given, conditioned (rejection) or sampled as usual;
    with the rows each table had before ancestors were trimmed."""
    order = synth.plan_.order
    selected = synth.key_generator_.selected_parents
    done: dict[str, pd.DataFrame] = {}
    yields: dict[str, TableYield] = {}
    generated: dict[str, int] = {}
    for i, name in enumerate(order):
        if name in given:
            done[name] = as_done(synth, name, given[name])
        elif name in conditions:
            done[name], yields[name] = _sample_conditioned(
                synth, name, done, scale, sizes, base, conditions[name]
            )
            trim_ancestors(synth, name, done, keep=set(given) | set(synth.copies_))
        else:
            done[name] = sample_table(synth, name, done, scale, sizes, stream(base, "sample", name))
        generated[name] = len(done[name]) if name not in yields else yields[name].kept
        driver = synth.plan_.driver.get(name)
        if name not in given and (driver is None or driver.parent not in selected):
            rng = stream(base, "where", name, "in-degree")
            if limit_secondary(synth, name, done, selected, rng):
                trim_ancestors(synth, name, done, keep=set(given) | set(synth.copies_))
        if progress is not None:
            progress("sample", name, i + 1, len(order))
    return done, yields, generated


def _sample_conditioned(
    synth: Synthesizer,
    name: str,
    done: Mapping[str, pd.DataFrame],
    scale: float,
    sizes: Mapping[str, int] | None,
    base: int,
    conditions: list[Condition],
) -> tuple[pd.DataFrame, TableYield]:
    """The rows of ``name`` meeting ``conditions``, by rejection in up to ``MAX_TRIES`` tries
    (from the model's conditional vector where it can take the condition)."""
    t0 = time.perf_counter()
    root = name in synth.plan_.roots and name not in synth.copies_
    wanted = None if sizes is None or name not in sizes else int(sizes[name])
    from relsynth.models._conditioned import fed

    feed = _feed(synth, name, conditions) if root else None
    if feed is not None and wanted is None:  # the qualifying share of the natural size
        natural = int(round(synth.fit_info_.rows.get(name, 0) * scale))
        share = min(max(feed.share, 0.0), 1.0)
        wanted = max(int(stream(base, "where", name, "count").binomial(natural, share)), 1)
    batch = None if wanted is None else {name: int(np.ceil(wanted * 1.1)) + 5}
    generated, frame, first, shift, batches, refined = 0, None, 0, None, None, 0
    if feed is None and wanted is None:  # importance sampling in the generator's noise
        finished = lambda f: _finished(synth, name, f, base)  # noqa: E731
        proposed = sample_by_tails(synth, name, done, scale, base, conditions, finished)
        if proposed is None:
            proposed = sample_by_proposal(synth, name, done, scale, base, conditions, finished)
        if proposed is not None:
            generated, first, shift = proposed.generated, 1, proposed.shift
            batches, refined = proposed.batches, proposed.refined
            if len(proposed.frame):
                frame, attempt = proposed.frame, 0
    for attempt in range(first, MAX_TRIES if frame is None else first):
        rng = (
            stream(base, "sample", name)
            if attempt == 0
            else stream(base, "where", name, f"{attempt}")
        )
        with fed(synth.models_[name], feed) if feed is not None else nullcontext():
            candidate = sample_table(synth, name, done, scale, batch or sizes, rng)
        generated += len(candidate)
        ok = meets(conditions, _finished(synth, name, candidate, base))
        kept = int(ok.sum())
        if wanted == 0 or (kept and (wanted is None or kept >= wanted)):
            frame = candidate[ok].reset_index(drop=True)
            if wanted is not None or attempt > 0:  # a grown batch keeps what was asked
                frame = frame.iloc[: 1 if wanted is None else wanted].reset_index(drop=True)
            break
        if root:  # a bigger batch; a child table draws its children and values again
            need = wanted if wanted is not None else 1
            rate = kept / max(len(candidate), 1)
            if feed is not None and rate < feed.share:  # the model misses the category
                rate, feed = feed.share, None  # more often than plain sampling: reject
            grown = 10 * len(candidate) if not rate else int(np.ceil(1.25 * need / rate))
            grown = max(grown, len(candidate) + 1)
            batch = {name: min(grown, _MAX_BATCH)}
    if frame is None:
        raise ConditionError(
            f"No sampled row of {name} meets {' AND '.join(c.text for c in conditions)} "
            f"({generated:,} rows generated in {MAX_TRIES} tries); the model does not produce "
            "such rows: loosen the condition."
        )
    result = TableYield(
        table=name,
        conditions=tuple(c.text for c in conditions),
        generated=generated,
        kept=len(frame),
        tries=attempt + 1,
        seconds=time.perf_counter() - t0,
        fed=None if feed is None else feed.column,  # the try that kept the rows
        shift=shift if frame is not None and attempt == 0 else None,
        batches=batches if frame is not None and attempt == 0 else None,
        refined=refined if frame is not None and attempt == 0 else 0,
    )
    return frame, result


def _feed(synth: Synthesizer, name: str, conditions: list[Condition]) -> Feed | None:
    """The conditional-vector feed of a root's model, if it takes one: a categorical
    equality/IN, else a numeric or date range (its quantile bins)."""
    from relsynth.models._conditioned import category_feed, numeric_feed

    model = synth.models_.get(name)
    if model is None:
        return None
    target = category_target(conditions)
    feed = None if target is None else category_feed(model, *target)
    span = range_target(conditions) if feed is None else None
    if span is not None and getattr(model, "context_encoder", "missing") is None:
        feed = numeric_feed(model, *span)
    return feed


def _finished(synth: Synthesizer, name: str, frame: pd.DataFrame, base: int) -> pd.DataFrame:
    """``frame`` as it will be written (dtypes, clock text), to evaluate conditions on."""
    return finish_table(
        synth.metadata, name, frame.copy(), synth.tables_[name], stream(base, "where-probe", name)
    )
