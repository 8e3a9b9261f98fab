"""Secondary matching: give each child row the nearest synthetic parent with capacity.

After the column models have drawn a child row's values (and the features of the
secondary parent it would prefer), :func:`match_by_preference` reassigns the key:
each parent keeps the in-degree the degree model drew (its capacity), each child
takes its nearest parent that still has a slot (up to its 8 nearest), and the
children left over are matched to the remaining slots along the parents' first
principal axis (1-D optimal transport). Junction pairs stay unique.

:func:`match_secondary` does it for one key, given the preferred parents' feature
vectors; :func:`match_values` for every secondary key of a sampled table that has a
:class:`~relsynth.keys.preference.ValuePreference` (the rows' values say which
parent they prefer). :class:`~relsynth.keys.KeyGenerator` exposes both as methods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from relsynth.errors import ParameterError
from relsynth.keys._frames import group_ids, locate, take
from relsynth.keys.dealing import repair_unique
from relsynth.keys.features import ParentFeatures
from relsynth.keys.state import TableKeys
from relsynth.metadata.schema import ForeignKey

__all__ = [
    "match_by_preference",
    "match_families",
    "match_secondary",
    "match_values",
    "match_within",
]


def match_secondary(
    fk: ForeignKey,
    child_keys: pd.DataFrame,
    preferred: np.ndarray,
    parent: pd.DataFrame,
    parent_vectors: np.ndarray,
    rng: np.random.Generator,
    unique_within: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Reassign a secondary key so each child row gets the nearest parent with capacity.

    Parameters
    ----------
    fk : ForeignKey
        A secondary (or deferred) key of ``child_keys``' table.
    child_keys : DataFrame
        The child's key columns as sampled (their current assignment sets each
        parent's capacity: the in-degree drawn by ``KeyGenerator.sample_table``).
    preferred : ndarray of shape (n_child, d)
        Per child row, the feature vector of the parent it would prefer.
    parent : DataFrame
        The parent table (its referenced key columns are read).
    parent_vectors : ndarray of shape (n_parent, d)
        Feature vectors of the parent rows, in the same space.
    rng : numpy.random.Generator
    unique_within : sequence of str, optional
        The columns within whose groups parents must differ (a junction key).

    Returns
    -------
    DataFrame
        A copy of ``child_keys`` with ``fk``'s columns reassigned; in-degrees and
        NULL rows are unchanged, and junction pairs stay unique.
    """
    return match_by_preference(
        fk, child_keys, preferred, parent, parent_vectors, rng, unique_within=unique_within
    )


