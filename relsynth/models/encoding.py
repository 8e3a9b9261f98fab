"""Reversible encoding of a table's columns into a float matrix (stage 3 of 5, models).

The models learn on a dense ``float32`` matrix made of *spans*: a scalar span (one
column, ``tanh`` output) for each continuous value, a one-hot span (``softmax``
output) for each categorical column, each Gaussian-mixture mode selector and each
NULL indicator. :class:`TableEncoder` builds that matrix from a DataFrame and turns
a generated matrix back into a DataFrame with the original column names, dtypes,
bounds, integer-ness and decimals.

This module is pure numpy/pandas (scikit-learn for the optional Bayesian Gaussian
mixture); it never imports torch. Encoders serialise to plain Python containers
(``state()``), so model files load with ``torch.load(..., weights_only=True)``.

Continuous columns use one of two transforms (``method``):

``"quantile"`` (default)
    The empirical CDF (1,000 stored quantiles, ties averaged as in scikit-learn's
    ``QuantileTransformer``) maps a value to ``[-1, 1]``; the inverse interpolates
    the stored quantiles. Chosen by benchmark, see ``docs/models.md``.
``"gmm"``
    Mode-specific normalisation of CTGAN (Xu et al., 2019, sec. 4.2): a Bayesian
    Gaussian mixture (at most 10 modes, fitted on a subsample) picks a mode per value,
    and the value is stored as ``(x - mu_k) / (4 sigma_k)`` plus the mode's one-hot.
"""

from __future__ import annotations

import datetime as dt
import decimal
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from relsynth._columns import datetime_seconds
from relsynth.errors import DataError, ParameterError

__all__ = [
    "CategoricalEncoder",
    "NumericalEncoder",
    "Span",
    "TableEncoder",
    "infer_kind",
]

Method = Literal["quantile", "gmm"]
MODEL_KINDS = ("numerical", "categorical", "datetime", "boolean")

#: Integer columns with at most this many distinct values are treated as categorical.
LOW_CARDINALITY_INT = 20
_N_QUANTILES = 1000
_GMM_MAX_MODES = 10
_GMM_SUBSAMPLE = 2000
_GMM_MIN_WEIGHT = 0.005
_MAX_DECIMALS = 8
#: A column with at most this many distinct values, each seen twice on average, is
#: *discrete*: decoded values snap to the nearest observed one.
SNAP_LEVELS = 1000
#: A categorical column is *distinct* when it has at least this many values per
#: non-NULL row (see :class:`CategoricalEncoder`).
DISTINCT_SHARE = 0.9
SNAP_MIN_REPEATS = 2
_SECONDS_STEPS = (86400.0, 3600.0, 60.0, 1.0)


@dataclass(frozen=True)
class Span:
    """A slice of the encoded matrix: ``[start, start + width)``.

    ``activation`` is ``"tanh"`` (one scalar) or ``"softmax"`` (a one-hot block);
    ``role`` is ``"value"``, ``"mode"``, ``"null"`` or ``"category"``.
    """

    start: int
    width: int
    activation: str
    column: str
    role: str

    @property
    def stop(self) -> int:
        """End (exclusive) of the span."""
        return self.start + self.width


def infer_kind(series: pd.Series) -> str:
    """Infer a model kind (numerical, categorical, datetime, boolean) from a dtype."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "numerical"  # a duration, in seconds
    if pd.api.types.is_integer_dtype(dtype):
        return "categorical" if series.nunique() <= LOW_CARDINALITY_INT else "numerical"
    if pd.api.types.is_float_dtype(dtype):
        return "numerical"
    if pd.api.types.infer_dtype(series, skipna=True) == "decimal":
        return "numerical"  # NUMERIC(p > 15), money
    return "categorical"


def is_distinct(series: pd.Series) -> bool:
    """Whether a column's values (nearly) all differ: at least two values, and at least
    ``DISTINCT_SHARE`` values per non-NULL row (the names of airlines or airports)."""
    values = series.dropna()
    distinct = values.nunique()
    return bool(distinct >= 2 and distinct >= DISTINCT_SHARE * len(values))


def _one_hot(index: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((len(index), width), dtype=np.float32)
    out[np.arange(len(index)), index] = 1.0
    return out


def _count_decimals(values: np.ndarray) -> int | None:
    """Smallest number of decimals that represents every value, or None (no rounding)."""
    if len(values) == 0:
        return None
    sample = values[:20000]
    scale = np.maximum(1.0, np.abs(sample))
    for d in range(_MAX_DECIMALS + 1):
        if np.all(np.abs(np.round(sample, d) - sample) <= 1e-9 * scale):
            return d
    return None


def _to_python(value: Any) -> Any:
    """Turn numpy scalars into plain Python values (state must be weights_only-safe)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, decimal.Decimal):  # NUMERIC(p > 15) and money read as Decimal
        return float(value)
    if isinstance(value, (dt.date, dt.time)):  # DATE/TIME objects of an object column
        return value.isoformat()
    return str(value)  # UUID, addresses, ...: their text, never a pickled object


