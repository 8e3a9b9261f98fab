"""Families of kept rows: trim a conditioned child's ancestors, cascade removals.

Two operations on sampled frames, for conditional sampling
(:mod:`relsynth.synthesis._conditional`):

* :func:`trim_ancestors`: after a conditioned child table is filtered, its driver
  ancestors (the parent it was generated under, that parent's driver parent...)
  keep only the rows that a kept row below them points at, through any key: the
  customers of the qualifying orders, not every customer;
* :func:`limit_secondary`: a table generated outside the selection (under other
  parents) whose secondary key points into selected rows keeps, per selected parent,
  only as many rows as the learned in-degree draws for it: five given accounts get
  the dispositions five accounts have, not every disposition of the database;
* :func:`cascade`: rows whose foreign key points at a removed row are removed too
  (as ON DELETE CASCADE), through every key, until nothing changes.

Tables in ``keep`` (given rows, tables copied verbatim) are never trimmed.
Pure: pandas, numpy.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, MutableMapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from relsynth.metadata.schema import ForeignKey, Metadata

if TYPE_CHECKING:
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = ["cascade", "limit_secondary", "trim_ancestors"]


def _text(frame: pd.DataFrame) -> pd.MultiIndex:
    """Key values as text, numbers as floats first (1 and 1.0 are one key)."""
    cols = {}
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype
        ):
            values = values.astype("float64")
        cols[col] = values.astype(str).to_numpy()
    return pd.MultiIndex.from_frame(pd.DataFrame(cols))


def _referenced(child: pd.DataFrame, fk: ForeignKey, parent: pd.DataFrame) -> np.ndarray:
    """Per parent row: whether some child row points at it through ``fk``."""
    keys = child[list(fk.columns)].dropna()
    if parent.empty or keys.empty:
        return np.zeros(len(parent), dtype=bool)
    return _text(parent[list(fk.parent_columns)]).isin(_text(keys))


def _points_to_existing(child: pd.DataFrame, fk: ForeignKey, parent: pd.DataFrame) -> np.ndarray:
    """Per child row: whether its key is NULL or names a row of ``parent``."""
    keys = child[list(fk.columns)]
    null = keys.isna().any(axis=1).to_numpy()
    if keys.empty:
        return np.ones(0, dtype=bool)
    return null | _text(keys).isin(_text(parent[list(fk.parent_columns)]))


def trim_ancestors(
    synth: Synthesizer,
    name: str,
    done: MutableMapping[str, pd.DataFrame],
    *,
    keep: Collection[str],
) -> None:
    """Keep, up ``name``'s driver chain, only the ancestors of its kept rows (in place).

    An ancestor keeps the rows that a kept row of the chain below it points at through
    any key (an airport stays when a kept flight flies to it, not only when it is the
    parent the flight was generated under).
    """
    meta = synth.metadata
    chain = [name]
    driver = synth.plan_.driver.get(name)
    while driver is not None and driver.parent not in keep and driver.parent not in chain:
        parent = driver.parent
        used = np.zeros(len(done[parent]), dtype=bool)
        for fk in meta.foreign_keys:
            if fk.parent == parent and fk.child in chain and fk.child in done:
                used |= _referenced(done[fk.child], fk, done[parent])
        if not used.all():
            done[parent] = done[parent][used].reset_index(drop=True)
        chain.append(parent)
        driver = synth.plan_.driver.get(parent)


def limit_secondary(
    synth: Synthesizer,
    name: str,
    done: MutableMapping[str, pd.DataFrame],
    selected: Collection[str],
    rng: np.random.Generator,
) -> bool:
    """Drop the rows of ``name`` beyond each selected parent's learned in-degree (in place);
    True when rows were dropped."""
    from relsynth.keys.secondary import DegreeKey

    fks = list(synth.metadata.foreign_keys)
    frame = done[name]
    keep = np.ones(len(frame), dtype=bool)
    for sec in synth.key_generator_.states_[name].secondary:
        fk = fks[sec.fk]
        if not isinstance(sec, DegreeKey) or fk.parent not in selected or fk.parent == name:
            continue
        parent = _text(done[fk.parent][list(fk.parent_columns)])
        pos = parent.get_indexer(_text(frame[list(fk.columns)]))
        pos[frame[list(fk.columns)].isna().any(axis=1).to_numpy()] = -1
        allowed = sec.degree.draw(len(parent), rng)
        order = rng.permutation(len(frame))  # which children a parent keeps: at random
        rank = np.empty(len(frame), dtype=np.int64)
        rank[order] = pd.Series(pos[order]).groupby(pos[order]).cumcount().to_numpy()
        keep &= (pos < 0) | (rank < allowed[np.maximum(pos, 0)])
    if keep.all():
        return False
    done[name] = frame[keep].reset_index(drop=True)
    return True


def cascade(
    meta: Metadata, tables: Mapping[str, pd.DataFrame], *, keep: Collection[str]
) -> dict[str, pd.DataFrame]:
    """``tables`` less every row that points, through any key, at a row that is gone."""
    out = dict(tables)
    changed = True
    while changed:
        changed = False
        for fk in meta.foreign_keys:
            if fk.child in keep or fk.child not in out or fk.parent not in out:
                continue
            ok = _points_to_existing(out[fk.child], fk, out[fk.parent])
            if not ok.all():
                out[fk.child] = out[fk.child][ok].reset_index(drop=True)
                changed = True
    return out
