"""Secondary foreign keys: who a child row points at, besides its driver parent.

Fit (:func:`fit_secondary`), per secondary key of a table, one of:

* :class:`ImpliedKey`: the source always agrees with the value reached through
  the driver parent (``payment.customer_id == payment.rental.customer_id``), so
  the key is copied through the driver parent;
* :class:`DegreeKey`: the parents' in-degrees and the key's NULL rate
  (:class:`~relsynth.keys.cardinality.DegreeModel`); child rows are dealt to the
  parents' slots (:func:`degree_assign`). Which parent gets which of the drawn
  degrees follows the parents' values (:class:`SecondaryRanking`): a flight's
  destination is an airport like those the source's flights go to, not one drawn
  from all 1,458 airports alike.

Keys are assigned implied first, then the most specific (most columns) first. A
key whose columns are all set already (``flights.origin`` under
``flights.(origin, time_hour)``) is derived; one whose columns are partly set
chooses among the parents that match (:func:`assign_constrained`). Unique
constraints over foreign key columns become caps (:func:`fit_unique_caps`): a
one-to-one key gets at most one child per parent, a junction key unique pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relsynth.errors import DataError
from relsynth.keys._frames import align, group_ids, isin_sorted, locate, take
from relsynth.keys.cardinality import DegreeModel
from relsynth.keys.features import ParentFeatures
from relsynth.keys.preference import ValuePreference, fit_preference, matchable
from relsynth.keys.ranking import SecondaryRanking, by_rank, fit_ranking, parent_value_features
from relsynth.keys.skeleton import key_columns
from relsynth.metadata.graph import Plan
from relsynth.metadata.schema import ForeignKey, Metadata, Table

__all__ = [
    "DegreeKey",
    "ImpliedKey",
    "SecondaryFit",
    "assign_constrained",
    "assign_degree",
    "assign_secondary",
    "degree_assign",
    "degrees",
    "fit_secondary",
    "fit_unique_caps",
    "repair_unique",
    "secondary_from_dict",
    "valid_parents",
]


@dataclass(frozen=True)
class ImpliedKey:
    """A secondary key copied through the driver parent's key ``via`` (indices into
    ``metadata.foreign_keys``).

    ``degree`` (in-degrees over all source rows) serves the rows whose driver key is
    NULL, which have no parent to copy from; files written before it existed lack
    it (such a table then gives those rows a NULL key when it is nullable).
    """

    fk: int
    via: int
    degree: DegreeModel | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        out: dict[str, Any] = {"fk": self.fk, "mode": "implied", "via": self.via}
        if self.degree is not None:
            out["degree"] = self.degree.to_dict()
        return out


@dataclass(frozen=True)
class DegreeKey:
    """A secondary key whose parents get in-degrees from ``degree``, handed out in
    the order of ``ranking``'s draws when it has one (files written before it
    existed lack it: degrees then go to parents at random). With a ``preference``,
    the child rows are matched to those slots on their values once the values are
    drawn (:mod:`relsynth.keys.preference`; older files lack it: no matching).
    ``source_degree`` is set for a parent copied verbatim (a lookup or reference
    table): each parent key's in-degree in the source (those of at least
    ``MIN_SOURCE_DEGREE``), used instead of the ranking: the busiest airport of the
    source gets the largest drawn degree."""

    fk: int
    degree: DegreeModel
    ranking: SecondaryRanking | None = None
    preference: ValuePreference | None = None
    source_degree: dict[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        out: dict[str, Any] = {"fk": self.fk, "mode": "degree", "degree": self.degree.to_dict()}
        if self.ranking is not None:
            out["ranking"] = self.ranking.to_dict()
        if self.preference is not None:
            out["preference"] = self.preference.to_dict()
        if self.source_degree is not None:
            out["source_degree"] = dict(self.source_degree)
        return out


SecondaryFit = ImpliedKey | DegreeKey


def secondary_from_dict(data: Mapping[str, Any]) -> SecondaryFit:
    """Rebuild an :class:`ImpliedKey` or :class:`DegreeKey` from its ``to_dict``."""
    degree = DegreeModel.from_dict(data["degree"]) if data.get("degree") is not None else None
    if data["mode"] == "implied":
        return ImpliedKey(int(data["fk"]), int(data["via"]), degree)
    if degree is None:
        raise ValueError(f"secondary key {data.get('fk')!r} of mode 'degree' has no degree model")
    ranking, preference = data.get("ranking"), data.get("preference")
    source = data.get("source_degree")
    return DegreeKey(
        int(data["fk"]),
        degree,
        None if ranking is None else SecondaryRanking.from_dict(ranking),
        None if preference is None else ValuePreference.from_dict(preference),
        None if source is None else {str(k): int(v) for k, v in source.items()},
    )


# -- fit -------------------------------------------------------------------------------------


def fit_secondary(
    meta: Metadata,
    plan: Plan,
    name: str,
    frames: Mapping[str, pd.DataFrame],
    didx: np.ndarray | None,
    features: dict[str, ParentFeatures] | None = None,
    *,
    n_components: int = 4,
    bandwidth: str | float = "scott",
    n_neighbors: int = 32,
    copied: frozenset[str] = frozenset(),
) -> tuple[list[SecondaryFit], list[ForeignKey]]:
    """The secondary keys' fits in assignment order, and the keys in that order.

    With ``features`` (the parent tables' :class:`ParentFeatures`, filled here), each
    :class:`DegreeKey` learns its :class:`SecondaryRanking`; without it (the
    generator's ``parent_features="none"``), degrees go to parents at random. A key
    to a table in ``copied`` keeps its source in-degrees per parent key.
    """
    fks = list(meta.foreign_keys)
    frame = frames[name]
    driver = plan.driver.get(name)
    secondary = list(plan.secondary.get(name, ()))
    fits: list[SecondaryFit] = []
    implied = []
    for fk in secondary:
        via = _implied_via(meta, plan, fk, driver, frame, didx, frames)
        if via is not None:
            implied.append(fk)
            fits.append(ImpliedKey(fks.index(fk), fks.index(via), degrees(fk, frame, frames)))
    rest = sorted(
        (fk for fk in secondary if fk not in implied),
        key=lambda fk: (-len(fk.columns), fks.index(fk)),
    )
    for fk in rest:
        ranking, preference = None, None
        if features is not None:
            parent = frames[fk.parent]
            idx = locate(frame, fk.columns, parent, fk.parent_columns)
            ranking = fit_ranking(
                meta,
                fk,
                np.bincount(idx[idx >= 0], minlength=len(parent)),
                parent,
                features,
                n_components=n_components,
                bandwidth=bandwidth,
                n_neighbors=n_neighbors,
            )
            preference = _fit_preference(meta, fk, frames, features, n_components)
        source = _source_degree(fk, frame, frames[fk.parent]) if fk.parent in copied else None
        fits.append(
            DegreeKey(fks.index(fk), degrees(fk, frame, frames), ranking, preference, source)
        )
    return fits, implied + rest


#: Parents used by fewer source rows are not named in ``DegreeKey.source_degree``: a
#: code that one row uses is a one-off, withheld as a one-off category is.
MIN_SOURCE_DEGREE = 2


def _source_degree(fk: ForeignKey, frame: pd.DataFrame, parent: pd.DataFrame) -> dict[str, int]:
    """In-degree per parent key (as text) in the source, those of at least
    ``MIN_SOURCE_DEGREE``."""
    idx = locate(frame, fk.columns, parent, fk.parent_columns)
    deg = np.bincount(idx[idx >= 0], minlength=len(parent))
    names = _key_text(parent, fk.parent_columns)
    return {names[i]: int(deg[i]) for i in np.nonzero(deg >= MIN_SOURCE_DEGREE)[0]}


def _key_text(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Each row's key as one text (columns joined by a unit separator)."""
    parts = [frame[c].astype(object).map(str).tolist() for c in columns]
    return ["\x1f".join(p) for p in zip(*parts, strict=True)]


#: Column kinds a child's parent preference may read.
_LEARNED = ("numerical", "categorical", "boolean", "datetime")


def _fit_preference(
    meta: Metadata,
    fk: ForeignKey,
    frames: Mapping[str, pd.DataFrame],
    features: dict[str, ParentFeatures],
    n_components: int,
) -> ValuePreference | None:
    """The key's :class:`ValuePreference` (the parent's features are kept in
    ``features`` only when it has one); None when the key cannot be re-matched or no
    child column explains its parent."""
    if not matchable(meta, fk):
        return None
    frame, parent = frames[fk.child], frames[fk.parent]
    scratch = dict(features)
    pf, _ = parent_value_features(meta, fk.parent, parent, scratch, n_components)
    keys = key_columns(meta, fk.child)
    values = [  # what the table model draws (personal text is faked: it points nowhere)
        c.name
        for c in meta.table(fk.child).columns
        if c.name not in keys and c.name in frame and c.pii is None and c.kind in _LEARNED
    ]
    preference = fit_preference(fk, frame, values, parent, pf)
    if preference is not None:
        features[fk.parent] = pf
    return preference


def degrees(fk: ForeignKey, frame: pd.DataFrame, frames: Mapping[str, pd.DataFrame]) -> DegreeModel:
    """The in-degrees of ``fk``'s parents in the source, and its NULL rate."""
    parent = frames[fk.parent]
    idx = locate(frame, fk.columns, parent, fk.parent_columns)
    null = frame[list(fk.columns)].isna().any(axis=1).to_numpy()
    deg = np.bincount(idx[idx >= 0], minlength=len(parent))
    rate = float(null.mean()) if len(frame) else 0.0
    return DegreeModel().fit(deg, rate)


def _implied_via(
    meta: Metadata,
    plan: Plan,
    fk: ForeignKey,
    driver: ForeignKey | None,
    frame: pd.DataFrame,
    didx: np.ndarray | None,
    frames: Mapping[str, pd.DataFrame],
) -> ForeignKey | None:
    """The driver parent's key that always gives ``fk``'s value in the source, if any."""
    if driver is None or didx is None or set(fk.columns) & set(driver.columns):
        return None
    parent = frames[driver.parent]
    ok_rows = didx >= 0
    if not ok_rows.any():
        return None
    for via in meta.parents(driver.parent):
        if via.is_self_reference or via in plan.deferred or via.parent != fk.parent:
            continue
        mapping = dict(zip(via.parent_columns, via.columns, strict=False))
        if set(mapping) != set(fk.parent_columns):
            continue
        equal = True
        for child_col, parent_col in zip(fk.columns, fk.parent_columns, strict=False):
            a = frame[child_col].to_numpy(dtype=object)[ok_rows]
            b = parent[mapping[parent_col]].to_numpy(dtype=object)[didx[ok_rows]]
            na, nb = pd.isna(a), pd.isna(b)
            if not (np.array_equal(na, nb) and np.all(a[~na] == b[~nb])):
                equal = False
                break
        if equal:
            return via
    return None


def fit_unique_caps(
    table: Table, assigned: Sequence[ForeignKey], driver: ForeignKey | None, fks: list[ForeignKey]
) -> tuple[tuple[int, ...], dict[int, tuple[str, ...]]]:
    """Unique constraints over foreign key columns, as caps.

    Returns the keys with at most one child per parent (one-to-one), and per
    junction key the columns within whose groups its parents must be distinct.
    """
    cap_one: list[int] = []
    unique_within: dict[int, tuple[str, ...]] = {}
    fk_cols = {c for fk in assigned for c in fk.columns}
    for unique in [table.primary_key, *table.unique]:
        if not unique or not set(unique) <= fk_cols:
            continue
        covering = [fk for fk in assigned if set(fk.columns) & set(unique)]
        if len(covering) == 1 and set(covering[0].columns) == set(unique):
            cap_one.append(fks.index(covering[0]))
        elif len(covering) >= 2:
            last = covering[-1] if covering[-1] != driver else covering[0]
            unique_within[fks.index(last)] = tuple(c for c in unique if c not in last.columns)
    return tuple(cap_one), unique_within


# -- sample ----------------------------------------------------------------------------------


def assign_secondary(
    frame: pd.DataFrame,
    fits: Sequence[SecondaryFit],
    *,
    meta: Metadata,
    done: Mapping[str, pd.DataFrame],
    driver_idx: np.ndarray | None,
    driver: ForeignKey | None,
    cap_one: Sequence[int],
    unique_within: Mapping[int, Sequence[str]],
    rng: np.random.Generator,
    features: Mapping[str, ParentFeatures] | None = None,
) -> None:
    """Set the columns of every secondary key of ``frame`` in place, in ``fits``' order.

    ``driver_idx`` is the driver parent row of each row (-1: NULL driver key);
    ``features`` the parent tables' :class:`ParentFeatures` (for the rankings).
    """
    fks = list(meta.foreign_keys)
    for sec in fits:
        fk = fks[sec.fk]
        parent = done[fk.parent]
        if isinstance(sec, ImpliedKey):
            if driver is None or driver_idx is None:
                raise ValueError(f"implied key {fk.label} needs the table's driver parent")
            via = fks[sec.via]
            mapping = dict(zip(via.parent_columns, via.columns, strict=False))
            for c, pc in zip(fk.columns, fk.parent_columns, strict=False):
                frame[c] = take(done[driver.parent][mapping[pc]], driver_idx)
            if (driver_idx < 0).any() and sec.degree is not None:
                mask = valid_parents(parent, fk, meta, fks, done, fk.child)
                rows = np.nonzero(driver_idx < 0)[0]
                assign_degree(
                    frame, fk, sec.degree, mask, parent, rng, rows=rows, cap_one=sec.fk in cap_one
                )
            continue
        fixed = [c for c in fk.columns if c in frame.columns]
        if len(fixed) == len(fk.columns):
            continue  # derived from a wider key already assigned
        if fixed:
            assign_constrained(frame, fk, fixed, parent, rng)
            continue
        mask = valid_parents(parent, fk, meta, fks, done, fk.child)
        order = None
        source = getattr(sec, "source_degree", None)
        if source is not None:  # a copied parent: its rows are the source's
            order = np.array([source.get(k, 0) for k in _key_text(parent, fk.parent_columns)])
        elif sec.ranking is not None and features is not None:
            order = sec.ranking.draws(parent, features.get(fk.parent), rng)
        assign_degree(
            frame,
            fk,
            sec.degree,
            mask,
            parent,
            rng,
            rows=None,
            cap_one=sec.fk in cap_one,
            group=unique_within.get(sec.fk),
            order=order,
        )


def valid_parents(
    parent: pd.DataFrame,
    fk: ForeignKey,
    meta: Metadata,
    fks: Sequence[ForeignKey],
    done: Mapping[str, pd.DataFrame],
    table: str,
) -> np.ndarray:
    """Parent rows a child of ``fk`` may point at: key not NULL, and every narrower key
    of the child contained in ``fk``'s columns finds its own parent."""
    if len(parent) == 0:
        return np.zeros(0, dtype=bool)
    valid = parent[list(fk.parent_columns)].notna().all(axis=1).to_numpy().copy()
    mapping = dict(zip(fk.columns, fk.parent_columns, strict=False))
    for other in meta.parents(table):
        if other == fk or other.is_self_reference or other.parent not in done:
            continue
        if not set(other.columns) < set(fk.columns) and not (
            set(other.columns) == set(fk.columns) and fks.index(other) > fks.index(fk)
        ):
            continue
        proj = parent[[mapping[c] for c in other.columns]]
        proj.columns = list(other.columns)
        found = locate(proj, other.columns, done[other.parent], other.parent_columns) >= 0
        nulls = proj.isna().any(axis=1).to_numpy()
        valid &= found | (nulls & other.nullable)
    return valid


def assign_degree(
    frame: pd.DataFrame,
    fk: ForeignKey,
    model: DegreeModel,
    mask: np.ndarray,
    parent: pd.DataFrame,
    rng: np.random.Generator,
    *,
    rows: np.ndarray | None,
    cap_one: bool,
    group: Sequence[str] | None = None,
    order: np.ndarray | None = None,
) -> None:
    """Set ``fk``'s columns of ``rows`` (default: all) in place, following ``model``
    (the degrees handed out in the order of ``order`` when given)."""
    rows = np.arange(len(frame)) if rows is None else rows
    pidx = degree_assign(
        frame, fk, model, parent, rows, rng, cap_one=cap_one, group=group, mask=mask, order=order
    )
    for c, pc in zip(fk.columns, fk.parent_columns, strict=False):
        col = take(parent[pc], pidx)
        if len(rows) == len(frame):
            frame[c] = col
        else:
            merged = (
                frame[c].astype(object).to_numpy().copy()
                if c in frame
                else np.full(len(frame), None, dtype=object)
            )
            merged[rows] = col.astype(object).to_numpy()
            frame[c] = pd.Series(merged).infer_objects()


def degree_assign(
    frame: pd.DataFrame,
    fk: ForeignKey,
    model: DegreeModel,
    parent: pd.DataFrame,
    rows: np.ndarray,
    rng: np.random.Generator,
    *,
    cap_one: bool,
    group: Sequence[str] | None,
    mask: np.ndarray,
    order: np.ndarray | None = None,
) -> np.ndarray:
    """Parent row index for each of ``rows`` (-1 = NULL), following the degree model.

    ``order`` (one number per parent, e.g. :meth:`SecondaryRanking.draws`): the drawn
    degrees are handed out by rank, the largest to the parent with the largest
    number (ties at random), instead of at random.
    """
    m = len(rows)
    pidx = np.full(m, -1, dtype=np.int64)
    if m == 0:
        return pidx
    n_null = model.n_null(m, rng) if fk.nullable else 0
    if not mask.any():
        if not fk.nullable:
            raise DataError(
                f"Cannot assign foreign key {fk.label}: {m} child row(s) but no parent row "
                "to point at. Give the parent table rows (scale/sizes), or make the key "
                "nullable."
            )
        return pidx
    n_assign = m - n_null
    target = rng.permutation(m)[:n_assign]
    cap = 1 if cap_one else None
    if group:
        gid = group_ids(frame.iloc[rows], group)[target]
        n_groups = int(gid.max()) + 1 if len(gid) else 0
        cap = min_cap(cap, max(n_groups, 1))
    degrees = model.sample(len(parent), n_assign, rng, cap=cap, mask=mask)
    if order is not None:
        degrees = by_rank(degrees, order, mask, rng)
    slots = np.repeat(np.arange(len(parent), dtype=np.int64), degrees)
    if group:
        pidx[target] = _assign_unique(gid, slots, degrees, len(parent), rng)
    else:
        pidx[target] = rng.permutation(slots)
    return pidx


def min_cap(a: int | None, b: int) -> int:
    """The smaller of two caps, ``None`` meaning no cap."""
    return b if a is None else min(a, b)


def _assign_unique(
    gid: np.ndarray, slots: np.ndarray, degrees: np.ndarray, n_parent: int, rng: np.random.Generator
) -> np.ndarray:
    """Deal parent slots to rows so that (group, parent) pairs are unique.

    Rows are laid out round-robin (the first row of every group, largest groups
    first, then the second row of every group...) and parents' slots, largest
    degree first, fill that layout: a parent's consecutive slots land in distinct
    groups unless its degree exceeds a round's size; the rare clashes are then
    repaired by swaps that keep every degree.
    """
    m = len(gid)
    sizes = np.bincount(gid)
    grank_order = np.lexsort((rng.random(len(sizes)), -sizes))
    grank = np.empty(len(sizes), dtype=np.int64)
    grank[grank_order] = np.arange(len(sizes))
    order = np.argsort(gid, kind="stable")
    pos = np.empty(m, dtype=np.int64)
    starts = np.searchsorted(gid[order], gid[order], side="left")
    pos[order] = np.arange(m) - starts
    layout = np.lexsort((grank[gid], pos))
    p_order = np.lexsort((rng.random(n_parent), -degrees))
    dealt = np.repeat(p_order, degrees[p_order])
    out = np.empty(m, dtype=np.int64)
    out[layout] = dealt
    return repair_unique(gid, out, n_parent, rng)


def repair_unique(
    gid: np.ndarray, assigned: np.ndarray, n_parent: int, rng: np.random.Generator
) -> np.ndarray:
    """Swap parents between rows until no (group, parent) pair repeats; degrees kept."""
    out = assigned.copy()
    m = len(out)
    if m == 0:
        return out
    for _ in range(200):
        code = gid * n_parent + out
        dup = pd.Series(code).duplicated(keep="first").to_numpy()
        bad = np.nonzero(dup)[0]
        if len(bad) == 0:
            return out
        partners = rng.integers(0, m, len(bad))
        existing = np.unique(code)
        new_bad = gid[bad] * n_parent + out[partners]
        new_partner = gid[partners] * n_parent + out[bad]
        ok = (
            (gid[bad] != gid[partners])
            & ~isin_sorted(new_bad, existing)
            & ~isin_sorted(new_partner, existing)
        )
        bad, partners = bad[ok], partners[ok]
        # one swap per row per round
        _, first = np.unique(np.concatenate([bad, partners]), return_index=True)
        keep = np.zeros(len(bad) * 2, dtype=bool)
        keep[first] = True
        use = keep[: len(bad)] & keep[len(bad) :]
        bad, partners = bad[use], partners[use]
        out[bad], out[partners] = out[partners].copy(), out[bad].copy()
    # last resort (never seen in practice): give the row a parent its group lacks
    code = gid * n_parent + out
    dup = np.nonzero(pd.Series(code).duplicated(keep="first").to_numpy())[0]
    for row in dup:  # a handful of rows at most
        used = set(out[gid == gid[row]].tolist())
        free = [p for p in range(n_parent) if p not in used]
        if free:
            out[row] = free[int(rng.integers(0, len(free)))]
    return out


def assign_constrained(
    frame: pd.DataFrame,
    fk: ForeignKey,
    fixed: Sequence[str],
    parent: pd.DataFrame,
    rng: np.random.Generator,
) -> None:
    """Assign a key whose columns are partly set already: choose among matching parents."""
    mapping = dict(zip(fk.columns, fk.parent_columns, strict=False))
    n = len(frame)
    pidx = np.full(n, -1, dtype=np.int64)
    if n and len(parent):
        left = frame[list(fixed)].reset_index(drop=True)
        right = parent[[mapping[c] for c in fixed]].reset_index(drop=True)
        right.columns = list(fixed)
        left, right = align(left, right)
        right = right.assign(_pos=np.arange(len(right)))
        groups = right.groupby(list(fixed), sort=False, dropna=True)["_pos"].apply(np.asarray)
        lkeys = left.groupby(list(fixed), sort=False, dropna=True).indices
        for key, rows in lkeys.items():  # one iteration per distinct fixed value
            cand = groups.get(key)
            if cand is None or len(cand) == 0:
                continue
            pidx[rows] = cand[rng.integers(0, len(cand), len(rows))]
    if (pidx < 0).any() and not fk.nullable and n:
        raise DataError(
            f"Cannot assign foreign key {fk.label}: some rows' already-set columns "
            f"({', '.join(fixed)}) match no parent row. Declare the overlapping key on the "
            "wider key's parent too, so the values are consistent by construction."
        )
    for c in fk.columns:
        if c not in fixed:
            frame[c] = take(parent[mapping[c]], pidx)
    if (pidx < 0).any():
        for c in fixed:
            col = frame[c].astype(object).to_numpy().copy()
            col[pidx < 0] = None
            frame[c] = pd.Series(col).infer_objects()
