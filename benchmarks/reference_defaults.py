"""Per-table fidelity of two trees' synthetic samples, scored by one evaluator.

A script, not a test. Two subcommands:

``sample``
    Fit one dataset with whichever ``relsynth`` comes first on ``PYTHONPATH`` (so an
    older tree, checked out in a scratch worktree, can be run with this file) with that
    tree's defaults, ``seed`` 0 and one torch thread, sample at scale 1 with seeds
    ``0 .. samples-1`` and pickle each sample's tables to
    ``OUT/<dataset>/seed<k>/<table>.pkl``; ``OUT/<dataset>/fit.json`` holds the steps
    each table trained and the fit's seconds and load. This file never puts its own
    tree on ``sys.path`` for this subcommand::

        PYTHONPATH=/path/to/old/tree nice -n 10 .venv/bin/python \\
            benchmarks/reference_defaults.py sample northwind /tmp/ref --samples 4

``score``
    Score the samples of two such directories against the source with THIS tree's
    :func:`relsynth.evaluate` (evaluator seed 0), so both sides get the same metric.
    Per table: shapes, pairs, C2ST as ``|AUC - 0.5|`` (0 best) and the parent-child
    trends of the keys into the table, each as mean and standard deviation over the
    samples, and the difference B - A. A table is flagged where B is worse than A by
    more than ``--tolerance`` (0.01) and by more than the two sides' standard
    deviations added together::

        .venv/bin/python benchmarks/reference_defaults.py score northwind /tmp/ref /tmp/cur \\
            --json scores.json

Datasets: ``northwind``, ``berka``, ``gtfs_cairns`` (the SQLite files under
``../shared/datasets``, or ``$RELSYNTH_SHARED_DATASETS``).
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RELSYNTH_SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))
SOURCES = {
    "northwind": DATA / "northwind" / "northwind.db",
    "berka": DATA / "berka" / "berka.sqlite",
    "gtfs_cairns": DATA / "gtfs_cairns" / "gtfs_cairns.sqlite",
}
#: Scores per table, and whether higher is better.
METRICS = {"shapes": True, "pairs": True, "c2st": False, "trends": True}


def _url(name: str) -> str:
    return f"sqlite:///file:{SOURCES[name]}?mode=ro&uri=true"


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# -- sample ----------------------------------------------------------------------------


def sample(name: str, out: Path, samples: int, extra: dict[str, Any]) -> dict[str, Any]:
    """Fit ``name`` with the importable relsynth's defaults; pickle ``samples`` samples."""
    import relsynth

    url = _url(name)
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    accepted = inspect.signature(relsynth.Synthesizer).parameters
    params = {k: v for k, v in {"seed": 0, "n_threads": 1, "n_jobs": 1, **extra}.items()
              if k in accepted}  # fmt: skip
    load = os.getloadavg()
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    synth = relsynth.Synthesizer(meta, **params).fit(tables, on_violations="drop")
    info: dict[str, Any] = {
        "relsynth": relsynth.__file__,
        "params": params,
        "fit_s": round(time.perf_counter() - t0, 2),
        "fit_cpu_s": round(_cpu_seconds() - cpu0, 2),
        "load_before": load,
        "load_after": os.getloadavg(),
        "tables": {},
    }
    for table in synth.plan_.order:
        model = synth.models_.get(table)
        info["tables"][table] = {
            "rows": len(tables[table]),
            "model": str(synth.fit_info_.models.get(table, "-")),
            "steps": int(getattr(model, "steps_", 0) or 0),
            "fit_s": round(float(synth.fit_info_.seconds.get(f"fit:{table}", np.nan)), 2),
        }
    folder = out / name
    for k in range(samples):
        fake = synth.sample(seed=k)
        (folder / f"seed{k}").mkdir(parents=True, exist_ok=True)
        for table, frame in fake.items():
            frame.to_pickle(folder / f"seed{k}" / f"{table}.pkl")
    (folder / "fit.json").write_text(json.dumps(info, indent=1, default=str))
    return info


# -- score -----------------------------------------------------------------------------


def _load_samples(folder: Path) -> list[dict[str, Any]]:
    import pandas as pd

    seeds = sorted(folder.glob("seed*"), key=lambda p: int(p.name[4:]))
    return [{p.stem: pd.read_pickle(p) for p in sorted(s.glob("*.pkl"))} for s in seeds]


def _mean(values: Any) -> float:
    arr = np.asarray(values, dtype="float64")
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if len(arr) else float("nan")


