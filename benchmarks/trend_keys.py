"""Where relsynth's ``trends`` score comes from: per foreign key, per pair (a script).

``relsynth.evaluate`` scores each (foreign key, numeric parent column, child aggregate)
by how close the synthetic rank correlation of the parent column with the children's
``count`` / ``mean(col)`` across parents is to the real one
(:func:`relsynth.evaluate._table_scores.trend_scores`); the headline ``trends`` is the
mean over every such row, so a key with many parent columns and child columns weighs
more. This script prints, for one or more synthetic databases of the same source:

- per key: the number of pairs, the mean score per synthetic file, and how many parent
  rows the means are taken over (a key whose children point at 3 parents gives rank
  correlations of ±0.5 or ±1 only);
- with ``--pairs``: each (parent column, child aggregate) with the real and synthetic
  correlation and its score;
- with ``--means N``: for keys whose children point at ``N`` parents or fewer, each
  such parent's child means, real and synthetic, and whether the order of the parents
  by that mean agrees (what a 3-point rank correlation reads);
- with ``--conditional N``: for the same small keys, a measure that does not hang on a
  3-point rank: per child column, the KS complement of the column *within* each parent
  (real vs synthetic children of the same parent), averaged with the real children as
  weights. Its noise floor is that of a KS test on thousands of rows, not ±0.25 a pair.

Pass the real holdout as one more "synthetic" file to read every number against what a
second real sample scores (``relsynth.evaluate``'s ceiling).

Run (from the repository root) on the files ``benchmarks/sdv_compare.py`` wrote::

    .venv/bin/python benchmarks/trend_keys.py benchmarks/_out/nyc20k/meta.json \\
        benchmarks/_out/nyc20k/train.sqlite benchmarks/_out/nyc20k/relsynth/synthetic.sqlite \\
        [more synthetic files ...] [--key origin] [--pairs] [--means 5]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def key_rows(
    meta: object, real: Mapping[str, pd.DataFrame], synthetics: Sequence[Mapping[str, pd.DataFrame]]
) -> pd.DataFrame:
    """One row per (key, parent column, child aggregate): real rho, each file's rho and score."""
    from relsynth.evaluate._table_scores import trend_scores

    frames = []
    for i, synth in enumerate(synthetics):
        rows = pd.DataFrame(trend_scores(meta, real, synth))  # type: ignore[arg-type]
        rows = rows.rename(columns={"synthetic": f"rho_{i}", "score": f"score_{i}"})
        frames.append(rows if i == 0 else rows[[f"rho_{i}", f"score_{i}"]])
    return pd.concat(frames, axis=1)


def parents_with_children(meta: object, tables: Mapping[str, pd.DataFrame]) -> dict[str, int]:
    """Per key label: how many parent rows have at least one child."""
    from relsynth.evaluate._data import child_counts

    out = {}
    for fk in meta.foreign_keys:  # type: ignore[attr-defined]
        counts, _ = child_counts(tables[fk.parent], tables[fk.child], fk)
        out[fk.label] = int((counts > 0).sum())
    return out


def parent_means(
    meta: object,
    real: Mapping[str, pd.DataFrame],
    synthetics: Sequence[Mapping[str, pd.DataFrame]],
    label: str,
) -> pd.DataFrame:
    """Per child aggregate, each parent's value (real, then each file) for one key."""
    from relsynth.evaluate._data import child_aggregates, key_series

    fk = next(f for f in meta.foreign_keys if f.label == label)  # type: ignore[attr-defined]
    out = []
    for i, tables in enumerate([real, *synthetics]):
        agg = child_aggregates(meta, tables, fk)  # type: ignore[arg-type]
        agg.index = key_series(tables[fk.parent], fk.parent_columns).astype(str).to_numpy()
        agg = agg[agg["count"] > 0]
        out.append(agg.assign(source="real" if i == 0 else f"synthetic_{i - 1}"))
    return pd.concat(out)


