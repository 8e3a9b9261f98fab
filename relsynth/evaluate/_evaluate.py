"""``evaluate(metadata, real, synthetic)``: every fidelity and privacy metric, with ceilings."""

from __future__ import annotations

import logging
import numbers
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from relsynth._random import stream
from relsynth._typing import SeedLike
from relsynth.errors import DataError, ParameterError
from relsynth.evaluate import _table_scores as ts
from relsynth.evaluate import metrics as m
from relsynth.evaluate._data import (
    as_categories,
    as_numbers,
    child_counts,
    is_numeric,
    measured_columns,
    subsample,
    table_features,
)
from relsynth.evaluate._rules import rule_scores
from relsynth.evaluate.privacy import privacy_scores
from relsynth.evaluate.report import EvaluationReport, _frame
from relsynth.metadata.graph import Plan
from relsynth.metadata.graph import plan as make_plan
from relsynth.metadata.schema import Metadata

__all__ = ["evaluate"]

logger = logging.getLogger(__name__)

#: Bins of the numeric histograms and categories of the bar charts in the HTML page.
_HIST_BINS = 30
_BAR_CATEGORIES = 12
_COUNT_BINS = 30


def evaluate(
    metadata: Metadata,
    real: Mapping[str, pd.DataFrame],
    synthetic: Mapping[str, pd.DataFrame],
    *,
    holdout: Mapping[str, pd.DataFrame] | None = None,
    seed: SeedLike = 0,
    max_rows: int = 50_000,
    target_columns: Mapping[str, str] | None = None,
) -> EvaluationReport:
    """Score how well a synthetic database reproduces a real one, and how private it is.

    Parameters
    ----------
    metadata : Metadata
        The schema shared by the three databases.
    real : Mapping of str to DataFrame
        The real database: the data the synthesizer was fitted on.
    synthetic : Mapping of str to DataFrame
        The synthetic database.
    holdout : Mapping of str to DataFrame, optional
        Real data the synthesizer never saw (see :func:`split_holdout`). With it,
        every fidelity score gets a ``ceiling`` (the same metric, real vs holdout)
        and the privacy metrics get their baselines.
    seed : int, numpy Generator or None, default 0
        Seed of the subsamples, the folds and the classifiers.
    max_rows : int, default 50,000
        Rows per table used for column, pair, classifier and distance metrics
        (a random subsample of larger tables). Cardinalities always use every row.
    target_columns : Mapping of str to str, optional
        ``{table: column}`` for ML efficacy: a model is trained on the synthetic
        table (joined with its parent and children's aggregates) to predict the
        column, and tested on real rows.

    Returns
    -------
    EvaluationReport

    Raises
    ------
    DataError
        If a table or column of ``metadata`` is missing from one of the databases.
    ParameterError
        If ``max_rows`` or ``target_columns`` are invalid.

    Examples
    --------
    >>> import pandas as pd
    >>> from relsynth import Column, Metadata, Table
    >>> meta = Metadata({"t": Table("t", (Column("x", "numerical"), Column("c", "categorical")))})
    >>> real = {"t": pd.DataFrame({"x": range(100), "c": ["a", "b"] * 50})}
    >>> report = evaluate(meta, real, real)
    >>> report.column_shapes, report.column_pairs
    (1.0, 1.0)
    """
    start = time.perf_counter()
    _validate(metadata, real, synthetic, holdout, max_rows, target_columns)
    base = int(stream(seed, "evaluate").integers(0, 2**31 - 1))
    plan = make_plan(metadata)

    real_sub = _subsample(metadata, real, max_rows, base, "real")
    synth_sub = _subsample(metadata, synthetic, max_rows, base, "synthetic")
    found = _fidelity(metadata, plan, real, synthetic, real_sub, synth_sub, max_rows, base)
    if holdout is not None:
        hold_sub = _subsample(metadata, holdout, max_rows, base, "holdout")
        ceiling = _fidelity(metadata, plan, real, holdout, real_sub, hold_sub, max_rows, base)
        found = {name: _with_ceiling(name, found[name], ceiling[name]) for name in found}
    efficacy = _efficacy(
        metadata, plan, real, synthetic, holdout, target_columns or {}, max_rows, base
    )
    privacy = _privacy(metadata, real, synthetic, holdout, max_rows, base)
    frames = {name: _frame(name, rows) for name, rows in found.items()}
    frames["rules"] = _frame("rules", rule_scores(metadata, real, synthetic, seed=base))
    frames["efficacy"] = _frame("efficacy", efficacy)
    frames["privacy"] = _frame("privacy", privacy)
    plots = _plot_data(metadata, real, synthetic, real_sub, synth_sub, frames)
    info = _info(metadata, real, synthetic, holdout, seed, max_rows, privacy, start)
    report = EvaluationReport(**frames, plots=plots, info=info)
    _log_summary(report)
    return report


