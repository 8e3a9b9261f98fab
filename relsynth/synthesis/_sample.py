"""Sampling one table, given the synthetic tables sampled before it, and a whole
database (:func:`sample_database`).

Per table, in plan order: a copied table's rows; else the key skeleton
(:meth:`KeyGenerator.sample_table <relsynth.keys.KeyGenerator.sample_table>`), path
rules on it, the context from the synthetic parents (:mod:`._context`), the
model's values (a sequence per driver parent for a sequential child), fake
personal text, the columns left NULL, the secondary keys matched on the values
(:func:`match_on_values`), then value rules. Finishing
(:mod:`._finish`) happens once every table is sampled and the deferred keys are
filled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from relsynth._random import stream
from relsynth.check import check
from relsynth.synthesis import _rule_hooks as rule_hooks
from relsynth.synthesis._context import (
    build_context,
    determined_features,
    parent_features,
    secondary_parents,
    time_key_columns,
)
from relsynth.synthesis._finish import finish_table, name_column
from relsynth.synthesis._progress import Progress, report
from relsynth.synthesis._sequence import sequence_order

if TYPE_CHECKING:
    from relsynth.metadata.schema import ForeignKey
    from relsynth.models.base import TableModel
    from relsynth.models.context import Context
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = [
    "fill_rows",
    "match_on_values",
    "row_context",
    "sample_database",
    "sample_keys",
    "sample_table",
    "sample_tables",
    "take_context",
]

logger = logging.getLogger(__name__)


def sample_table(
    synth: Synthesizer,
    name: str,
    done: Mapping[str, pd.DataFrame],
    scale: float,
    sizes: Mapping[str, int] | None,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """One table's rows (keys, values, text), before finishing."""
    fit = synth.tables_[name]
    if fit.copy is not None:
        return fit.copy.copy()
    keys = sample_keys(synth, name, done, scale, sizes, rng)
    model = fit.model
    driver = synth.plan_.driver.get(name)
    if model is not None and fit.sequence is not None and driver is not None:
        keys, values = _sample_sequence(synth, fit.sequence, keys, done, driver, model, rng)
        return _complete(synth, name, keys, values, done, rng, whole=True)
    context = row_context(synth, name, keys, done)
    return fill_rows(synth, name, keys, context, done, rng, whole=True)


