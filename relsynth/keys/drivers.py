"""Driver counts: how many rows each table gets, and under which parent row.

A child table's rows are generated per row of its driver parent (the driver
foreign key of the plan). Fit (:func:`fit_driver`): the source's children per
parent, zeros included, as a :class:`~relsynth.keys.cardinality.CardinalityModel`
conditional on the parent's features (:class:`~relsynth.keys.features.ParentFeatures`
of its value columns, plus the key's :class:`~relsynth.keys.features.CountFeature`)
when ``parent_features="auto"``; and the rows whose driver key is NULL. Sample
(:func:`sample_driver`): a count per synthetic parent (conditional when the
parent's value columns are there, else the marginal), capped by one-to-one and
junction constraints; the NULL rows scale with the parent table. Root tables get
``round(n * scale)`` rows, or ``sizes[t]``; a table held verbatim whatever the scale
(a copied reference table) gives its children ``scale`` times their source count.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relsynth.keys._frames import locate
from relsynth.keys.cardinality import CardinalityModel
from relsynth.keys.dealing import min_cap, valid_parents
from relsynth.keys.features import CountFeature, ParentFeatures
from relsynth.keys.ranking import by_rank, parent_value_features
from relsynth.keys.secondary import named_degrees, source_order
from relsynth.metadata.schema import ForeignKey, Metadata

__all__ = ["DriverFit", "fit_driver", "root_size", "sample_driver"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DriverFit:
    """What a table learned about its driver key.

    Attributes
    ----------
    fk : int
        Index of the driver key in ``metadata.foreign_keys``.
    cardinality : CardinalityModel
        Children per parent row.
    count_feature : CountFeature or None
        The parent column that best explains the counts (``parent_features="auto"``).
    null_rows : int
        Source rows whose driver key is NULL.
    n_parent_rows : int
        Source rows of the parent table.
    source_counts : dict of str to int, optional
        For a parent copied verbatim (a lookup or reference table): each parent key's
        children in the source (those of at least ``MIN_SOURCE_DEGREE``). The drawn
        counts are handed out in that order (the largest to the busiest source parent),
        as a secondary key's degrees are (``DegreeKey.source_degree``): its rows *are*
        the source's, so the children of JFK go to JFK, not to the airport whose
        features are closest to JFK's.
    """

    fk: int
    cardinality: CardinalityModel
    count_feature: CountFeature | None
    null_rows: int
    n_parent_rows: int
    source_counts: dict[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (fields of the table's state: ``driver``, ``cardinality``...)."""
        out: dict[str, Any] = {"driver": self.fk, "cardinality": self.cardinality.to_dict()}
        if self.count_feature is not None:
            out["count_feature"] = self.count_feature.to_dict()
        out["driver_null_rows"] = self.null_rows
        out["n_parent_rows"] = self.n_parent_rows
        if self.source_counts is not None:
            out["driver_source_counts"] = dict(self.source_counts)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriverFit:
        """Rebuild from the table state written by :meth:`to_dict`."""
        count, source = data.get("count_feature"), data.get("driver_source_counts")
        return cls(
            int(data["driver"]),
            CardinalityModel.from_dict(data["cardinality"]),
            None if count is None else CountFeature.from_dict(count),
            int(data["driver_null_rows"]),
            int(data["n_parent_rows"]),
            None if source is None else {str(k): int(v) for k, v in source.items()},
        )


def fit_driver(
    meta: Metadata,
    driver: ForeignKey,
    frame: pd.DataFrame,
    parent: pd.DataFrame,
    features: dict[str, ParentFeatures],
    *,
    parent_features: str,
    n_components: int,
    bandwidth: str | float,
    n_neighbors: int,
    copied: bool = False,
) -> tuple[DriverFit, np.ndarray]:
    """Fit the driver key of ``frame``; also returns each row's parent row (-1: NULL).

    ``features`` caches one :class:`ParentFeatures` per parent table (filled here);
    ``copied``: the parent is held verbatim (:attr:`DriverFit.source_counts`).
    """
    didx = locate(frame, driver.columns, parent, driver.parent_columns)
    counts = np.bincount(didx[didx >= 0], minlength=len(parent))
    feats = None
    count_feature = None
    if parent_features == "auto":
        pf, values = parent_value_features(meta, driver.parent, parent, features, n_components)
        feats = pf.transform(parent) if pf.n_features_out else None
        count_feature = CountFeature().fit(parent, values, counts)
        feats = with_count_feature(feats, count_feature, parent)
    model = CardinalityModel(bandwidth=bandwidth, n_neighbors=n_neighbors).fit(counts, feats)
    fks = list(meta.foreign_keys)
    source = named_degrees(counts, parent, driver) if copied else None
    fit = DriverFit(
        fks.index(driver), model, count_feature, int((didx < 0).sum()), len(parent), source
    )
    return fit, didx