def _log_summary(report: EvaluationReport) -> None:
    logger.info(
        "evaluate: column shapes %.3f, pairs %.3f, cardinality %.3f, C2ST AUC %.3f (%.1f s)",
        report.column_shapes,
        report.column_pairs,
        report.cardinality_score,
        report.c2st_auc,
        report.info["elapsed_s"],
    )


def _subsample(
    metadata: Metadata, tables: Mapping[str, pd.DataFrame], max_rows: int, base: int, label: str
) -> dict[str, pd.DataFrame]:
    """At most ``max_rows`` random rows of each table (one stream per database and table)."""
    return {
        name: subsample(tables[name], max_rows, stream(base, "subsample", label, name))
        for name in metadata.tables
    }


def _privacy(
    metadata: Metadata,
    real: Mapping[str, pd.DataFrame],
    synthetic: Mapping[str, pd.DataFrame],
    holdout: Mapping[str, pd.DataFrame] | None,
    max_rows: int,
    base: int,
) -> list[dict[str, Any]]:
    """The privacy scores of every table."""
    tick = time.perf_counter()
    privacy = [
        privacy_scores(
            metadata,
            name,
            real[name],
            synthetic[name],
            None if holdout is None else holdout[name],
            max_rows=max_rows,
            rng=stream(base, "privacy", name),
        )
        for name in metadata.tables
    ]
    logger.debug("evaluate: privacy in %.1f s", time.perf_counter() - tick)
    return privacy


def _info(
    metadata: Metadata,
    real: Mapping[str, pd.DataFrame],
    synthetic: Mapping[str, pd.DataFrame],
    holdout: Mapping[str, pd.DataFrame] | None,
    seed: SeedLike,
    max_rows: int,
    privacy: list[dict[str, Any]],
    start: float,
) -> dict[str, Any]:
    """What the report was computed on: seed, sizes, keys, copied tables, time, version."""
    copied = _copied_tables(privacy, real, synthetic)
    info: dict[str, Any] = {
        "seed": seed if isinstance(seed, (int, np.integer)) else None,
        "max_rows": int(max_rows),
        "holdout": holdout is not None,
        "tables": {
            name: {
                "real": len(real[name]),
                "synthetic": len(synthetic[name]),
                **({"holdout": len(holdout[name])} if holdout is not None else {}),
            }
            for name in metadata.tables
        },
        "foreign_keys": [fk.label for fk in metadata.foreign_keys],
        "copied_tables": copied,
        "copied_reasons": _copied_reasons(metadata, real, copied),
        "elapsed_s": round(time.perf_counter() - start, 3),
    }
    from relsynth._version import __version__

    info["relsynth_version"] = __version__
    return info


