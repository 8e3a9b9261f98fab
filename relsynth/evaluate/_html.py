"""The HTML page of an evaluation report: one standalone file, plots embedded as PNG.

matplotlib is imported here only, through its object API (``Figure`` with the Agg
canvas): no pyplot, no global backend switch, nothing shown on screen.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from relsynth.errors import ParameterError
from relsynth.evaluate._html_parts import (
    REAL,
    SYNTHETIC,
    esc,
    figure,
    fmt,
    grade,
    html_table,
    legend,
    png,
)
from relsynth.evaluate._html_relations import foreign_keys_section, pairs_section

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from relsynth.evaluate.report import EvaluationReport

logger = logging.getLogger(__name__)


_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1240px; padding: 24px 32px; color: #1f2328; }
h1 { font-size: 26px; margin-bottom: 4px; }
h2 { font-size: 20px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; margin-top: 36px; }
h3 { font-size: 16px; margin: 22px 0 6px; }
p.meta, p.note { color: #57606a; font-size: 13px; margin-top: 4px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 12px; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: right; }
th { background: #f6f8fa; }
td.name, th.name { text-align: left; }
td.good { background: #dafbe1; } td.ok { background: #fff8c5; } td.bad { background: #ffebe9; }
img { max-width: 100%; display: block; margin: 6px 0; }
details { margin: 4px 0 12px; } summary { cursor: pointer; color: #0969da; font-size: 13px; }
.legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px;
               vertical-align: middle; }
nav a { margin-right: 14px; font-size: 14px; color: #0969da; text-decoration: none; }
"""


