"""The result of :func:`relsynth.evaluate`: tidy score tables, summaries, JSON and HTML.

:class:`EvaluationReport` is a frozen value. Each attribute is a tidy DataFrame
(one row per column, pair, foreign key, trend, table), every fidelity row with a
``ceiling`` beside its ``score``: the same metric between the real training data
and a real holdout (NaN when :func:`relsynth.evaluate` was given no holdout).

``to_dict``/``to_json`` give plain JSON (NaN as ``null``) that
``from_dict``/``from_json`` read back; ``str(report)`` is the summary the CLI
prints; ``to_html(path)`` writes a standalone page with the plots.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from relsynth.errors import ArtifactError

__all__ = ["FRAME_COLUMNS", "EvaluationReport"]

FORMAT_VERSION = 1

#: The columns of each score table, in order.
FRAME_COLUMNS: dict[str, tuple[str, ...]] = {
    "columns": (
        "table",
        "column",
        "kind",
        "metric",
        "score",
        "ceiling",
        "missing_similarity",
        "null_real",
        "null_synthetic",
    ),
    "pairs": (
        "table",
        "column_1",
        "column_2",
        "metric",
        "real",
        "synthetic",
        "score",
        "ceiling",
    ),
    "cardinality": (
        "foreign_key",
        "child",
        "parent",
        "metric",
        "score",
        "ceiling",
        "mean_real",
        "mean_synthetic",
        "max_real",
        "max_synthetic",
        "zero_real",
        "zero_synthetic",
    ),
    "trends": (
        "foreign_key",
        "parent_column",
        "child_aggregate",
        "real",
        "synthetic",
        "score",
        "ceiling",
    ),
    "c2st": ("table", "auc", "auc_std", "score", "ceiling", "n_rows", "n_features"),
    "efficacy": ("table", "target", "metric", "score", "ceiling", "n_train", "n_test"),
    "privacy": (
        "table",
        "exact_copy_rate",
        "exact_copy_holdout",
        "dcr_synthetic",
        "dcr_synthetic_p05",
        "dcr_holdout",
        "dcr_ratio",
        "dcr_share",
        "mia_auc",
        "exact_copy_chance",
        "dcr_chance",
        "chance_from",
    ),
    "rules": (
        "table",
        "kind",
        "rule",
        "real",
        "synthetic",
        "difference",
        "kept",
        "rows_real",
        "rows_synthetic",
    ),
}

#: Summary rows: (key, label, best value, what good looks like).
_SUMMARY = (
    ("column_shapes", "Column shapes (KS/TV complement)", 1.0, "1 = same marginals"),
    ("column_pairs", "Column pairs (correlation/contingency)", 1.0, "1 = same dependencies"),
    ("cardinality_score", "Cardinality (children per parent)", 1.0, "1 = same family sizes"),
    ("trends_score", "Parent-child trends", 1.0, "1 = same parent-child correlations"),
    ("c2st_auc", "C2ST AUC (real vs synthetic)", 0.5, "0.5 = indistinguishable"),
    ("efficacy_score", "ML efficacy (train synthetic, test real)", None, "close to ceiling"),
    ("rules_kept", "Cross-table rules kept", 1.0, "1 = every rule holds as in the real data"),
)


def _frame(name: str, rows: list[dict[str, Any]] | pd.DataFrame | None = None) -> pd.DataFrame:
    cols = list(FRAME_COLUMNS[name])
    if rows is None or len(rows) == 0:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols})
    frame = pd.DataFrame(rows)
    for c in cols:
        if c not in frame.columns:
            frame[c] = np.nan
    return frame[cols].reset_index(drop=True)


def _nanmean(values: pd.Series) -> float:
    arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else float("nan")


@dataclass(frozen=True)
class EvaluationReport:
    """Fidelity and privacy scores of a synthetic database, each beside its ceiling.

    Attributes
    ----------
    columns : DataFrame
        Per measured column: ``KSComplement`` (numbers, dates) or ``TVComplement``
        (categories, booleans), ``score`` and ``ceiling`` in ``[0, 1]``.
    pairs : DataFrame
        Per pair of columns of a table: ``CorrelationSimilarity`` (two numeric
        columns; ``real``/``synthetic`` hold Spearman's rho) or
        ``ContingencySimilarity``.
    cardinality : DataFrame
        Per foreign key: KS complement of the children-per-parent counts.
    trends : DataFrame
        Per foreign key, numeric parent column and child aggregate (``count``,
        ``mean(<column>)``): correlation similarity across parents.
    c2st : DataFrame
        Per table: the classifier two-sample test's ROC AUC (0.5 best), its
        detection ``score`` (``1 - 2 * max(auc - 0.5, 0)``) and the holdout AUC as
        ``ceiling``.
    efficacy : DataFrame
        Per target column: train-on-synthetic, test-on-real score (macro F1 or
        R^2) and the train-on-real score as ``ceiling``.
    privacy : DataFrame
        Per table: exact-copy rate, distance to closest record, membership
        inference AUC (see :mod:`relsynth.evaluate.privacy`).
    rules : DataFrame
        Per cross-table rule (:mod:`relsynth.rules`, discovered on the real data
        or declared in the metadata): the share of rows where it holds in the real
        and the synthetic data; ``kept`` when a rule holding in >= 99 % of real rows
        holds in >= 99 % of synthetic ones, or a weaker one is within 5 points.
        Worst first.
    plots : dict
        JSON-able data behind the HTML plots (histograms, correlation matrices).
    info : dict
        Parameters and sizes: seed, max_rows, rows per table, elapsed seconds.
    """

    columns: pd.DataFrame
    pairs: pd.DataFrame
    cardinality: pd.DataFrame
    trends: pd.DataFrame
    c2st: pd.DataFrame
    efficacy: pd.DataFrame
    privacy: pd.DataFrame
    rules: pd.DataFrame = field(default_factory=lambda: _frame("rules"))
    plots: Mapping[str, Any] = field(default_factory=dict, repr=False)
    info: Mapping[str, Any] = field(default_factory=dict)

    # -- summaries ---------------------------------------------------------------------

    @property
    def has_ceiling(self) -> bool:
        """Whether the scores have ceilings (the evaluation was given a holdout)."""
        return bool(self.info.get("holdout", False))

    @property
    def column_shapes(self) -> float:
        """Mean column score (KS/TV complement), in ``[0, 1]``, 1 best."""
        return _nanmean(self.columns["score"])

    @property
    def column_pairs(self) -> float:
        """Mean pair score (correlation/contingency similarity), in ``[0, 1]``, 1 best."""
        return _nanmean(self.pairs["score"])

    @property
    def cardinality_score(self) -> float:
        """Mean cardinality score over the foreign keys, in ``[0, 1]``, 1 best."""
        return _nanmean(self.cardinality["score"])

    @property
    def trends_score(self) -> float:
        """Mean parent-child trend score, in ``[0, 1]``, 1 best."""
        return _nanmean(self.trends["score"])

    @property
    def c2st_auc(self) -> float:
        """Mean C2ST ROC AUC over the tables, in ``[0, 1]``, 0.5 best."""
        return _nanmean(self.c2st["auc"])

    @property
    def efficacy_score(self) -> float:
        """Mean ML efficacy score over the target columns (NaN without targets)."""
        return _nanmean(self.efficacy["score"])

    @property
    def rules_kept(self) -> float:
        """Share of cross-table rules kept in the synthetic data (NaN without rules)."""
        if self.rules.empty:
            return float("nan")
        return float(self.rules["kept"].astype(bool).mean())

    @property
    def summary(self) -> pd.DataFrame:
        """One row per headline metric: ``metric``, ``score``, ``ceiling``, ``best``, ``good``."""
        ceiling_of = {
            "column_shapes": _nanmean(self.columns["ceiling"]),
            "column_pairs": _nanmean(self.pairs["ceiling"]),
            "cardinality_score": _nanmean(self.cardinality["ceiling"]),
            "trends_score": _nanmean(self.trends["ceiling"]),
            "c2st_auc": _nanmean(self.c2st["ceiling"]),
            "efficacy_score": _nanmean(self.efficacy["ceiling"]),
            "rules_kept": float("nan"),
        }
        rows = [
            {
                "key": key,
                "metric": label,
                "score": getattr(self, key),
                "ceiling": ceiling_of[key],
                "best": np.nan if best is None else best,
                "good": good,
            }
            for key, label, best, good in _SUMMARY
        ]
        return pd.DataFrame(rows)

    # -- serialization -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A plain-JSON form (NaN as None) that :meth:`from_dict` reads back."""
        summary = {
            row["key"]: {"score": _plain(row["score"]), "ceiling": _plain(row["ceiling"])}
            for row in self.summary.to_dict("records")
        }
        return {
            "format_version": FORMAT_VERSION,
            "info": _plain(dict(self.info)),
            "summary": summary,
            **{name: _records(getattr(self, name)) for name in FRAME_COLUMNS},
            "plots": _plain(dict(self.plots)),
        }

    def to_json(self, path: str | os.PathLike[str] | None = None, *, indent: int = 2) -> str:
        """The :meth:`to_dict` form as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationReport:
        """Rebuild a report from :meth:`to_dict`'s form.

        Raises
        ------
        ArtifactError
            If ``data`` is not a report of a known format version.
        """
        version = data.get("format_version") if isinstance(data, Mapping) else None
        if version != FORMAT_VERSION:
            raise ArtifactError(
                f"Not an evaluation report of format version {FORMAT_VERSION} "
                f"(format_version={version!r}); write it again with this relsynth version."
            )
        frames = {}
        for name in FRAME_COLUMNS:
            rows = [
                {k: (np.nan if v is None else v) for k, v in r.items()} for r in data.get(name, [])
            ]
            frames[name] = _frame(name, rows)
        return cls(**frames, plots=dict(data.get("plots", {})), info=dict(data.get("info", {})))

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike[str]) -> EvaluationReport:
        """Read a report from JSON text or from a ``.json`` file."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            try:
                text = Path(text_or_path).read_text(encoding="utf-8")
            except OSError as exc:
                raise ArtifactError(
                    f"Cannot read the evaluation report {text_or_path}: {exc}"
                ) from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ArtifactError(f"The evaluation report is not valid JSON: {exc}.") from exc
        return cls.from_dict(data)

    # -- text and HTML ------------------------------------------------------------------

    def __str__(self) -> str:
        from relsynth.evaluate._text import format_report

        return format_report(self)

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write a standalone HTML page (plots embedded as PNG) and return its path.

        Needs matplotlib (``pip install matplotlib``).
        """
        from relsynth.evaluate._html import write_html

        return write_html(self, Path(path))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    """Plain JSON values: NaN/inf as None, numpy scalars as Python ones, containers recursed."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if value is None or isinstance(value, str):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)
