"""Sampling one table, given the synthetic tables sampled before it.

Per table, in plan order: a copied table's rows; else the key skeleton
(:meth:`KeyGenerator.sample_table <relsynth.keys.KeyGenerator.sample_table>`), path
rules on it, the context from the synthetic parents (:mod:`._context`), the
model's values (a sequence per driver parent for a sequential child), fake
personal text, the columns left NULL, then value rules. Finishing
(:mod:`._finish`) happens once every table is sampled and the deferred keys are
filled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from relsynth.synthesis import _rule_hooks as rule_hooks
from relsynth.synthesis._context import (
    build_context,
    parent_features,
    secondary_parents,
    time_key_columns,
)
from relsynth.synthesis._finish import name_column
from relsynth.synthesis._sequence import sequence_order

if TYPE_CHECKING:
    from relsynth.metadata.schema import ForeignKey
    from relsynth.models.base import TableModel
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = ["sample_table"]


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
    keys = synth.key_generator_.sample_table(name, done, scale=scale, sizes=sizes, rng=rng)
    keys = rule_hooks.match_paths(synth, name, keys.reset_index(drop=True), done, rng)
    layout = fit.layout
    model = fit.model
    driver = synth.plan_.driver.get(name)
    if model is not None and fit.sequence is not None and driver is not None:
        keys, values = _sample_sequence(synth, fit.sequence, keys, done, driver, model, rng)
    elif model is not None:
        time_keys = time_key_columns(layout, fit.dtypes)
        secondary = secondary_parents(synth.metadata, fit.context_keys)
        context = build_context(keys, driver, done, synth.layouts_, time_keys, secondary)
        if name in synth.fit_info_.dp.get("unconditional", ()):  # DP models: no context
            context = None
        values = model.sample(context, n_rows=len(keys), seed=rng)
    else:  # no learned columns, or an empty source table: NULLs
        values = pd.DataFrame({c: [None] * len(keys) for c in layout.learned})
    values = values.reset_index(drop=True)
    frame = pd.concat([keys, values], axis=1)
    for col, text_model in (fit.text_models or {}).items():
        names = name_column(frame, layout)
        frame[col] = text_model.sample(len(frame), rng=rng, names=names).to_numpy()
    for col in layout.empty:
        frame[col] = None
    return rule_hooks.derive_values(synth, name, frame, done, rng)


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