def order_agreement(means: pd.DataFrame, n_files: int) -> pd.DataFrame:
    """Per child aggregate: the parents ordered by their real mean, and per file whether
    the synthetic order is the same (with the largest real gap relative to the spread)."""
    real = means[means["source"] == "real"].drop(columns="source")
    rows = []
    for agg in real.columns:
        r = real[agg].dropna()
        row: dict[str, object] = {"aggregate": agg, "real order": " < ".join(r.sort_values().index)}
        for i in range(n_files):
            s = means[means["source"] == f"synthetic_{i}"].drop(columns="source")[agg]
            s = s.reindex(r.index)
            row[f"same_{i}"] = bool(list(s.sort_values().index) == list(r.sort_values().index))
        rows.append(row)
    return pd.DataFrame(rows)


def conditional_shapes(
    meta: object,
    real: Mapping[str, pd.DataFrame],
    synthetic: Mapping[str, pd.DataFrame],
    label: str,
    min_children: int = 30,
) -> dict[str, float]:
    """Per numeric child column of key ``label``: the KS complement of the column within
    each parent (parents with ``min_children`` real children or more), weighted by the
    real children."""
    from relsynth.evaluate._data import as_numbers, is_numeric, key_series, measured_columns
    from relsynth.evaluate.metrics import ks_complement

    fk = next(f for f in meta.foreign_keys if f.label == label)  # type: ignore[attr-defined]
    numeric = [(c, k) for c, k in measured_columns(meta, fk.child) if is_numeric(k)]  # type: ignore[arg-type]
    keys_r = key_series(real[fk.child], fk.columns).astype(str).to_numpy()
    keys_s = key_series(synthetic[fk.child], fk.columns).astype(str).to_numpy()
    parents, sizes = np.unique(keys_r, return_counts=True)
    keep = sizes >= min_children
    out = {}
    for col, kind in numeric:
        xr = as_numbers(real[fk.child][col], kind)
        xs = as_numbers(synthetic[fk.child][col], kind)
        scores = [ks_complement(xr[keys_r == p], xs[keys_s == p]) for p in parents[keep]]
        out[col] = float(np.average(np.nan_to_num(scores), weights=sizes[keep]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("meta", type=Path)
    parser.add_argument("real", type=Path)
    parser.add_argument("synthetic", type=Path, nargs="+")
    parser.add_argument("--key", help="only keys whose label contains this text")
    parser.add_argument("--pairs", action="store_true", help="every (parent column, aggregate)")
    parser.add_argument("--means", type=int, default=0, help="parent means for keys this small")
    parser.add_argument(
        "--conditional", type=int, default=0, help="within-parent shapes for keys this small"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import relsynth

    meta = relsynth.Metadata.load(args.meta)
    real = relsynth.read_tables(f"sqlite:///{args.real}", meta)
    synthetics = [relsynth.read_tables(f"sqlite:///{p}", meta) for p in args.synthetic]
    rows = key_rows(meta, real, synthetics)
    if args.key:
        rows = rows[rows["foreign_key"].str.contains(args.key, regex=False)]
    scores = [f"score_{i}" for i in range(len(synthetics))]
    sizes = parents_with_children(meta, real)
    per_key = rows.groupby("foreign_key", sort=False)[scores].mean()
    per_key.insert(0, "pairs", rows.groupby("foreign_key", sort=False).size())
    per_key.insert(1, "parents", [sizes[k] for k in per_key.index])
    per_key["mean"] = per_key[scores].mean(axis=1)
    all_rows = key_rows(meta, real, synthetics) if args.key else rows
    overall = all_rows[scores].mean()
    with pd.option_context("display.max_rows", None, "display.width", 250):
        print(per_key.round(3).to_string())
        print("overall trends:", " ".join(f"{v:.3f}" for v in overall),
              f"(mean {overall.mean():.3f}, sd {overall.std(ddof=0):.3f})")  # fmt: skip
        if args.pairs:
            print(rows.round(3).to_string(index=False))
        for label in per_key.index:
            if args.means and 0 < sizes[label] <= args.means:
                means = parent_means(meta, real, synthetics, label)
                print(f"\n{label}: child means per parent")
                print(means.round(2).to_string())
                print(order_agreement(means, len(synthetics)).to_string(index=False))
            if args.conditional and 0 < sizes[label] <= args.conditional:
                table = pd.DataFrame(
                    {f"file_{i}": conditional_shapes(meta, real, s, label)
                     for i, s in enumerate(synthetics)}
                )  # fmt: skip
                table.loc["mean"] = table.mean()
                print(f"\n{label}: KS complement within each parent (weighted by real children)")
                print(table.round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
