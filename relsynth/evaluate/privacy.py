"""Privacy metrics: does the synthetic database give away real rows?

Stage 6 of the pipeline (with :mod:`relsynth.evaluate.metrics`). Per table, keys
excluded:

* **exact-copy rate**: the share of synthetic rows equal, on every non-key
  column, to some real row. Read it against the holdout's own rate (how many
  rows of fresh real data equal a training row: categorical-only tables repeat
  rows naturally).
* **distance to closest record (DCR)**: the Euclidean distance from a row to its
  nearest real (training) row, on standardized numbers and one-hot categories.
  ``dcr_ratio`` is the median synthetic DCR divided by the median holdout DCR:
  about 1 when synthetic rows sit as far from the training rows as unseen real
  rows do, well below 1 when the generator memorized. ``dcr_share`` is the share
  of synthetic rows closer to the training rows than to an equal-size holdout:
  0.5 is ideal.
* **membership inference AUC**: an attacker who holds the synthetic data scores
  each real row by its distance to the closest synthetic row and guesses that
  close rows were in the training data. The ROC AUC of that guess over training
  rows and holdout rows: 0.5 means the attacker learns nothing.

DCR ratio, DCR share and the membership attack need a holdout (rows not used to
train the generator); without one they are NaN.

Every table also gets a **chance reference**, holdout or not, read beside the
synthetic figures (``chance_from`` says which):

* ``exact_copy_chance``: with a holdout, its exact-copy rate; without one, the
  source's own duplicate rate (leave one out: the share of real rows equal, on every
  non-key column, to another real row). That is the rate at which a fresh row from
  the source's distribution repeats a real row by chance: a low-entropy table (the
  demo's aircraft specs, where many planes share a model) has a high one, and an
  exact-copy rate near it is no sign of memorisation.
* ``dcr_chance``: with a holdout, the holdout's median DCR; without one, the median
  distance from a real row to its closest *other* real row (leave one out, on the
  same reference rows as ``dcr_synthetic``), i.e. a real-vs-real split of the source
  into one row and the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from relsynth.evaluate._data import (
    as_categories,
    as_numbers,
    is_numeric,
    limited_threads,
    measured_columns,
    subsample,
)

if TYPE_CHECKING:
    from relsynth.metadata.schema import Metadata

__all__ = ["dcr", "duplicate_rate", "exact_copy_rate", "membership_auc"]

#: Rows whose distance is measured (synthetic, holdout and member queries), per table.
QUERY_ROWS = 2_000
#: Rows of each reference set (training, holdout, synthetic) the distances are measured to.
REFERENCE_ROWS = 20_000
#: One-hot columns per categorical column (the most frequent real values; the rest: "other").
MAX_ONE_HOT = 20


def copy_columns(meta: Metadata, table: str) -> list[tuple[str, str]]:
    """The columns an exact copy is judged on: every non-key column except binary ones."""
    keys = set(meta.key_columns(table))
    return [
        (c.name, c.kind)
        for c in meta.table(table).columns
        if c.name not in keys and c.kind not in ("id", "binary")
    ]


def exact_copy_rate(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """The share of ``synthetic`` rows equal to a row of ``real`` (same columns, compared as text).

    Examples
    --------
    >>> real = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    >>> exact_copy_rate(real, real.iloc[[1, 0, 1]])
    1.0
    >>> exact_copy_rate(real, pd.DataFrame({"a": [1, 2], "b": ["y", "y"]}))
    0.5
    """
    if len(synthetic) == 0 or real.shape[1] == 0:
        return float("nan")
    real_hash = _row_hashes(real)
    synth_hash = _row_hashes(synthetic[list(real.columns)])
    return float(np.isin(synth_hash, real_hash).mean())


def duplicate_rate(real: pd.DataFrame) -> float:
    """The share of ``real`` rows equal to another row of ``real`` (leave one out).

    Examples
    --------
    >>> duplicate_rate(pd.DataFrame({"a": [1, 1, 2, 3]}))
    0.5
    """
    if len(real) < 2 or real.shape[1] == 0:
        return float("nan")
    return float(pd.Series(_row_hashes(real)).duplicated(keep=False).mean())


def loo_dcr(reference: np.ndarray, pick: np.ndarray) -> np.ndarray:
    """Distance from each ``reference[pick]`` row to its closest *other* reference row."""
    from sklearn.neighbors import NearestNeighbors

    if len(reference) < 2 or len(pick) == 0:
        return np.full(len(pick), np.nan)
    with limited_threads():
        nn = NearestNeighbors(n_neighbors=2, algorithm="brute").fit(reference)
        distances, _ = nn.kneighbors(reference[pick])
    return distances[:, 1]  # the first neighbour is the row itself (or an equal row)


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    text = pd.DataFrame({c: as_categories(frame[c]) for c in frame.columns})
    return pd.util.hash_pandas_object(text, index=False).to_numpy()


class _Encoder:
    """Standardized numbers (NaN -> 0, plus an indicator) and one-hot categories, fit on real."""

    def __init__(self, columns: list[tuple[str, str]], real: pd.DataFrame) -> None:
        self.columns = columns
        self.stats: dict[str, tuple[float, float]] = {}
        self.top: dict[str, list[str]] = {}
        for col, kind in columns:
            if is_numeric(kind):
                x = as_numbers(real[col], kind)
                finite = x[np.isfinite(x)]
                mean = float(finite.mean()) if finite.size else 0.0
                std = float(finite.std()) if finite.size else 0.0
                self.stats[col] = (mean, std if std > 0 else 1.0)
            else:
                counts = as_categories(real[col], kind).value_counts()
                self.top[col] = list(counts.index[:MAX_ONE_HOT])

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        blocks = []
        for col, kind in self.columns:
            if is_numeric(kind):
                mean, std = self.stats[col]
                x = (as_numbers(frame[col], kind) - mean) / std
                missing = ~np.isfinite(x)
                blocks.append(np.where(missing, 0.0, x)[:, None])
                blocks.append(missing.astype("float64")[:, None])
            else:
                cats = as_categories(frame[col], kind).to_numpy()
                top = self.top[col]
                onehot = np.zeros((len(frame), len(top) + 1))
                index = {v: i for i, v in enumerate(top)}
                pos = np.array([index.get(v, len(top)) for v in cats], dtype=np.int64)
                if len(frame):
                    onehot[np.arange(len(frame)), pos] = 1.0
                blocks.append(onehot)
        if not blocks:
            return np.zeros((len(frame), 0))
        return np.hstack(blocks)


def dcr(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Distance from each query row to its closest reference row (Euclidean)."""
    from sklearn.neighbors import NearestNeighbors

    if len(reference) == 0 or len(queries) == 0:
        return np.full(len(queries), np.nan)
    with limited_threads():
        nn = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(reference)
        distances, _ = nn.kneighbors(queries)
    return distances[:, 0]