def match_values(
    state: TableKeys,
    fks: Sequence[ForeignKey],
    features: Mapping[str, ParentFeatures],
    frame: pd.DataFrame,
    done: Mapping[str, pd.DataFrame],
    *,
    rng: np.random.Generator,
    exclude: frozenset[ForeignKey] = frozenset(),
    determined: Mapping[int, int] | None = None,
    joint: Mapping[int, Sequence[str]] | None = None,
    families: bool = False,
) -> pd.DataFrame:
    """``frame`` (a sampled table with its values) with each secondary key that
    has a :class:`~relsynth.keys.preference.ValuePreference` matched on the rows'
    values: each row gets the parent its values point to, among the parents with
    capacity left (in-degrees, ranking and NULL rows unchanged). Keys in
    ``exclude`` (kept by a path rule) and keys whose parent lacks the value
    columns (keys sampled alone) are left as they are.

    Parameters
    ----------
    state : TableKeys
        What the key generator learned about the table of ``frame``.
    fks : sequence of ForeignKey
        The metadata's foreign keys (the states index them).
    features : Mapping of str to ParentFeatures
        The parent tables' features.
    frame : DataFrame
        Its sampled rows: key columns from ``KeyGenerator.sample_table`` and value
        columns.
    done : Mapping of str to DataFrame
        The tables sampled before it (the parents, with their value columns).
    rng : numpy.random.Generator
    exclude : frozenset of ForeignKey
        Keys not to re-match.
    determined : Mapping of int to int, optional
        Per key that another key determines, that key (indices into ``fks``): the
        determined key is not re-matched (its parent was drawn once per parent of the
        other), and the determining key is matched among the rows that share the
        determined key's parent (:func:`match_within`), so the rule still holds.
    joint : Mapping of int to sequence of str, optional
        Per key drawn with others (:func:`~relsynth.keys.joint.joint_within`), the
        other keys' columns: it is matched among the rows that share them, so each
        group keeps its combinations.
    families : bool
        ``frame`` holds every row of its table (a parent's rows are all there): a key
        that determines another first moves whole families between parents of the
        same in-degree (:func:`match_families`; on a part of the rows that would give
        a parent rows of two families, so it is not done).

    Returns
    -------
    DataFrame
        ``frame`` itself when no key is matched, else a copy.
    """
    determined = determined or {}
    for sec in state.secondary:
        preference = getattr(sec, "preference", None)
        fk = fks[sec.fk]
        if preference is None or fk in exclude or fk.parent not in done or sec.fk in determined:
            continue
        parent_features = getattr(preference, "features", None) or features.get(fk.parent)
        parent = done[fk.parent]
        vectors = None if parent_features is None else parent_features.transform(parent)
        preferred = preference.preferred(frame, rng) if vectors is not None else None
        if preferred is None or vectors is None or not len(parent) or not len(frame):
            continue
        group = state.unique_within.get(sec.fk)
        within = [c for b, a in determined.items() if a == sec.fk for c in fks[b].columns]
        if within and families:  # a parent's rows share the determined keys: move them all
            chose = _chosen_columns(state, fks, sec.fk, determined)
            frame = match_families(fk, frame, preferred, parent, vectors, rng, chose)
        within += [c for c in (joint or {}).get(sec.fk, ()) if c not in within]
        if within:
            frame = match_within(fk, frame, preferred, parent, vectors, rng, within, group)
        else:
            frame = match_secondary(fk, frame, preferred, parent, vectors, rng, group)
    return frame


def _chosen_columns(
    state: TableKeys, fks: Sequence[ForeignKey], key: int, determined: Mapping[int, int]
) -> list[str]:
    """The columns of the keys that ``key`` determines whose parents ``key``'s parents
    chose by their values (:mod:`relsynth.keys.choice`): a family keeps them."""
    return [
        c
        for other in state.secondary
        if getattr(other, "choice", None) is not None
        and other.choice.by == key  # type: ignore[union-attr]
        and determined.get(other.fk) == key
        for c in fks[other.fk].columns
    ]


def match_within(
    fk: ForeignKey,
    child_keys: pd.DataFrame,
    preferred: np.ndarray,
    parent: pd.DataFrame,
    parent_vectors: np.ndarray,
    rng: np.random.Generator,
    columns: Sequence[str],
    unique_within: Sequence[str] | None = None,
) -> pd.DataFrame:
    """:func:`match_secondary` within each group of rows sharing ``columns``' values:
    a row is matched among the parents of its group's rows (their in-degrees in the
    group kept), so a key that ``fk`` determines (those columns) stays one per parent.
    A parent's rows all fall in one group, so junction pairs unique within each group
    (``unique_within``) are unique overall."""
    preferred = np.asarray(preferred, dtype=float)
    parent_vectors = np.asarray(parent_vectors, dtype=float)
    idx = locate(child_keys, fk.columns, parent, fk.parent_columns)
    gid = group_ids(child_keys, columns)
    pairs = group_ids(child_keys, unique_within) if unique_within else None
    out = {c: child_keys[c].astype(object).to_numpy().copy() for c in fk.columns}
    for g in np.unique(gid[idx >= 0]):
        rows = np.flatnonzero((gid == g) & (idx >= 0))
        used = np.unique(idx[rows])  # the group's parents; a row's is its position here
        result = _matched(
            np.searchsorted(used, idx[rows]),
            preferred[rows],
            parent_vectors[used],
            rng,
            None if pairs is None else pd.factorize(pairs[rows])[0],
        )
        chosen = np.where(result >= 0, used[np.maximum(result, 0)], -1)
        for c, pc in zip(fk.columns, fk.parent_columns, strict=False):
            out[c][rows] = take(parent[pc], chosen).astype(object).to_numpy()
    result = child_keys.copy()
    for c in fk.columns:
        result[c] = pd.Series(out[c], index=child_keys.index).astype(child_keys[c].dtype)
    return result