def snap(x: np.ndarray, support: np.ndarray) -> np.ndarray:
    """The nearest value of the sorted ``support`` for each ``x`` (NaN stays NaN)."""
    if len(support) == 1:
        return np.where(np.isnan(x), np.nan, support[0])
    hi = np.searchsorted(support, x).clip(1, len(support) - 1)
    lo_closer = np.abs(x - support[hi - 1]) <= np.abs(support[hi] - x)
    out = np.where(lo_closer, support[hi - 1], support[hi])
    return np.where(np.isnan(x), np.nan, out)


class NumericalEncoder:
    """Encode a numerical or datetime column (see the module docstring for methods).

    Datetimes become float seconds since the epoch; integer-ness, observed decimals,
    the observed ``[min, max]`` range (values are clipped to it) and the dtype are
    restored on decoding. NULLs get a two-level indicator span.
    """

    def __init__(self, column: str, kind: str = "numerical", method: Method = "quantile") -> None:
        self.column = column
        self.kind = kind
        self.method = method

    # -- fit ----------------------------------------------------------------------------

    def _values(self, series: pd.Series) -> np.ndarray:
        if self.kind == "datetime":
            s = (
                series
                if pd.api.types.is_datetime64_any_dtype(series.dtype)
                else pd.to_datetime(series, errors="coerce", format="mixed")
            )
            return datetime_seconds(s)
        if pd.api.types.is_timedelta64_dtype(series.dtype):  # INTERVAL: seconds
            return series.dt.total_seconds().to_numpy(dtype=float, na_value=np.nan)
        x = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return np.where(np.isinf(x), np.nan, x)  # ±Inf: special values, see `specials`

    def fit(self, series: pd.Series, rng: np.random.Generator) -> NumericalEncoder:
        """Learn the transform from ``series``."""
        self.dtype = str(series.dtype)
        x = self._values(series)
        null = np.isnan(x)
        self.specials = _special_shares(series, null) if self.kind == "numerical" else [0.0, 0.0]
        valid = x[~null]
        self.has_null = bool(null.any())
        self.all_null = len(valid) == 0
        self.min = float(valid.min()) if len(valid) else 0.0
        self.max = float(valid.max()) if len(valid) else 0.0
        self.is_int = bool(len(valid)) and bool(np.all(valid == np.round(valid)))
        if pd.api.types.is_integer_dtype(series.dtype):
            self.is_int = True
        self.decimals = 0 if self.is_int else _count_decimals(valid)
        self.support: list[float] = []
        if len(valid):
            distinct = np.unique(valid)
            if len(distinct) <= SNAP_LEVELS and len(distinct) * SNAP_MIN_REPEATS <= len(valid):
                self.support = distinct.tolist()
        self.step = 0.0
        if self.kind == "datetime" and len(valid):
            self.step = next((s for s in _SECONDS_STEPS if np.all(valid % s == 0)), 0.0)
        self.quantiles: list[float] = []
        self.means: list[float] = []
        self.stds: list[float] = []
        self.weights: list[float] = []
        if not self.all_null:
            if self.method == "gmm":
                self._fit_gmm(valid, rng)
            else:
                levels = np.linspace(0.0, 1.0, min(_N_QUANTILES, max(len(valid), 2)))
                self.quantiles = np.quantile(valid, levels).tolist()
        return self

    def _fit_gmm(self, valid: np.ndarray, rng: np.random.Generator) -> None:
        from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
        from sklearn.mixture import BayesianGaussianMixture

        sub = valid if len(valid) <= _GMM_SUBSAMPLE else rng.choice(valid, _GMM_SUBSAMPLE, False)
        n_modes = int(min(_GMM_MAX_MODES, len(np.unique(sub))))
        if n_modes < 2:
            self.means, self.stds, self.weights = [float(sub.mean())], [1.0], [1.0]
            return
        gmm = BayesianGaussianMixture(
            n_components=n_modes,
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=0.001,  # CTGAN's value: prune unused modes
            max_iter=100,
            random_state=int(rng.integers(0, 2**31 - 1)),
        )
        # A mixture that stops at max_iter is still a usable mode split (CTGAN relies on
        # the same); sklearn's ConvergenceWarning is expected here and not actionable.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkConvergenceWarning)
            gmm.fit(sub.reshape(-1, 1))
        keep = gmm.weights_ > _GMM_MIN_WEIGHT
        self.means = gmm.means_.ravel()[keep].tolist()
        self.stds = np.sqrt(gmm.covariances_.ravel()[keep]).clip(1e-6).tolist()
        self.weights = (gmm.weights_[keep] / gmm.weights_[keep].sum()).tolist()

    # -- spans --------------------------------------------------------------------------

    def spans(self) -> list[tuple[int, str, str]]:
        """(width, activation, role) of each output span, in order."""
        out: list[tuple[int, str, str]] = []
        if not self.all_null:
            out.append((1, "tanh", "value"))
            if self.method == "gmm" and len(self.means) > 1:
                out.append((len(self.means), "softmax", "mode"))
        if self.has_null:
            out.append((2, "softmax", "null"))
        return out

    # -- transform / inverse ------------------------------------------------------------

    def transform(self, series: pd.Series, rng: np.random.Generator) -> np.ndarray:
        """Encode ``series`` into a ``(n, width)`` float32 block."""
        x = self._values(series)
        null = np.isnan(x)
        blocks = []
        if not self.all_null:
            filled = np.where(
                null,
                self.quantiles[len(self.quantiles) // 2] if self.quantiles else self.means[0],
                x,
            ).clip(self.min, self.max)
            if self.method == "gmm":
                blocks.extend(self._gmm_transform(filled, rng))
            else:
                q = np.asarray(self.quantiles)
                ref = np.linspace(0.0, 1.0, len(q))
                u = 0.5 * (np.interp(filled, q, ref) - np.interp(-filled, -q[::-1], -ref[::-1]))
                blocks.append((2.0 * u - 1.0).reshape(-1, 1) * 0.99)
        if self.has_null:
            blocks.append(_one_hot(null.astype(int), 2))
        if not blocks:
            return np.zeros((len(x), 0), dtype=np.float32)
        return np.hstack(blocks).astype(np.float32)

    def _gmm_transform(self, x: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        mu, sd, w = (np.asarray(v) for v in (self.means, self.stds, self.weights))
        logp = np.log(w) - np.log(sd) - 0.5 * ((x[:, None] - mu) / sd) ** 2
        p = np.exp(logp - logp.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        # Sample the mode from its posterior, as CTGAN does (Xu et al., 2019, sec. 4.2).
        mode = (p.cumsum(axis=1) < rng.random((len(x), 1))).sum(axis=1).clip(0, len(mu) - 1)
        scalar = ((x - mu[mode]) / (4.0 * sd[mode])).clip(-0.99, 0.99).reshape(-1, 1)
        if len(mu) == 1:
            return [scalar]
        return [scalar, _one_hot(mode, len(mu))]

    def inverse(self, block: np.ndarray, rng: np.random.Generator) -> pd.Series:
        """Decode a generated block (one-hot spans already hard) into a Series."""
        n = len(block)
        null = np.zeros(n, dtype=bool)
        if self.has_null:
            null = block[:, -2:].argmax(axis=1) == 1
        if self.all_null:
            x = np.full(n, np.nan)
        else:
            v = np.clip(block[:, 0].astype(float), -1.0, 1.0)
            if self.method == "gmm":
                mu, sd = np.asarray(self.means), np.asarray(self.stds)
                mode = block[:, 1 : 1 + len(mu)].argmax(axis=1) if len(mu) > 1 else np.zeros(n, int)
                x = v * 4.0 * sd[mode] + mu[mode]
            else:
                q = np.asarray(self.quantiles)
                x = np.interp((v / 0.99 + 1.0) / 2.0, np.linspace(0.0, 1.0, len(q)), q)
            x = self._finish(x)
        return self._restore(x, null, rng)

    def _finish(self, x: np.ndarray) -> np.ndarray:
        x = np.clip(x, self.min, self.max)
        if self.support:  # discrete: the nearest observed value
            return snap(x, np.asarray(self.support))
        if self.kind == "datetime" and self.step > 0:
            x = np.round(x / self.step) * self.step
        elif self.is_int:
            x = np.round(x)
        elif self.decimals is not None:
            x = np.round(x, self.decimals)
        return np.clip(x, self.min, self.max)

    def _restore(
        self, x: np.ndarray, null: np.ndarray, rng: np.random.Generator | None = None
    ) -> pd.Series:
        x = np.where(null, np.nan, x)
        pos, neg = getattr(self, "specials", (0.0, 0.0))
        if (pos > 0 or neg > 0) and rng is not None and null.any():
            # ±Inf was learned as part of the NULL indicator; split the "missing" rows
            # back into +Inf, -Inf and NULL at the source's shares.
            u = rng.random(int(null.sum()))
            x[null] = np.where(u < pos, np.inf, np.where(u < pos + neg, -np.inf, np.nan))
            null = np.isnan(x)
        if self.kind == "datetime":
            ns = np.where(null, 0, np.round(x * 1e6)).astype("int64").astype("datetime64[us]")
            s = pd.Series(ns).where(~null)
            dtype = pd.api.types.pandas_dtype(self.dtype)
            if isinstance(dtype, pd.DatetimeTZDtype):
                return s.dt.tz_localize("UTC").dt.tz_convert(dtype.tz).astype(dtype)
            if pd.api.types.is_datetime64_dtype(dtype):
                return s.astype(dtype)
            return s.astype("datetime64[ns]")
        if self.dtype.startswith("timedelta64"):  # seconds back to a duration
            micros = np.where(null, 0, np.round(x * 1e6)).astype("int64")
            return pd.Series(micros.astype("timedelta64[us]")).where(~null).astype(self.dtype)
        if self.dtype in ("uint64", "UInt64"):  # BIGINT UNSIGNED: no float overflow
            u = np.clip(np.where(null, 0.0, x), 0, np.nextafter(2.0**64, 0)).astype("uint64")
            if self.dtype == "uint64" and not null.any():
                return pd.Series(u)
            out = pd.array(u, dtype="UInt64")
            out[null] = pd.NA
            return pd.Series(out)
        if pd.api.types.is_integer_dtype(pd.api.types.pandas_dtype(self.dtype)):
            if not null.any() and not pd.api.types.is_extension_array_dtype(
                pd.api.types.pandas_dtype(self.dtype)
            ):
                return pd.Series(x.astype(self.dtype))
            arr = pd.array(np.where(null, 0, x).astype("int64"), dtype="Int64")
            arr[null] = pd.NA
            return pd.Series(arr)
        if self.dtype == "Float64":
            arr = pd.array(np.where(null, 0.0, x), dtype="Float64")
            arr[null] = pd.NA
            return pd.Series(arr)
        if self.dtype in ("float32", "float64"):
            return pd.Series(x.astype(self.dtype))
        return pd.Series(x.astype(float))

    # -- state --------------------------------------------------------------------------

    _STATE = (
        "column",
        "kind",
        "method",
        "dtype",
        "has_null",
        "all_null",
        "min",
        "max",
        "is_int",
        "decimals",
        "step",
        "support",
        "quantiles",
        "means",
        "stds",
        "weights",
        "specials",
    )

    def state(self) -> dict[str, Any]:
        """Plain-Python state (weights_only-safe)."""
        return {"type": "numerical", **{k: getattr(self, k) for k in self._STATE}}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> NumericalEncoder:
        """Rebuild from :meth:`state`."""
        enc = cls(state["column"], state["kind"], state["method"])
        for k in cls._STATE:
            default = {"support": [], "specials": [0.0, 0.0]}
            setattr(enc, k, state[k] if k in state else default[k])
        return enc


def _special_shares(series: pd.Series, missing: np.ndarray) -> list[float]:
    """Shares of +Inf and -Inf among the values that are NULL or infinite.

    ±Inf are *special values*: like NULL they have no place on the number line, so the
    encoder's NULL indicator learns "missing or infinite" and decoding splits those
    rows back at these shares (a float column keeps its ±Inf, as a careful tool would;
    writers refuse them only where the dialect cannot store them, e.g. MariaDB).
    """
    raw = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    total = int(missing.sum())
    if total == 0:
        return [0.0, 0.0]
    return [float(np.sum(raw == np.inf) / total), float(np.sum(raw == -np.inf) / total)]


class CategoricalEncoder:
    """One-hot encode a categorical or boolean column, NULL as its own category.

    Categories rarer than ``rare_fraction`` of the rows, and every category beyond the
    ``max_levels - 16`` most frequent ones, are grouped into at most 16 frequency-ranked
    buckets of roughly equal mass; a generated bucket is decoded by sampling one of its
    members in proportion to their observed frequencies. A 5,000-category column thus
    costs a ``max_levels``-wide one-hot at most, and only ever yields observed values.

    A column whose values are (nearly) all distinct in the data, such as the names of
    airlines or airports (at least two values, and at least ``DISTINCT_SHARE`` times
    as many values as non-NULL rows), is *distinct*: decoding then uses each
    value at most ``ceil(count * n_decoded / n_data)`` times (``count`` its number of
    rows in the data, the ``n`` counting non-NULL rows), so that a sample no larger
    than the data repeats a value no more often than the data do. A row keeps the value
    it was generated with while that value's quota lasts; the others take the values
    least used relative to their count, at random among equals.

    Under :func:`relsynth.models._rare.withhold_rare_categories` (``k >= 2``; the
    synthesizer's ``min_category_count``), values held by fewer than ``k`` rows are
    *withheld*: folded into one extra *other* level (the last), left out of the state,
    and decoded into replacements (see :mod:`relsynth.models._rare`). ``withheld``
    counts them.
    """

    def __init__(
        self,
        column: str,
        kind: str = "categorical",
        *,
        max_levels: int = 200,
        rare_fraction: float = 0.001,
    ) -> None:
        self.column = column
        self.kind = kind
        self.max_levels = max_levels
        self.rare_fraction = rare_fraction

    def fit(self, series: pd.Series, rng: np.random.Generator | None = None) -> CategoricalEncoder:
        """Learn the categories and their frequencies (``rng`` salts withheld digests)."""
        self.dtype = str(series.dtype)
        if isinstance(series.dtype, pd.CategoricalDtype):
            self.dtype = str(series.dtype.categories.dtype)
        counts = series.astype(object).where(series.notna(), None).value_counts(dropna=False)
        counts = counts.sort_values(ascending=False, kind="stable")
        counts, n_other = self._withhold(series, counts, rng)
        self.categories = [_to_python(v) for v in counts.index]
        freq = counts.to_numpy(dtype=float)
        n = max(freq.sum() + n_other, 1.0)
        n_single = min(len(freq), max(self.max_levels - 16, 1))
        single = np.arange(len(freq)) < n_single
        single &= freq >= self.rare_fraction * n
        single[:1] = True
        self.members: list[list[int]] = [[i] for i in np.flatnonzero(single).tolist()]
        self.member_probs: list[list[float]] = [[1.0] for _ in self.members]
        tail = np.flatnonzero(~single)
        if len(tail):
            mass = freq[tail].cumsum() - freq[tail]
            n_buckets = min(16, -(-len(tail) // 8))  # about 8+ categories per bucket
            bucket = np.floor(mass / freq[tail].sum() * n_buckets).astype(int)
            for b in np.unique(bucket):
                idx = tail[bucket == b]
                self.members.append(idx.tolist())
                self.member_probs.append((freq[idx] / freq[idx].sum()).tolist())
        self.level_freq = [float(freq[m].sum() / n) for m in self.members]
        self.other_level = None
        if n_other:
            self.other_level = len(self.members)
            self.members.append([])
            self.member_probs.append([])
            self.level_freq.append(float(n_other / n))
        self.distinct = is_distinct(series)
        self.counts = freq.tolist() if self.distinct else None
        return self

    def _withhold(
        self, series: pd.Series, counts: pd.Series, rng: np.random.Generator | None
    ) -> tuple[pd.Series, int]:
        """Drop the values held by fewer than ``k`` rows; return the rest and their rows."""
        from relsynth.models._rare import current_min_category_count, fit_replacement

        self.min_count = current_min_category_count()
        self.withheld, self.other = 0, None
        if self.min_count <= 1 or self.kind == "boolean":
            return counts, 0
        rare = (counts < self.min_count) & pd.notna(counts.index.to_series()).to_numpy()
        if not rare.any():
            return counts, 0
        kept = counts[~rare]
        self.withheld = int(rare.sum())
        string_like = not pd.api.types.is_numeric_dtype(series.dtype)  # booleans too
        n_kept = int(pd.notna(kept.index.to_series()).sum())
        self.other = fit_replacement(
            self.column,
            counts.index[rare].to_series(),
            n_kept,
            string_like,
            rng if rng is not None else np.random.default_rng(),
            rare_share=float(counts[rare].sum() / max(counts.sum(), 1)),
        )
        return kept, int(counts[rare].sum())

    def spans(self) -> list[tuple[int, str, str]]:
        """(width, activation, role) of each output span."""
        return [(len(self.members), "softmax", "category")]

    def _lookup(self) -> dict[Any, int]:
        table: dict[Any, int] = {}
        for level, members in enumerate(self.members):
            for m in members:
                table[self.categories[m]] = level
        return table

    def levels_of(self, series: pd.Series) -> np.ndarray:
        """Level index of each value (unseen values map to the most frequent level)."""
        values = series.astype(object).where(series.notna(), None)
        mapped = values.map(self._lookup())
        other = getattr(self, "other_level", None)  # withheld values: the other level
        return mapped.fillna(0 if other is None else other).to_numpy(dtype=np.int64)

    def transform(self, series: pd.Series, rng: np.random.Generator | None = None) -> np.ndarray:
        """One-hot block ``(n, n_levels)``."""
        del rng
        return _one_hot(self.levels_of(series), len(self.members))

    def inverse(self, block: np.ndarray, rng: np.random.Generator) -> pd.Series:
        """Decode a hard one-hot block into a Series of observed categories."""
        level = block.argmax(axis=1)
        cats = np.empty(len(self.categories), dtype=object)
        cats[:] = self.categories
        codes = np.zeros(len(level), dtype=np.int64)
        for lv, (members, probs) in enumerate(zip(self.members, self.member_probs, strict=True)):
            rows = np.flatnonzero(level == lv)
            if len(rows) == 0:
                continue
            if lv == self.other_level:
                codes[rows] = -1
            elif len(members) == 1:
                codes[rows] = members[0]
            else:
                codes[rows] = rng.choice(members, size=len(rows), p=probs)
        kept = codes >= 0
        if self.distinct and kept.any():
            codes[kept] = self._spread(codes[kept], rng)
        out = np.empty(len(codes), dtype=object)
        out[kept] = cats[codes[kept]]
        if not kept.all():
            out[~kept] = self._replacements(int((~kept).sum()), rng)
        return self._restore(out)

    def _replacements(self, n: int, rng: np.random.Generator) -> list[Any]:
        from relsynth.models._rare import draw_replacements

        share = np.zeros(len(self.categories))
        for freq, members, probs in zip(
            self.level_freq, self.members, self.member_probs, strict=True
        ):
            share[members] += np.asarray(probs, dtype=float) * freq
        valued = [i for i, c in enumerate(self.categories) if c is not None]
        kept = [self.categories[i] for i in valued]
        return draw_replacements(self.other or {}, n, rng, kept, share[valued].tolist())

    def _spread(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Re-assign the over-quota repeats of a distinct column's values (see the class)."""
        valued = np.array([c is not None for c in self.categories])
        counts = np.where(valued, np.asarray(self.counts, dtype=float), 0.0)
        rows = rng.permutation(np.flatnonzero(valued[codes]))  # random: who keeps its value
        if len(rows) == 0:
            return codes
        quota = np.ceil(counts * len(rows) / counts.sum()).astype(np.int64)
        by_value = np.argsort(codes[rows], kind="stable")
        sorted_codes = codes[rows][by_value]
        rank = np.empty(len(rows), dtype=np.int64)  # earlier draws of the same value
        rank[by_value] = np.arange(len(rows)) - np.searchsorted(sorted_codes, sorted_codes)
        keep = rank < quota[codes[rows]]
        moved = rows[~keep]
        if len(moved) == 0:
            return codes
        taken = np.bincount(codes[rows[keep]], minlength=len(self.categories))
        room = quota - taken
        slot_value = np.repeat(np.arange(len(room)), room)
        slot_use = np.repeat(taken, room) + (
            np.arange(room.sum()) - np.repeat(np.cumsum(room) - room, room)
        )
        fill = slot_use / counts[slot_value]  # least used relative to its count first
        pick = np.lexsort((rng.random(len(slot_value)), fill))[: len(moved)]
        codes = codes.copy()
        codes[moved] = slot_value[pick]
        return codes

    def _restore(self, values: np.ndarray) -> pd.Series:
        null = pd.isna(values)
        dtype = pd.api.types.pandas_dtype(self.dtype)
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            if null.any() and not pd.api.types.is_extension_array_dtype(dtype):
                if pd.api.types.is_bool_dtype(dtype):
                    return pd.Series(pd.array(values.tolist(), dtype="boolean"))
                if pd.api.types.is_integer_dtype(dtype):
                    return pd.Series(pd.array(values.tolist(), dtype="Int64"))
                return pd.Series(np.where(null, np.nan, values).astype(float))
            return pd.Series(pd.array(values.tolist(), dtype=dtype))
        if dtype == np.dtype(object):
            return pd.Series(values, dtype=object)
        return pd.Series(values).astype(dtype)

    _STATE = (
        "column",
        "kind",
        "max_levels",
        "rare_fraction",
        "dtype",
        "categories",
        "members",
        "member_probs",
        "level_freq",
        "distinct",
        "counts",
        "min_count",
        "withheld",
        "other_level",
        "other",
    )
    #: State keys added later, with the value a file saved before them means.
    _ADDED: ClassVar[dict[str, Any]] = {
        "distinct": False,
        "counts": None,
        "min_count": 1,
        "withheld": 0,
        "other_level": None,
        "other": None,
    }

    def state(self) -> dict[str, Any]:
        """Plain-Python state (weights_only-safe)."""
        return {"type": "categorical", **{k: getattr(self, k) for k in self._STATE}}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> CategoricalEncoder:
        """Rebuild from :meth:`state`."""
        enc = cls(state["column"], state["kind"])
        for k in cls._STATE:
            # files saved before distinct columns were recognised have neither key
            setattr(enc, k, state.get(k, cls._ADDED[k]) if k in cls._ADDED else state[k])
        return enc


class TableEncoder:
    """Encode a whole DataFrame into a float32 matrix of :class:`Span` blocks and back.

    Parameters
    ----------
    kinds : mapping of str to str, optional
        Model kind per column (numerical, categorical, datetime, boolean); missing
        columns are inferred with :func:`infer_kind`.
    method : {"quantile", "gmm"}, default="quantile"
        Transform for continuous columns (see the module docstring).
    max_levels : int, default=200
        Widest one-hot a categorical column may use (see :class:`CategoricalEncoder`).
    """

    def __init__(
        self,
        kinds: Mapping[str, str] | None = None,
        method: Method = "quantile",
        max_levels: int = 200,
    ) -> None:
        self.kinds = dict(kinds or {})
        self.method = method
        self.max_levels = max_levels

    def fit(self, frame: pd.DataFrame, rng: np.random.Generator) -> TableEncoder:
        """Fit one encoder per column of ``frame``."""
        self.columns = [str(c) for c in frame.columns]
        self.encoders: list[NumericalEncoder | CategoricalEncoder] = []
        for name in self.columns:
            kind = self.kinds.get(name) or infer_kind(frame[name])
            if kind not in MODEL_KINDS:
                raise ParameterError(
                    f"Column {name!r} has kind {kind!r}; models accept only "
                    f"{', '.join(MODEL_KINDS)} columns (the synthesizer fills the others)."
                )
            enc: NumericalEncoder | CategoricalEncoder
            if kind in ("numerical", "datetime"):
                enc = NumericalEncoder(name, kind, self.method)
            else:
                enc = CategoricalEncoder(name, kind, max_levels=self.max_levels)
            self.encoders.append(enc.fit(frame[name], rng))
        self._build_spans()
        return self

    def _build_spans(self) -> None:
        self.spans: list[Span] = []
        start = 0
        for enc in self.encoders:
            for width, activation, role in enc.spans():
                self.spans.append(Span(start, width, activation, enc.column, role))
                start += width
        self.dim = start

    @property
    def discrete(self) -> list[tuple[Span, CategoricalEncoder]]:
        """Categorical spans with at least two levels (candidates for the conditional vector)."""
        by_col = {e.column: e for e in self.encoders if isinstance(e, CategoricalEncoder)}
        return [(s, by_col[s.column]) for s in self.spans if s.role == "category" and s.width > 1]

    def check_columns(self, frame: pd.DataFrame, what: str) -> None:
        """Raise :class:`DataError` naming the columns that differ from fit time."""
        got = [str(c) for c in frame.columns]
        missing = [c for c in self.columns if c not in got]
        extra = [c for c in got if c not in self.columns]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if extra:
                parts.append(f"unexpected {extra}")
            raise DataError(
                f"The {what} columns differ from those seen in 'fit': {'; '.join(parts)}. "
                f"Pass a {what} with exactly the columns {self.columns}."
            )

    def transform(self, frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        """Encode ``frame`` (columns as at fit time) into ``(n, dim)`` float32."""
        blocks = [enc.transform(frame[enc.column], rng) for enc in self.encoders]
        blocks = [b for b in blocks if b.shape[1]]
        if not blocks:
            return np.zeros((len(frame), 0), dtype=np.float32)
        return np.hstack(blocks).astype(np.float32, copy=False)

    def inverse(self, matrix: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """Decode a generated matrix (one-hot spans hard) into a DataFrame."""
        out: dict[str, pd.Series] = {}
        start = 0
        for enc in self.encoders:
            width = sum(w for w, _, _ in enc.spans())
            out[enc.column] = enc.inverse(matrix[:, start : start + width], rng)
            start += width
        frame = pd.DataFrame(out, index=pd.RangeIndex(len(matrix)))
        return frame[self.columns] if self.columns else frame

    def state(self) -> dict[str, Any]:
        """Plain-Python state (weights_only-safe)."""
        return {
            "kinds": dict(self.kinds),
            "method": self.method,
            "max_levels": self.max_levels,
            "columns": list(self.columns),
            "encoders": [e.state() for e in self.encoders],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> TableEncoder:
        """Rebuild from :meth:`state`."""
        enc = cls(state["kinds"], state["method"], state["max_levels"])
        enc.columns = list(state["columns"])
        enc.encoders = [
            NumericalEncoder.from_state(s)
            if s["type"] == "numerical"
            else CategoricalEncoder.from_state(s)
            for s in state["encoders"]
        ]
        enc._build_spans()
        return enc


def empty_context(n: int) -> pd.DataFrame:
    """A context frame with ``n`` rows and no columns."""
    return pd.DataFrame(index=pd.RangeIndex(n))


def as_frame(obj: pd.DataFrame | None, name: str) -> pd.DataFrame | None:
    """Validate that ``obj`` is a DataFrame (or None)."""
    if obj is not None and not isinstance(obj, pd.DataFrame):
        raise ParameterError(
            f"The '{name}' parameter must be a pandas DataFrame or None. "
            f"Got {type(obj).__name__} instead."
        )
    return obj


def columns_of(frame: pd.DataFrame) -> Sequence[str]:
    """Column names as strings."""
    return [str(c) for c in frame.columns]
