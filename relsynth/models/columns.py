"""What a column is to the encoders: its kind, whether it is distinct, and the
:class:`Span` of the encoded matrix that it fills (models).

Pure numpy/pandas; shared by :mod:`relsynth.models.numerical`,
:mod:`relsynth.models.categorical` and :mod:`relsynth.models.encoding`.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "DISTINCT_SHARE",
    "LOW_CARDINALITY_INT",
    "MODEL_KINDS",
    "SNAP_LEVELS",
    "SNAP_MIN_REPEATS",
    "Method",
    "Span",
    "infer_kind",
    "is_distinct",
    "snap",
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
