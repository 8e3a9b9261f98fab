"""The DP key skeleton: key-only tables drawn from DP releases, for the key generator.

Under differential privacy the key generator (cardinalities, degrees, key formats,
:mod:`relsynth.keys`) is never fitted on the source. It is fitted on a *skeleton*: a
database of key columns only (values NULL) made from DP releases:

* a root table's row count is a noisy count (Gaussian noise) (each entity adds at most
  ``ROOT_CAP`` rows);
* a child's rows per private parent follow a noisy, entity-weighted histogram of the
  source's children-per-parent counts (:func:`~relsynth.synthesis._dp_release.count_histogram`);
  under a public parent (a table the user marked ``reference``) children counts
  where each entity adds at most ``PUBLIC_CAP`` rows: a noisy count per parent row
  when there are at most ``FEW_PARENTS`` of them (districts), else the same
  histogram, its noise scaled to the sensitivity ``2 PUBLIC_CAP``;
* a secondary key points at a uniformly drawn row of a private parent; at a row of a
  public parent drawn in proportion to a noisy count per parent row (each entity
  counting at most ``PUBLIC_CAP`` rows), NULL at a noisy rate;
* key values are new (1..n, or ``"k1"``... for text keys).

Public tables enter the skeleton as they are. Everything here is post-processing
of the releases listed in :class:`~relsynth.synthesis._dp.Ledger`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from relsynth.synthesis import _dp_release as rel

if TYPE_CHECKING:
    from relsynth.metadata.graph import Plan
    from relsynth.metadata.schema import ForeignKey, Metadata
    from relsynth.synthesis._dp import Ledger

__all__ = ["PUBLIC_CAP", "ROOT_CAP", "build_skeleton", "pinned_public"]

#: Rows of a root table one entity may add to its noisy row count.
ROOT_CAP = 4
#: Rows of a table under a public parent one entity may add to the children counts.
PUBLIC_CAP = 2
#: Up to this many public parent rows, each gets its own noisy children count; above, the
#: counts are drawn from a noisy histogram (the per-row noise would swamp small counts).
FEW_PARENTS = 1000


def build_skeleton(
    meta: Metadata,
    plan: Plan,
    source: Mapping[str, pd.DataFrame],
    entity: Mapping[str, np.ndarray],
    ledger: Ledger,
    rng: np.random.Generator,
) -> dict[str, pd.DataFrame]:
    """Key-only frames for every private table (public ones as they are)."""
    out: dict[str, pd.DataFrame] = {}
    for name in plan.order:
        if name not in entity:
            out[name] = source[name]
            continue
        driver = plan.driver.get(name)
        if driver is None:
            per = np.bincount(_codes(entity[name])) if len(entity[name]) else np.zeros(0)
            n = rel.noisy_count(per, ROOT_CAP, ledger.take(name, "row count"), rng)
            frame = pd.DataFrame(index=range(n))
        else:
            frame = _children(meta, driver, source, entity, out, ledger, rng)
        for fk in plan.secondary.get(name, ()):
            _secondary(fk, frame, source, entity, out, ledger, rng)
        _primary_key(meta, name, frame, source[name])
        pk = list(meta.table(name).primary_key)
        if pk and all(c in frame.columns for c in pk):  # random secondaries may repeat
            frame = frame.drop_duplicates(pk).reset_index(drop=True)
        for col in meta.table(name).column_names:
            if col not in frame.columns:
                frame[col] = pd.Series([None] * len(frame), dtype=object)
        out[name] = frame[list(meta.table(name).column_names)]
    return out


def pinned_public(
    plan: Plan, public: set[str], private: list[str], source: Mapping[str, pd.DataFrame]
) -> list[str]:
    """The public tables whose rows keep, in the key generator, the children counts the
    skeleton gave each of them (the key generator's ``copied``): those counts are noisy
    counts per row (a driver parent of at most ``FEW_PARENTS`` rows, a secondary key's
    parent). Under a larger driver parent the skeleton's counts are drawn from a
    histogram and dealt at random: pinning them to rows would lose the cardinality
    model's dependence on the parent's values."""
    dealt = {
        fk.parent
        for name, fk in plan.driver.items()
        if name in private and fk is not None and len(source[fk.parent]) > FEW_PARENTS
    }
    return sorted(t for t in public if t not in dealt)


def _codes(values: np.ndarray) -> np.ndarray:
    return np.unique(values, return_inverse=True)[1]


def _parent_positions(fk: ForeignKey, child: pd.DataFrame, parent: pd.DataFrame) -> np.ndarray:
    """Row position in ``parent`` of each child row (-1: NULL key)."""
    left = child[list(fk.columns)].copy()
    left.columns = list(fk.parent_columns)
    right = parent[list(fk.parent_columns)].copy()
    right["__pos"] = np.arange(len(parent))
    merged = left.merge(right.drop_duplicates(list(fk.parent_columns)), how="left")
    return merged["__pos"].fillna(-1).to_numpy(dtype=np.int64)


def _children(meta, driver, source, entity, out, ledger, rng) -> pd.DataFrame:  # noqa: ANN001
    """Rows of a child table: counts per skeleton parent, the parent's key values."""
    name, parent = driver.child, driver.parent
    pos = _parent_positions(driver, source[name], source[parent])
    label = f"children per {parent}"
    skel_parent = out[parent]
    if parent in entity:  # private parent: a histogram of counts per parent row
        counts = np.bincount(pos[pos >= 0], minlength=len(source[parent]))
        hist = rel.count_histogram(counts, entity[parent], ledger.take(name, label), rng)
        drawn = rel.sample_counts(hist, len(skel_parent), rng)
    else:  # public parent: a histogram of per-parent counts (PUBLIC_CAP rows an entity)
        counts = _capped_counts(entity[name], pos, len(skel_parent))
        sigma = ledger.take(name, label)
        if len(counts) <= FEW_PARENTS:  # a noisy count per parent row (L2 <= PUBLIC_CAP)
            noisy = counts + rel.gaussian(len(counts), PUBLIC_CAP * sigma, rng)
            drawn = np.clip(np.round(noisy), 0, None).astype(np.int64)
        else:  # one weight per parent row in a histogram of counts: L2 <= L1 <= 2 PUBLIC_CAP
            ones = np.arange(len(counts))
            hist = rel.count_histogram(counts, ones, sigma * 2 * PUBLIC_CAP, rng)
            drawn = rel.sample_counts(hist, len(skel_parent), rng)
    if _unique(meta, name, driver.columns):
        drawn = np.minimum(drawn, 1)
    idx = np.repeat(np.arange(len(skel_parent)), drawn)
    frame = pd.DataFrame(index=range(len(idx)))
    for c, pc in zip(driver.columns, driver.parent_columns, strict=True):
        frame[c] = skel_parent[pc].to_numpy()[idx]
    return frame


def _capped_counts(ent: np.ndarray, pos: np.ndarray, n_parents: int) -> np.ndarray:
    """Children per parent row, counting at most ``PUBLIC_CAP`` rows of each entity: one
    entity then moves at most ``PUBLIC_CAP`` parents to another count (L1 <= 2 PUBLIC_CAP)."""
    order = np.argsort(ent, kind="stable")
    sorted_ent = ent[order]
    rank = np.arange(len(ent)) - np.searchsorted(sorted_ent, sorted_ent)
    kept = np.zeros(len(ent), dtype=bool)
    kept[order] = rank < PUBLIC_CAP
    ok = kept & (pos >= 0)
    return np.bincount(pos[ok], minlength=n_parents)


def _unique(meta: Metadata, table: str, columns: tuple[str, ...]) -> bool:
    t = meta.table(table)
    sets = [tuple(t.primary_key), *(tuple(u) for u in t.unique)]
    return any(set(u) and set(u) <= set(columns) for u in sets)


def _primary_key(meta: Metadata, name: str, frame: pd.DataFrame, real: pd.DataFrame) -> None:
    """New values for the key columns not set by a foreign key (unique by construction)."""
    table = meta.table(name)
    keys = {*table.primary_key, *(c for u in table.unique for c in u if len(u) == 1)}
    for col in sorted(keys):
        if col in frame.columns:
            continue
        numeric = pd.api.types.is_numeric_dtype(real[col].dtype)
        n = np.arange(1, len(frame) + 1)
        frame[col] = n if numeric else np.array([f"k{i}" for i in n], dtype=object)


def _secondary(fk, frame, source, entity, out, ledger, rng) -> None:  # noqa: ANN001
    """A secondary key: uniform parent rows, NULL at a noisy rate."""
    if any(c in frame.columns for c in fk.columns):
        return
    parent = out.get(fk.parent)
    n = len(frame)
    null = np.zeros(n, dtype=bool)
    if fk.nullable and fk.child in entity:
        real = source[fk.child][list(fk.columns)].isna().any(axis=1).to_numpy()
        sigma = ledger.take(fk.child, f"NULL rate of {','.join(fk.columns)}")
        null = rng.random(n) < rel.null_share(real, entity[fk.child], sigma, rng)
    if parent is None or len(parent) == 0:  # a self-reference or an empty parent
        null[:] = True
    pick = _secondary_parents(fk, source, entity, parent, n, ledger, rng)
    for c, pc in zip(fk.columns, fk.parent_columns, strict=True):
        if parent is None or len(parent) == 0:
            frame[c] = pd.Series([None] * n, dtype=object)
            continue
        values = parent[pc].iloc[pick].reset_index(drop=True)
        if null.any():
            values = values.astype(object).where(~null, None)
        frame[c] = values.to_numpy()


def _secondary_parents(fk, source, entity, parent, n, ledger, rng) -> np.ndarray:  # noqa: ANN001
    """The parent row of each of ``n`` skeleton rows for a secondary key: uniform under a
    private parent (its rows are the skeleton's, new); under a public parent in
    proportion to a noisy count of the source rows pointing at each of its rows (each
    entity counting at most ``PUBLIC_CAP`` rows: L2 <= ``PUBLIC_CAP``), the counts that
    do not stand out of the noise (5% over all rows) set to 0 (uniform when none does).
    A public parent's rows are the source's, so which airports flights go to is
    released, as a copied parent's children counts are (:func:`_children`)."""
    if parent is None or len(parent) == 0:
        return np.zeros(n, dtype=np.int64)
    if fk.parent in entity or fk.child not in entity:
        return rng.integers(0, len(parent), size=n)
    pos = _parent_positions(fk, source[fk.child], parent)
    counts = _capped_counts(entity[fk.child], pos, len(parent))
    sigma = PUBLIC_CAP * ledger.take(fk.child, f"parents of {','.join(fk.columns)}")
    noisy = counts + rel.gaussian(len(counts), sigma, rng)
    weights = np.where(noisy > sigma * rel._z(0.05 / len(noisy)), noisy, 0.0)
    if weights.sum() <= 0:
        return rng.integers(0, len(parent), size=n)
    return rng.choice(len(parent), size=n, p=weights / weights.sum())
