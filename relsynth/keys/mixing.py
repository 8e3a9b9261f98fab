"""A determined key's values spread over the rows' set keys as in the source.

A key B that another key A determines (``flights.tailnum determines
flights.carrier``) is drawn once per parent of A (:func:`~relsynth.keys.dealing.one_per_group`),
and A's parents are dealt to rows by in-degree only: a row's B then has nothing to
do with the keys the row already holds (its ``origin``, set by the driver). United
flies out of every airport alike.

:func:`mix_determined` redeals A's slots (each slot: A's parent and the B that
parent took) among the rows, keeping every parent's in-degree and its one B, so
that per value of the set keys the rows' B follow the source:

1. the source table of (set keys, B), from the table's joint model
   (:class:`~relsynth.keys.joint.JointKeys`: B is one of its keys, the set keys
   its keys that no draw moves, e.g. ``origin``);
2. iterative proportional fitting of that table to the sample's margins (rows per
   set-key value, slots per B; cells the source never holds get a tiny weight, so
   the fit exists for any margins);
3. rounding to whole rows with both margins exact (:func:`round_margins`);
4. inside each set-key value, rows get B labels by those counts, and inside each B
   the rows take that B's slots at random.

Rows whose set keys or B the source table does not know keep their slots. Without
a joint model holding B and a set key, nothing changes (today's dealing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from relsynth.keys._frames import parent_texts
from relsynth.metadata.schema import ForeignKey

if TYPE_CHECKING:
    from relsynth.keys.joint import JointKeys

__all__ = ["fit_margins", "mix_determined", "round_margins"]

#: IPF sweeps (rows then columns) at most, and the relative margin error that stops it.
IPF_SWEEPS = 200
IPF_TOL = 1e-9
#: Weight of a cell the source never holds, relative to the table's mean cell.
UNSEEN = 1e-6
#: Joins the set keys' texts of a row into one.
_SEP = "\x1e"


def mix_determined(
    frame: pd.DataFrame,
    joint: JointKeys | None,
    fks: Sequence[ForeignKey],
    done: Mapping[str, pd.DataFrame],
    b: int,
    determined: Mapping[int, int],
    rng: np.random.Generator,
) -> None:
    """Redeal the slots of the key that determines ``b`` (``determined[b]``) among
    ``frame``'s rows in place, so that ``b``'s values per value of the joint model's
    set keys follow the source (see the module docstring)."""
    if joint is None or b not in joint.fks or b not in determined or not len(frame):
        return
    a = determined[b]
    cond = [
        i
        for i, (k, m) in enumerate(zip(joint.fks, joint.movable, strict=True))
        if k != b and not m and set(fks[k].columns) <= set(frame.columns)
    ]
    if not cond or any(fks[k].parent not in done for k in (b, *(joint.fks[i] for i in cond))):
        return
    if set(fks[a].columns) & {c for i in cond for c in fks[joint.fks[i]].columns}:
        return  # moving A's slots would move a set key
    ib = joint.fks.index(b)
    table = pd.DataFrame(
        {
            "set": [_SEP.join(combo[i] for i in cond) for combo in joint.combos],
            "b": [combo[ib] for combo in joint.combos],
            "n": np.asarray(joint.counts, dtype=float),
        }
    )
    source = table.groupby(["set", "b"], sort=True)["n"].sum()
    s_rows = pd.Index(source.index.get_level_values(0).unique())
    s_cols = pd.Index(source.index.get_level_values(1).unique())
    set_keys = [fks[joint.fks[i]] for i in cond]
    texts = [parent_texts(frame, fk, done[fk.parent]) for fk in set_keys]
    r = s_rows.get_indexer([_SEP.join(t) for t in zip(*texts, strict=True)])
    c = s_cols.get_indexer(parent_texts(frame, fks[b], done[fks[b].parent]))
    rows = np.flatnonzero((r >= 0) & (c >= 0))
    if len(rows) < 2:
        return
    r, c = r[rows], c[rows]
    seed = np.zeros((len(s_rows), len(s_cols)))
    si = s_rows.get_indexer(source.index.get_level_values(0))
    sj = s_cols.get_indexer(source.index.get_level_values(1))
    seed[si, sj] = source.to_numpy()
    need_r = np.bincount(r, minlength=len(s_rows))
    need_c = np.bincount(c, minlength=len(s_cols))
    counts = round_margins(fit_margins(seed, need_r, need_c), need_r, need_c, rng)
    n_b = len(s_cols)
    label = np.empty(len(rows), dtype=np.int64)  # the B index each row gets
    label[_shuffled_by(r, rng)] = np.repeat(np.tile(np.arange(n_b), len(s_rows)), counts.ravel())
    src = np.empty(len(rows), dtype=np.int64)  # the row whose slot each row takes
    src[_shuffled_by(label, rng)] = rows[_shuffled_by(c, rng)]
    moved = [col for k in (a, b) for col in fks[k].columns]
    moved += [col for k, v in determined.items() if v == a and k != b for col in fks[k].columns]
    take_from = np.arange(len(frame))
    take_from[rows] = src
    for col in dict.fromkeys(x for x in moved if x in frame.columns):
        frame[col] = frame[col].iloc[take_from].set_axis(frame.index)


def _shuffled_by(group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Positions of ``group`` sorted by group, in random order within each group."""
    perm = rng.permutation(len(group))
    return perm[np.argsort(group[perm], kind="stable")]


