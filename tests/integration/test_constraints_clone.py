"""Synthetic rows satisfy the source's CHECK and unique constraints in every dialect.

The source is ``schemas/checks.sql`` (``balance >= 0``, ``closed IS NULL OR closed >=
opened``, a composite unique ``(branch, number)``, a unique index ``(kind, opened)``,
a unique e-mail) filled with rows that obey them, created in each dialect so that
the database reflects and then enforces its own spelling of each constraint. A
model trained for two steps samples rows that break them; the synthesizer
must repair them so that the database accepts the write.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

import relsynth
from tests.schemas import load_schema


def _source_rows(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    opened = pd.Timestamp("2019-01-01") + pd.to_timedelta(
        rng.choice(1500, size=n, replace=False), unit="D"
    )
    closed = opened + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    return pd.DataFrame(
        {
            "account_id": np.arange(1, n + 1),
            "email": [f"user{i}@example.org" for i in range(n)],
            "balance": np.round(rng.gamma(2.0, 500.0, n), 2),
            "kind": rng.choice(["checking", "savings", "loan"], n),
            "opened": opened.date,
            "closed": pd.Series(closed.date).where(rng.random(n) < 0.3),
            "branch": rng.integers(1, 6, n),
            "number": rng.permutation(n) + 1,
        }
    )


def test_checks_and_composite_uniques_hold_after_sampling(db_url, tmp_path):
    load_schema("checks", db_url)
    engine = sa.create_engine(db_url)
    try:
        rows = _source_rows()
        with engine.begin() as conn:
            conn.execute(
                sa.Table("accounts", sa.MetaData(), autoload_with=conn).insert(),
                rows.astype(object).where(rows.notna(), None).to_dict("records"),
            )
    finally:
        engine.dispose()

    meta = relsynth.reflect(db_url)
    assert len(meta.table("accounts").checks) == 2
    tables = relsynth.read_tables(db_url, meta)
    synth = relsynth.Synthesizer(meta, seed=1, steps=2, n_threads=1).fit(tables)  # deterministic
    fake = synth.sample(scale=2.0, seed=2)

    accounts = fake["accounts"]
    assert len(accounts) == 800
    assert (accounts["balance"] >= 0).all()
    closed, opened = accounts["closed"], accounts["opened"]
    assert (closed.isna() | (closed >= opened)).all()
    assert not accounts.duplicated(["branch", "number"]).any()
    assert not accounts.duplicated(["kind", "opened"]).any()
    assert accounts["email"].is_unique
    assert not set(accounts["email"]) & set(rows["email"])

    # the target database enforces its CHECK and unique constraints on the write
    target = f"sqlite:///{tmp_path / 'synthetic.db'}"
    relsynth.write_tables(target, meta, fake)
    assert relsynth.check_database(target, meta).ok
