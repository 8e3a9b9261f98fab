"""The HTML report's sections on relationships: column pairs (correlations and
contingency tables) and foreign keys (children per parent, parent-child trends).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

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

if TYPE_CHECKING:
    from relsynth.evaluate.report import EvaluationReport


__all__ = ["foreign_keys_section", "pairs_section"]


def pairs_section(report: EvaluationReport) -> str:
    out = ["<h2 id='pairs'>Column pairs</h2>"]
    corr = report.plots.get("correlations", {})
    for table, data in corr.items():
        cols = data["columns"]
        real = np.asarray(data["real"], dtype="float64")
        synth = np.asarray(data["synthetic"], dtype="float64")
        out.append(f"<h3>{esc(table)}: Spearman correlations</h3>")
        fig, axes = figure(3, height=0.32 * len(cols) + 2.2, cols=3)
        fig.set_size_inches(15, 0.3 * len(cols) + 2.6)
        image = None
        for ax, matrix, title in (
            (axes[0], real, "real"),
            (axes[1], synth, "synthetic"),
            (axes[2], real - synth, "real − synthetic"),
        ):
            image = ax.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
            ax.set_xticks(range(len(cols)), cols, rotation=90, fontsize=7)
            ax.set_yticks(range(len(cols)), cols if ax is axes[0] else [], fontsize=7)
            ax.set_title(title, fontsize=11)
        if image is not None:
            fig.colorbar(image, ax=axes, shrink=0.8)
        out.append(png(fig))
    worst = report.pairs.dropna(subset=["score"]).nsmallest(12, "score")
    if not worst.empty:
        out.append("<h3>Lowest pair scores</h3>")
        out.append(
            html_table(
                [
                    "table",
                    "column 1",
                    "column 2",
                    "metric",
                    "ρ real",
                    "ρ synthetic",
                    "score",
                    "ceiling",
                ],
                [
                    [
                        r["table"],
                        esc(r["column_1"]),
                        esc(r["column_2"]),
                        esc(r["metric"]),
                        fmt(r["real"]),
                        fmt(r["synthetic"]),
                        fmt(r["score"]),
                        fmt(r["ceiling"]),
                    ]
                    for r in worst.to_dict("records")
                ],
                grades=[
                    ["", "", "", "", "", "", grade(r["score"], r["ceiling"]), ""]
                    for r in worst.to_dict("records")
                ],
            )
        )
    if not corr and worst.empty:
        out.append("<p class='note'>No table has two measured columns.</p>")
    return "\n".join(out)


def foreign_keys_section(report: EvaluationReport) -> str:
    out = ["<h2 id='fks'>Foreign keys: children per parent</h2>"]
    out.extend(_cardinality_plots(report))
    out.append(_cardinality_table(report))
    out.extend(_trends(report))
    return "\n".join(out)


def _cardinality_plots(report: EvaluationReport) -> list[str]:
    """Children-per-parent histograms, real beside synthetic, one per foreign key."""
    out: list[str] = []
    hists = report.plots.get("cardinality", {})
    card = report.cardinality.set_index("foreign_key")
    shown = {k: v for k, v in hists.items() if v.get("edges")}
    if shown:
        out.append(legend())
        fig, axes = figure(len(shown), height=2.8, cols=3)
        for ax, (label, data) in zip(axes, shown.items(), strict=True):
            edges = np.asarray(data["edges"], dtype="float64")
            for values, color in ((data["real"], REAL), (data["synthetic"], SYNTHETIC)):
                ax.stairs(values, edges, fill=True, alpha=0.35, color=color)
                ax.stairs(values, edges, color=color, lw=1.4)
            score = card["score"].get(label) if label in card.index else None
            ceiling = card["ceiling"].get(label) if label in card.index else None
            title = f"{label}\nKS {fmt(score)}"
            if ceiling is not None and not pd.isna(ceiling):
                title += f"  (ceiling {fmt(ceiling)})"
            ax.set_title(title, fontsize=9)
            ax.set_xlabel(f"children per parent (last bin: ≥ {data.get('cap')})", fontsize=8)
            if max(data["real"][0], data["synthetic"][0]) > 0.8:
                ax.set_yscale("log")  # most parents are childless: show the tail too
                ax.set_ylabel("share (log)", fontsize=8)
            ax.tick_params(labelsize=8)
        out.append(png(fig))
    return out


def _cardinality_table(report: EvaluationReport) -> str:
    """The cardinality scores per foreign key (or a note: no foreign keys)."""
    if not report.cardinality.empty:
        rows = report.cardinality.to_dict("records")
        return html_table(
            [
                "foreign key",
                "score",
                "ceiling",
                "mean real",
                "mean synthetic",
                "max real",
                "max synthetic",
                "no child real",
                "no child synthetic",
            ],
            [
                [
                    r["foreign_key"],
                    fmt(r["score"]),
                    fmt(r["ceiling"]),
                    fmt(r["mean_real"], 2),
                    fmt(r["mean_synthetic"], 2),
                    fmt(r["max_real"], 0),
                    fmt(r["max_synthetic"], 0),
                    fmt(r["zero_real"]),
                    fmt(r["zero_synthetic"]),
                ]
                for r in rows
            ],
            grades=[["", grade(r["score"], r["ceiling"])] + [""] * 7 for r in rows],
        )
    return "<p class='note'>The schema has no foreign keys.</p>"


def _trends(report: EvaluationReport) -> list[str]:
    """Parent-child trend scores: the mean per foreign key, and the lowest ones."""
    out: list[str] = []
    trends = report.trends
    if not trends.empty:
        summary = trends.groupby("foreign_key", sort=False)[["score", "ceiling"]].mean()
        out.append("<h3>Parent-child trends</h3>")
        out.append(
            "<p class='note'>Spearman correlation between a numeric parent column and an "
            "aggregate of its children (count, mean of a numeric child column), across parents; "
            "score = 1 − |ρ real − ρ synthetic| / 2.</p>"
        )
        out.append(
            html_table(
                ["foreign key", "mean score", "ceiling"],
                [[k, fmt(v["score"]), fmt(v["ceiling"])] for k, v in summary.iterrows()],
                grades=[["", grade(v["score"], v["ceiling"]), ""] for _, v in summary.iterrows()],
            )
        )
        worst = trends.dropna(subset=["score"]).nsmallest(10, "score").to_dict("records")
        out.append(
            "<details><summary>lowest trend scores</summary>"
            + html_table(
                [
                    "foreign key",
                    "parent column",
                    "child aggregate",
                    "ρ real",
                    "ρ synthetic",
                    "score",
                    "ceiling",
                ],
                [
                    [
                        r["foreign_key"],
                        esc(r["parent_column"]),
                        esc(r["child_aggregate"]),
                        fmt(r["real"]),
                        fmt(r["synthetic"]),
                        fmt(r["score"]),
                        fmt(r["ceiling"]),
                    ]
                    for r in worst
                ],
            )
            + "</details>"
        )
    return out
