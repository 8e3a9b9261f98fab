"""Parent features: a small vector per parent row that conditions its cardinality.

Stage 2 of the pipeline (keys). :class:`ParentFeatures` turns the non-key columns
of a parent table into at most ``n_components`` numbers per row, so that the
cardinality models can condition the number of children on the parent
(``customers`` with a high credit limit have more ``orders``):

* numerical columns are standardized (NULL -> the mean, i.e. 0);
* booleans become 0/1;
* datetime columns, and text columns whose values all parse as ISO dates, become
  seconds since the epoch, standardized;
* categorical/text columns with at most ``max_categories`` distinct values are
  one-hot encoded (unseen categories at transform time encode as all zeros);
  other text columns (names, free text) are ignored;
* the result is reduced by PCA (numpy SVD) and **whitened**, so an isotropic
  kernel suits it.

The transform is fitted once on the source parent and applied to synthetic
parents. It is one possible input: the cardinality models take any
``(n_parents, d)`` array, so a table model can supply a learned embedding instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from relsynth._columns import datetime_seconds

__all__ = ["ParentFeatures"]


class ParentFeatures:
    """Encode + PCA-whiten the non-key columns of a parent table.

    Parameters
    ----------
    n_components : int
        Maximum number of output dimensions (at most 4 is a good choice: the KDE
        conditional degrades quickly with dimension).
    max_categories : int
        Text/categorical columns with more distinct values are ignored.
    """

    def __init__(self, n_components: int = 4, max_categories: int = 20) -> None:
        self.n_components = n_components
        self.max_categories = max_categories

    # -- fit / transform --------------------------------------------------------------

    def fit(self, frame: pd.DataFrame, columns: Sequence[str]) -> ParentFeatures:
        """Learn the encoding of ``columns`` of ``frame`` (the source parent table)."""
        specs: list[dict[str, Any]] = []
        for col in columns:
            spec = _column_spec(frame[col], self.max_categories)
            if spec is not None:
                specs.append(spec)
        self.specs_ = specs
        self.columns_ = [s["column"] for s in specs]
        raw = self._encode(frame) if specs else np.zeros((len(frame), 0))
        if raw.shape[1] == 0 or len(frame) < 2:
            self.mean_ = np.zeros(raw.shape[1])
            self.components_ = np.zeros((0, raw.shape[1]))
            self.scale_ = np.zeros(0)
            return self
        self.mean_ = raw.mean(axis=0)
        centered = raw - self.mean_
        _, sing, vt = np.linalg.svd(centered, full_matrices=False)
        std = sing / np.sqrt(max(len(frame) - 1, 1))
        keep = std > 1e-9 * max(float(std.max()), 1e-300)
        keep[self.n_components :] = False
        self.components_ = vt[keep]
        self.scale_ = std[keep]
        return self

    @property
    def n_features_out(self) -> int:
        """Number of output dimensions (0 when the parent has no usable column)."""
        return int(self.components_.shape[0])

    def transform(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Features of the rows of ``frame``; None when a fitted column is absent."""
        if self.n_features_out == 0 or any(c not in frame.columns for c in self.columns_):
            return None
        raw = self._encode(frame)
        out: np.ndarray = (raw - self.mean_) @ self.components_.T / self.scale_
        return out

    def _encode(self, frame: pd.DataFrame) -> np.ndarray:
        blocks = [_encode_column(frame[s["column"]], s) for s in self.specs_]
        return np.column_stack(blocks) if blocks else np.zeros((len(frame), 0))

    # -- persistence ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        return {
            "n_components": self.n_components,
            "max_categories": self.max_categories,
            "specs": self.specs_,
            "mean": self.mean_.tolist(),
            "components": self.components_.tolist(),
            "scale": self.scale_.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParentFeatures:
        """Rebuild a transform saved with :meth:`to_dict`."""
        self = cls(int(data["n_components"]), int(data["max_categories"]))
        self.specs_ = [dict(s) for s in data["specs"]]
        self.columns_ = [s["column"] for s in self.specs_]
        self.mean_ = np.asarray(data["mean"], dtype=float)
        n_in = len(self.mean_)
        comps = np.asarray(data["components"], dtype=float)
        self.components_ = comps.reshape(-1, n_in) if n_in else np.zeros((0, 0))
        self.scale_ = np.asarray(data["scale"], dtype=float)
        return self


def _column_spec(values: pd.Series, max_categories: int) -> dict[str, Any] | None:
    name = str(values.name)
    if pd.api.types.is_bool_dtype(values.dtype):
        return {"column": name, "kind": "bool"}
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        num = datetime_seconds(values)
        return _numeric_spec(name, "datetime", num)
    if pd.api.types.is_numeric_dtype(values.dtype):
        num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        if np.unique(num[np.isfinite(num)]).size <= 1:
            return None
        return _numeric_spec(name, "numeric", num)
    sample = values.dropna()
    if sample.empty or isinstance(sample.iloc[0], (bytes, bytearray, memoryview)):
        return None
    text = sample.map(str)
    parsed = pd.to_datetime(text.head(200), format="ISO8601", errors="coerce")
    if parsed.notna().all() and text.head(200).str.match(r"^\d{4}-\d\d-\d\d").all():
        num = datetime_seconds(
            pd.to_datetime(values.astype(str), format="ISO8601", errors="coerce")
        )
        return _numeric_spec(name, "datetime_text", num)
    counts = text.value_counts()
    if len(counts) < 2 or len(counts) > max_categories:
        return None
    return {"column": name, "kind": "categorical", "categories": [str(c) for c in counts.index]}


def _numeric_spec(name: str, kind: str, num: np.ndarray) -> dict[str, Any] | None:
    finite = num[np.isfinite(num)]
    if finite.size < 2:
        return None
    mean, std = float(finite.mean()), float(finite.std())
    if std <= 0:
        return None
    return {"column": name, "kind": kind, "mean": mean, "std": std}


def _encode_column(values: pd.Series, spec: Mapping[str, Any]) -> np.ndarray:
    kind = spec["kind"]
    if kind == "bool":
        return values.fillna(False).astype(float).to_numpy()[:, None]
    if kind == "categorical":
        text = values.astype(object).where(values.notna(), None)
        cats = list(spec["categories"])
        # Values outside the fitted categories (e.g. fake text) get code -1: no column set.
        codes = pd.Index(cats).get_indexer(text.map(lambda v: None if v is None else str(v)))
        out = np.zeros((len(values), len(cats)))
        ok = codes >= 0
        out[np.nonzero(ok)[0], codes[ok]] = 1.0
        return out
    if kind == "numeric":
        num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    elif kind == "datetime":
        num = datetime_seconds(values)
    else:
        num = datetime_seconds(
            pd.to_datetime(values.astype(str), format="ISO8601", errors="coerce")
        )
    z = (num - spec["mean"]) / spec["std"]
    return np.where(np.isfinite(z), z, 0.0)[:, None]
