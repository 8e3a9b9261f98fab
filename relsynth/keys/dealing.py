"""Dealing a secondary key's parents to child rows: the sampling half of
:mod:`relsynth.keys.secondary`.

* :func:`valid_parents`: the parent rows a child may point at (key not NULL, every
  narrower key inside it finds its own parent);
* :func:`degree_assign` / :func:`assign_degree`: parents get in-degrees from the
  key's :class:`~relsynth.keys.cardinality.DegreeModel` (handed out by rank when
  an order is given), and child rows are dealt to those slots; junction keys keep
  their (group, parent) pairs unique (:func:`repair_unique`);
* :func:`assign_constrained`: a key whose columns are partly set already chooses
  among the parents that match them;
* :func:`one_per_group`: a key that another key determines (a
  :class:`~relsynth.metadata._rule.Determines` rule) takes one parent per group of
  rows sharing the determining key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from relsynth.errors import DataError
from relsynth.keys._frames import align, group_ids, isin_sorted, locate, take
from relsynth.keys.cardinality import DegreeModel
from relsynth.keys.ranking import by_rank
from relsynth.metadata.schema import ForeignKey, Metadata

__all__ = [
    "assign_constrained",
    "assign_degree",
    "degree_assign",
    "min_cap",
    "one_per_group",
    "repair_unique",
    "set_groups",
    "within_groups",
    "valid_parents",
]


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
    together: np.ndarray | None = None,
    inside: np.ndarray | None = None,
    prefer: np.ndarray | None = None,
) -> None:
    """Set ``fk``'s columns of ``rows`` (default: all) in place, following ``model``
    (the degrees handed out in the order of ``order`` when given). Rows with the same
    ``together`` number (one per row of ``frame``; -1: none) get one parent
    (:func:`one_per_group`, the group's ``prefer`` parent where room is left); a
    parent's rows stay within one ``inside`` number (:func:`within_groups`)."""
    rows = np.arange(len(frame)) if rows is None else rows
    pidx = degree_assign(
        frame, fk, model, parent, rows, rng, cap_one=cap_one, group=group, mask=mask, order=order
    )
    if together is not None:
        pidx = one_per_group(pidx, together[rows], rng, None if prefer is None else prefer[rows])
    if inside is not None:
        pidx = within_groups(pidx, inside[rows], rng)
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


def _apart(ids: np.ndarray) -> np.ndarray:
    """A copy of group ids where each row without a group (id < 0) is a group of its own."""
    out = ids.copy()
    alone = out < 0
    out[alone] = out.max(initial=-1) + 1 + np.arange(int(alone.sum()))
    return out


def one_per_group(
    pidx: np.ndarray,
    gid: np.ndarray,
    rng: np.random.Generator,
    prefer: np.ndarray | None = None,
) -> np.ndarray:
    """``pidx`` (the parents dealt to the rows) redealt so that the rows of a group (same
    ``gid`` >= 0) share one parent; a row with ``gid`` -1 is a group of its own.

    ``prefer`` (per row, the parent its group would take; -1: none): the groups, in
    random order, first take their preferred parent while its dealt slots have room
    for the whole group (:func:`_preferred_first`); the rest are dealt as below over
    the slots left.

    How a key that another key determines is drawn once per group: the dealt slots
    (-1, NULL, included) are laid out parent after parent (the parents in random
    order), the groups one after another over them (in random order), and each group
    of two rows or more takes the parent of a slot drawn uniformly in its own stretch:
    a parent's expected number of those rows is the number of their slots it covers,
    off in a sample by at most the two groups at the ends of its slots. The rows that
    are groups of one then take the slots left (each parent's dealt number less what
    the groups took, at random), which makes up for those ends: every parent ends with
    the in-degree it was dealt, except where the groups alone went over it.
    """
    n = len(pidx)
    if n == 0:
        return pidx.copy()
    if prefer is not None and (prefer >= 0).any():
        return _preferred_first(pidx, gid, prefer, rng)
    groups = _apart(gid)
    values, slot_parent = np.unique(pidx, return_inverse=True)
    shuffled = rng.permutation(len(values))[slot_parent]
    slots = pidx[np.argsort(shuffled, kind="stable")]
    _, inverse = np.unique(groups, return_inverse=True)
    sizes = np.bincount(inverse)
    order = rng.permutation(len(sizes))
    start = np.empty(len(sizes), dtype=np.int64)
    start[order] = np.cumsum(sizes[order]) - sizes[order]
    pick = start + np.floor(rng.random(len(sizes)) * sizes).astype(np.int64)
    chosen = np.searchsorted(values, slots[pick])  # per group, into values
    dealt = np.bincount(slot_parent, minlength=len(values))
    multi = sizes >= 2
    if multi.any() and not multi.all():
        _unload(chosen, sizes, multi, dealt, rng)
    out = values[chosen][inverse]
    single = sizes[inverse] == 1
    if single.any() and not single.all():
        taken = np.bincount(chosen[multi], weights=sizes[multi], minlength=len(values))
        left = np.repeat(values, np.maximum(dealt - taken.astype(np.int64), 0))
        out[single] = rng.permutation(left)[: int(single.sum())]  # one slot each at least
    return out


def _preferred_first(
    pidx: np.ndarray, gid: np.ndarray, prefer: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """:func:`one_per_group` with preferences: in a random order of the groups, a group
    takes its preferred parent (its first row's ``prefer``) where the slots dealt to
    that parent still hold all its rows (:func:`_fill_room`); the other groups share
    the slots left as :func:`one_per_group` deals them. Each parent keeps its dealt
    in-degree."""
    _, inverse = np.unique(_apart(gid), return_inverse=True)
    sizes = np.bincount(inverse)
    values, slot_parent = np.unique(pidx, return_inverse=True)
    room = np.bincount(slot_parent, minlength=len(values))
    first = np.zeros(len(sizes), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(pidx))[::-1]
    asked = prefer[first]
    want = np.minimum(np.searchsorted(values, asked), len(values) - 1)
    want = np.where((asked >= 0) & (values[want] == asked), want, -1)
    chosen = _fill_room(want, sizes, room, rng)
    out = np.empty(len(pidx), dtype=pidx.dtype)
    done = chosen[inverse] >= 0
    out[done] = values[chosen[inverse[done]]]
    if (~done).any():
        left = np.repeat(values, room)
        out[~done] = one_per_group(rng.permutation(left), gid[~done], rng)
    return out


def _fill_room(
    want: np.ndarray, sizes: np.ndarray, room: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Per group, the parent it wants (``want``; -1: none) where that parent's ``room``
    holds the group's ``sizes`` rows, the groups of a parent taken in random order (a
    group that does not fit is passed over; three rounds); -1 for the others. Uses up
    ``room`` in place."""
    chosen = np.full(len(sizes), -1, dtype=np.int64)
    for _ in range(3):
        asking = np.flatnonzero((want >= 0) & (chosen < 0))
        asking = asking[room[want[asking]] >= sizes[asking]]
        if not len(asking):
            break
        asking = asking[np.lexsort((rng.random(len(asking)), want[asking]))]
        w = want[asking]
        total = np.cumsum(sizes[asking])
        starts = np.searchsorted(w, w, side="left")
        before = total - sizes[asking] - np.concatenate(([0], total))[starts]
        won = asking[before + sizes[asking] <= room[w]]
        chosen[won] = want[won]
        room -= np.bincount(want[won], weights=sizes[won], minlength=len(room)).astype(room.dtype)
    return chosen


def _unload(
    chosen: np.ndarray,
    sizes: np.ndarray,
    multi: np.ndarray,
    dealt: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Move groups (of two rows or more) off the parents they overfill, onto parents
    with room for them (drawn by room left), in place: a parent dealt 2 slots that a
    group of 5 landed on gets its 2 rows back from the rows alone."""
    taken = np.bincount(chosen[multi], weights=sizes[multi], minlength=len(dealt))
    room = dealt - taken.astype(np.int64)
    for p in np.flatnonzero(room < 0):
        on = rng.permutation(np.flatnonzero(multi & (chosen == p)))
        for g in on:
            if room[p] >= 0:
                break
            fits = np.flatnonzero(room >= sizes[g])
            if not len(fits):
                continue
            q = fits[int(np.searchsorted(np.cumsum(room[fits]), rng.random() * room[fits].sum()))]
            chosen[g] = q
            room[q] -= sizes[g]
            room[p] += sizes[g]


def within_groups(pidx: np.ndarray, fam: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``pidx`` (the parents dealt to the rows) redealt so that each parent's rows fall
    within one group of rows (same ``fam`` >= 0; -1: a group of its own).

    The case of a key that determines the table's driver key (the groups are the
    driver's families, fixed before): :func:`one_per_group` with the roles turned,
    each parent's slots taking one family, the families' sizes as the capacities;
    where no way keeps every family's size, a few slots of an overfull family move to
    one short of rows (their parent is then split between two families). Each family
    then gets the slots it took, in random order. In-degrees are kept.
    """
    n = len(pidx)
    if n == 0:
        return pidx.copy()
    fam = _apart(fam)
    _, fam = np.unique(fam, return_inverse=True)
    taken = one_per_group(fam, pidx, rng)  # per slot, its family
    over = np.bincount(taken, minlength=fam.max() + 1) - np.bincount(fam)
    if (over != 0).any():
        extra = [
            rng.choice(np.flatnonzero(taken == j), int(over[j]), replace=False)
            for j in np.flatnonzero(over > 0)
        ]
        short = np.flatnonzero(over < 0)
        taken[np.concatenate(extra)] = rng.permutation(np.repeat(short, -over[short]))
    out = np.empty(n, dtype=pidx.dtype)
    out[np.argsort(fam, kind="stable")] = pidx[np.lexsort((rng.random(n), taken))]
    return out


def set_groups(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """A dense number per row of ``frame`` for the values of ``columns`` (-1: a NULL)."""
    if not len(frame):
        return np.zeros(0, dtype=np.int64)
    codes = frame.groupby(list(columns), sort=False, dropna=True).ngroup()
    return codes.to_numpy(dtype="float64", na_value=-1.0).astype(np.int64)


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
