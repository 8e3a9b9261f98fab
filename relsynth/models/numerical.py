"""Encoder of a numerical or datetime column: :class:`NumericalEncoder` (models).

Continuous values use the quantile transform (default) or CTGAN's mode-specific
normalisation (``"gmm"``); see :mod:`relsynth.models.encoding`. Pure numpy/pandas.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from relsynth._columns import datetime_seconds
from relsynth.models.columns import (
    _GMM_MAX_MODES,
    _GMM_MIN_WEIGHT,
    _GMM_SUBSAMPLE,
    _N_QUANTILES,
    _SECONDS_STEPS,
    SNAP_LEVELS,
    SNAP_MIN_REPEATS,
    Method,
    _count_decimals,
    snap,
)

__all__ = ["QUANTILE_SPAN", "NumericalEncoder"]

#: The quantile encoding's values fill ``[-QUANTILE_SPAN, QUANTILE_SPAN]`` (inside the
#: generator's tanh range); a decoded value at or beyond either end is the column's
#: observed minimum or maximum.
QUANTILE_SPAN = 0.99


class NumericalEncoder:
    """Encode a numerical or datetime column (see the module docstring for methods).

    Datetimes become float seconds since the epoch; integer-ness, observed decimals,
    the observed ``[min, max]`` range (values are clipped to it) and the dtype are
    restored on decoding. NULLs get a two-level indicator span.

    ``min_count`` (``k``, the model's ``min_category_count``; 1 keeps everything) pulls
    the ``k - 1`` lowest and highest values in to the ``k``-th before anything is
    learned (winsorizing): the range, the quantiles and the discrete support then end
    at a value that at least ``k`` rows reach, so an outlier that one row holds (a
    salary ten times the next) is neither stored nor drawn, while a far mode that
    ``k`` or more rows share is kept (see docs/privacy.md).

    A discrete column (at most ``SNAP_LEVELS`` values, each seen ``SNAP_MIN_REPEATS``
    times on average) is encoded, with ``cdf`` and the quantile method, by its CDF: a
    value becomes the middle of its share, a generated value decodes to the value whose
    share holds it, so each value comes back at its share and a lone far value at
    ``1/n`` (interpolating between the quantiles and snapping gave it half the top
    0.1 % of the draws). A context encoder, never decoded, passes ``cdf=False``.
    """

    def __init__(
        self,
        column: str,
        kind: str = "numerical",
        method: Method = "quantile",
        *,
        min_count: int = 1,
        cdf: bool = True,
    ) -> None:
        self.column = column
        self.kind = kind
        self.method = method
        self.min_count = int(min_count)
        self.cdf = cdf

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
        valid = _winsorize(x[~null], self.min_count)
        self.has_null = bool(null.any())
        self.all_null = len(valid) == 0
        self.min = float(valid.min()) if len(valid) else 0.0
        self.max = float(valid.max()) if len(valid) else 0.0
        self.is_int = bool(len(valid)) and bool(np.all(valid == np.round(valid)))
        if pd.api.types.is_integer_dtype(series.dtype):
            self.is_int = True
        self.decimals = 0 if self.is_int else _count_decimals(valid)
        self.support: list[float] = []
        self.support_cdf: list[float] = []
        if len(valid):
            distinct, counts = np.unique(valid, return_counts=True)
            if len(distinct) <= SNAP_LEVELS and len(distinct) * SNAP_MIN_REPEATS <= len(valid):
                self.support = distinct.tolist()
                if self.method == "quantile" and self.cdf:
                    self.support_cdf = (np.cumsum(counts) / len(valid)).tolist()
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
        parts = self.parts(series, rng)
        spans = self.spans()
        out = np.zeros((len(series), sum(w for w, _, _ in spans)), dtype=np.float32)
        start = 0
        for part, (width, activation, _) in zip(parts, spans, strict=True):
            if activation == "tanh":
                out[:, start] = part
            else:
                out[np.arange(len(part)), start + part] = 1.0
            start += width
        return out

    def parts(self, series: pd.Series, rng: np.random.Generator) -> list[np.ndarray]:
        """``series`` encoded compactly, one array per span of :meth:`spans`: the scalar
        (float64) of the value span, the level (int64) of the mode and NULL spans."""
        x = self._values(series)
        null = np.isnan(x)
        parts: list[np.ndarray] = []
        if not self.all_null:
            filled = np.where(
                null,
                self.quantiles[len(self.quantiles) // 2] if self.quantiles else self.means[0],
                x,
            ).clip(self.min, self.max)
            if self.method == "gmm":
                parts.extend(self._gmm_transform(filled, rng))
            elif getattr(self, "support_cdf", None):
                parts.append((2.0 * self._cdf_middle(filled) - 1.0) * QUANTILE_SPAN)
            else:
                q = np.asarray(self.quantiles)
                ref = np.linspace(0.0, 1.0, len(q))
                u = 0.5 * (np.interp(filled, q, ref) - np.interp(-filled, -q[::-1], -ref[::-1]))
                parts.append((2.0 * u - 1.0) * QUANTILE_SPAN)
        if self.has_null:
            parts.append(null.astype(np.int64))
        return parts

    def _cdf_middle(self, x: np.ndarray) -> np.ndarray:
        """The middle of each value's share of the discrete CDF (the nearest observed
        value's): the encoding of a column of few values, which :meth:`inverse` undoes
        exactly (a value ``u`` of the CDF decodes to the value whose share holds it)."""
        support = np.asarray(self.support, dtype=float)
        cdf = np.asarray(self.support_cdf)
        pos = np.searchsorted(support, snap(x, support)).clip(0, len(support) - 1)
        below = np.concatenate([[0.0], cdf[:-1]])
        out: np.ndarray = (below[pos] + cdf[pos]) / 2.0
        return out

    def _gmm_transform(self, x: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        mu, sd, w = (np.asarray(v) for v in (self.means, self.stds, self.weights))
        logp = np.log(w) - np.log(sd) - 0.5 * ((x[:, None] - mu) / sd) ** 2
        p = np.exp(logp - logp.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        # Sample the mode from its posterior, as CTGAN does (Xu et al., 2019, sec. 4.2).
        mode = (p.cumsum(axis=1) < rng.random((len(x), 1))).sum(axis=1).clip(0, len(mu) - 1)
        scalar = ((x - mu[mode]) / (4.0 * sd[mode])).clip(-0.99, 0.99)
        if len(mu) == 1:
            return [scalar]
        return [scalar, mode.astype(np.int64)]

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
            elif getattr(self, "support_cdf", None):
                u = (v / QUANTILE_SPAN + 1.0) / 2.0
                cdf = np.asarray(self.support_cdf)
                pos = np.searchsorted(cdf, u, side="right").clip(0, len(cdf) - 1)
                x = np.asarray(self.support, dtype=float)[pos]
            else:
                q = np.asarray(self.quantiles)
                u = (v / QUANTILE_SPAN + 1.0) / 2.0
                x = np.interp(u, np.linspace(0.0, 1.0, len(q)), q)
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
        "support_cdf",
        "quantiles",
        "means",
        "stds",
        "weights",
        "specials",
    )

    #: Entries that files saved by older releases (or encoders built from a DP release,
    #: models/_dp.py) lack; ``support_cdf`` empty decodes by the quantiles.
    _DEFAULTS: Mapping[str, Any] = {"support": [], "support_cdf": [], "specials": [0.0, 0.0]}

    def state(self) -> dict[str, Any]:
        """Plain-Python state (weights_only-safe)."""
        defaults = self._DEFAULTS
        return {
            "type": "numerical",
            **{k: getattr(self, k, defaults.get(k)) for k in self._STATE},
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> NumericalEncoder:
        """Rebuild from :meth:`state`."""
        enc = cls(state["column"], state["kind"], state["method"])
        for k in cls._STATE:
            setattr(enc, k, state[k] if k in state else cls._DEFAULTS[k])
        return enc


def _winsorize(valid: np.ndarray, k: int) -> np.ndarray:
    """``valid`` with its ``k - 1`` lowest and highest values pulled in to the
    ``k``-th lowest and highest (unchanged when ``k <= 1`` or there are at most
    ``2 k`` values: nothing would be left between the ends)."""
    n = len(valid)
    if k <= 1 or n <= 2 * k:
        return valid
    ends = np.partition(valid, (k - 1, n - k))
    return np.clip(valid, ends[k - 1], ends[n - k])


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
