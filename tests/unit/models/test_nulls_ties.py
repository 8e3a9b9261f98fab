"""NULL flags that follow another column (_nulls.py) and tied point masses (_ties.py)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import torch

from relsynth.models import ConditionalWGAN
from relsynth.models._nulls import NullRule, apply_null_rules, find_null_rules
from relsynth.models._ties import Tie, apply_ties, find_ties


def _weather(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Wind: calm hours have speed 0 and direction 0; a gust is reported on windy hours."""
    rng = np.random.default_rng(seed)
    speed = np.where(rng.random(n) < 0.06, 0.0, rng.gamma(3.0, 3.5, n).round(1))
    direction = np.where(speed == 0, 0, rng.integers(1, 37, n) * 10)
    windy = rng.random(n) < 1 / (1 + np.exp(-(speed - 14) / 2))
    gust = np.where(windy, (speed * 1.4 + rng.normal(0, 2, n)).round(1), np.nan)
    temp = rng.normal(50, 15, n).round(1)
    return pd.DataFrame(
        {"wind_dir": direction, "wind_speed": speed, "wind_gust": gust, "temp": temp}
    )


def _order_lines(n: int = 2000, seed: int = 1) -> pd.DataFrame:
    """A second kind of table: free lines have price 0 and the status 'free'."""
    rng = np.random.default_rng(seed)
    free = rng.random(n) < 0.05
    price = np.where(free, 0.0, rng.gamma(2.0, 15.0, n).round(2))
    status = np.where(free, "free", rng.choice(["paid", "open", "late"], n, p=[0.7, 0.2, 0.1]))
    quantity = rng.integers(1, 30, n)
    return pd.DataFrame({"price": price, "status": status, "quantity": quantity})


def _gust_share_by_speed(frame: pd.DataFrame) -> pd.Series:
    bins = pd.cut(frame["wind_speed"], [-1, 5, 10, 15, 20, 1000])
    return frame["wind_gust"].notna().groupby(bins, observed=False).mean()


def test_a_null_flag_that_follows_another_column_is_found_and_kept_per_bin() -> None:
    table = _weather()
    rules = find_null_rules(table)
    assert [(r.column, r.given.column) for r in rules] == [("wind_gust", "wind_speed")]
    # A generated frame whose gusts are set at random, whatever the wind (the defect).
    rng = np.random.default_rng(3)
    fake = _weather(seed=5)
    fake["wind_gust"] = np.where(rng.random(len(fake)) < 0.3, rng.gamma(4, 5, len(fake)), np.nan)
    assert _gust_share_by_speed(fake).std() < 0.05
    fixed = apply_null_rules(fake.copy(), rules, np.random.default_rng(0))
    real, made = _gust_share_by_speed(table), _gust_share_by_speed(fixed)
    assert np.abs(real - made).max() < 0.06
    # Kept flags keep their values; new values come from the source's range and rounding.
    kept = fake["wind_gust"].notna() & fixed["wind_gust"].notna()
    # kept values keep their order within a bin of the speed, on the source's quantiles
    speed_bin = rules[0].given.of(fake["wind_speed"])
    for b in np.unique(speed_bin[kept]):
        here = kept.to_numpy() & (speed_bin == b)
        before, after = fake.loc[here, "wind_gust"], fixed.loc[here, "wind_gust"]
        assert (np.diff(after.to_numpy()[np.argsort(before.to_numpy())]) >= 0).all()
    real_gust, made_gust = table["wind_gust"].dropna(), fixed["wind_gust"].dropna()
    assert abs(real_gust.median() - made_gust.median()) < 1.5
    new = fixed["wind_gust"].notna() & fake["wind_gust"].isna()
    low, high = table["wind_gust"].min(), table["wind_gust"].max()
    made_values = fixed.loc[new, "wind_gust"]
    assert new.sum() > 100 and made_values.between(low, high).all()
    assert np.allclose(made_values, made_values.round(1))
    again = NullRule.from_state(rules[0].state())
    same = apply_null_rules(fake.copy(), [again], np.random.default_rng(0))
    pd.testing.assert_frame_equal(fixed, same)