def fit_margins(seed: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``seed`` (source counts) scaled by iterative proportional fitting to row sums
    ``rows`` and column sums ``cols`` (equal totals). Unseen cells weigh ``UNSEEN``
    of the mean cell, so a fit exists whatever the margins."""
    table = seed.astype(float)
    table = table + UNSEEN * max(table.mean(), 1.0) * (table <= 0)
    table[rows == 0, :] = 0.0
    table[:, cols == 0] = 0.0
    for _ in range(IPF_SWEEPS):
        table *= _ratio(rows, table.sum(axis=1))[:, None]
        table *= _ratio(cols, table.sum(axis=0))[None, :]
        err = np.abs(table.sum(axis=1) - rows).max(initial=0.0)
        if err <= IPF_TOL * max(rows.sum(), 1):
            break
    return table


def _ratio(want: np.ndarray, have: np.ndarray) -> np.ndarray:
    return np.divide(want, have, out=np.zeros(len(want)), where=have > 0)


def round_margins(
    table: np.ndarray, rows: np.ndarray, cols: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Whole numbers near ``table`` whose row sums are ``rows`` and column sums
    ``cols`` exactly (equal totals): the floors (trimmed where a margin is over), then
    one unit per cell by the largest remainder (ties at random) while both its row
    and column still lack some, then whatever is left cell by cell in that order."""
    out = np.floor(np.maximum(table, 0.0)).astype(np.int64)
    for axis, want in ((1, rows), (0, cols)):
        over = out.sum(axis=axis) - want
        for i in np.flatnonzero(over > 0):
            line = out[i] if axis == 1 else out[:, i]
            for j in np.argsort(-line, kind="stable"):
                cut = min(int(line[j]), int(over[i]))
                line[j] -= cut
                over[i] -= cut
                if not over[i]:
                    break
    need_r = rows - out.sum(axis=1)
    need_c = cols - out.sum(axis=0)
    frac = (table - out).ravel()
    order = np.lexsort((rng.random(frac.size), -frac))
    ii, jj = np.unravel_index(order, table.shape)
    for step in (1, None):
        for i, j in zip(ii.tolist(), jj.tolist(), strict=True):
            if not need_r.any():
                break
            add = min(need_r[i], need_c[j]) if step is None else min(need_r[i], need_c[j], 1)
            if add > 0:
                out[i, j] += add
                need_r[i] -= add
                need_c[j] -= add
    return out