def match_families(
    fk: ForeignKey,
    child_keys: pd.DataFrame,
    preferred: np.ndarray,
    parent: pd.DataFrame,
    parent_vectors: np.ndarray,
    rng: np.random.Generator,
    keep: Sequence[str] = (),
) -> pd.DataFrame:
    """A copy of ``child_keys`` with whole families (the rows of one parent) moved
    between parents of the same in-degree: each family goes to the parent nearest its
    rows' mean preference (one family per parent). Each parent keeps its in-degree,
    each family its rows, so what the family shares (a key ``fk`` determines: a
    plane's airline) stays one per parent, and :func:`match_within` then matches the
    rows inside those groups. The families of a degree that one parent has stay.
    ``keep``: columns whose values a parent keeps (a key the parents chose by their
    values, :mod:`relsynth.keys.choice`): families move only between parents whose
    families share them."""
    preferred = np.asarray(preferred, dtype=float)
    idx = locate(child_keys, fk.columns, parent, fk.parent_columns)
    linked = idx >= 0
    degree = np.bincount(idx[linked], minlength=len(parent))
    sums = np.zeros((len(parent), preferred.shape[1]))
    np.add.at(sums, idx[linked], preferred[linked])
    kind = np.zeros(len(parent), dtype=np.int64)  # what a parent's family keeps
    if keep:
        kind[idx[linked]] = group_ids(child_keys, keep)[linked]
    moved = np.arange(len(parent))
    for d, k in sorted({(int(a), int(b)) for a, b in zip(degree, kind, strict=True) if a > 0}):
        members = np.flatnonzero((degree == d) & (kind == k))
        if len(members) < 2:
            continue
        means = sums[members] / d
        result = np.full(len(members), -1, dtype=np.int64)
        capacity = np.ones(len(members), dtype=np.int64)
        vectors = parent_vectors[members]
        pending = _nearest_with_capacity(
            means, vectors, rng.permutation(len(members)), capacity, result
        )
        if len(pending):
            _along_first_axis(means, vectors, pending, capacity, result)
        moved[members] = members[result]
    new = np.where(linked, moved[np.maximum(idx, 0)], -1)
    out = child_keys.copy()
    for c, pc in zip(fk.columns, fk.parent_columns, strict=False):
        out[c] = take(parent[pc], new)
    return out


def match_by_preference(
    fk: ForeignKey,
    child_keys: pd.DataFrame,
    preferred: np.ndarray,
    parent: pd.DataFrame,
    parent_vectors: np.ndarray,
    rng: np.random.Generator,
    *,
    unique_within: Sequence[str] | None,
) -> pd.DataFrame:
    """A copy of ``child_keys`` with ``fk``'s columns matched by preference.

    See :func:`match_secondary` for the parameters;
    ``unique_within`` are the columns within whose groups parents must differ.
    """
    preferred = np.asarray(preferred, dtype=float)
    parent_vectors = np.asarray(parent_vectors, dtype=float)
    if (
        preferred.ndim != 2
        or len(preferred) != len(child_keys)
        or parent_vectors.ndim != 2
        or len(parent_vectors) != len(parent)
        or preferred.shape[1] != parent_vectors.shape[1]
    ):
        raise ParameterError(
            "match_secondary: 'preferred' must have shape (n_child, d) and "
            "'parent_vectors' (n_parent, d) with the same d; got "
            f"{preferred.shape} for {len(child_keys)} child row(s) and "
            f"{parent_vectors.shape} for {len(parent)} parent row(s)."
        )
    idx = locate(child_keys, fk.columns, parent, fk.parent_columns)
    gid = group_ids(child_keys, unique_within) if unique_within and (idx >= 0).any() else None
    result = _matched(idx, preferred, parent_vectors, rng, gid)
    out = child_keys.copy()
    for c, pc in zip(fk.columns, fk.parent_columns, strict=False):
        out[c] = take(parent[pc], result)
    return out