def score_sample(meta: Any, real: Any, fake: Any, max_rows: int) -> dict[str, Any]:
    """Per-table scores of one synthetic sample, and its per-column/per-pair details."""
    import relsynth

    report = relsynth.evaluate(meta, real, fake, seed=0, max_rows=max_rows)
    tables: dict[str, dict[str, float]] = {}
    for table in meta.tables:
        into = [fk.label for fk in meta.foreign_keys if fk.child == table]
        c2st = report.c2st[report.c2st["table"] == table]["auc"]
        tables[table] = {
            "shapes": _mean(report.columns[report.columns["table"] == table]["score"]),
            "pairs": _mean(report.pairs[report.pairs["table"] == table]["score"]),
            "c2st": _mean(np.abs(np.asarray(c2st, dtype="float64") - 0.5)),
            "trends": _mean(report.trends[report.trends["foreign_key"].isin(into)]["score"]),
        }
    columns = {f"{r.table}.{r.column}": float(r.score) for r in report.columns.itertuples()}
    pairs = {
        f"{r.table}.{r.column_1}|{r.column_2}": float(r.score) for r in report.pairs.itertuples()
    }
    trends = {
        f"{r.foreign_key}:{r.parent_column}~{r.child_aggregate}": float(r.score)
        for r in report.trends.itertuples()
    }
    return {"tables": tables, "columns": columns, "pairs": pairs, "trends": trends}


def _stats(runs: list[dict[str, Any]], key: str) -> dict[str, list[float]]:
    """``{name: [mean, sd]}`` of ``runs[i][key][name]`` over the runs (sd with ddof 1)."""
    names = sorted({n for r in runs for n in r[key]})
    out = {}
    for n in names:
        vals = np.array([r[key].get(n, np.nan) for r in runs], dtype="float64")
        vals = vals[~np.isnan(vals)]
        if len(vals):
            sd = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
            out[n] = [float(vals.mean()), sd]
    return out


def compare_tables(
    a: list[dict[str, Any]], b: list[dict[str, Any]], tolerance: float
) -> list[dict[str, Any]]:
    """Per table and metric: A and B mean and sd over samples, B - A, and the flag."""
    rows = []
    tables = sorted({t for r in a + b for t in r["tables"]})
    for table in tables:
        for metric, higher in METRICS.items():
            sa = _stats([{"v": r["tables"].get(table, {})} for r in a], "v")
            sb = _stats([{"v": r["tables"].get(table, {})} for r in b], "v")
            if metric not in sa or metric not in sb:
                continue
            (ma, da), (mb, db) = sa[metric], sb[metric]
            worse = (ma - mb) if higher else (mb - ma)
            rows.append({
                "table": table, "metric": metric, "a": ma, "a_sd": da, "b": mb, "b_sd": db,
                "diff": mb - ma, "worse_by": worse,
                "flag": bool(worse > tolerance and worse > da + db),
            })  # fmt: skip
    return rows


def score(name: str, dir_a: Path, dir_b: Path, max_rows: int, tolerance: float) -> dict[str, Any]:
    """Score both directories' samples of ``name`` with this tree's evaluator."""
    sys.path.insert(0, str(ROOT))
    import relsynth

    url = _url(name)
    meta = relsynth.reflect(url)
    real = relsynth.read_tables(url, meta)
    runs = {}
    for label, folder in (("a", dir_a), ("b", dir_b)):
        samples = _load_samples(folder / name)
        if not samples:
            raise SystemExit(f"no seed*/ folders under {folder / name}")
        runs[label] = [score_sample(meta, real, fake, max_rows) for fake in samples]
    details = {
        label: {key: _stats(r, key) for key in ("columns", "pairs", "trends")}
        for label, r in runs.items()
    }
    return {
        "dataset": name,
        "a": str(dir_a),
        "b": str(dir_b),
        "samples": {k: len(v) for k, v in runs.items()},
        "evaluator": relsynth.__file__,
        "tables": compare_tables(runs["a"], runs["b"], tolerance),
        "details": details,
    }


def show(result: dict[str, Any]) -> None:
    """Print one dataset's per-table comparison (C2ST as |AUC - 0.5|, 0 best)."""
    print(f"\n{result['dataset']}: A = {result['a']}  B = {result['b']}  {result['samples']}")
    print(f"  {'table':<22}{'metric':<8}{'A mean ± sd':>18}{'B mean ± sd':>18}{'B - A':>9}")
    for r in result["tables"]:
        mark = "  << worse" if r["flag"] else ""
        print(
            f"  {r['table']:<22}{r['metric']:<8}{r['a']:>10.4f} ± {r['a_sd']:.4f}"
            f"{r['b']:>10.4f} ± {r['b_sd']:.4f}{r['diff']:>+9.4f}{mark}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sample", help="fit and sample with the relsynth on PYTHONPATH")
    p.add_argument("dataset", choices=sorted(SOURCES))
    p.add_argument("out", type=Path)
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--params", default="{}", help="extra Synthesizer parameters (JSON)")
    s = sub.add_parser("score", help="score two sample folders with this tree's evaluator")
    s.add_argument("dataset", choices=sorted(SOURCES))
    s.add_argument("a", type=Path, help="folder holding <dataset>/seed*/ (the reference)")
    s.add_argument("b", type=Path, help="folder holding <dataset>/seed*/ (compared)")
    s.add_argument("--max-rows", type=int, default=50_000)
    s.add_argument("--tolerance", type=float, default=0.01)
    s.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    import warnings

    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.WARNING)
    if args.command == "sample":
        info = sample(args.dataset, args.out, args.samples, json.loads(args.params))
        print(json.dumps(info, indent=1, default=str))
        return 0
    result = score(args.dataset, args.a, args.b, args.max_rows, args.tolerance)
    show(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
