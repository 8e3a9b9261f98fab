"""SDMetrics' single-table quality report of synthetic CSVs, and SDV's Gaussian copula.

A script, not a test, run with the SDV venv (SDV pins pandas < 3; see
``benchmarks/sdv_compare.py`` for building it). It scores each synthetic CSV against
the real one with ``sdmetrics.reports.single_table.QualityReport`` (Column Shapes,
Column Pair Trends: Pearson correlation similarity for number pairs, contingency
similarity for the rest), metadata detected by SDV from the real rows. With
``--copula N`` it also fits SDV's ``GaussianCopulaSynthesizer`` on the same real rows
and scores N samples of it, the reference the issue names::

    .venv/bin/python -m datasets.baseball /tmp/baseball.db
    .venv/bin/relsynth clone sqlite:////tmp/baseball.db sqlite:////tmp/syn.db --seed 0
    sqlite3 -header -csv /tmp/baseball.db 'select * from batting' > /tmp/real.csv
    sqlite3 -header -csv /tmp/syn.db 'select * from batting' > /tmp/syn.csv
    benchmarks/_out/sdv-venv/bin/python benchmarks/sdmetrics_table.py /tmp/real.csv \
        /tmp/syn.csv --drop id --copula 1

``--drop`` leaves columns out of every report (an identifier such as a player id).
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings

import pandas as pd


def _metadata(frame: pd.DataFrame) -> dict:
    from sdv.metadata import Metadata

    detected = Metadata.detect_from_dataframes({"table": frame})
    return detected.to_dict()["tables"]["table"]


def _scores(real: pd.DataFrame, synthetic: pd.DataFrame, meta: dict) -> tuple[float, float]:
    from sdmetrics.reports.single_table import QualityReport

    report = QualityReport()
    report.generate(real, synthetic[real.columns], meta, verbose=False)
    props = report.get_properties().set_index("Property")["Score"]
    return float(props["Column Shapes"]), float(props["Column Pair Trends"])


def _copula_sample(real: pd.DataFrame) -> pd.DataFrame:
    """One fit and sample of SDV's copula (SDV seeds itself: every run is the same)."""
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer

    synth = GaussianCopulaSynthesizer(Metadata.detect_from_dataframes({"table": real}))
    synth.fit({"table": real})  # SDV 2 takes {name: frame} even for one table
    out = synth.sample(len(real))
    return out["table"] if isinstance(out, dict) else out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("real", help="CSV of the real table")
    parser.add_argument("synthetic", nargs="*", help="CSVs of synthetic tables")
    parser.add_argument("--drop", nargs="*", default=[], help="columns left out")
    parser.add_argument("--copula", type=int, default=0, metavar="N", help="SDV copula samples")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    real = pd.read_csv(args.real).drop(columns=args.drop, errors="ignore")
    meta = _metadata(real)
    rows = [(path, *_scores(real, pd.read_csv(path), meta)) for path in args.synthetic]
    rows += [
        (f"SDV GaussianCopula, fit {i + 1}", *_scores(real, _copula_sample(real), meta))
        for i in range(args.copula)
    ]
    print(f"{'synthetic':50s} {'shapes':>7s} {'pair trends':>11s}")
    for name, shapes, pairs in rows:
        print(f"{name:50s} {shapes:7.4f} {pairs:11.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