def test_no_null_rule_for_independent_nulls_or_excluded_columns() -> None:
    table = _weather()
    rng = np.random.default_rng(2)
    table["wind_gust"] = np.where(rng.random(len(table)) < 0.3, table["temp"], np.nan)
    assert find_null_rules(table) == []
    assert find_null_rules(_weather(), excluded=["wind_gust"]) == []


def test_a_point_mass_tied_across_columns_is_enforced_exactly() -> None:
    table = _weather()
    ties = find_ties(table)
    assert len(ties) == 1
    tie = ties[0]
    assert {tie.column, tie.given.column} == {"wind_dir", "wind_speed"}
    assert tie.value == 0 and tie.given_value == 0
    # A generated frame where the calm hours are dealt independently per column.
    rng = np.random.default_rng(4)
    fake = _weather(seed=6)
    fake["wind_dir"] = np.where(rng.random(len(fake)) < 0.06, 0, fake["wind_dir"].replace(0, 180))
    fixed = apply_ties(fake.copy(), ties, np.random.default_rng(0))
    assert ((fixed["wind_dir"] == 0) == (fixed["wind_speed"] == 0)).all()
    assert (fixed["wind_dir"] % 10 == 0).all() and fixed["wind_dir"].dtype == fake["wind_dir"].dtype
    # Rows that kept the tie are untouched.
    calm = (fake["wind_dir"] == 0) & (fake["wind_speed"] == 0)
    pd.testing.assert_frame_equal(fixed[calm], fake[calm])
    same = apply_ties(fake.copy(), [Tie.from_state(tie.state())], np.random.default_rng(0))
    pd.testing.assert_frame_equal(fixed, same)


def test_a_category_tied_to_a_number_on_a_second_table() -> None:
    table = _order_lines()
    ties = find_ties(table)
    assert [(t.column, t.value, t.given.column, t.given_value) for t in ties] == [
        ("status", "free", "price", 0.0)
    ]
    rng = np.random.default_rng(7)
    fake = _order_lines(seed=8)
    fake["status"] = np.where(rng.random(len(fake)) < 0.05, "free", "paid")
    fixed = apply_ties(fake.copy(), ties, np.random.default_rng(0))
    assert ((fixed["status"] == "free") == (fixed["price"] == 0)).all()
    assert set(fixed["status"]) <= set(table["status"])
    assert find_ties(table, excluded=["status"]) == []


def test_no_tie_between_loosely_related_point_masses() -> None:
    table = _order_lines()
    rng = np.random.default_rng(9)
    flip = rng.random(len(table)) < 0.05  # 5 % of the free lines are not 'free'
    table.loc[flip & (table["price"] == 0), "status"] = "paid"
    assert find_ties(table) == []


def test_the_wgan_samples_rows_that_keep_the_tie_and_the_null_rule() -> None:
    table = _weather(2000)
    model = ConditionalWGAN(steps=60, seed=0, n_threads=1)
    model.fit(table)
    assert [r.column for r in model.null_rules_] == ["wind_gust"]
    assert len(model.ties_) == 1
    fake = model.sample(n_rows=2000, seed=1)
    assert ((fake["wind_dir"] == 0) == (fake["wind_speed"] == 0)).all()
    assert np.abs(_gust_share_by_speed(table) - _gust_share_by_speed(fake)).max() < 0.15
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    again = ConditionalWGAN.from_state_dict(state).sample(n_rows=2000, seed=1)
    pd.testing.assert_frame_equal(fake, again)
    plain = ConditionalWGAN(steps=60, seed=0, n_threads=1, offsets=False).fit(table)
    assert plain.null_rules_ == [] and plain.ties_ == []


def _rain(n: int = 3000, seed: int = 2) -> pd.DataFrame:
    """Visibility is at its cap (10) on most dry hours and few rainy ones."""
    rng = np.random.default_rng(seed)
    rain = np.where(rng.random(n) < 0.85, 0.0, rng.gamma(1.0, 0.1, n).round(2) + 0.01)
    capped = rng.random(n) < np.where(rain > 0, 0.2, 0.9)
    visib = np.where(capped, 10.0, rng.integers(1, 10, n).astype(float))
    return pd.DataFrame({"rain": rain, "visib": visib, "temp": rng.normal(50, 15, n).round(1)})