def membership_auc(member_distances: np.ndarray, non_member_distances: np.ndarray) -> float:
    """ROC AUC of guessing "member" for rows close to the synthetic data (0.5: no leak)."""
    from sklearn.metrics import roc_auc_score

    if len(member_distances) == 0 or len(non_member_distances) == 0:
        return float("nan")
    y = np.concatenate([np.ones(len(member_distances)), np.zeros(len(non_member_distances))])
    score = -np.concatenate([member_distances, non_member_distances])
    return float(roc_auc_score(y, score))


def privacy_scores(
    meta: Metadata,
    name: str,
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    *,
    max_rows: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """The privacy row of one table (see the module docstring)."""
    row: dict[str, Any] = {
        "table": name,
        "exact_copy_rate": np.nan,
        "exact_copy_holdout": np.nan,
        "dcr_synthetic": np.nan,
        "dcr_synthetic_p05": np.nan,
        "dcr_holdout": np.nan,
        "dcr_ratio": np.nan,
        "dcr_share": np.nan,
        "mia_auc": np.nan,
        "exact_copy_chance": np.nan,
        "dcr_chance": np.nan,
        "chance_from": "holdout" if holdout is not None else "real vs real",
    }
    copy_cols = [c for c, _ in copy_columns(meta, name)]
    if copy_cols:
        row["exact_copy_rate"] = exact_copy_rate(real[copy_cols], synthetic[copy_cols])
        if holdout is not None:
            row["exact_copy_holdout"] = exact_copy_rate(real[copy_cols], holdout[copy_cols])
            row["exact_copy_chance"] = row["exact_copy_holdout"]
        else:
            row["exact_copy_chance"] = duplicate_rate(real[copy_cols])
    columns = measured_columns(meta, name)
    if not columns or len(real) == 0 or len(synthetic) == 0:
        return row
    n_query = min(QUERY_ROWS, max_rows)
    max_rows = min(REFERENCE_ROWS, max_rows)
    encoder = _Encoder(columns, real)
    queries = encoder.transform(subsample(synthetic, n_query, rng))
    if holdout is None or len(holdout) == 0:
        reference = encoder.transform(subsample(real, max_rows, rng))
        d_syn = dcr(reference, queries)
        row["dcr_synthetic"] = float(np.median(d_syn))
        row["dcr_synthetic_p05"] = float(np.quantile(d_syn, 0.05))
        d_real = loo_dcr(reference, rng.permutation(len(reference))[:n_query])
        if len(d_real) and np.isfinite(d_real).any():
            row["dcr_chance"] = float(np.nanmedian(d_real))
        return row
    # Equal-size references, so "closer to train than to holdout" is a fair coin at best.
    m = min(len(real), len(holdout), max_rows)
    train_ref = subsample(real, m, rng)
    hold_ref = subsample(holdout, m, rng)
    x_train, x_hold = encoder.transform(train_ref), encoder.transform(hold_ref)
    d_syn = dcr(x_train, queries)
    d_syn_hold = dcr(x_hold, queries)
    # Subsamples keep the source order; pick query rows at random, not the first ones.
    pick = rng.permutation(m)[: min(n_query, m)]
    d_hold = dcr(x_train, x_hold[pick])
    row["dcr_synthetic"] = float(np.median(d_syn))
    row["dcr_synthetic_p05"] = float(np.quantile(d_syn, 0.05))
    row["dcr_holdout"] = float(np.median(d_hold))
    row["dcr_chance"] = row["dcr_holdout"]
    row["dcr_ratio"] = _ratio(row["dcr_synthetic"], row["dcr_holdout"])
    row["dcr_share"] = float(np.mean(d_syn < d_syn_hold) + 0.5 * np.mean(d_syn == d_syn_hold))
    synth_ref = encoder.transform(subsample(synthetic, max_rows, rng))
    members = dcr(synth_ref, x_train[rng.permutation(m)[: len(pick)]])
    non_members = dcr(synth_ref, x_hold[pick])
    row["mia_auc"] = membership_auc(members, non_members)
    return row


def _ratio(a: float, b: float) -> float:
    if not np.isfinite(a) or not np.isfinite(b) or b == 0:
        return float("nan")
    return float(a / b)
