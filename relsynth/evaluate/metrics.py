"""Fidelity metrics: how closely the synthetic database follows the real one.

Stage 6 of the pipeline (with :mod:`relsynth.evaluate.privacy`). Each metric is a
plain function on arrays or DataFrames, scored in ``[0, 1]`` with 1 the best,
except the classifier two-sample test (a ROC AUC, 0.5 the best):

=====================  =========================  ===================================
metric                 compares                   score
=====================  =========================  ===================================
KS complement          one numeric column         1 - Kolmogorov-Smirnov statistic
TV complement          one categorical column     1 - total variation distance
correlation similarity two numeric columns        1 - abs(rho_real - rho_synthetic) / 2
contingency similarity two columns (binned)       1 - TV distance of the joint frequencies
cardinality            children per parent (FK)   KS complement of the counts, zeros in
parent-child trends    parent column vs child     correlation similarity across parents
                       aggregate (count, mean)
C2ST                   whole rows, joined         cross-validated ROC AUC of a classifier
ML efficacy            a target column            train on synthetic, test on real
=====================  =========================  ===================================

The definitions follow SDMetrics (KSComplement, TVComplement,
CorrelationSimilarity, ContingencySimilarity, CardinalityShapeSimilarity) and the
SyntheRela benchmark (detection on rows joined with their parent and their
children's aggregates). Correlations are Spearman's rank correlations: delays,
prices and counts are heavy-tailed, and Pearson's coefficient on them is decided
by a handful of outliers.

scikit-learn is imported inside the functions that need it, so that importing
:mod:`relsynth.evaluate` (and ``relsynth``) stays fast. The metrics run over whole
tables (every column, pair, foreign key) in :mod:`relsynth.evaluate._table_scores`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from relsynth.evaluate._data import (
    NULL,
    as_categories,
    as_numbers,
    is_numeric,
    limited_threads,
)

if TYPE_CHECKING:
    pass

__all__ = [
    "c2st_auc",
    "contingency_similarity",
    "correlation_similarity",
    "ks_complement",
    "ml_efficacy",
    "tv_complement",
]

logger = logging.getLogger(__name__)

#: Numeric columns are cut into this many quantile bins (of the real values) for
#: contingency similarity; categorical columns keep their most frequent values
#: and lump the rest, so one pair's table stays small.
N_BINS = 10
MAX_PAIR_CATEGORIES = 20
#: Categories a classifier sees per categorical feature (the rest: one "other").
MAX_CLASSIFIER_CATEGORIES = 63
#: C2ST keeps each family (rows of one driver parent) in one fold when there are at
#: least this many families on each side; with fewer, it leaves the parent's columns out.
MIN_FAMILY_GROUPS = 50


# -- single columns -----------------------------------------------------------------------


def ks_complement(real: np.ndarray, synthetic: np.ndarray) -> float:
    """One minus the two-sample Kolmogorov-Smirnov statistic of two numeric samples.

    NaN values are ignored (their share is compared separately).

    Parameters
    ----------
    real, synthetic : array-like of float

    Returns
    -------
    float
        In ``[0, 1]``; 1 when the empirical distributions are equal. NaN when both
        samples are empty, 0 when only one is.

    Examples
    --------
    >>> ks_complement(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    1.0
    >>> ks_complement(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    0.0
    """
    a = np.sort(_finite(real))
    b = np.sort(_finite(synthetic))
    if a.size == 0 and b.size == 0:
        return float("nan")
    if a.size == 0 or b.size == 0:
        return 0.0
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return float(1.0 - np.max(np.abs(cdf_a - cdf_b)))


def tv_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """One minus the total variation distance of two categorical samples.

    ``1 - 0.5 * sum_c |p_real(c) - p_synthetic(c)|``; NULL counts as a category.

    Returns
    -------
    float
        In ``[0, 1]``; 1 when the category frequencies are equal.

    Examples
    --------
    >>> tv_complement(pd.Series(["a", "b"]), pd.Series(["b", "a"]))
    1.0
    >>> tv_complement(pd.Series(["a", "a"]), pd.Series(["a", "b"]))
    0.5
    """
    p = _frequencies(real)
    q = _frequencies(synthetic)
    if p.empty and q.empty:
        return float("nan")
    if p.empty or q.empty:
        return 0.0
    p, q = p.align(q, fill_value=0.0)
    return float(1.0 - 0.5 * np.abs(p - q).sum())


def missing_similarity(real: pd.Series, synthetic: pd.Series) -> float:
    """One minus the difference of the NULL shares: ``1 - |null_real - null_synthetic|``."""
    if len(real) == 0 or len(synthetic) == 0:
        return float("nan")
    return float(1.0 - abs(real.isna().mean() - synthetic.isna().mean()))


def _finite(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype="float64")
    return arr[np.isfinite(arr)]


def _frequencies(values: pd.Series) -> pd.Series:
    if len(values) == 0:
        return pd.Series(dtype="float64")
    return as_categories(values).value_counts(normalize=True, sort=False)


# -- column pairs -------------------------------------------------------------------------


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation on the rows where both values are finite (NaN if undefined)."""
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return float("nan")
    rx = pd.Series(x[ok]).rank().to_numpy()
    ry = pd.Series(y[ok]).rank().to_numpy()
    rx = rx - rx.mean()
    ry = ry - ry.mean()
    denom = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    if denom == 0:
        return float("nan")
    return float(np.clip((rx * ry).sum() / denom, -1.0, 1.0))


def correlation_similarity(
    real_x: np.ndarray,
    real_y: np.ndarray,
    synthetic_x: np.ndarray,
    synthetic_y: np.ndarray,
) -> tuple[float, float, float]:
    """Similarity of the rank correlation of two numeric columns.

    Returns
    -------
    score : float
        ``1 - |rho_real - rho_synthetic| / 2`` in ``[0, 1]``; NaN when the real
        correlation is undefined (a constant column); 0.5 floor is not applied.
    rho_real, rho_synthetic : float
        Spearman's coefficients. An undefined synthetic coefficient (a constant
        synthetic column) counts as 0.

    Examples
    --------
    >>> x = np.arange(10.0)
    >>> correlation_similarity(x, x, x, -x)[0]
    0.0
    """
    rho_r = spearman(real_x, real_y)
    rho_s = spearman(synthetic_x, synthetic_y)
    if np.isnan(rho_r):
        return float("nan"), rho_r, rho_s
    score = 1.0 - abs(rho_r - (0.0 if np.isnan(rho_s) else rho_s)) / 2.0
    return float(score), rho_r, rho_s


def contingency_similarity(
    real_a: pd.Series,
    real_b: pd.Series,
    synthetic_a: pd.Series,
    synthetic_b: pd.Series,
) -> float:
    """One minus the total variation distance of the joint frequencies of two categorical columns.

    Numeric columns are binned by the caller (see :func:`pair_scores`).

    Examples
    --------
    >>> a = pd.Series(["x", "x", "y", "y"]); b = pd.Series(["u", "u", "v", "v"])
    >>> contingency_similarity(a, b, a, b)
    1.0
    >>> contingency_similarity(a, b, a, b.iloc[::-1].reset_index(drop=True))
    0.0
    """
    if len(real_a) == 0 and len(synthetic_a) == 0:
        return float("nan")
    if len(real_a) == 0 or len(synthetic_a) == 0:
        return 0.0
    sep = "\x1f"
    real = _frequencies(real_a.astype(str) + sep + real_b.astype(str))
    synth = _frequencies(synthetic_a.astype(str) + sep + synthetic_b.astype(str))
    real, synth = real.align(synth, fill_value=0.0)
    return float(1.0 - 0.5 * np.abs(real - synth).sum())


def pair_categories(
    real: pd.Series, synthetic: pd.Series, kind: str
) -> tuple[pd.Series, pd.Series]:
    """Both sides as categories: numbers binned at real quantiles, rare categories lumped."""
    if is_numeric(kind):
        a, b = as_numbers(real, kind), as_numbers(synthetic, kind)
        finite = a[np.isfinite(a)]
        if finite.size == 0:
            edges = np.array([])
        else:
            edges = np.unique(np.quantile(finite, np.linspace(0, 1, N_BINS + 1)[1:-1]))
        return _bin(a, edges, real.index), _bin(b, edges, synthetic.index)
    a, b = as_categories(real, kind), as_categories(synthetic, kind)
    top = a.value_counts().index[:MAX_PAIR_CATEGORIES]
    return a.where(a.isin(top), "<other>"), b.where(b.isin(top), "<other>")


def _bin(values: np.ndarray, edges: np.ndarray, index: pd.Index) -> pd.Series:
    bins = np.searchsorted(edges, values, side="right").astype(object)
    bins[~np.isfinite(values)] = NULL
    return pd.Series(bins, index=index, dtype=object).astype(str)


# -- classifier two-sample test -----------------------------------------------------------


def encode_features(
    real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numeric matrices for a classifier; categories coded from the real data's frequent ones.

    Returns ``(X_real, X_synthetic, categorical_mask)``.
    """
    cols = [c for c in real.columns if c in synthetic.columns]
    xr = np.empty((len(real), len(cols)), dtype="float64")
    xs = np.empty((len(synthetic), len(cols)), dtype="float64")
    mask = np.zeros(len(cols), dtype=bool)
    for j, col in enumerate(cols):
        if kinds.get(col) == "categorical":
            mask[j] = True
            top = pd.Series(real[col]).value_counts().index[:MAX_CLASSIFIER_CATEGORIES]
            codes = {v: float(i) for i, v in enumerate(top)}
            other = float(len(top))
            xr[:, j] = [codes.get(v, other) for v in real[col]]
            xs[:, j] = [codes.get(v, other) for v in synthetic[col]]
        else:
            xr[:, j] = np.asarray(real[col], dtype="float64")
            xs[:, j] = np.asarray(synthetic[col], dtype="float64")
    return xr, xs, mask


def c2st_auc(
    real: np.ndarray,
    synthetic: np.ndarray,
    categorical: np.ndarray | None = None,
    *,
    groups: np.ndarray | None = None,
    seed: int = 0,
    n_folds: int = 3,
) -> tuple[float, float]:
    """Classifier two-sample test: how well a classifier tells real rows from synthetic ones.

    A :class:`~sklearn.ensemble.HistGradientBoostingClassifier` is cross-validated
    on the rows of both samples, labelled by origin. The folds are grouped and
    stratified (:func:`stratified_group_folds`): a group never straddles two folds,
    and every fold holds about ``1 / n_folds`` of the real rows and of the synthetic
    rows, so the classifier always trains and tests on both.

    Parameters
    ----------
    real, synthetic : ndarray of shape (n, d)
        Feature matrices (NaN for missing values).
    categorical : ndarray of bool, optional
        Which features are category codes.
    groups : ndarray, optional
        A group label per row (real rows first): rows of one group share a fold.
        By default identical rows form a group. Pass the driver parent of each
        row, so that the classifier cannot recognize a family it saw in training.
    seed : int
        Seed of the folds and the classifier.
    n_folds : int
        Number of cross-validation folds.

    Returns
    -------
    auc, auc_std : float
        Mean and standard deviation of the ROC AUC over the folds: 0.5 when the
        classifier cannot tell them apart (the best score), 1.0 when it always
        can. NaN with fewer than ``2 * n_folds`` rows on either side or no feature.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    if real.shape[1] == 0 or min(len(real), len(synthetic)) < 2 * n_folds:
        return float("nan"), float("nan")
    x = np.vstack([real, synthetic]).astype("float64")
    # A feature that is missing everywhere tells nothing (and breaks the binning).
    informative = ~np.isnan(x).all(axis=0)
    if not informative.any():
        return float("nan"), float("nan")
    x = x[:, informative]
    if categorical is not None:
        categorical = np.asarray(categorical)[informative]
    y = np.concatenate([np.zeros(len(real)), np.ones(len(synthetic))])
    # Identical rows share a fold. Otherwise a test row's twin of the other class sits
    # in the training folds, the classifier learns the twin's label, and two identical
    # samples score an AUC far *below* 0.5 instead of 0.5.
    if groups is None:
        groups = row_groups(x)
    fold = stratified_group_folds(y, groups, n_folds, np.random.default_rng(seed))
    cat = categorical if categorical is not None and categorical.any() else None
    aucs = []
    with limited_threads():
        for k in range(n_folds):
            train, test = fold != k, fold == k
            if len(np.unique(y[test])) < 2 or len(np.unique(y[train])) < 2:
                continue
            # A feature missing in every training row (a few rows, a rare value) breaks
            # the classifier's binning; it tells the classifier nothing there anyway.
            xa, xb, fold_cat = fit_features(x[train], x[test], cat)
            model = HistGradientBoostingClassifier(
                max_iter=100, categorical_features=fold_cat, early_stopping=False, random_state=seed
            )
            model.fit(xa, y[train])
            aucs.append(roc_auc_score(y[test], model.predict_proba(xb)[:, 1]))
    if not aucs:
        return float("nan"), float("nan")
    return float(np.mean(aucs)), float(np.std(aucs))


def fit_features(
    train: np.ndarray, test: np.ndarray, categorical: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``train`` and ``test`` without the features missing in every training row.

    scikit-learn's histogram gradient boosting cannot bin a feature with no value
    (``ValueError: window shape cannot be larger than input array shape``): a tiny
    synthetic table, or a fold whose rows all lack a rare column. Such a feature
    carries nothing to learn from; with no feature left, one constant column stands
    in (the model then predicts the training prior).
    """
    keep = ~np.isnan(train).all(axis=0) if len(train) else np.zeros(train.shape[1], bool)
    if keep.all():
        return train, test, categorical
    if not keep.any():
        return np.zeros((len(train), 1)), np.zeros((len(test), 1)), None
    cat = None if categorical is None else np.asarray(categorical)[keep]
    return train[:, keep], test[:, keep], cat if cat is not None and cat.any() else None


def stratified_group_folds(
    y: np.ndarray, groups: np.ndarray, n_folds: int, rng: np.random.Generator
) -> np.ndarray:
    """A fold number per row: groups kept whole, each class spread evenly over the folds.

    Plain group folds go wrong when one side has a few large groups: with the
    weather of 3 real airports against 150 synthetic ones, a fold can hold every
    real row, the classifier then trains on synthetic rows only and scores 0.5
    however different the samples are. Here the groups are dealt largest first, each
    to the fold that holds the smallest share of its class so far (groups holding
    both classes, identical rows of both samples, by their larger class); single-row
    groups, most of them on large tables, fill the folds up to equal shares at the
    end, in random order.
    """
    codes, _ = pd.factorize(pd.Series(groups), sort=False)
    labels = np.asarray(y).astype(np.int64)
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    counts = np.zeros((n_groups, 2), dtype=np.int64)
    np.add.at(counts, (codes, labels), 1)
    totals = counts.sum(axis=0).clip(min=1)
    size = counts.sum(axis=1)
    group_fold = np.full(n_groups, -1, dtype=np.int64)
    share = np.zeros((n_folds, 2))
    order = rng.permutation(n_groups)
    large = order[size[order] > 1]
    large = large[np.argsort(-size[large], kind="stable")]
    for g in large:
        cls = int(counts[g].argmax())
        k = int(np.argmin(share[:, cls]))
        group_fold[g] = k
        share[k] += counts[g] / totals
    for cls in (0, 1):
        single = order[(size[order] == 1) & (counts[order, cls] == 1)]
        want = np.round((share[:, cls].sum() * totals[cls] + len(single)) / n_folds)
        room = np.maximum(want - share[:, cls] * totals[cls], 0).astype(np.int64)
        deal = np.repeat(np.arange(n_folds), room)[: len(single)]
        if len(deal) < len(single):  # rounding left a few: round-robin
            deal = np.r_[deal, np.arange(len(single) - len(deal)) % n_folds]
        group_fold[single] = rng.permutation(deal)
    return group_fold[codes]


def row_groups(x: np.ndarray) -> np.ndarray:
    """One group label per distinct row of ``x`` (a hash of its values)."""
    return pd.util.hash_pandas_object(pd.DataFrame(x), index=False).to_numpy()


def detection_score(auc: float) -> float:
    """Map a C2ST AUC to ``[0, 1]``, 1 the best: ``1 - 2 * max(auc - 0.5, 0)`` (SDMetrics)."""
    if np.isnan(auc):
        return float("nan")
    return float(1.0 - 2.0 * max(auc - 0.5, 0.0))


# -- ML efficacy --------------------------------------------------------------------------


def ml_efficacy(
    train: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    kinds: Mapping[str, str],
    *,
    seed: int = 0,
) -> tuple[str, float]:
    """Train a gradient-boosting model on ``train``, score it on ``test`` for ``target``.

    Returns
    -------
    metric : {"f1_macro", "r2"}
        Macro-averaged F1 for a categorical target, R^2 for a numeric one.
    score : float
        NaN when either side has no row with a target value.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import f1_score, r2_score

    classify = kinds[target] == "categorical"
    features = {c: k for c, k in kinds.items() if c != target}
    train = train.loc[_has_target(train[target], classify)]
    test = test.loc[_has_target(test[target], classify)]
    metric = "f1_macro" if classify else "r2"
    if len(train) < 2 or len(test) < 2 or not features:
        return metric, float("nan")
    xa, xb, mask = encode_features(train[list(features)], test[list(features)], features)
    xa, xb, cat = fit_features(xa, xb, mask if mask.any() else None)
    if classify:
        ya = train[target].astype(str).to_numpy()
        yb = test[target].astype(str).to_numpy()
        if len(np.unique(ya)) < 2:
            pred = np.full(len(yb), ya[0], dtype=object)
        else:
            model = HistGradientBoostingClassifier(
                max_iter=100, categorical_features=cat, early_stopping=False, random_state=seed
            )
            with limited_threads():
                pred = model.fit(xa, ya).predict(xb)
        labels = np.union1d(yb, np.asarray(pred, dtype=str))
        return metric, float(f1_score(yb, pred, labels=labels, average="macro", zero_division=0))
    ya = np.asarray(train[target], dtype="float64")
    yb = np.asarray(test[target], dtype="float64")
    reg = HistGradientBoostingRegressor(
        max_iter=100, categorical_features=cat, early_stopping=False, random_state=seed
    )
    with limited_threads():
        pred = reg.fit(xa, ya).predict(xb)
    if np.var(yb) == 0:
        return metric, float("nan")
    return metric, float(r2_score(yb, pred))


def _has_target(values: pd.Series, classify: bool) -> np.ndarray:
    if classify:
        return (values != NULL).to_numpy()
    return np.isfinite(np.asarray(values, dtype="float64"))
