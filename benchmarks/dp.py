"""Differential privacy: fidelity and privacy at epsilon = 1, 4, 16 and without DP.

For each dataset: split the real database with ``relsynth.split_holdout`` (half of
the split table's rows, and their descendants, held out), fit on the training part
with ``Synthesizer(privacy=DifferentialPrivacy(epsilon=E))`` for each E and once
without DP (same steps, same seed), sample at scale 1, and score with
``relsynth.evaluate`` against the training part, with the holdout as the privacy
baseline: column shapes, column pairs, parent-child trends (a numeric parent column
against its children's count and mean values, across parents), C2ST AUC (fidelity); DCR
ratio and MIA AUC (privacy), as evaluate gives them (mean over every table) and over the
private tables only (the public tables are copied, not protected: their DCR is 0 and
their MIA AUC up to 1 by design), with the DCR share (synthetic rows closer to the
training rows than to the holdout; 0.5: no memorisation). Public tables are named per
dataset; ``--domains`` gives the DP fits the documented public domains of ``DOMAINS``.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/dp.py --steps 30 --keep 0.4 \\
        --nyc benchmarks/_out/nyc20k.db --berka /work/shared/datasets/berka/berka.sqlite

Prints a Markdown table (and writes it with ``--out``).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

import relsynth
from relsynth import DifferentialPrivacy, Synthesizer

#: Tables published as they are (lookups with no personal data), per dataset.
PUBLIC = {
    "nyc20k": ["airlines", "airports", "planes", "weather"],
    "berka": ["district"],
}
EPSILONS = (1.0, 4.0, 16.0, None)
#: Public domains of categorical columns, per dataset, from the data's own public
#: documentation (``--domains``): Berka's PKDD'99 guide lists the statement frequencies,
#: the permanent orders' payment kinds, the loan statuses and the card types (not the
#: loan durations nor the banks' codes). nycflights13's learned tables have no
#: categorical column that is not a key.
DOMAINS = {
    "berka": {
        "account.frequency": ["POPLATEK MESICNE", "POPLATEK TYDNE", "POPLATEK PO OBRATU"],
        "order.k_symbol": ["POJISTNE", "SIPO", "LEASING", "UVER"],
        "loan.status": ["A", "B", "C", "D"],
        "card.type": ["junior", "classic", "gold"],
    },
}


def _mean(frame, column: str, tables: list | None = None) -> float:  # noqa: ANN001
    """Mean of ``column`` over the rows of ``frame`` (of ``tables`` only, when given)."""
    if frame is None or column not in getattr(frame, "columns", ()):
        return float("nan")
    if tables is not None:
        frame = frame[frame["table"].isin(tables)]
    values = frame[column].to_numpy(dtype=float)
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


def run(
    name: str, url: str, steps: int, seed: int, max_rows: int, keep: float,
    epsilons: tuple = EPSILONS, columns: list | None = None, trends: list | None = None,
    domains: bool = False,
) -> list[dict]:  # fmt: skip
    """One dataset: a row per epsilon (None: without DP); per-column scores into ``columns``,
    per foreign key and parent column the trend scores into ``trends``."""
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    if keep < 1.0:  # a subset: the split table's rows (and their descendants) kept
        _, tables = relsynth.split_holdout(meta, tables, fraction=keep, seed=1)
    train, holdout = relsynth.split_holdout(meta, tables, fraction=0.5, seed=0)
    print(name, {t: len(f) for t, f in train.items()}, flush=True)
    rows = []
    given = DOMAINS.get(name, {}) if domains else {}
    private = [t for t in meta.tables if t not in PUBLIC[name]]
    for eps in epsilons:
        privacy = None if eps is None else DifferentialPrivacy(epsilon=eps, domains=given)
        synth = Synthesizer(
            meta,
            seed=seed,
            steps=steps,
            n_threads=1,
            n_jobs=1,
            table_models=dict.fromkeys(PUBLIC[name], "copy"),
            privacy=privacy,
        )
        t0 = time.perf_counter()
        synth.fit(train)
        fit_s = time.perf_counter() - t0
        fake = synth.sample(seed=seed)
        ok = bool(relsynth.check(meta, fake).ok)
        report, error = None, ""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                report = relsynth.evaluate(
                    meta, train, fake, holdout=holdout, seed=0, max_rows=max_rows
                )
            except ValueError as exc:  # evaluate's own failure on a degenerate sample
                error = f"evaluate failed: {type(exc).__name__}: {exc}"
                print(error, flush=True)
        nan = float("nan")
        if report is not None and columns is not None:
            label = "no DP" if eps is None else eps
            columns.append(report.columns.assign(dataset=name, epsilon=label))
            if trends is not None:
                trends.append(report.trends.assign(dataset=name, epsilon=label))
        dp = synth.fit_info_.dp
        if dp:  # the released parent-child correlations that stood out of their noise
            print("context correlations:", _released(dp), flush=True)
        rows.append(
            {
                "dataset": name,
                "epsilon": "no DP" if eps is None else f"{eps:g}",
                "spent": "-" if not dp else f"{dp['epsilon']:.3f} / {dp['delta']:.1e}",
                "fit s": fit_s,
                "rows": sum(len(f) for f in fake.values()),
                "integrity": "yes" if ok else "no",
                "shapes": report.column_shapes if report else nan,
                "pairs": report.column_pairs if report else nan,
                "trends": report.trends_score if report else nan,
                "c2st": report.c2st_auc if report else nan,
                "dcr ratio": _mean(report.privacy if report else None, "dcr_ratio"),
                "mia auc": _mean(report.privacy if report else None, "mia_auc"),
                # the public tables are copied (their synthetic rows *are* training rows),
                # and split_holdout may split them too: their DCR is 0 and their MIA 1 by
                # design; the private tables' figures are the ones DP speaks to
                "dcr private": _mean(report.privacy if report else None, "dcr_ratio", private),
                "dcr share": _mean(report.privacy if report else None, "dcr_share", private),
                "mia private": _mean(report.privacy if report else None, "mia_auc", private),
                "c2st private": _mean(report.c2st if report else None, "auc", private),
                "note": error,
            }
        )
        print(rows[-1], flush=True)
    return rows


def _released(dp: dict) -> dict:
    """Per child table, its released correlations with its parent that are not 0."""
    return {
        t: {
            f"{a} ~ {b}": round(r, 2)
            for a, row in spec.get("correlations", {}).items()
            for b, r in row.items()
            if r
        }
        for t, spec in dp.get("context", {}).items()
    }


def table(rows: list[dict]) -> str:
    """The Markdown table of the rows."""
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on the datasets given."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nyc", type=Path, help="a nycflights13 SQLite file (e.g. nyc20k.db)")
    p.add_argument("--berka", type=Path, help="the Berka SQLite file")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-rows", type=int, default=20_000)
    p.add_argument(
        "--keep", type=float, default=1.0, help="share of the split table kept (a subset)"
    )
    p.add_argument("--out", type=Path)
    p.add_argument("--epsilons", default="1,4,16,none", help="comma-separated; 'none': without DP")
    p.add_argument("--columns", type=Path, help="write the per-column shape scores (CSV)")
    p.add_argument("--trends", type=Path, help="write the parent-child trend scores (CSV)")
    p.add_argument(
        "--domains", action="store_true",
        help="give the public domains of DOMAINS (documented values) to the DP fits",
    )  # fmt: skip
    args = p.parse_args(argv)
    epsilons = tuple(
        None if e.strip().lower() == "none" else float(e) for e in args.epsilons.split(",")
    )
    rows: list[dict] = []
    per_column: list = []
    per_trend: list = []
    for name, path in (("nyc20k", args.nyc), ("berka", args.berka)):
        if path is not None:
            rows += run(
                name, f"sqlite:///{path}", args.steps, args.seed, args.max_rows, args.keep,
                epsilons, per_column, per_trend, args.domains,
            )  # fmt: skip
    text = table(rows)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    if args.columns is not None and per_column:
        _column_table(per_column).to_csv(args.columns, index=False)
        print(_column_table(per_column).to_string(index=False))
    if args.trends is not None and per_trend:
        import pandas as pd

        pd.concat(per_trend, ignore_index=True).to_csv(args.trends, index=False)
    return 0


def _column_table(frames: list):  # noqa: ANN202
    """Per table and column: the shape score at every epsilon, side by side."""
    import pandas as pd

    long = pd.concat(frames, ignore_index=True)
    wide = long.pivot_table(
        index=["dataset", "table", "column", "metric"], columns="epsilon", values="score",
        aggfunc="first",
    )  # fmt: skip
    wide.columns = [f"eps {c}" if c != "no DP" else "no DP" for c in wide.columns]
    return wide.reset_index()


if __name__ == "__main__":
    raise SystemExit(main())