def test_a_point_mass_that_follows_another_column_is_kept_per_bin() -> None:
    table = _rain()
    assert find_null_rules(table) == []  # no NULLs
    rules = find_null_rules(table, points=True)
    assert [(r.column, r.value) for r in rules][:1] in ([("visib", 10.0)], [("rain", 0.0)])
    rule = rules[0]
    # A generated frame whose point masses are placed independently of each other.
    rng = np.random.default_rng(5)
    fake = _rain(seed=6)
    fake[rule.column] = rng.permutation(fake[rule.column].to_numpy())
    fixed = apply_null_rules(fake.copy(), rules, np.random.default_rng(0))

    def capped_given_rain(frame: pd.DataFrame) -> pd.Series:
        return (frame["visib"] == 10).groupby(frame["rain"] > 0).mean()

    assert np.abs(capped_given_rain(fixed) - capped_given_rain(table)).max() < 0.05
    assert np.abs(capped_given_rain(fake) - capped_given_rain(table)).max() > 0.3
    assert set(fixed["visib"]) <= set(table["visib"])
    assert fixed["rain"].between(0, table["rain"].max()).all()
    again = [NullRule.from_state(r.state()) for r in rules]
    pd.testing.assert_frame_equal(
        fixed, apply_null_rules(fake.copy(), again, np.random.default_rng(0))
    )


def test_a_few_valued_column_has_no_point_mass() -> None:
    rng = np.random.default_rng(3)
    table = pd.DataFrame({"month": rng.integers(1, 13, 3000), "temp": rng.normal(0, 1, 3000)})
    table["temp"] += table["month"] * 0.5
    assert find_null_rules(table, points=True) == []


def test_a_column_with_infinities_gets_no_null_rule() -> None:
    # mapping its values to quantiles of the finite ones would lose the infinities
    rng = np.random.default_rng(0)
    speed = rng.gamma(2, 5, 2_000)
    gust = np.where(speed > 12, speed * 1.5, np.nan)
    gust[:5] = np.inf
    table = pd.DataFrame({"speed": speed, "gust": gust})
    assert [r.column for r in find_null_rules(table)] == []
    table["gust"] = np.where(np.isinf(gust), np.nan, gust)
    assert [r.column for r in find_null_rules(table)] == ["gust"]


def test_a_value_the_rule_sets_follows_the_rows_other_numbers() -> None:
    # Gusts reported on windy hours, stronger on cold hours at the same wind speed.
    rng = np.random.default_rng(4)
    n = 6000
    table = _weather(n, seed=4)
    windy = table["wind_gust"].notna()
    gust = table["wind_speed"] * 1.4 - 0.2 * (table["temp"] - 50) + rng.normal(0, 1, n)
    table["wind_gust"] = gust.round(1).where(windy)
    rule = find_null_rules(table)[0]
    assert rule.column == "wind_gust" and rule.follow is not None
    assert rule.follow.columns[0] == "temp" and rule.follow.coef[0] < 0
    # a generated frame without a single gust: every gust is set by the rule
    fake = _weather(n, seed=6)
    fake["wind_gust"] = np.nan
    fixed = apply_null_rules(fake.copy(), [rule], np.random.default_rng(0))
    made = fixed.dropna(subset=["wind_gust"])
    assert len(made) > 1000
    bins = rule.given.of(made["wind_speed"])
    residual = made["wind_gust"] - made.groupby(bins)["wind_gust"].transform("mean")
    assert residual.corr(made["temp"]) < -0.5
    # without what it follows (a file saved before), the draws ignore the temperature
    state = rule.state()
    del state["follow"]
    plain = apply_null_rules(fake.copy(), [NullRule.from_state(state)], np.random.default_rng(0))
    made = plain.dropna(subset=["wind_gust"])
    bins = rule.given.of(made["wind_speed"])
    residual = made["wind_gust"] - made.groupby(bins)["wind_gust"].transform("mean")
    assert abs(residual.corr(made["temp"])) < 0.1
    again = NullRule.from_state(rule.state())
    same = apply_null_rules(fake.copy(), [again], np.random.default_rng(0))
    pd.testing.assert_frame_equal(fixed, same)
