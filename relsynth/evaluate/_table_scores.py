"""The table-level scores of :func:`relsynth.evaluate.evaluate`: each metric of
:mod:`relsynth.evaluate.metrics` run over a table's columns, column pairs,
children per parent, parent-child trends and a classifier two-sample test.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from relsynth.evaluate._data import (
    as_categories,
    as_numbers,
    child_aggregates,
    child_counts,
    is_numeric,
    key_series,
    measured_columns,
    subsample_positions,
    table_features,
)
from relsynth.evaluate.metrics import (
    MIN_FAMILY_GROUPS,
    c2st_auc,
    contingency_similarity,
    correlation_similarity,
    detection_score,
    encode_features,
    ks_complement,
    missing_similarity,
    pair_categories,
    row_groups,
    tv_complement,
)

if TYPE_CHECKING:
    from relsynth.metadata.graph import Plan
    from relsynth.metadata.schema import ForeignKey, Metadata

__all__ = [
    "c2st_scores",
    "cardinality_scores",
    "column_scores",
    "family_groups",
    "has_parent",
    "pair_scores",
    "trend_scores",
]


def column_scores(
    meta: Metadata, name: str, real: pd.DataFrame, synthetic: pd.DataFrame
) -> list[dict[str, Any]]:
    """One row per measured column of ``name``: metric, score and NULL shares."""
    rows = []
    for col, kind in measured_columns(meta, name):
        if is_numeric(kind):
            metric = "KSComplement"
            score = ks_complement(as_numbers(real[col], kind), as_numbers(synthetic[col], kind))
        else:
            metric = "TVComplement"
            score = tv_complement(
                as_categories(real[col], kind), as_categories(synthetic[col], kind)
            )
        rows.append(
            {
                "table": name,
                "column": col,
                "kind": kind,
                "metric": metric,
                "score": score,
                "missing_similarity": missing_similarity(real[col], synthetic[col]),
                "null_real": _null_share(real[col]),
                "null_synthetic": _null_share(synthetic[col]),
            }
        )
    return rows


def pair_scores(
    meta: Metadata, name: str, real: pd.DataFrame, synthetic: pd.DataFrame
) -> list[dict[str, Any]]:
    """One row per pair of measured columns of ``name``."""
    columns = measured_columns(meta, name)
    numbers_r = {c: as_numbers(real[c], k) for c, k in columns if is_numeric(k)}
    numbers_s = {c: as_numbers(synthetic[c], k) for c, k in columns if is_numeric(k)}
    binned: dict[str, tuple[pd.Series, pd.Series]] = {}
    rows = []
    for i, (a, ka) in enumerate(columns):
        for b, kb in columns[i + 1 :]:
            row: dict[str, Any] = {"table": name, "column_1": a, "column_2": b}
            if is_numeric(ka) and is_numeric(kb):
                score, rho_r, rho_s = correlation_similarity(
                    numbers_r[a], numbers_r[b], numbers_s[a], numbers_s[b]
                )
                row.update(metric="CorrelationSimilarity", real=rho_r, synthetic=rho_s)
            else:
                for c, k in ((a, ka), (b, kb)):
                    if c not in binned:
                        binned[c] = pair_categories(real[c], synthetic[c], k)
                score = contingency_similarity(
                    binned[a][0], binned[b][0], binned[a][1], binned[b][1]
                )
                row.update(metric="ContingencySimilarity", real=np.nan, synthetic=np.nan)
            row["score"] = score
            rows.append(row)
    return rows


def cardinality_scores(
    meta: Metadata, real: Mapping[str, pd.DataFrame], synthetic: Mapping[str, pd.DataFrame]
) -> list[dict[str, Any]]:
    """One row per foreign key: KS complement of the children-per-parent counts, zeros included."""
    rows = []
    for fk in meta.foreign_keys:
        counts_r, _ = child_counts(real[fk.parent], real[fk.child], fk)
        counts_s, _ = child_counts(synthetic[fk.parent], synthetic[fk.child], fk)
        a = counts_r.to_numpy(dtype="float64")
        b = counts_s.to_numpy(dtype="float64")
        rows.append(
            {
                "foreign_key": fk.label,
                "child": fk.child,
                "parent": fk.parent,
                "metric": "CardinalityShapeSimilarity",
                "score": ks_complement(a, b),
                "mean_real": _mean(a),
                "mean_synthetic": _mean(b),
                "max_real": float(a.max()) if a.size else np.nan,
                "max_synthetic": float(b.max()) if b.size else np.nan,
                "zero_real": float((a == 0).mean()) if a.size else np.nan,
                "zero_synthetic": float((b == 0).mean()) if b.size else np.nan,
            }
        )
    return rows


def trend_scores(
    meta: Metadata,
    real: Mapping[str, pd.DataFrame],
    synthetic: Mapping[str, pd.DataFrame],
) -> list[dict[str, Any]]:
    """One row per (foreign key, numeric parent column, child aggregate): correlation similarity."""
    rows = []
    for fk in meta.foreign_keys:
        parent_cols = [(c, k) for c, k in measured_columns(meta, fk.parent) if is_numeric(k)]
        if not parent_cols:
            continue
        agg_r = child_aggregates(meta, real, fk)
        agg_s = child_aggregates(meta, synthetic, fk)
        for col, kind in parent_cols:
            xr = as_numbers(real[fk.parent][col], kind)
            xs = as_numbers(synthetic[fk.parent][col], kind)
            for agg in agg_r.columns:
                ys = agg_s[agg].to_numpy() if agg in agg_s else np.full(len(xs), np.nan)
                score, rho_r, rho_s = correlation_similarity(xr, agg_r[agg].to_numpy(), xs, ys)
                rows.append(
                    {
                        "foreign_key": fk.label,
                        "parent_column": col,
                        "child_aggregate": agg,
                        "real": rho_r,
                        "synthetic": rho_s,
                        "score": score,
                    }
                )
    return rows


def c2st_scores(
    meta: Metadata,
    plan: Plan,
    real: Mapping[str, pd.DataFrame],
    synthetic: Mapping[str, pd.DataFrame],
    *,
    max_rows: int,
    seed: int,
) -> list[dict[str, Any]]:
    """One row per table: C2ST on rows joined with their driver parent and children's aggregates."""
    rows = []
    for i, name in enumerate(meta.tables):
        feats_r, kinds = table_features(meta, plan, real, name)
        feats_s, _ = table_features(meta, plan, synthetic, name)
        n = min(len(feats_r), len(feats_s), max_rows)
        rng = np.random.default_rng([seed, i])
        pick_r = subsample_positions(len(feats_r), n, rng)
        pick_s = subsample_positions(len(feats_s), n, rng)
        feats_r, feats_s = feats_r.iloc[pick_r], feats_s.iloc[pick_s]
        xr, xs, mask = encode_features(feats_r, feats_s, kinds)
        # Rows of one family share their parent's columns: keep a family in one fold,
        # or the classifier recognizes the parent (as the other rows of a family sat in
        # the training folds) instead of judging the rows. With few families on either
        # side (3 airports' weather, 38 Berka districts) held-out families make the AUC
        # a coin toss over a dozen clusters, and row folds only let the classifier learn
        # the parents by heart (their own C2ST row judges them): the rows are then
        # judged without their parent's columns, and with whether they have a parent.
        groups = None
        driver = plan.driver.get(name)
        if driver is not None and driver.parent in real and driver.parent in synthetic:
            cols = list(feats_r.columns)
            family = [j for j, c in enumerate(cols) if c.startswith(f"{driver.parent}.")]
            found = np.concatenate(
                [has_parent(real, driver)[pick_r], has_parent(synthetic, driver)[pick_s]]
            )
            groups = family_groups(np.vstack([xr, xs])[:, family], found)
            n_real = len(xr)
            if min(len(np.unique(groups[:n_real])), len(np.unique(groups[n_real:]))) < (
                MIN_FAMILY_GROUPS
            ):
                groups = None
                own = np.setdiff1d(np.arange(len(cols)), family)
                xr = np.column_stack([xr[:, own], found[:n_real]])
                xs = np.column_stack([xs[:, own], found[n_real:]])
                mask = np.append(mask[own], False)
        auc, std = c2st_auc(xr, xs, mask, groups=groups, seed=seed)
        rows.append(
            {
                "table": name,
                "auc": auc,
                "auc_std": std,
                "score": detection_score(auc),
                "n_rows": int(n),
                "n_features": int(xr.shape[1]),
            }
        )
    return rows


def has_parent(tables: Mapping[str, pd.DataFrame], fk: ForeignKey) -> np.ndarray:
    """Whether each child row's key under ``fk`` names a parent row."""
    parent_keys = key_series(tables[fk.parent], fk.parent_columns).dropna()
    child_keys = key_series(tables[fk.child], fk.columns)
    return child_keys.isin(set(parent_keys)).to_numpy()


def family_groups(parent_features: np.ndarray, found: np.ndarray) -> np.ndarray:
    """A group per row: rows joined to equal parent columns share one, on either side.

    Grouping by the parent's values rather than its key keeps a row and its exact
    copy in the other sample together (two identical databases score 0.5, not less).
    Rows with no parent are groups of one: grouping them all together (their parent
    columns are all missing) would put most of a sample with broken keys in one fold.
    """
    hashed = row_groups(parent_features)
    codes, uniques = pd.factorize(pd.Series(hashed[found]), sort=False)
    out = np.empty(len(found), dtype=np.int64)
    out[found] = codes
    out[~found] = len(uniques) + np.arange(int((~found).sum()))
    return out


def _null_share(values: pd.Series) -> float:
    return float(values.isna().mean()) if len(values) else float("nan")


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")
