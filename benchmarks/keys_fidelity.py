"""Benchmark: fidelity and speed of the key skeletons (relsynth.keys).

For every foreign key of Northwind, GTFS Cairns, Berka and nycflights13 this
prints the KS complement (1 - two-sample KS statistic) between the source's and
the skeleton's children-per-parent distribution (zeros included): for a driver
key, the children per parent row; for a secondary key, the in-degree of each
parent; for a self-reference, the fan-out. Skeletons come from
``KeyGenerator.sample(scale=1)`` (no value columns, so cardinalities are drawn from
their marginal). The ``cond`` column scores the *conditional* model instead: the
driver key's cardinalities sampled given the source parents' features.

Then it times fit and sample on a generated 1M-row child table.

Run: ``.venv/bin/python benchmarks/keys_fidelity.py [--no-nyc] [--rows 1000000]``
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import relsynth  # noqa: E402
from relsynth import Column, ForeignKey, Metadata, Table, check  # noqa: E402
from relsynth.keys import KeyGenerator  # noqa: E402
from relsynth.keys._frames import locate as _locate  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
DATASETS = {
    "northwind": SHARED / "northwind" / "northwind.db",
    "gtfs_cairns": SHARED / "gtfs_cairns" / "gtfs_cairns.sqlite",
    "berka": SHARED / "berka" / "berka.sqlite",
}


def load(path: Path) -> tuple[Metadata, dict[str, pd.DataFrame]]:
    """Reflect and read a SQLite file (read-only)."""
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    meta = relsynth.reflect(url)
    try:
        tables = relsynth.read_tables(url, meta)
    except Exception:  # noqa: BLE001 - fall back to plain pandas while io.sql evolves
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        tables = {t: pd.read_sql(f'SELECT * FROM "{t}"', con) for t in meta.tables}
    return meta, tables


def per_parent(frames, fk: ForeignKey) -> np.ndarray:
    """Children per parent row (zeros included)."""
    idx = _locate(frames[fk.child], fk.columns, frames[fk.parent], fk.parent_columns)
    return np.bincount(idx[idx >= 0], minlength=len(frames[fk.parent]))


def ks_complement(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float(1.0 - ks_2samp(a, b, method="asymp").statistic)


def fk_scores(meta: Metadata, gen: KeyGenerator, real, synth) -> list[dict]:
    """One row per foreign key: kind and KS complement."""
    rows = []
    for fk in meta.foreign_keys:
        if fk.is_self_reference:
            kind = "self-ref"
        elif gen.plan_.driver.get(fk.child) == fk:
            kind = "driver"
        elif fk in gen.plan_.deferred:
            kind = "deferred"
        else:
            kind = "secondary"
        ks = ks_complement(per_parent(real, fk), per_parent(synth, fk))
        cond = float("nan")
        if kind == "driver":
            driver = gen.states_[fk.child].driver
            assert driver is not None
            model = driver.cardinality
            pf = gen.features_.get(fk.parent)
            feats = (
                pf.transform(real[fk.parent]) if pf is not None and model.is_conditional else None
            )
            if feats is not None:
                drawn = model.sample(feats, np.random.default_rng(0))
                cond = ks_complement(per_parent(real, fk), drawn)
        rows.append({"fk": fk.label, "kind": kind, "ks": ks, "cond": cond})
    return rows


def run_dataset(name: str, path: Path) -> list[dict]:
    meta, tables = load(path)
    t0 = time.perf_counter()
    gen = KeyGenerator().fit(meta, tables)
    t1 = time.perf_counter()
    skel = gen.sample(scale=1.0, seed=0)
    t2 = time.perf_counter()
    report = check(skel.metadata, skel.tables)
    rows = fk_scores(meta, gen, tables, skel.tables)
    for r in rows:
        r.update(dataset=name, fit_s=t1 - t0, sample_s=t2 - t1, check=report.ok)
    return rows


def million(n_rows: int) -> dict[str, float]:
    """Fit/sample timings on a parent of n/10 rows and a child of ~n rows."""
    rng = np.random.default_rng(0)
    n_parent = n_rows // 10
    x = rng.random(n_parent)
    parent = pd.DataFrame(
        {"id": np.arange(1, n_parent + 1), "x": x, "segment": rng.choice(["a", "b", "c"], n_parent)}
    )
    counts = rng.poisson(2 + 16 * x)
    counts = np.round(counts * n_rows / counts.sum()).astype(int)
    child = pd.DataFrame(
        {
            "id": np.arange(1, counts.sum() + 1),
            "parent_id": np.repeat(parent["id"].to_numpy(), counts),
            "shop_id": rng.integers(1, 1001, counts.sum()),
            "code": pd.Series(rng.integers(0, 10**7, counts.sum()))
            .astype(str)
            .str.zfill(8)
            .radd("TX")
            .to_numpy(),
        }
    )
    child = child.drop_duplicates("code")
    shops = pd.DataFrame({"shop_id": np.arange(1, 1001)})
    meta = Metadata(
        {
            "parent": Table(
                "parent",
                (
                    Column("id", "id", nullable=False),
                    Column("x", "numerical"),
                    Column("segment", "categorical"),
                ),
                primary_key=("id",),
            ),
            "shop": Table(
                "shop", (Column("shop_id", "id", nullable=False),), primary_key=("shop_id",)
            ),
            "child": Table(
                "child",
                (
                    Column("id", "id", nullable=False),
                    Column("parent_id", "id", nullable=False),
                    Column("shop_id", "id", nullable=False),
                    Column("code", "id", nullable=False),
                ),
                primary_key=("id",),
                unique=(("code",),),
            ),
        },
        (
            ForeignKey("child", ("parent_id",), "parent", ("id",)),
            ForeignKey("child", ("shop_id",), "shop", ("shop_id",)),
        ),
    )
    tables = {"parent": parent, "shop": shops, "child": child}
    t0 = time.perf_counter()
    gen = KeyGenerator().fit(meta, tables)
    t1 = time.perf_counter()
    skel = gen.sample(seed=1)
    t2 = time.perf_counter()
    done = {"parent": parent, "shop": shops}  # conditional: the parents' values are known
    part = gen.sample_table("child", done, rng=np.random.default_rng(2))
    t3 = time.perf_counter()
    vec_child = rng.random((len(part), 2))
    vec_shop = rng.random((len(shops), 2))
    gen.match_secondary(
        meta.foreign_keys[1], part, vec_child, shops, vec_shop, rng=np.random.default_rng(3)
    )
    t4 = time.perf_counter()
    ok = check(skel.metadata, skel.tables).ok
    return {
        "rows": float(len(child)),
        "fit_s": t1 - t0,
        "sample_s": t2 - t1,
        "sample_table_conditional_s": t3 - t2,
        "match_secondary_s": t4 - t3,
        "skeleton_rows": float(len(skel["child"])),
        "check_ok": float(ok),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-nyc", action="store_true", help="skip nycflights13")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows: list[dict] = []
    for name, path in DATASETS.items():
        if path.is_file():
            rows.extend(run_dataset(name, path))
    if not args.no_nyc:
        from datasets import nycflights13

        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "nycflights13.db"
            nycflights13.build(db, source=nycflights13.csv_folder())
            rows.extend(run_dataset("nycflights13", db))
    frame = pd.DataFrame(rows)[
        ["dataset", "fk", "kind", "ks", "cond", "fit_s", "sample_s", "check"]
    ]
    with pd.option_context(
        "display.width",
        200,
        "display.max_colwidth",
        70,
        "display.max_rows",
        200,
        "display.float_format",
        "{:.3f}".format,
    ):
        print(frame.to_string(index=False))
    bad = frame[
        ((frame["kind"] == "driver") & (frame["ks"] < 0.95))
        | ((frame["kind"] != "driver") & (frame["ks"] < 0.90))
    ]
    print(f"\nkeys below threshold (driver < 0.95, others < 0.90): {len(bad)}")
    if args.rows:
        timing = million(args.rows)
        print("\nlarge child table:", ", ".join(f"{k}={v:,.2f}" for k, v in timing.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