def _matched(
    idx: np.ndarray,
    preferred: np.ndarray,
    parent_vectors: np.ndarray,
    rng: np.random.Generator,
    gid: np.ndarray | None,
) -> np.ndarray:
    """:func:`match_by_preference` on positions: ``idx`` each child row's parent (-1:
    none), ``gid`` the rows' groups within which parents must differ (None: no such
    rule); returns each row's new parent position (-1 where ``idx`` is)."""
    n_parent = len(parent_vectors)
    rows = np.nonzero(idx >= 0)[0]
    capacity = np.bincount(idx[rows], minlength=n_parent).astype(np.int64)
    result = np.full(len(idx), -1, dtype=np.int64)
    pending = rng.permutation(rows)
    if len(pending) and n_parent:
        pending = _nearest_with_capacity(preferred, parent_vectors, pending, capacity, result)
        if len(pending):
            _along_first_axis(preferred, parent_vectors, pending, capacity, result)
    if gid is not None and len(rows):
        result[rows] = repair_unique(gid[rows], result[rows], n_parent, rng)
    return result


def _nearest_with_capacity(
    preferred: np.ndarray,
    parent_vectors: np.ndarray,
    pending: np.ndarray,
    capacity: np.ndarray,
    result: np.ndarray,
) -> np.ndarray:
    """Match children to one of their 8 nearest parents with capacity (nearest first);
    fills ``result`` and uses up ``capacity``; returns the children left unmatched."""
    from scipy.spatial import cKDTree

    tree = cKDTree(parent_vectors)
    k = min(len(parent_vectors), 8)
    dist, cand = tree.query(preferred[pending], k=k)
    if k == 1:
        dist, cand = dist[:, None], cand[:, None]
    for j in range(k):  # the j-th nearest parent, for children still unmatched
        if not len(pending):
            break
        c, d = cand[:, j], dist[:, j]
        order = np.lexsort((d, c))  # by parent, nearest child first
        c_sorted = c[order]
        starts = np.searchsorted(c_sorted, c_sorted, side="left")
        rank = np.arange(len(c_sorted)) - starts
        won = order[rank < capacity[c_sorted]]
        result[pending[won]] = c[won]
        np.subtract.at(capacity, c[won], 1)
        keep = np.ones(len(pending), dtype=bool)
        keep[won] = False
        pending, cand, dist = pending[keep], cand[keep], dist[keep]
    return pending


def _along_first_axis(
    preferred: np.ndarray,
    parent_vectors: np.ndarray,
    pending: np.ndarray,
    capacity: np.ndarray,
    result: np.ndarray,
) -> None:
    """1-D optimal transport along the parents' first principal axis: the children
    and the remaining slots matched in sorted order (fills ``result``)."""
    n_parent = len(parent_vectors)
    slots = np.repeat(np.arange(n_parent), np.maximum(capacity, 0))
    centered = parent_vectors - parent_vectors.mean(axis=0)
    axis = (
        np.linalg.svd(centered, full_matrices=False)[2][0]
        if n_parent > 1
        else np.ones(parent_vectors.shape[1])
    )
    slot_order = slots[np.argsort(parent_vectors[slots] @ axis, kind="stable")]
    child_order = pending[np.argsort(preferred[pending] @ axis, kind="stable")]
    result[child_order] = slot_order[: len(child_order)]