def with_count_feature(
    feats: np.ndarray | None, count_feature: CountFeature | None, parent: pd.DataFrame
) -> np.ndarray | None:
    """Parent features with the key's count feature appended (when it has one)."""
    extra = None if count_feature is None else count_feature.transform(parent)
    if extra is None:
        return feats
    return extra if feats is None else np.hstack([feats, extra])


def root_size(
    table: str, n_source: int, scale: float, sizes: Mapping[str, int] | None, needs_rows: bool
) -> int:
    """Rows of a root table: ``sizes[table]``, else ``round(n_source * scale)``; at
    least one when a NOT NULL deferred key needs it (``needs_rows``)."""
    n = int(sizes[table]) if sizes is not None and table in sizes else int(round(n_source * scale))
    if n == 0 and needs_rows:
        n = 1
        logger.info("Table %r gets 1 row (a NOT NULL deferred key needs a parent)", table)
    return n


def sample_driver(
    fit: DriverFit,
    meta: Metadata,
    done: Mapping[str, pd.DataFrame],
    table: str,
    features: ParentFeatures | None,
    rng: np.random.Generator,
    *,
    scale: float,
    cap: int | None,
    unique_within: Sequence[int],
    blocked: bool,
    needs_rows: bool,
    free_total: bool = False,
    copied: Collection[str] = (),
) -> np.ndarray:
    """The driver parent row of each new row (-1: NULL driver key), parents in order.

    ``cap``: at most this many children per parent (one-to-one keys);
    ``unique_within``: junction keys whose parents cap a parent's children too;
    ``blocked``: a NOT NULL secondary key has no parent, so no row can exist;
    ``free_total``: the parents are a selection (conditional or seeded sampling), so
    the conditional counts are kept as drawn (:meth:`CardinalityModel.sample`);
    ``copied``: tables held verbatim whatever the scale; a parent among them gets
    ``scale`` times its children per parent (NULL-driver rows too), so its children
    scale as if it had (not when its rows are given or selected: ``free_total``).
    """
    fks = list(meta.foreign_keys)
    driver = fks[fit.fk]
    # a copied parent stays at its source size, so its children scale instead; rows given
    # or selected (``free_total``) keep the children per parent that were learned
    per_parent = scale if driver.parent in copied and not free_total else 1.0
    parent = done[driver.parent]
    valid = valid_parents(parent, driver, meta, fks, done, table)
    model = fit.cardinality
    feats = None
    if model.features_ is not None and features is not None:
        feats = with_count_feature(
            features.transform(parent) if features.n_features_out else None,
            fit.count_feature,
            parent,
        )
    for k in unique_within:
        if k != fit.fk:
            cap = min_cap(
                cap, int(valid_parents(done[fks[k].parent], fks[k], meta, fks, done, table).sum())
            )
    counts = model.sample(
        feats if feats is not None else len(parent),
        rng,
        cap=cap,
        free_total=free_total,
        per_parent=per_parent,
    )
    if fit.source_counts is not None:  # a copied parent: its rows are the source's
        counts = _source_counts(fit.source_counts, counts, parent, driver, valid, rng, cap=cap,
                                selection=free_total, per_parent=per_parent)  # fmt: skip
    counts[~valid] = 0
    if blocked:
        counts[:] = 0
    if counts.sum() == 0 and needs_rows and valid.any() and not blocked:
        counts[rng.choice(np.nonzero(valid)[0])] = 1
    idx = np.repeat(np.arange(len(parent), dtype=np.int64), counts)
    ratio = len(parent) / fit.n_parent_rows if fit.n_parent_rows else scale
    ratio = ratio if per_parent == 1.0 else ratio * per_parent
    n_null = int(round(fit.null_rows * ratio)) if driver.nullable else 0
    if n_null and not blocked:
        idx = np.concatenate([idx, np.full(n_null, -1, dtype=np.int64)])
    return idx


def _source_counts(
    source: Mapping[str, int],
    counts: np.ndarray,
    parent: pd.DataFrame,
    driver: ForeignKey,
    valid: np.ndarray,
    rng: np.random.Generator,
    *,
    cap: int | None,
    selection: bool,
    per_parent: float,
) -> np.ndarray:
    """Children per row of a copied parent (:attr:`DriverFit.source_counts`).

    The whole table: the drawn counts handed out in the order of each row's source
    count (the model's distribution kept, the busiest source rows get the largest).
    A selection of its rows (seeded or conditional sampling, ``selection``): a handful
    of draws says nothing of which rows are busy, so each named row gets its own
    source count times ``per_parent`` (1 for a selection: rounded at random otherwise),
    the others keep their draw.
    """
    order = source_order(source, parent, driver.parent_columns)
    if not selection:
        return by_rank(counts, order, valid, rng)
    named = order > 0
    wanted = order[named] * per_parent
    out = counts.copy()
    out[named] = np.floor(wanted + rng.random(len(wanted))).astype(out.dtype)
    return out if cap is None else np.minimum(out, cap)
