"""An order rule's gap: summarised per anchor bin where it depends on the anchor, drawn
from the quantiles interpolated at each row's anchor, kept inside the column's span."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from relsynth import Column, ForeignKey, Metadata, Table
from relsynth.errors import MetadataError
from relsynth.metadata._rule import GAP_PROBS
from relsynth.rules import Order, fit_rules, rule_from_dict, rule_to_dict
from relsynth.rules._gaps import gap_at, gap_between, summarise
from relsynth.rules.enforce import _ranked, derive_values
from relsynth.synthesis._dp_rules import public_rule

END = pd.Timestamp("1998-12-31")


def _bank(seed: int = 0, n: int = 1500) -> tuple[Metadata, dict[str, pd.DataFrame]]:
    """account <- card: every card issued between its account's opening and the data end,
    so a card of a late account is issued soon after it opened (the gap falls with the
    anchor), as in Berka."""
    rng = np.random.default_rng(seed)
    meta = Metadata(
        tables={
            "account": Table(
                "account",
                (Column("id", "id", "INTEGER", False), Column("opened", "datetime", "DATE")),
                primary_key=("id",),
            ),
            "card": Table(
                "card",
                (
                    Column("id", "id", "INTEGER", False),
                    Column("account_id", "id", "INTEGER", False),
                    Column("issued", "datetime", "DATE"),
                ),
                primary_key=("id",),
            ),
        },
        foreign_keys=(ForeignKey("card", ("account_id",), "account", ("id",)),),
    )
    opened = pd.Timestamp("1993-01-01") + pd.to_timedelta(rng.integers(0, 2000, n), "D")
    room = (END - opened).days.to_numpy()
    issued = opened + pd.to_timedelta(np.floor(rng.beta(2, 2, n) * room), "D")
    account = pd.DataFrame({"id": np.arange(1, n + 1), "opened": opened})
    card = pd.DataFrame({"id": np.arange(1, n + 1), "account_id": np.arange(1, n + 1),
                         "issued": issued})  # fmt: skip
    return meta, {"account": account, "card": card}


def _rank_corr(x: np.ndarray, y: np.ndarray) -> float:
    ranks = pd.DataFrame({"x": x, "y": y}).rank()
    return float(np.corrcoef(ranks["x"], ranks["y"])[0, 1])


@pytest.fixture(scope="module")
def bank() -> tuple[Metadata, dict[str, pd.DataFrame], Order]:
    meta, tables = _bank()
    (rule,) = [r for r in fit_rules(meta, tables) if isinstance(r, Order)]
    return meta, tables, rule


def test_a_gap_that_falls_with_its_anchor_is_kept_per_anchor_bin(bank):
    _, tables, rule = bank
    assert str(rule) == "card.issued >= card.account_id -> account.opened"
    assert len(rule.anchors) == 10 and len(rule.by_anchor) == 10
    assert all(len(q) == len(GAP_PROBS) for q in rule.by_anchor)
    medians = [q[GAP_PROBS.index(0.5)] for q in rule.by_anchor]
    assert medians == sorted(medians, reverse=True)  # later accounts, shorter gaps
    seconds = (tables["card"]["issued"] - pd.Timestamp(0)).dt.total_seconds()
    assert rule.span == (seconds.min(), seconds.max())


def test_an_independent_gap_has_no_bins():
    rng = np.random.default_rng(1)
    anchor = rng.uniform(0, 1000, 3000)
    diff = rng.gamma(2.0, 10.0, 3000)
    out = summarise(diff, anchor, "numerical")
    assert out["anchors"] == () and out["by_anchor"] == ()
    assert len(out["gap"]) == len(GAP_PROBS)
    # a small table keeps one gap distribution: bins need MIN_BIN_ROWS rows each
    few = summarise(anchor[:150] * 0.5, anchor[:150], "numerical")
    assert few["by_anchor"] == ()
    assert np.allclose(few["span"], (anchor[:150].min() * 1.5, anchor[:150].max() * 1.5))


def _derived(meta, tables, rule, seed=0):
    """``card.issued`` shuffled across cards (the model's values, unrelated to their
    accounts), then rebuilt by the rule."""
    rng = np.random.default_rng(seed)
    card = tables["card"].copy()
    card["issued"] = card["issued"].to_numpy()[rng.permutation(len(card))]
    out = derive_values(meta, [rule], "card", card, tables, rng)
    opened = out["account_id"].map(tables["account"].set_index("id")["opened"])
    return out["issued"], opened


def _ks(source: pd.Series, got: pd.Series) -> float:
    a = np.sort(source.astype("int64").to_numpy())
    b = np.sort(got.astype("int64").to_numpy())
    return float(np.abs(np.searchsorted(a, b) / len(a) - np.arange(1, len(b) + 1) / len(b)).max())


def test_the_gap_is_drawn_at_each_rows_anchor_and_inside_the_span(bank):
    meta, tables, rule = bank
    source = tables["card"]["issued"] - tables["account"]["opened"]
    target = _rank_corr(source.dt.days, tables["account"]["opened"].astype("int64"))
    issued, opened = _derived(meta, tables, rule)
    assert (issued >= opened).all() and (issued <= END).all()
    got = _rank_corr((issued - opened).dt.days, opened.astype("int64"))
    assert abs(got - target) < 0.03
    assert _ks(tables["card"]["issued"], issued) < 0.04
    # one gap distribution for every anchor (the rule as it was): the model's gaps,
    # ranked, tie the gap to the anchor too tightly, the column moves early and late
    # accounts' cards run past the data end
    flat = replace(rule, anchors=(), by_anchor=(), span=())
    issued, opened = _derived(meta, tables, flat)
    assert abs(_rank_corr((issued - opened).dt.days, opened.astype("int64")) - target) > 0.06
    assert _ks(tables["card"]["issued"], issued) > 0.07
    assert (issued > END).any()


def test_interpolation_and_conditioning_between_bins():
    q_low = tuple(float(p) * 100 for p in GAP_PROBS)  # uniform 0..100 at anchor 0
    q_high = tuple(float(p) * 10 for p in GAP_PROBS)  # uniform 0..10 at anchor 10
    rule = replace(
        _bank_rule(), gap=q_low, step=0.0, anchors=(0.0, 10.0), by_anchor=(q_low, q_high)
    )
    b = np.array([-5.0, 0.0, 5.0, 10.0, 20.0])
    assert np.allclose(gap_at(rule, b, np.full(5, 0.5)), [50, 50, 27.5, 5, 5])
    # conditioned on [0, 4]: a row at anchor 10 (gaps 0..10) draws inside it
    rng = np.random.default_rng(0)
    b = np.full(2000, 10.0)
    ok, gaps = gap_between(rule, b, np.zeros(2000), np.full(2000, 4.0), rng)
    assert ok.all() and gaps.min() >= 0 and gaps.max() <= 4 and abs(gaps.mean() - 2) < 0.2


def _bank_rule() -> Order:
    meta, tables = _bank(n=200)
    (rule,) = [r for r in fit_rules(meta, tables) if isinstance(r, Order)]
    return rule


def test_ranks_are_drawn_per_group_and_as_before_for_one_group():
    rng = np.random.default_rng(0)
    values = rng.normal(size=500)
    # one group: the draw the rule made before bins (same generator calls, same result)
    old_rng, new_rng = np.random.default_rng(7), np.random.default_rng(7)
    order = np.lexsort((old_rng.random(500), values))
    old = np.empty(500)
    old[order] = (np.arange(500) + old_rng.random(500)) / 500
    assert np.array_equal(_ranked(values, np.zeros(500, dtype=int), new_rng), old)
    groups = (np.arange(500) % 3).astype(int)
    u = _ranked(values, groups, rng)
    for g in range(3):
        part = u[groups == g]
        assert np.all((part > 0) & (part < 1))
        assert _rank_corr(part, values[groups == g]) > 0.999


def test_bins_round_trip_and_are_withheld_under_dp(bank):
    meta, _, rule = bank
    data = rule_to_dict(rule)
    assert set(data["gap"]) == {"quantiles", "step", "span", "anchors", "by_anchor"}
    back = rule_from_dict(data, meta)
    assert (back.gap, back.span, back.anchors, back.by_anchor) == (
        rule.gap, rule.span, rule.anchors, rule.by_anchor
    )  # fmt: skip
    path_meta = meta.with_rules(rule)
    assert Metadata.from_dict(path_meta.to_dict()).rules[0].by_anchor == rule.by_anchor
    bad = {**data, "gap": {**data["gap"], "by_anchor": data["gap"]["by_anchor"][:-1]}}
    with pytest.raises(MetadataError, match="10 anchors and 9 rows of quantiles"):
        rule_from_dict(bad, meta)
    public = public_rule(rule)
    assert (public.gap, public.span, public.anchors, public.by_anchor) == ((), (), (), ())
