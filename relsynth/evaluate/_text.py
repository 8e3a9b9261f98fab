"""The plain-text summary of an evaluation report (``str(report)``, printed by the CLI)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relsynth.evaluate.report import EvaluationReport

_WORST = 5
_WORST_RULES = 20


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(f):
        return "-"
    return f"{f:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        rest = [f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_report(report: EvaluationReport) -> str:
    """A readable summary: headline scores with ceilings, per-table scores, the worst columns."""
    info = report.info
    tables = info.get("tables", {})
    ceiling = "real train vs holdout" if report.has_ceiling else "none (no holdout given)"
    lines = [
        f"relsynth evaluation: {len(tables)} table(s), {len(info.get('foreign_keys', []))} "
        f"foreign key(s); ceiling: {ceiling}",
        "",
    ]
    summary = report.summary
    rows = [
        [r["metric"], _num(r["score"]), _num(r["ceiling"]), _num(r["best"], 1), r["good"]]
        for r in summary.to_dict("records")
        if not (r["key"] == "efficacy_score" and report.efficacy.empty)
        and not (r["key"] == "rules_kept" and report.rules.empty)
    ]
    lines += _table(["metric", "score", "ceiling", "best", "good"], rows)
    lines += _per_table_lines(report)
    lines += _privacy_lines(report)
    copied = info.get("copied_tables") or []
    if copied:
        reasons = info.get("copied_reasons") or {}
        lines += ["", "Copied verbatim (lookup/reference tables, by design):"]
        lines += [f"  {n}" + (f" ({reasons[n]})" if n in reasons else "") for n in copied]
    lines += _detail_lines(report)
    return "\n".join(lines)


def _per_table_lines(report: EvaluationReport) -> list[str]:
    """Sizes, mean column and pair scores, C2ST and privacy figures, one row per table."""
    per_table = []
    cols = report.columns.groupby("table")["score"].mean()
    pairs = report.pairs.groupby("table")["score"].mean()
    c2st = report.c2st.set_index("table")
    privacy = report.privacy.set_index("table")
    for name, sizes in report.info.get("tables", {}).items():
        per_table.append(
            [
                name,
                f"{sizes.get('real', 0):,}",
                f"{sizes.get('synthetic', 0):,}",
                _num(cols.get(name)),
                _num(pairs.get(name)),
                _num(c2st["auc"].get(name)),
                _num(c2st["ceiling"].get(name)),
                _num(privacy["exact_copy_rate"].get(name)),
                _num(privacy["dcr_ratio"].get(name), 2),
                _num(privacy["mia_auc"].get(name)),
            ]
        )
    return ["", "Per table:"] + _table(
        [
            "table",
            "real rows",
            "synthetic rows",
            "columns",
            "pairs",
            "C2ST AUC",
            "ceiling",
            "exact copies",
            "DCR ratio",
            "MIA AUC",
        ],
        per_table,
    )


def _detail_lines(report: EvaluationReport) -> list[str]:
    """Foreign keys, ML efficacy, cross-table rules and the lowest column scores."""
    lines: list[str] = []
    if not report.cardinality.empty:
        lines += ["", "Foreign keys (children per parent):"]
        lines += _table(
            ["foreign key", "score", "ceiling", "mean real", "mean synthetic"],
            [
                [
                    r["foreign_key"],
                    _num(r["score"]),
                    _num(r["ceiling"]),
                    _num(r["mean_real"], 2),
                    _num(r["mean_synthetic"], 2),
                ]
                for r in report.cardinality.to_dict("records")
            ],
        )
    if not report.efficacy.empty:
        lines += ["", "ML efficacy (train on synthetic, test on real):"]
        lines += _table(
            ["table", "target", "metric", "score", "ceiling"],
            [
                [r["table"], r["target"], r["metric"], _num(r["score"]), _num(r["ceiling"])]
                for r in report.efficacy.to_dict("records")
            ],
        )
    if not report.rules.empty:
        lines += [
            "",
            f"Cross-table rules, worst first ({len(report.rules)}; share of rows where held):",
        ]
        lines += _table(
            ["rule", "real", "synthetic", "kept"],
            [
                [r["rule"], _num(r["real"]), _num(r["synthetic"]), "yes" if r["kept"] else "NO"]
                for r in report.rules.head(_WORST_RULES).to_dict("records")
            ],
        )
    worst = report.columns.dropna(subset=["score"]).nsmallest(_WORST, "score")
    if not worst.empty:
        lines += ["", f"Lowest column scores (of {len(report.columns)}):"]
        lines += _table(
            ["column", "metric", "score", "ceiling"],
            [
                [f"{r['table']}.{r['column']}", r["metric"], _num(r["score"]), _num(r["ceiling"])]
                for r in worst.to_dict("records")
            ],
        )
    return lines


def _privacy_lines(report: EvaluationReport) -> list[str]:
    """Exact copies and DCR beside their chance reference, per table; the treatments."""
    rows = report.privacy.to_dict("records")
    if not rows:
        return []
    source = (
        "the holdout's own figures"
        if report.has_ceiling
        else "real vs real: the source's own duplicate rate and leave-one-out DCR"
    )
    lines = ["", f"Privacy (chance reference: {source}):"]
    lines += _table(
        ["table", "exact copies", "chance", "DCR synthetic", "DCR chance"],
        [
            [
                r["table"],
                _num(r["exact_copy_rate"]),
                _num(r.get("exact_copy_chance")),
                _num(r["dcr_synthetic"]),
                _num(r.get("dcr_chance")),
            ]
            for r in rows
        ],
    )
    treatments = {t: c for t, c in (report.info.get("treatments") or {}).items() if c}
    if treatments:
        lines += ["", "Column treatments (from the model file):"]
        out = []
        for table, columns in treatments.items():
            by_treatment: dict[str, list[str]] = {}
            for col, treatment in columns.items():
                by_treatment.setdefault(treatment, []).append(col)
            out += [(table, t, ", ".join(cols)) for t, cols in by_treatment.items()]
        w_table = max(len(t) for t, _, _ in out)
        w_treat = max(len(t) for _, t, _ in out)
        lines += [f"{t:<{w_table}}  {treat:<{w_treat}}  {cols}" for t, treat, cols in out]
    return lines + _dp_lines(report.info.get("differential_privacy") or {})


def _dp_lines(dp: dict[str, Any]) -> list[str]:
    """The epsilon and delta a DP fit spent, in total and per table (from the model file)."""
    if not dp:
        return []
    lines = [
        "",
        f"Differential privacy (per entity, from the model file): epsilon {dp['epsilon']:.4g}, "
        f"delta {dp['delta']:.3g} spent in total",
    ]
    lines += _table(
        ["table", "epsilon", "delta"],
        [[t, f"{v['epsilon']:.4g}", f"{v['delta']:.3g}"] for t, v in dp["tables"].items()],
    )
    return lines