def write_html(report: EvaluationReport, path: Path) -> Path:
    """Render ``report`` to ``path`` (see :meth:`EvaluationReport.to_html`)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ParameterError(
            "EvaluationReport.to_html needs matplotlib; install it with 'pip install matplotlib', "
            "or save the scores with to_json()."
        ) from exc
    body = "\n".join(
        [
            _header(report),
            _summary(report),
            _tables(report),
            _columns(report),
            pairs_section(report),
            foreign_keys_section(report),
            _efficacy(report),
            _rules(report),
            _privacy(report),
        ]
    )
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<title>relsynth evaluation report</title>"
        f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n"
    )
    path.write_text(page, encoding="utf-8")
    logger.info("evaluation report written to %s (%d kB)", path, len(page) // 1024)
    return path


# -- sections -----------------------------------------------------------------------------


def _header(report: EvaluationReport) -> str:
    info = report.info
    tables = info.get("tables", {})
    n_real = sum(t.get("real", 0) for t in tables.values())
    n_synth = sum(t.get("synthetic", 0) for t in tables.values())
    ceiling = (
        "Each score has a <b>ceiling</b>: the same metric between the real training data "
        "and a real holdout, the best a synthetic database can expect."
        if report.has_ceiling
        else "No holdout was given, so the scores have no ceiling; pass "
        "<code>holdout=</code> (see <code>split_holdout</code>) to get one."
    )
    nav = "".join(
        f"<a href='#{a}'>{t}</a>"
        for a, t in [
            ("summary", "Summary"),
            ("tables", "Tables"),
            ("columns", "Columns"),
            ("pairs", "Column pairs"),
            ("fks", "Foreign keys"),
            ("efficacy", "ML efficacy"),
            ("rules", "Rules"),
            ("privacy", "Privacy"),
        ]
    )
    return (
        "<h1>relsynth evaluation report</h1>"
        f"<p class='meta'>{len(tables)} tables, {len(info.get('foreign_keys', []))} foreign keys; "
        f"{n_real:,} real rows, {n_synth:,} synthetic rows; seed {esc(info.get('seed'))}, "
        f"max_rows {esc(info.get('max_rows'))}; relsynth {esc(info.get('relsynth_version'))}; "
        f"{fmt(info.get('elapsed_s'), 1)} s</p>"
        f"<nav>{nav}</nav><p class='note'>{ceiling}</p>"
    )


def _summary(report: EvaluationReport) -> str:
    rows, grades = [], []
    for r in report.summary.to_dict("records"):
        if r["key"] == "efficacy_score" and report.efficacy.empty:
            continue
        if r["key"] == "rules_kept" and report.rules.empty:
            continue
        auc = r["key"] == "c2st_auc"
        rows.append(
            [r["metric"], fmt(r["score"]), fmt(r["ceiling"]), fmt(r["best"], 1), esc(r["good"])]
        )
        grades.append(["", grade(r["score"], r["ceiling"], auc=auc), "", "", ""])
    return "<h2 id='summary'>Summary</h2>" + html_table(
        ["metric", "score", "ceiling", "best", "what good looks like"],
        rows,
        grades=grades,
        left=(4,),
    )


def _tables(report: EvaluationReport) -> str:
    tables = report.info.get("tables", {})
    cols = report.columns.groupby("table")["score"].mean()
    cols_c = report.columns.groupby("table")["ceiling"].mean()
    pairs = report.pairs.groupby("table")["score"].mean()
    pairs_c = report.pairs.groupby("table")["ceiling"].mean()
    c2st = report.c2st.set_index("table")
    rows, grades = [], []
    for name, sizes in tables.items():
        auc = c2st["auc"].get(name)
        auc_c = c2st["ceiling"].get(name)
        rows.append(
            [
                name,
                f"{sizes.get('real', 0):,}",
                f"{sizes.get('synthetic', 0):,}",
                fmt(cols.get(name)),
                fmt(cols_c.get(name)),
                fmt(pairs.get(name)),
                fmt(pairs_c.get(name)),
                fmt(auc),
                fmt(auc_c),
            ]
        )
        grades.append(
            [
                "",
                "",
                "",
                grade(cols.get(name), cols_c.get(name)),
                "",
                grade(pairs.get(name), pairs_c.get(name)),
                "",
                grade(auc, auc_c, auc=True),
                "",
            ]
        )
    out = ["<h2 id='tables'>Tables</h2>"]
    out.append(
        html_table(
            [
                "table",
                "real rows",
                "synthetic rows",
                "column shapes",
                "ceiling",
                "column pairs",
                "ceiling",
                "C2ST AUC",
                "ceiling",
            ],
            rows,
            grades=grades,
        )
    )
    frame = report.c2st.dropna(subset=["auc"])
    if not frame.empty:
        fig, (ax,) = figure(1, height=0.45 * len(frame) + 1.2, cols=1)
        fig.set_size_inches(9, 0.45 * len(frame) + 1.2)
        y = np.arange(len(frame))[::-1]
        ax.barh(y, frame["auc"] - 0.5, left=0.5, color=SYNTHETIC, height=0.6, label="synthetic")
        if frame["ceiling"].notna().any():
            ax.plot(
                frame["ceiling"], y, "|", color="black", ms=18, mew=2.5, label="ceiling (holdout)"
            )
        ax.axvline(0.5, color="#57606a", lw=1, ls="--")
        ax.set_yticks(y, [str(t) for t in frame["table"]])
        ax.set_xlim(0.4, 1.0)
        ax.set_xlabel("C2ST ROC AUC (0.5: a classifier cannot tell synthetic rows from real ones)")
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, fontsize=9, frameon=False
        )
        ax.grid(axis="x", alpha=0.3)
        out.append(png(fig))
        out.append(
            "<p class='note'>Each table's rows are joined with their driver parent's columns "
            "and their children's aggregates (count, means) before classification, as in the "
            "SyntheRela benchmark; AUCs are cross-validated with families kept in one fold.</p>"
        )
    return "\n".join(out)


def _columns(report: EvaluationReport) -> str:
    dists = report.plots.get("distributions", {})
    out = ["<h2 id='columns'>Column shapes</h2>", legend()]
    scores = report.columns.set_index(["table", "column"])
    for table, columns in dists.items():
        if not columns:
            continue
        out.append(f"<h3>{esc(table)}</h3>")
        fig, axes = figure(len(columns))
        for ax, (col, data) in zip(axes, columns.items(), strict=True):
            row = scores.loc[(table, col)] if (table, col) in scores.index else None
            _distribution_plot(ax, data)
            metric = "KS" if data.get("type") == "numeric" else "TV"
            title = f"{col}\n{metric} {fmt(row['score']) if row is not None else '-'}"
            if row is not None and not pd.isna(row["ceiling"]):
                title += f"  (ceiling {fmt(row['ceiling'])})"
            ax.set_title(title, fontsize=10)
        out.append(png(fig))
        sub = report.columns[report.columns["table"] == table]
        out.append(
            "<details><summary>scores</summary>"
            + html_table(
                ["column", "kind", "metric", "score", "ceiling", "NULL real", "NULL synthetic"],
                [
                    [
                        r["column"],
                        esc(r["kind"]),
                        esc(r["metric"]),
                        fmt(r["score"]),
                        fmt(r["ceiling"]),
                        fmt(r["null_real"]),
                        fmt(r["null_synthetic"]),
                    ]
                    for r in sub.to_dict("records")
                ],
                grades=[
                    ["", "", "", grade(r["score"], r["ceiling"]), "", "", ""]
                    for r in sub.to_dict("records")
                ],
            )
            + "</details>"
        )
    return "\n".join(out)


def _distribution_plot(ax: Axes, data: dict[str, Any]) -> None:
    ax.tick_params(labelsize=8)
    if data.get("type") == "numeric":
        edges = np.asarray(data.get("edges", []), dtype="float64")
        if edges.size < 2:
            ax.text(0.5, 0.5, "no values", ha="center", transform=ax.transAxes)
            return
        x = edges
        if data.get("kind") == "datetime":
            x = (edges * 1e9).astype("datetime64[ns]")
        for values, color, label in (
            (data["real"], REAL, "real"),
            (data["synthetic"], SYNTHETIC, "synthetic"),
        ):
            ax.stairs(values, x, fill=True, alpha=0.35, color=color)
            ax.stairs(values, x, color=color, lw=1.4, label=label)
        if data.get("kind") == "datetime":
            for tick in ax.get_xticklabels():
                tick.set_rotation(30)
        ax.set_yticks([])
        return
    cats = [str(c) for c in data.get("categories", [])]
    if not cats:
        ax.text(0.5, 0.5, "no values", ha="center", transform=ax.transAxes)
        return
    y = np.arange(len(cats))[::-1]
    ax.barh(y + 0.2, data["real"], height=0.4, color=REAL, label="real")
    ax.barh(y - 0.2, data["synthetic"], height=0.4, color=SYNTHETIC, label="synthetic")
    ax.set_yticks(y, [c if len(c) <= 18 else c[:17] + "…" for c in cats], fontsize=7)


def _efficacy(report: EvaluationReport) -> str:
    out = ["<h2 id='efficacy'>ML efficacy</h2>"]
    if report.efficacy.empty:
        out.append("<p class='note'>No target column was given (<code>target_columns=</code>).</p>")
        return "\n".join(out)
    rows = report.efficacy.to_dict("records")
    out.append(
        "<p class='note'>A gradient-boosting model trained on the synthetic table predicts the "
        "target on real rows; the ceiling is the same model trained on real rows.</p>"
    )
    out.append(
        html_table(
            ["table", "target", "metric", "train synthetic → test real", "train real → test real"],
            [
                [
                    r["table"],
                    esc(r["target"]),
                    esc(r["metric"]),
                    fmt(r["score"]),
                    fmt(r["ceiling"]),
                ]
                for r in rows
            ],
            grades=[["", "", "", grade(r["score"], r["ceiling"]), ""] for r in rows],
        )
    )
    return "\n".join(out)


def _rules(report: EvaluationReport) -> str:
    out = ["<h2 id='rules'>Cross-table rules</h2>"]
    if report.rules.empty:
        out.append("<p class='note'>No rule holds across the tables of the real data.</p>")
        return "\n".join(out)
    out.append(
        "<p class='note'>What holds across tables in the real data (path agreement, "
        "equality, order, aggregates; see docs/rules.md) and the share of rows where it "
        "holds on each side, worst first. A rule holding in at least 99% of real rows must "
        "hold in at least 99% of synthetic ones; a weaker one within 5 points.</p>"
    )
    rows = report.rules.to_dict("records")
    out.append(
        html_table(
            ["table", "kind", "rule", "real", "synthetic", "difference"],
            [
                [
                    r["table"],
                    esc(r["kind"]),
                    f"<code>{esc(r['rule'])}</code>",
                    fmt(r["real"]),
                    fmt(r["synthetic"]),
                    fmt(r["difference"]),
                ]
                for r in rows
            ],
            grades=[["", "", "", "", "good" if r["kept"] else "bad", ""] for r in rows],
            left=(2,),
        )
    )
    return "\n".join(out)


def _copied_note(report: EvaluationReport) -> list[str]:
    """The note naming the tables copied verbatim and why (none: no note)."""
    copied = report.info.get("copied_tables") or []
    if not copied:
        return []
    reasons = report.info.get("copied_reasons") or {}
    return [
        "<p class='note'><b>Copied verbatim</b> (lookup or reference tables, by design: "
        "small tables without personal or free text that other tables point at, "
        "larger lists of codes with their names that a much larger table points at, "
        "or marked <code>reference</code>; see docs/rules.md): "
        + "; ".join(esc(n) + (f" ({esc(reasons[n])})" if n in reasons else "") for n in copied)
        + ". Their exact-copy rate is 1 on purpose.</p>"
    ]


def _privacy(report: EvaluationReport) -> str:
    out = ["<h2 id='privacy'>Privacy</h2>"]
    out.append(
        "<p class='note'><b>Exact copies</b>: share of synthetic rows equal to a real row on every "
        "non-key column; <b>chance</b>: the same share for unseen real rows (the holdout's, or "
        "without a holdout the source's own duplicate rate, leave one out). "
        "<b>DCR</b>: median distance to the closest real row, beside its chance reference (the "
        "holdout's, or real rows to their closest other real row); "
        "<b>ratio</b> synthetic / holdout, "
        "about 1 is good, near 0 means memorized rows. <b>Closer to train</b>: share of "
        "synthetic rows closer to the training data than to the holdout, 0.5 is ideal. "
        "<b>MIA AUC</b>: a distance-based membership attack, 0.5 means it learns nothing. "
        "Tables shared whole by the holdout split have no meaningful baseline.</p>"
    )
    out.extend(_copied_note(report))
    rows = report.privacy.to_dict("records")

    def grade_low(value: Any, good: float, ok: float) -> str:
        if value is None or pd.isna(value):
            return ""
        return "good" if value <= good else "ok" if value <= ok else "bad"

    out.append(
        html_table(
            [
                "table",
                "exact copies",
                "chance copies",
                "DCR synthetic",
                "DCR chance",
                "DCR ratio",
                "closer to train",
                "MIA AUC",
            ],
            [
                [
                    r["table"],
                    fmt(r["exact_copy_rate"]),
                    fmt(r["exact_copy_chance"]),
                    fmt(r["dcr_synthetic"]),
                    fmt(r["dcr_chance"]),
                    fmt(r["dcr_ratio"], 2),
                    fmt(r["dcr_share"]),
                    fmt(r["mia_auc"]),
                ]
                for r in rows
            ],
            grades=[
                [
                    "",
                    grade_low(
                        (r["exact_copy_rate"] or 0)
                        - (0 if pd.isna(r["exact_copy_chance"]) else r["exact_copy_chance"]),
                        0.01,
                        0.05,
                    ),
                    "",
                    "",
                    "",
                    "",
                    grade_low(abs(r["dcr_share"] - 0.5), 0.05, 0.15)
                    if not pd.isna(r["dcr_share"])
                    else "",
                    grade_low(abs(r["mia_auc"] - 0.5), 0.05, 0.15)
                    if not pd.isna(r["mia_auc"])
                    else "",
                ]
                for r in rows
            ],
        )
    )
    return "\n".join(out)
