"""Where a C2ST AUC comes from: per table, per feature group and per feature (a script).

``relsynth.evaluate`` scores each table with a classifier two-sample test on its rows
joined with their driver parent's columns and their children's aggregates
(:func:`relsynth.evaluate._table_scores.c2st_scores`). One number per table says
*that* the copy can be told apart, not *why*. This script reruns that test, with the
same features, folds and seed, on feature subsets:

- ``all``: the full test (the number ``evaluate`` reports);
- ``own`` / ``parent`` / ``children``: the table's own columns, the driver parent's
  columns joined to each row, the aggregates of each child table (``count``,
  ``mean(col)``), each group alone;
- ``own+parent``, ``own+children``: which join makes the rows tell;
- ``-<feature>``: the full test without one feature (a drop shows what it carries),
  and ``<feature>``: that feature alone.

Run (from the repository root), on a source and a synthetic SQLite file with the
metadata ``benchmarks/sdv_compare.py`` wrote::

    .venv/bin/python benchmarks/c2st_breakdown.py benchmarks/_out/nyc20k/meta.json \\
        benchmarks/_out/nyc20k/train.sqlite benchmarks/_out/nyc20k/relsynth/synthetic.sqlite
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def group_of(column: str, table: str, parent: str | None) -> str:
    """``own``, ``parent`` or ``children`` for a joined feature's name."""
    if parent is not None and column.startswith(f"{parent}."):
        return "parent"
    if "[" in column and "]." in column:
        return "children"
    return "own"


def _auc(
    xr: np.ndarray,
    xs: np.ndarray,
    mask: np.ndarray,
    keep: np.ndarray,
    groups: np.ndarray | None,
    seed: int,
) -> float:
    """The C2ST AUC on the features ``keep`` (NaN for none), rounded to 0.001."""
    from relsynth.evaluate.metrics import c2st_auc

    if not keep.any():
        return float("nan")
    value, _ = c2st_auc(xr[:, keep], xs[:, keep], mask[keep], groups=groups, seed=seed)
    return round(value, 3)


def breakdown(
    meta: object,
    real: Mapping[str, pd.DataFrame],
    synthetic: Mapping[str, pd.DataFrame],
    tables: Sequence[str] | None,
    max_rows: int,
    seed: int,
    singles: bool,
) -> list[dict[str, object]]:
    """One row per (table, feature subset): the C2ST AUC on that subset."""
    from relsynth._random import stream
    from relsynth.evaluate._data import subsample_positions, table_features
    from relsynth.evaluate.metrics import encode_features
    from relsynth.metadata.graph import plan as make_plan

    plan = make_plan(meta)
    base = int(stream(seed, "evaluate").integers(0, 2**31 - 1))
    rows: list[dict[str, object]] = []
    for i, name in enumerate(meta.tables):  # type: ignore[attr-defined]
        if tables and name not in tables:
            continue
        feats_r, kinds = table_features(meta, plan, real, name)
        feats_s, _ = table_features(meta, plan, synthetic, name)
        n = min(len(feats_r), len(feats_s), max_rows)
        rng = np.random.default_rng([base, i])
        feats_r = feats_r.iloc[subsample_positions(len(feats_r), n, rng)]
        feats_s = feats_s.iloc[subsample_positions(len(feats_s), n, rng)]
        xr, xs, mask = encode_features(feats_r, feats_s, kinds)
        driver = plan.driver.get(name)
        parent = driver.parent if driver is not None else None
        cols = list(feats_r.columns)
        groups = np.array([group_of(c, name, parent) for c in cols])
        # Families in one fold, as evaluate does when there are enough of them.
        fam = None
        if parent is not None:
            from relsynth.evaluate._table_scores import family_groups, has_parent
            from relsynth.evaluate.metrics import MIN_FAMILY_GROUPS

            idx = np.flatnonzero(groups == "parent")
            found = np.concatenate(
                [
                    has_parent(real, driver)[feats_r.index.to_numpy()],
                    has_parent(synthetic, driver)[feats_s.index.to_numpy()],
                ]
            )
            fam = family_groups(np.vstack([xr, xs])[:, idx], found)
            if min(len(np.unique(fam[: len(xr)])), len(np.unique(fam[len(xr) :]))) < (
                MIN_FAMILY_GROUPS
            ):
                fam = None

        subsets: dict[str, np.ndarray] = {"all": np.ones(len(cols), bool)}
        for g in ("own", "parent", "children"):
            if (groups == g).any():
                subsets[g] = groups == g
        if (groups == "parent").any():
            subsets["own+parent"] = np.isin(groups, ["own", "parent"])
        if (groups == "children").any():
            subsets["own+children"] = np.isin(groups, ["own", "children"])
        if singles:
            for j, col in enumerate(cols):
                alone = np.arange(len(cols)) == j
                subsets[col], subsets[f"-{col}"] = alone, ~alone
        # evaluate leaves the parent's columns out when families are few (3 airports)
        folds = "families" if fam is not None else "rows"
        for label, keep in subsets.items():
            value = _auc(xr, xs, mask, keep, fam, base)
            rows.append(
                {"table": name, "subset": label, "n_features": int(keep.sum()), "auc": value,
                 "folds": folds}
            )  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("meta", type=Path)
    parser.add_argument("real", type=Path)
    parser.add_argument("synthetic", type=Path)
    parser.add_argument("--tables", nargs="*")
    parser.add_argument("--singles", action="store_true", help="also each feature alone / left out")
    parser.add_argument("--max-rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import relsynth

    meta = relsynth.Metadata.load(args.meta)
    real = relsynth.read_tables(f"sqlite:///{args.real}", meta)
    synthetic = relsynth.read_tables(f"sqlite:///{args.synthetic}", meta)
    rows = breakdown(meta, real, synthetic, args.tables, args.max_rows, args.seed, args.singles)
    with pd.option_context("display.max_rows", None, "display.width", 200):
        print(pd.DataFrame(rows).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
