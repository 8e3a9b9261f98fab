"""Does a value follow its categories? Per-level means of a synthetic table vs the real ones.

For one table and one or more numeric value columns, and each categorical column of
the table (by default every column with 2 to ``--max-levels`` distinct values in the
training rows that is not a value column), the mean of the value per level is taken in
the training rows and in each other set (the real holdout, one or more synthetic
copies), over the levels with at least ``--min-rows`` training rows. Printed per set
and column: the correlation, over those levels, of the set's per-level means with the
training ones (the real holdout gives the ceiling), and the mean absolute difference
of the per-level means in units of the value's training standard deviation.

A script, not a test. Example (the outputs of ``benchmarks/sdv_compare.py``)::

    cd benchmarks/_out/nyc20k
    python ../../level_means.py train.sqlite holdout.sqlite \\
        relsynth=relsynth/synthetic.sqlite --table flights --values dep_delay arr_delay
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def read_table(path: Path, table: str) -> pd.DataFrame:
    """One table of a SQLite file."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        return pd.read_sql_query(f'SELECT * FROM "{table}"', con)


def grouping_columns(train: pd.DataFrame, values: list[str], max_levels: int) -> list[str]:
    """The columns with 2 to ``max_levels`` distinct values, value columns left out."""
    return [
        c
        for c in train.columns
        if c not in values and 2 <= train[c].nunique(dropna=True) <= max_levels
    ]


def level_scores(
    train: pd.DataFrame, other: pd.DataFrame, value: str, by: str, min_rows: int
) -> tuple[float, float, int]:
    """Correlation of ``other``'s per-level means of ``value`` with ``train``'s, the mean
    |difference| of the means in units of the training sd, and the number of levels
    (those with ``min_rows`` training rows that ``other`` has)."""
    real = train.groupby(by)[value].agg(["mean", "count"])
    real = real[real["count"] >= min_rows]["mean"]
    key = other[by].astype(train[by].dtype, errors="ignore") if by in other else None
    if key is None or value not in other:
        return float("nan"), float("nan"), 0
    got = other[value].groupby(key).mean().reindex(real.index)
    ok = got.notna().to_numpy()
    r, g = real.to_numpy()[ok], got.to_numpy()[ok]
    sd = float(train[value].std())
    if ok.sum() < 2 or np.std(r) == 0 or np.std(g) == 0:
        corr = float("nan")
    else:
        corr = float(np.corrcoef(r, g)[0, 1])
    return (
        corr,
        float(np.abs(r - g).mean() / sd) if ok.any() and sd > 0 else float("nan"),
        int(ok.sum()),
    )


def report(
    train: pd.DataFrame,
    sets: dict[str, pd.DataFrame],
    values: list[str],
    by: list[str],
    min_rows: int,
) -> str:
    """Markdown tables (one per value): a row per set, a column per grouping column,
    each cell ``corr / mean|diff| in sd``; the number of levels in the header."""
    lines = []
    for value in values:
        cells: dict[str, list[str]] = {}
        header = []
        for b in by:
            n_levels = 0
            for name, frame in sets.items():
                corr, diff, n = level_scores(train, frame, value, b, min_rows)
                n_levels = max(n_levels, n)
                cells.setdefault(name, []).append(f"{corr:+.2f} / {diff:.3f}")
            header.append(f"{b} ({n_levels})")
        lines.append(
            f"\n{value}: correlation of per-level means with training / mean |diff| (sd)\n"
        )
        lines.append("| set | " + " | ".join(header) + " |")
        lines.append("|---|" + "---:|" * len(header))
        for name, row in cells.items():
            lines.append(f"| {name} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", type=Path)
    parser.add_argument(
        "sets", nargs="+", help="PATH or NAME=PATH of the sets compared with the training one"
    )
    parser.add_argument("--table", required=True)
    parser.add_argument("--values", nargs="+", required=True)
    parser.add_argument("--by", nargs="*", help="grouping columns (default: see the docstring)")
    parser.add_argument("--min-rows", type=int, default=100)
    parser.add_argument("--max-levels", type=int, default=200)
    args = parser.parse_args(argv)
    train = read_table(args.train, args.table)
    sets = {}
    for spec in args.sets:
        name, _, path = spec.rpartition("=")
        sets[name or Path(path).stem] = read_table(Path(path), args.table)
    by = args.by or grouping_columns(train, args.values, args.max_levels)
    print(report(train, sets, args.values, by, args.min_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
