"""One table's C2ST on its own columns, with only that table's model trained (a script).

``benchmarks/c2st_breakdown.py`` splits a full run's C2ST by feature group; a change to
one table's model then costs a whole fit of the database to measure. This script fits
the :class:`relsynth.Synthesizer` with every other learned table at one training step
and no calibration (their rows are placeholders), so the table's own model, seed and
rows are exactly those of a full default fit (its random stream is its own), samples at
scale 1 and prints the C2ST AUC (``relsynth.evaluate``'s features and classifier) of the
table's own measured columns: all of them, without the calendar-like columns given, and
per column. With ``--holdout``, it also scores the real holdout against the training
rows, as is and with ``--shuffle`` columns permuted within the levels of ``--within``:
what the classifier gains from how the values follow those columns (nyc20k weather:
0.49 as is, 0.83 with ``day`` shuffled within ``month``).

Run (from the repository root, after ``benchmarks/sdv_compare.py --datasets nyc20k``)::

    .venv/bin/python benchmarks/table_c2st.py benchmarks/_out/nyc20k weather \\
        --calendar month day hour --holdout --shuffle day --within month
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def own_auc(
    meta: object, name: str, real: pd.DataFrame, synthetic: pd.DataFrame, columns: list[str]
) -> float:
    """C2ST AUC of ``columns`` of ``name`` (evaluate's encoding and classifier)."""
    from relsynth.evaluate._data import measured_columns
    from relsynth.evaluate.metrics import c2st_auc, encode_features

    kinds = dict(measured_columns(meta, name))  # type: ignore[arg-type]
    cols = [c for c in columns if c in kinds]
    xr, xs, mask = encode_features(real[cols], synthetic[cols], {c: kinds[c] for c in cols})
    return round(c2st_auc(xr, xs, mask, seed=1)[0], 3)


def hour_shares(values: pd.Series) -> pd.Series:
    """Rows per hour of day (0-23) of a time column (UTC when zoned)."""
    stamps = pd.to_datetime(values, utc=True)
    return stamps.dt.hour.value_counts().reindex(range(24), fill_value=0)


def odd_even(per_hour: pd.Series) -> float:
    """Rows at odd hours over rows at even hours (1.0 for an even spread)."""
    index = np.asarray(per_hour.index)
    return float(per_hour[index % 2 == 1].sum() / max(per_hour[index % 2 == 0].sum(), 1))


def fit_one(meta: object, tables: dict[str, pd.DataFrame], name: str, seed: int) -> pd.DataFrame:
    """``name``'s synthetic rows from a synthesizer whose other tables train one step."""
    import relsynth
    from relsynth.models.wgan import ConditionalWGAN

    ancestors, frontier = {name}, [name]
    while frontier:  # the table's context comes from its ancestors: they keep their defaults
        child = frontier.pop()
        for fk in meta.foreign_keys:  # type: ignore[attr-defined]
            if fk.child == child and fk.parent not in ancestors:
                ancestors.add(fk.parent)
                frontier.append(fk.parent)
    cheap = {t: ConditionalWGAN(steps=1, calibrate=False) for t in tables if t not in ancestors}
    synth = relsynth.Synthesizer(meta, seed=seed, n_threads=1, table_models=cheap)
    synth.fit(tables)
    return synth.sample(scale=1.0, seed=seed)[name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="sdv_compare's output folder of a dataset")
    parser.add_argument("table")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calendar", nargs="*", default=[], help="columns left out once")
    parser.add_argument("--holdout", action="store_true")
    parser.add_argument("--shuffle", nargs="*", default=[])
    parser.add_argument("--within", nargs="*", default=[])
    parser.add_argument("--hours", help="a time column: rows per hour of day, real and synthetic")
    parser.add_argument("--save", type=Path, help="write the synthetic rows here (CSV)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    warnings.simplefilter("ignore")
    import relsynth
    from relsynth.evaluate._data import measured_columns

    meta = relsynth.Metadata.load(args.folder / "meta.json")
    tables = relsynth.read_tables(f"sqlite:///{args.folder / 'train.sqlite'}", meta)
    real = tables[args.table].reset_index(drop=True)
    cols = [c for c, _ in measured_columns(meta, args.table)]
    fake = fit_one(meta, dict(tables), args.table, args.seed).reset_index(drop=True)
    if args.save:
        fake.to_csv(args.save, index=False)
    if args.hours:
        for label, frame in (("real", real), ("synthetic", fake)):
            share = hour_shares(frame[args.hours])
            print(f"{args.hours} per hour of day, {label}: rows per hour {share.min():.0f}"
                  f"-{share.max():.0f}, odd/even hours {odd_even(share):.3f}")  # fmt: skip
    print(f"{args.table}: own columns {own_auc(meta, args.table, real, fake, cols)}")
    if args.calendar:
        rest = [c for c in cols if c not in args.calendar]
        print(
            f"  without {', '.join(args.calendar)}: {own_auc(meta, args.table, real, fake, rest)}"
        )
    for c in cols:
        print(f"  {c}: {own_auc(meta, args.table, real, fake, [c])}")
    if args.holdout:
        hold = relsynth.read_tables(f"sqlite:///{args.folder / 'holdout.sqlite'}", meta)
        other = hold[args.table].reset_index(drop=True)
        print(f"real holdout: {own_auc(meta, args.table, real, other, cols)}")
        if args.shuffle:
            rng = np.random.default_rng(args.seed)
            shuffled = other.copy()
            keys = other[args.within].astype(str).agg("|".join, axis=1) if args.within else None
            groups = [np.arange(len(other))] if keys is None else list(
                other.groupby(keys).indices.values()
            )  # fmt: skip
            for idx in groups:
                perm = rng.permutation(idx)
                shuffled.loc[idx, args.shuffle] = other.loc[perm, args.shuffle].to_numpy()
            label = f"{', '.join(args.shuffle)} shuffled" + (
                f" within {', '.join(args.within)}" if args.within else ""
            )
            print(f"real holdout, {label}: {own_auc(meta, args.table, real, shuffled, cols)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
