"""The building blocks of the HTML report: escaping, number formats, grades,
tables, and plots embedded as PNG.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


__all__ = [
    "REAL",
    "SYNTHETIC",
    "esc",
    "figure",
    "fmt",
    "grade",
    "html_table",
    "legend",
    "png",
]

REAL = "#4c72b0"


SYNTHETIC = "#dd8452"


_COLS = 4


_DPI = 80


def esc(value: Any) -> str:
    return html.escape(str(value))


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "&ndash;"
    try:
        f = float(value)
    except (TypeError, ValueError):
        return esc(value)
    if math.isnan(f):
        return "&ndash;"
    return f"{f:.{digits}f}"


def grade(score: Any, ceiling: Any, *, auc: bool = False) -> str:
    """``good``/``ok``/``bad``: how far a score is from its ceiling (or the ideal)."""
    try:
        s = float(score)
    except (TypeError, ValueError):
        return ""
    if math.isnan(s):
        return ""
    c = float(ceiling) if ceiling is not None and not pd.isna(ceiling) else float("nan")
    if auc:
        ref = max(0.5, c) if not math.isnan(c) else 0.5
        gap = s - ref
    else:
        ref = c if not math.isnan(c) else 1.0
        gap = ref - s
    return "good" if gap <= 0.03 else "ok" if gap <= 0.1 else "bad"


def html_table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    grades: Sequence[Sequence[str]] | None = None,
    names: int = 1,
    left: Sequence[int] = (),
) -> str:
    head = "".join(
        f"<th class='name'>{esc(h)}</th>" if i < names else f"<th>{esc(h)}</th>"
        for i, h in enumerate(header)
    )
    body = []
    for r, row in enumerate(rows):
        cells = []
        for i, cell in enumerate(row):
            cls = ["name"] if i < names or i in left else []
            if grades is not None and grades[r][i]:
                cls.append(grades[r][i])
            attr = f" class='{' '.join(cls)}'" if cls else ""
            text = esc(cell) if i < names else cell
            cells.append(f"<td{attr}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def png(fig: Figure) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"<img alt='plot' src='data:image/png;base64,{data}'>"


def figure(n: int, *, height: float = 2.6, cols: int = _COLS) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    ncols = min(cols, max(n, 1))
    nrows = max(1, math.ceil(n / ncols))
    fig = Figure(figsize=(4.0 * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def legend() -> str:
    return (
        "<p class='legend'>"
        f"<span style='background:{REAL}'></span>real"
        f"<span style='background:{SYNTHETIC}'></span>synthetic</p>"
    )
