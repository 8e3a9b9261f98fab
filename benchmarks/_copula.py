"""A Gaussian copula fitted per table: the reference that the table models must beat.

The simplest model that keeps every column's marginal and every pair's (rank)
correlation: each column becomes normal scores through its empirical quantiles, the
scores' correlation matrix is estimated, and sampling draws correlated normals and
maps each back through the column's empirical quantiles. It knows no parent context,
no order within sequences and no conditional structure beyond correlation; but on
tables of many correlated numbers it is hard to beat on column-pair trends, and the
issue asks relsynth to reach its pair score on every table.

Columns, one number per value (numpy/scipy only):

- numbers and datetimes as numbers (datetimes in seconds);
- categories (text, booleans) as integer codes in order of frequency, most frequent
  first, so neighbouring codes are values of similar weight;
- NULL apart: the scores and correlations are those of the values present (pairwise
  complete rows), and a column's NULLs are drawn independently at its real share.

A value held by many rows (a category, a repeated count, NULL) covers a band of the
normal scale, not a point: its score is the mean of a standard normal over that band,
and the correlation of two columns' scores is divided by their standard deviations
(below 1 for such columns), the first-order correction for the coarsening, so that
counts with many ties keep their correlation. Sampling maps a normal draw through the
column's empirical quantiles, so each value comes back with its real frequency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["GaussianCopula"]


@dataclass
class _Column:
    name: str
    kind: str  # "number", "datetime" or "category"
    sorted_codes: np.ndarray  # the column's non-NULL values as numbers, sorted
    null_share: float
    levels: np.ndarray | None  # category values by code
    dtype: object


class GaussianCopula:
    """Gaussian copula with empirical marginals (``fit`` a frame, ``sample`` rows)."""

    def fit(self, table: pd.DataFrame) -> GaussianCopula:
        self.columns_: list[_Column] = []
        scores = []
        for name in table.columns:
            col, codes = _encode(table[name])
            col.name = str(name)
            self.columns_.append(col)
            scores.append(_normal_scores(codes))
        self.n_rows_ = len(table)
        z = np.column_stack(scores) if scores else np.zeros((len(table), 0))
        d = z.shape[1]
        if d < 2:
            self.corr_ = np.eye(d)
            return self
        frame = pd.DataFrame(z)
        sd = frame.std(ddof=0).to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = frame.corr().to_numpy() / sd[:, None] / sd[None, :]
        self.corr_ = _nearest_correlation(np.clip(corr, -0.999, 0.999))
        return self

    def sample(self, n_rows: int, seed: int = 0) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        d = len(self.columns_)
        z = rng.multivariate_normal(np.zeros(d), self.corr_, size=n_rows, method="eigh")
        u = stats.norm.cdf(z)
        out = {}
        for j, col in enumerate(self.columns_):
            n = len(col.sorted_codes)
            codes = np.full(n_rows, np.nan)
            if n:
                codes = col.sorted_codes[np.minimum((u[:, j] * n).astype(int), n - 1)]
            codes[rng.random(n_rows) < col.null_share] = np.nan
            out[col.name] = _decode(col, codes)
        return pd.DataFrame(out)


def _encode(s: pd.Series) -> tuple[_Column, np.ndarray]:
    """The column's values as numbers (NaN for NULL) and how to turn them back."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        codes = s.astype("datetime64[s]").astype("int64").to_numpy(dtype=float)
        codes[s.isna().to_numpy()] = np.nan
        kind, levels = "datetime", None
    elif pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        codes, kind, levels = s.to_numpy(dtype=float, na_value=np.nan), "number", None
    else:
        counts = s.dropna().astype(str).value_counts(sort=True)
        levels = np.asarray(counts.index, dtype=object)
        lookup = {v: i for i, v in enumerate(levels)}
        codes = s.astype(object).map(lambda v: np.nan if pd.isna(v) else lookup[str(v)])
        codes, kind = codes.to_numpy(dtype=float), "category"
    null = np.isnan(codes)
    share = float(null.mean()) if len(codes) else 0.0
    return _Column("", kind, np.sort(codes[~null]), share, levels, s.dtype), codes


def _normal_scores(codes: np.ndarray) -> np.ndarray:
    """Each value's mean standard-normal score over its band of the ranks (NULL: NaN)."""
    out = np.full(len(codes), np.nan)
    present = ~np.isnan(codes)
    if not present.any():
        return out
    _, inverse, counts = np.unique(codes[present], return_inverse=True, return_counts=True)
    upper = np.cumsum(counts) / present.sum()
    lower = upper - counts / present.sum()
    za, zb = stats.norm.ppf(lower), stats.norm.ppf(upper)
    out[present] = ((stats.norm.pdf(za) - stats.norm.pdf(zb)) / (upper - lower))[inverse.ravel()]
    return out


def _nearest_correlation(c: np.ndarray) -> np.ndarray:
    """A valid correlation matrix near ``c`` (NaN from constant columns: 0; eigenvalues >= 1e-6)."""
    c = np.nan_to_num(c, nan=0.0)
    np.fill_diagonal(c, 1.0)
    w, v = np.linalg.eigh((c + c.T) / 2)
    c = (v * np.maximum(w, 1e-6)) @ v.T
    d = np.sqrt(np.diag(c))
    return c / d[:, None] / d[None, :]


def _decode(col: _Column, codes: np.ndarray) -> pd.Series:
    null = np.isnan(codes)
    if col.kind == "category":
        assert col.levels is not None
        if len(col.levels) == 0:  # a column of NULLs only
            return pd.Series([None] * len(codes), dtype=object)
        values = np.where(null, None, col.levels[np.where(null, 0, codes).astype(int)])
        out = pd.Series(values, dtype=object)
        if pd.api.types.is_bool_dtype(col.dtype):  # levels are the values' text
            return out.map({"True": True, "False": False}).astype("boolean")
        return out
    if col.kind == "datetime":
        out = pd.to_datetime(pd.Series(np.where(null, np.nan, codes)), unit="s")
        return out.astype(col.dtype) if str(col.dtype).startswith("datetime64") else out
    out = pd.Series(codes)
    if pd.api.types.is_integer_dtype(col.dtype) and not null.any():
        return out.astype(col.dtype)
    return out