def _validate(
    meta: Metadata,
    real: Mapping[str, pd.DataFrame],
    synthetic: Mapping[str, pd.DataFrame],
    holdout: Mapping[str, pd.DataFrame] | None,
    max_rows: int,
    targets: Mapping[str, str] | None,
) -> None:
    if not isinstance(meta, Metadata):
        raise ParameterError(
            f"evaluate: 'metadata' must be a relsynth.Metadata, got {type(meta).__name__}."
        )
    if isinstance(max_rows, bool) or not isinstance(max_rows, numbers.Integral) or max_rows < 10:
        raise ParameterError(
            "The 'max_rows' parameter of evaluate must be an int in the range [10, inf). "
            f"Got {max_rows!r} instead."
        )
    problems: list[str] = []
    sides = [("real", real), ("synthetic", synthetic)]
    if holdout is not None:
        sides.append(("holdout", holdout))
    for label, tables in sides:
        if not isinstance(tables, Mapping):
            raise ParameterError(
                f"evaluate: '{label}' must be a mapping of table name to DataFrame, "
                f"got {type(tables).__name__}."
            )
        for table in meta:
            frame = tables.get(table.name)
            if frame is None:
                problems.append(f"the {label} database has no table {table.name!r}")
                continue
            if not isinstance(frame, pd.DataFrame):
                problems.append(
                    f"the {label} table {table.name!r} is a {type(frame).__name__}, not a DataFrame"
                )
                continue
            missing = [c for c in table.column_names if c not in frame.columns]
            if missing:
                problems.append(
                    f"the {label} table {table.name!r} lacks the column(s) {', '.join(missing)}"
                )
    if problems:
        listing = "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1))
        raise DataError(
            "evaluate: the databases do not match the metadata; pass every table of the "
            f"metadata with all of its columns:\n{listing}"
        )
    for table, column in (targets or {}).items():
        measured = dict(measured_columns(meta, table)) if table in meta else {}
        if column not in measured:
            raise ParameterError(
                f"target_columns: {table}.{column} is not a measured column (a numerical, "
                "datetime, categorical or boolean column that belongs to no key). "
                + (
                    f"Measured columns of {table!r}: {', '.join(measured) or '(none)'}."
                    if table in meta
                    else f"Known tables: {', '.join(meta.tables)}."
                )
            )


def _fidelity(
    meta: Metadata,
    plan: Plan,
    real: Mapping[str, pd.DataFrame],
    other: Mapping[str, pd.DataFrame],
    real_sub: Mapping[str, pd.DataFrame],
    other_sub: Mapping[str, pd.DataFrame],
    max_rows: int,
    seed: int,
) -> dict[str, list[dict[str, Any]]]:
    """Every fidelity score of ``other`` (synthetic, or holdout for the ceiling) vs ``real``."""
    out: dict[str, list[dict[str, Any]]] = {"columns": [], "pairs": []}
    tick = time.perf_counter()
    for name in meta.tables:
        out["columns"].extend(ts.column_scores(meta, name, real_sub[name], other_sub[name]))
        out["pairs"].extend(ts.pair_scores(meta, name, real_sub[name], other_sub[name]))
    logger.debug("evaluate: columns and pairs in %.1f s", time.perf_counter() - tick)
    tick = time.perf_counter()
    out["cardinality"] = ts.cardinality_scores(meta, real, other)
    out["trends"] = ts.trend_scores(meta, real, other)
    logger.debug("evaluate: cardinality and trends in %.1f s", time.perf_counter() - tick)
    tick = time.perf_counter()
    out["c2st"] = ts.c2st_scores(meta, plan, real, other, max_rows=max_rows, seed=seed)
    logger.debug("evaluate: C2ST in %.1f s", time.perf_counter() - tick)
    return out


_KEYS = {
    "columns": ("table", "column"),
    "pairs": ("table", "column_1", "column_2"),
    "cardinality": ("foreign_key",),
    "trends": ("foreign_key", "parent_column", "child_aggregate"),
    "c2st": ("table",),
}