def sample_keys(
    synth: Synthesizer,
    name: str,
    done: Mapping[str, pd.DataFrame],
    scale: float,
    sizes: Mapping[str, int] | None,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The key skeleton of a generated table (one row per row to generate), path rules
    met; a child of a copied table gets ``scale`` times its children per parent."""
    rules = rule_hooks.fitted_rules(synth)  # a key that another key determines (docs/keys.md)
    copied = [n for n, fit in synth.tables_.items() if fit.copy is not None]
    keys = synth.key_generator_.sample_table(
        name, done, scale=scale, sizes=sizes, rng=rng, rules=rules, copied=copied
    )
    return rule_hooks.match_paths(synth, name, keys.reset_index(drop=True), done, rng)


def row_context(
    synth: Synthesizer, name: str, keys: pd.DataFrame, done: Mapping[str, pd.DataFrame]
) -> Context | None:
    """The model context of each skeleton row (built on the whole skeleton: family sizes)."""
    fit = synth.tables_[name]
    dp = synth.fit_info_.dp
    if dp:  # DP models: the driver parent's values at most (relsynth.synthesis._dp)
        spec = dp.get("context", {}).get(name)
        if spec is None or name in dp.get("unconditional", ()):
            return None
        driver = synth.plan_.driver.get(name)
        return build_context(keys, driver, done, synth.layouts_, (), family=spec["family"])
    time_keys = time_key_columns(fit.layout, fit.dtypes)
    secondary = secondary_parents(synth.metadata, fit.context_keys)
    driver = synth.plan_.driver.get(name)
    rules = rule_hooks.context_rules(synth, name, fit.rule_context)
    determined = determined_features(keys, rules, fit.dtypes)
    return build_context(
        keys, driver, done, synth.layouts_, time_keys, secondary, determined=determined
    )


def take_context(context: Context | None, rows: np.ndarray) -> Context | None:
    """The rows ``rows`` (positions) of ``context``."""
    if context is None:
        return None
    from relsynth.models.context import Context as _Context

    def pick(part: Any) -> Any:
        if part is None:
            return None
        if isinstance(part, pd.DataFrame):
            return part.iloc[rows].reset_index(drop=True)
        return np.asarray(part)[rows]

    return _Context(
        parent=pick(context.parent),
        family_size=pick(context.family_size),
        position=pick(context.position),
        extra=pick(context.extra),
        family=pick(context.family),
    )


def fill_rows(
    synth: Synthesizer,
    name: str,
    keys: pd.DataFrame,
    context: Context | None,
    done: Mapping[str, pd.DataFrame],
    rng: np.random.Generator,
    *,
    whole: bool = False,
) -> pd.DataFrame:
    """Skeleton rows ``keys`` (with their ``context``) completed: model values, text, rules
    (``whole``: ``keys`` are every row of the table, see :func:`match_on_values`)."""
    model = synth.tables_[name].model
    if model is not None:
        values = model.sample(context, n_rows=len(keys), seed=rng)
    else:  # no learned columns, or an empty source table: NULLs
        learned = synth.tables_[name].layout.learned
        values = pd.DataFrame({c: [None] * len(keys) for c in learned})
    return _complete(synth, name, keys, values, done, rng, whole=whole)


def _complete(
    synth: Synthesizer,
    name: str,
    keys: pd.DataFrame,
    values: pd.DataFrame,
    done: Mapping[str, pd.DataFrame],
    rng: np.random.Generator,
    *,
    whole: bool = False,
) -> pd.DataFrame:
    fit = synth.tables_[name]
    frame = pd.concat([keys.reset_index(drop=True), values.reset_index(drop=True)], axis=1)
    for col, text_model in (fit.text_models or {}).items():
        names = name_column(frame, fit.layout)
        frame[col] = text_model.sample(len(frame), rng=rng, names=names).to_numpy()
    for col in fit.layout.empty:
        frame[col] = None
    frame = match_on_values(synth, name, frame, done, rng, whole=whole)
    return rule_hooks.derive_values(synth, name, frame, done, rng)


def match_on_values(
    synth: Synthesizer,
    name: str,
    frame: pd.DataFrame,
    done: Mapping[str, pd.DataFrame],
    rng: np.random.Generator,
    *,
    whole: bool = False,
) -> pd.DataFrame:
    """``frame`` with its secondary keys matched on the values just drawn
    (:meth:`KeyGenerator.match_values <relsynth.keys.KeyGenerator.match_values>`:
    each row gets a parent its values point to, every parent keeps its in-degree),
    before the value rules, which then hold for the parents chosen. Keys that a path
    rule ties to the driver's ancestor, and keys whose parents determine a value the
    model drew the row given (:func:`~._rule_hooks.context_keys`), stay as the
    skeleton set them. ``whole``: the frame holds every row of the table (not a
    conditional sampler's slots), so a key that determines another may move whole
    families (``families``)."""
    generator = synth.key_generator_
    if not hasattr(generator, "match_values"):  # a generator from an older release
        return frame
    exclude = rule_hooks.path_keys(synth, name) | rule_hooks.context_keys(synth, name)
    rules = rule_hooks.fitted_rules(synth)
    return generator.match_values(
        name, frame, done, rng=rng, exclude=exclude, rules=rules, families=whole
    )


def _sample_sequence(
    synth: Synthesizer,
    sequence: Mapping[str, object],
    keys: pd.DataFrame,
    done: Mapping[str, pd.DataFrame],
    driver: ForeignKey,
    model: TableModel,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The skeleton sorted sequence after sequence, and the model's values for it."""
    parent = done[driver.parent]
    seq_col = str(sequence["order_column"])
    order_idx = sequence_order(keys, driver, seq_col, parent)
    keys = keys.iloc[order_idx.order].reset_index(drop=True)
    context = parent_features(parent, driver.parent, synth.layouts_)
    values = model.sample(context, lengths=order_idx.lengths, seed=rng)
    if seq_col in values.columns:  # the keys decide the positions
        values = values.drop(columns=[seq_col])
    return keys, values


def sample_database(
    synth: Synthesizer,
    scale: float,
    sizes: Mapping[str, int] | None,
    base: int,
    progress: Progress | None,
    threads: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Every table (plan order), deferred keys, finishing, aggregates, checked: what
    ``Synthesizer.sample`` returns, and one chunk of ``sample_chunks``."""
    done = sample_tables(synth, scale, sizes, base, progress, threads)
    done = synth.key_generator_.fill_deferred(done, rng=stream(base, "deferred"))
    out = {
        name: finish_table(
            synth.metadata, name, done[name], synth.tables_[name], stream(base, "finish", name)
        )
        for name in synth.plan_.order
    }
    out = rule_hooks.apply_aggregates(synth, out, stream(base, "rules", "aggregates"))
    check(synth.metadata, out).raise_for_violations()
    return out


def sample_tables(
    synth: Synthesizer,
    scale: float,
    sizes: Mapping[str, int] | None,
    base: int,
    progress: Progress | None,
    threads: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Every table in plan order, each from the synthetic tables before it."""
    from relsynth.models._torch import torch_threads

    done: dict[str, pd.DataFrame] = {}
    order = synth.plan_.order
    # one pinned thread unless told: forward passes split among threads may round a
    # value differently, and the same seed must give the same rows on any machine
    with torch_threads(threads or synth.n_threads or 1):
        for i, name in enumerate(order):
            t0 = time.perf_counter()
            rng = stream(base, "sample", name)
            done[name] = sample_table(synth, name, done, scale, sizes, rng)
            logger.info(
                "sampled %s: %d rows in %.2fs", name, len(done[name]), time.perf_counter() - t0
            )
            report(progress, "sample", name, i + 1, len(order))
    return done
