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

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from relsynth.errors import DataError, ParameterError
from relsynth.models._compact import CompactRows
from relsynth.models.categorical import CategoricalEncoder
from relsynth.models.columns import (
    DISTINCT_SHARE,
    LOW_CARDINALITY_INT,
    MODEL_KINDS,
    SNAP_LEVELS,
    SNAP_MIN_REPEATS,
    Method,
    Span,
    infer_kind,
    is_distinct,
    snap,
)
from relsynth.models.numerical import NumericalEncoder

__all__ = [
    "DISTINCT_SHARE",
    "LOW_CARDINALITY_INT",
    "MODEL_KINDS",
    "SNAP_LEVELS",
    "SNAP_MIN_REPEATS",
    "CategoricalEncoder",
    "NumericalEncoder",
    "Span",
    "TableEncoder",
    "as_frame",
    "infer_kind",
    "is_distinct",
    "snap",
]


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
    min_count : int, default=1
        Categorical values held by fewer rows are withheld (see
        :class:`CategoricalEncoder`), and the ``min_count - 1`` lowest and highest
        values of a continuous column are pulled in to the next (see
        :class:`NumericalEncoder`); 1 withholds nothing. Used by ``fit`` only.
    cdf : bool, default=True
        Encode discrete numbers by their CDF, so that decoding gives each value its
        share (see :class:`NumericalEncoder`); a context encoder, never decoded, passes
        False and keeps the quantile interpolation. Used by ``fit`` only.
    """

    def __init__(
        self,
        kinds: Mapping[str, str] | None = None,
        method: Method = "quantile",
        max_levels: int = 200,
        *,
        min_count: int = 1,
        cdf: bool = True,
    ) -> None:
        self.kinds = dict(kinds or {})
        self.method = method
        self.max_levels = max_levels
        self.min_count = int(min_count)
        self.cdf = cdf

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
                enc = NumericalEncoder(
                    name, kind, self.method, min_count=self.min_count, cdf=self.cdf
                )
            else:
                enc = CategoricalEncoder(
                    name, kind, max_levels=self.max_levels, min_count=self.min_count
                )
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
        return self.compact(frame, rng).rows()

    def compact(self, frame: pd.DataFrame, rng: np.random.Generator) -> CompactRows:
        """Encode ``frame`` as :meth:`transform` does, kept compact (the scalars and each
        one-hot's position): :meth:`CompactRows.rows` gives any rows of the dense matrix,
        so a model makes a wide context dense one batch at a time."""
        parts = [p for enc in self.encoders for p in enc.parts(frame[enc.column], rng)]
        return CompactRows(self.spans, parts, len(frame))

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


def as_frame(obj: pd.DataFrame | None, name: str) -> pd.DataFrame | None:
    """Validate that ``obj`` is a DataFrame (or None)."""
    if obj is not None and not isinstance(obj, pd.DataFrame):
        raise ParameterError(
            f"The '{name}' parameter must be a pandas DataFrame or None. "
            f"Got {type(obj).__name__} instead."
        )
    return obj