def _with_ceiling(
    name: str, rows: list[dict[str, Any]], ceiling: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    keys = _KEYS[name]
    value = "auc" if name == "c2st" else "score"
    lookup = {tuple(r[k] for k in keys): r[value] for r in ceiling}
    return [{**r, "ceiling": lookup.get(tuple(r[k] for k in keys), np.nan)} for r in rows]


def _efficacy(
    meta: Metadata,
    plan: Plan,
    real: Mapping[str, pd.DataFrame],
    synthetic: Mapping[str, pd.DataFrame],
    holdout: Mapping[str, pd.DataFrame] | None,
    targets: Mapping[str, str],
    max_rows: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Train on synthetic, test on real; the ceiling trains on real and tests on the same rows.

    With a holdout the test rows are the holdout's; without one, the real table is
    cut in two halves, one to train the ceiling model and one to test both.
    """
    rows = []
    for table, target in targets.items():
        rng = stream(seed, "efficacy", table)
        feats_real, kinds = table_features(meta, plan, real, table)
        feats_synth, _ = table_features(meta, plan, synthetic, table)
        if holdout is not None:
            train_real = feats_real
            test, _ = table_features(meta, plan, holdout, table)
        else:
            cut = rng.permutation(len(feats_real))
            half = len(cut) // 2
            train_real = feats_real.iloc[np.sort(cut[:half])]
            test = feats_real.iloc[np.sort(cut[half:])]
        train_real = subsample(train_real, max_rows, rng)
        test = subsample(test, max_rows, rng)
        feats_synth = subsample(feats_synth, max_rows, rng)
        metric, score = m.ml_efficacy(feats_synth, test, target, kinds, seed=seed)
        _, ceiling = m.ml_efficacy(train_real, test, target, kinds, seed=seed)
        rows.append(
            {
                "table": table,
                "target": target,
                "metric": metric,
                "score": score,
                "ceiling": ceiling,
                "n_train": len(feats_synth),
                "n_test": len(test),
            }
        )
    return rows


# -- data behind the HTML plots -----------------------------------------------------------


def _plot_data(
    meta: Metadata,
    real: Mapping[str, pd.DataFrame],
    synthetic: Mapping[str, pd.DataFrame],
    real_sub: Mapping[str, pd.DataFrame],
    synth_sub: Mapping[str, pd.DataFrame],
    frames: Mapping[str, pd.DataFrame],
) -> dict[str, Any]:
    distributions: dict[str, dict[str, Any]] = {}
    correlations: dict[str, Any] = {}
    for name in meta.tables:
        cols = measured_columns(meta, name)
        distributions[name] = {
            col: _distribution(real_sub[name][col], synth_sub[name][col], kind)
            for col, kind in cols
        }
        numeric = [(c, k) for c, k in cols if is_numeric(k)]
        if len(numeric) >= 2:
            correlations[name] = {
                "columns": [c for c, _ in numeric],
                "real": _spearman_matrix(real_sub[name], numeric),
                "synthetic": _spearman_matrix(synth_sub[name], numeric),
            }
    cardinality = {}
    for fk in meta.foreign_keys:
        a, _ = child_counts(real[fk.parent], real[fk.child], fk)
        b, _ = child_counts(synthetic[fk.parent], synthetic[fk.child], fk)
        cardinality[fk.label] = _count_histogram(a.to_numpy(), b.to_numpy())
    return {
        "distributions": distributions,
        "correlations": correlations,
        "cardinality": cardinality,
    }


def _distribution(real: pd.Series, synthetic: pd.Series, kind: str) -> dict[str, Any]:
    if is_numeric(kind):
        a, b = as_numbers(real, kind), as_numbers(synthetic, kind)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        both = np.concatenate([a, b])
        if both.size == 0:
            return {"kind": kind, "type": "numeric", "edges": [], "real": [], "synthetic": []}
        ref = a if a.size else b
        lo, hi = np.quantile(ref, [0.005, 0.995])
        if b.size:
            lo, hi = min(lo, np.quantile(b, 0.005)), max(hi, np.quantile(b, 0.995))
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, _HIST_BINS + 1)
        return {
            "kind": kind,
            "type": "numeric",
            "edges": edges.tolist(),
            "real": _shares(np.clip(a, lo, hi), edges),
            "synthetic": _shares(np.clip(b, lo, hi), edges),
        }
    ca, cb = as_categories(real, kind), as_categories(synthetic, kind)
    fa = ca.value_counts(normalize=True)
    fb = cb.value_counts(normalize=True)
    top = list(fa.index[:_BAR_CATEGORIES])
    for value in fb.index:  # show a synthetic-only category when it matters
        if len(top) >= _BAR_CATEGORIES + 2:
            break
        if value not in fa.index and fb[value] >= 0.05:
            top.append(value)
    real_share = [float(fa.get(c, 0.0)) for c in top]
    synth_share = [float(fb.get(c, 0.0)) for c in top]
    if len(fa) > len(top) or any(c not in top for c in fb.index):
        top.append("(other)")
        real_share.append(float(1.0 - sum(real_share)))
        synth_share.append(float(1.0 - sum(synth_share)))
    return {
        "kind": kind,
        "type": "categorical",
        "categories": [str(c) for c in top],
        "real": real_share,
        "synthetic": synth_share,
    }


def _shares(values: np.ndarray, edges: np.ndarray) -> list[float]:
    counts, _ = np.histogram(values, bins=edges)
    total = counts.sum()
    return (counts / total).tolist() if total else [0.0] * (len(edges) - 1)


def _spearman_matrix(frame: pd.DataFrame, columns: list[tuple[str, str]]) -> list[list[Any]]:
    values = [as_numbers(frame[c], k) for c, k in columns]
    n = len(values)
    out = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = m.spearman(values[i], values[j])
    return out.tolist()


def _count_histogram(real: np.ndarray, synthetic: np.ndarray) -> dict[str, Any]:
    both = np.concatenate([real, synthetic])
    if both.size == 0:
        return {"edges": [], "real": [], "synthetic": [], "cap": 0}
    # Bins up to the 99th percentile, or further when most parents have no child
    # (airports: 3 of 1,458 have departures), so the parents with children show.
    positive = both[both > 0]
    cap = int(max(np.quantile(both, 0.99), np.quantile(positive, 0.95) if positive.size else 0, 1))
    if cap < _COUNT_BINS:
        edges = np.arange(0, cap + 2) - 0.5
    else:
        edges = np.unique(np.linspace(-0.5, cap + 0.5, _COUNT_BINS + 1))
    share_r = _shares(np.minimum(real, cap), edges)
    share_s = _shares(np.minimum(synthetic, cap), edges)
    return {"edges": edges.tolist(), "real": share_r, "synthetic": share_s, "cap": cap}


def _copied_tables(
    privacy: list[dict[str, Any]],
    real: Mapping[str, pd.DataFrame],
    synthetic: Mapping[str, pd.DataFrame],
) -> list[str]:
    """Tables the synthetic data holds verbatim (lookup or reference tables, copied by
    design): as many rows as the real table, every one a copy."""
    out = []
    for row in privacy:
        name, rate = str(row.get("table")), row.get("exact_copy_rate")
        if rate is not None and rate == rate and rate >= 0.999:
            if _same_rows(real[name], synthetic[name]):
                out.append(name)
    return out


def _copied_reasons(
    metadata: Metadata, real: Mapping[str, pd.DataFrame], copied: list[str]
) -> dict[str, str]:
    """Why each copied table may be copied: marked ``reference`` in the metadata, or the
    lookup or reference rule it meets on the real data (:mod:`relsynth.rules.lookup`);
    a copy that meets neither says so (a privacy finding)."""
    from relsynth.rules.lookup import find_lookups

    found = {t.name: f"{t.rule}: {t.reason}" for t in find_lookups(metadata, real)}
    out = {}
    for name in copied:
        if metadata.table(name).reference:
            out[name] = "marked reference"
        else:
            out[name] = found.get(name, "not a lookup or reference table by the rule")
    return out


def _same_rows(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two frames hold the same rows, keys included (any order, as text)."""
    if len(a) != len(b) or list(a.columns) != list(b.columns):
        return False
    return _text_rows(a) == _text_rows(b[list(a.columns)])


def _text_rows(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    """The rows as sorted tuples of text: NULL as one marker, binary values in hex (not
    decoded: a picture's bytes are no UTF-8 text)."""
    columns = [frame[c].map(_text_value, na_action=None).tolist() for c in frame.columns]
    return sorted(zip(*columns, strict=True))


def _text_value(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return "\x00NULL"
    return str(value)
