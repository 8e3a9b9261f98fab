"""Datetime columns learned as gaps after an anchor column of the same row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relsynth.models.offsets import Offset, apply_offsets, find_offsets, restore_offsets


def _orders(rng: np.random.Generator, n: int = 400) -> pd.DataFrame:
    placed = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    shipped = placed + pd.to_timedelta(rng.integers(1, 10, n), unit="D")
    return pd.DataFrame(
        {
            "required": placed + pd.to_timedelta(rng.choice([14, 28, 42], n), unit="D"),
            "shipped": pd.Series(shipped).where(rng.random(n) > 0.05),  # some not shipped
            "placed": placed,
            "birthday": pd.Timestamp("1980-01-01")
            + pd.to_timedelta(rng.integers(0, 9000, n), unit="D"),  # unordered: no anchor
        }
    )


def test_anchors_are_the_closest_earlier_column_and_never_chained(rng) -> None:
    table = _orders(rng)
    offsets = {o.column: o.anchor for o in find_offsets(table)}
    assert offsets == {"shipped": "placed", "required": "placed"}
    assert not set(offsets) & set(offsets.values())
    assert find_offsets(table, kinds={"required": "categorical", "shipped": "categorical"}) == []
    assert find_offsets(table.head(20)) == []


def test_round_trip_restores_values_nulls_and_dtypes(rng) -> None:
    table = _orders(rng)
    offsets = find_offsets(table)
    gaps = apply_offsets(table, offsets)
    assert gaps["required"].dtype == float and set(gaps["required"] / 86400) <= {14, 28, 42}
    assert gaps["shipped"].isna().sum() == table["shipped"].isna().sum()
    back = restore_offsets(gaps.copy(), [Offset.from_state(o.state()) for o in offsets])
    pd.testing.assert_frame_equal(back, table)
    # Time zones: gaps are elapsed seconds (a DST change makes one 23 or 25 hours).
    for col in ("placed", "required"):
        table[col] = table[col].dt.tz_localize("Europe/Paris")
    offsets = find_offsets(table)
    back = restore_offsets(apply_offsets(table, offsets), offsets)
    pd.testing.assert_frame_equal(back, table)


def test_wgan_keeps_gaps_and_order(rng) -> None:
    pytest.importorskip("torch")
    from relsynth.models import ConditionalWGAN

    table = _orders(rng, 1000)
    model = ConditionalWGAN(seed=0, epochs=3, n_threads=1, device="cpu").fit(table)
    out = model.sample(n_rows=2000, seed=1)
    gap = (out["required"] - out["placed"]).dt.days
    assert set(gap) <= {14, 28, 42} and gap.nunique() == 3
    shipped = out["shipped"].dropna()
    assert (shipped >= out.loc[shipped.index, "placed"]).all()
    assert (out.dtypes == table.dtypes).all()
    without = ConditionalWGAN(seed=0, epochs=3, n_threads=1, device="cpu", offsets=False)
    raw = without.fit(table).sample(n_rows=2000, seed=1)
    assert ((raw["required"] - raw["placed"]).dt.days < 0).mean() > 0.01  # what it fixes
