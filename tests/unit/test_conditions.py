"""Sampling conditions (synthesis/_conditions.py): every form parsed and evaluated, bad
conditions refused with one ConditionError naming them. No model is fitted here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relsynth import Column, ConditionError, ForeignKey, Metadata, Table
from relsynth.synthesis._conditions import (
    category_target,
    meets,
    parse_conditions,
    range_target,
)

META = Metadata(
    {
        "Customers": Table(
            "Customers",
            (
                Column("id", "id", nullable=False),
                Column("Country", "categorical"),
                Column("age", "numerical"),
                Column("joined", "datetime"),
            ),
            primary_key=("id",),
        ),
        "Orders": Table(
            "Orders",
            (
                Column("id", "id", nullable=False),
                Column("customer_id", "id", nullable=False),
                Column("Freight", "numerical"),
                Column("status", "categorical"),
            ),
            primary_key=("id",),
        ),
    },
    (ForeignKey("Orders", ("customer_id",), "Customers", ("id",)),),
)
DTYPES = {
    "Customers": {"id": "int64", "Country": "object", "age": "int64", "joined": "datetime64[ns]"},
    "Orders": {"id": "int64", "customer_id": "int64", "Freight": "float64", "status": "object"},
}
CUSTOMERS = pd.DataFrame(
    {
        "id": [1, 2, 3, 4, 5],
        "Country": ["Germany", "France", "Germany", None, "Spain"],
        "age": [61, 25, 58, 40, 33],
        "joined": pd.to_datetime(["2020-01-05", "2021-06-01", "2022-03-03", None, "2019-12-31"]),
    }
)
ORDERS = pd.DataFrame(
    {
        "id": [1, 2, 3, 4],
        "customer_id": [1, 1, 2, 3],
        "Freight": [12.5, 150.0, np.nan, 99.0],
        "status": ["open", "shipped", "shipped", None],
    }
)


def _rows(text: str | list[str]) -> list[int]:
    conditions = parse_conditions(META, text, DTYPES)
    ((table, conds),) = conditions.items()
    frame = {"Customers": CUSTOMERS, "Orders": ORDERS}[table]
    return frame["id"][meets(conds, frame)].tolist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Customers.Country = 'Germany'", [1, 3]),
        ("customers.country = 'Germany'", [1, 3]),  # names match without case
        ("Customers.Country <> 'Germany'", [2, 5]),  # NULL is never TRUE
        ("Customers.age < 33", [2]),
        ("Customers.age <= 33", [2, 5]),
        ("Customers.age > 58", [1]),
        ("Customers.age >= 58", [1, 3]),
        ("Customers.Country IN ('France', 'Spain')", [2, 5]),
        ("Customers.Country NOT IN ('France', 'Spain')", [1, 3]),
        ("Customers.age BETWEEN 30 AND 58", [3, 4, 5]),
        ("Customers.Country IS NULL", [4]),
        ("Customers.Country IS NOT NULL", [1, 2, 3, 5]),
        ("Customers.Country = 'Germany' AND Customers.age > 60", [1]),
        ("Customers.Country = 'Spain' OR Customers.age < 30", [2, 5]),
        ("(Customers.age > 50 OR Customers.age < 30) AND NOT Customers.Country = 'France'", [1, 3]),
        ("Customers.joined >= '2021-01-01'", [2, 3]),
        ("Orders.Freight > 100", [2]),
        ("Orders.Freight IS NULL", [3]),
        ("Orders.Freight BETWEEN 10 AND 100 AND Orders.status IS NOT NULL", [1]),
        (["Orders.Freight < 120", "Orders.status = 'open'"], [1]),  # several: all apply
    ],
)
def test_every_condition_form(text, expected):
    assert _rows(text) == expected


def test_conditions_group_by_table_and_keep_their_text():
    conditions = parse_conditions(
        META, ["Customers.Country = 'Germany'", "Orders.Freight > 100"], DTYPES
    )
    assert sorted(conditions) == ["Customers", "Orders"]
    assert conditions["Orders"][0].text == "Orders.Freight > 100"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Shops.Country = 'Germany'", "names the table 'Shops'"),
        ("Customers.Nation = 'Germany'", "Customers.Nation, which does not exist"),
        ("Customers.age > 'old'", "compares Customers.age"),
        ("Orders.Freight IN (1, 'many')", "compares Orders.Freight"),
        ("Customers.Country = 5", "compares Customers.Country"),
        ("Customers.joined > 'not a date'", "compares Customers.joined"),
        ("Customers.joined > 20200101", "compares Customers.joined"),
        ("Customers.Country = = 'x'", "does not parse"),
        ("Customers.Country = 'x'; DROP TABLE Customers", "does not parse"),
        ("Country = 'Germany'", "names no table"),
        ("Customers.age > Orders.Freight", "names several tables"),
        ("Customers.id IN (SELECT customer_id FROM Orders)", "not allowed"),
        ("   ", "empty"),
    ],
)
def test_bad_conditions_are_one_clear_error(text, message):
    with pytest.raises(ConditionError, match="^[^\n]*$") as info:
        parse_conditions(META, text, DTYPES)
    assert message in str(info.value)


def test_a_condition_must_be_text():
    with pytest.raises(ConditionError, match="must be a string"):
        parse_conditions(META, [42], DTYPES)


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("Customers.Country = 'Germany'", ("Country", ["Germany"])),
        ("Customers.age > 3 AND Customers.Country IN ('a', 'b')", ("Country", ["a", "b"])),
        ("Customers.Country = 'a' OR Customers.age > 3", None),  # OR: not one category
        ("Customers.age > 3", None),
    ],
)
def test_category_target_finds_what_a_conditional_vector_can_take(text, target):
    conditions = parse_conditions(META, text, DTYPES)["Customers"]
    assert category_target(conditions) == target


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("Customers.age > 60", ("age", 60.0, None)),
        ("Customers.age <= 18", ("age", None, 18.0)),
        ("60 < Customers.age", ("age", 60.0, None)),  # the literal first: flipped
        ("Customers.age BETWEEN 20 AND 30", ("age", 20.0, 30.0)),
        ("Customers.age > 20 AND Customers.age > 25 AND Customers.age < 40", ("age", 25.0, 40.0)),
        ("(Customers.age >= -5) AND Customers.Country = 'Germany'", ("age", -5.0, None)),
        ("Customers.joined >= '2020-01-01'", ("joined", "2020-01-01", None)),
        ("Customers.age > 60 OR Customers.age < 10", None),  # not one range
        ("Customers.Country = 'Germany'", None),
        ("Customers.age IS NULL", None),
    ],
)
def test_range_target_finds_what_quantile_bins_can_take(text, target):
    conditions = parse_conditions(META, text, DTYPES)["Customers"]
    assert range_target(conditions) == target


def test_sample_args_are_checked_before_sampling():
    from relsynth import ParameterError, plan
    from relsynth.synthesis._sample_args import check_sample_args

    the_plan = plan(META)
    check_sample_args(the_plan, 0.5, {"Customers": 3})
    with pytest.raises(ParameterError, match="'scale' parameter of Synthesizer.sample"):
        check_sample_args(the_plan, 0, None)
    with pytest.raises(ParameterError, match="may only fix root tables .*got Orders"):
        check_sample_args(the_plan, 1.0, {"Orders": 3})


# -- the importance sampler's proposal (synthesis/_proposal.py) ---------------------------


def test_proposal_weights_recover_standard_normal_expectations():
    from relsynth.synthesis._proposal import DEFENSIVE, _propose

    rng = np.random.default_rng(0)
    shift = np.zeros(8)
    shift[0] = 2.0
    z, logw = _propose(rng, 200_000, 8, shift)
    w = np.exp(logw)
    assert w.max() <= 1 / DEFENSIVE + 1e-9  # the defensive mixture bounds the weights
    assert np.mean(z[:, 0] > 0.5) > 0.6  # the proposal moved the noise ...
    assert np.mean(w) == pytest.approx(1.0, abs=0.02)  # ... and the weights undo it
    tail = z[:, 0] > 2.33  # P = 1 % under N(0, 1)
    assert np.mean(w * tail) == pytest.approx(0.0099, rel=0.05)
    assert np.sum(w * tail * z[:, 0]) / np.sum(w * tail) == pytest.approx(2.665, abs=0.03)
    z0, logw0 = _propose(np.random.default_rng(0), 10, 8, None)
    assert np.all(logw0 == 0) and z0.shape == (10, 8)


def test_proposal_shift_follows_the_meeting_noise_and_ignores_pure_noise():
    from relsynth.synthesis._proposal import _Pool, _shift

    rng = np.random.default_rng(1)
    z = rng.standard_normal((3_000, 16))
    value = z[:, 3] + 0.1 * rng.standard_normal(3_000)  # the column moves with one direction
    pool = _Pool(
        slots=[np.arange(3_000)],
        frames=[pd.DataFrame({"x": value})],
        z=[z],
        logw=[np.zeros(3_000)],
        ok=[value > 2.0],
    )
    shift, basis = _shift(pool, ["x"], 16)
    assert shift is not None and shift[3] > 1.0 and basis is not None
    assert np.abs(np.delete(shift, 3)).max() < 0.2 * shift[3]
    unrelated = _Pool([np.arange(3_000)], [pd.DataFrame({"x": value})], [z], [np.zeros(3_000)])
    unrelated.ok = [rng.random(3_000) < 0.02]  # meeting rows unrelated to the noise
    assert _shift(unrelated, ["x"], 16)[0] is None


def test_the_proposal_batch_is_sized_from_the_pilot():
    # The noise itself as the model (a column that moves with one noise direction, a 1 %
    # tail): the pilot's prediction of the proposal rows needed for an effective sample
    # of OVERSAMPLE times the rows to keep is met by one batch of that size, within 30 %
    # (0.70-1.11 of it over seeds 2-7), and needs far fewer rows than rejection.
    from relsynth.synthesis._proposal import (
        OVERSAMPLE,
        _Pool,
        _proposal_rows,
        _propose,
        _shift,
    )

    dim, m, threshold = 16, 200_000, 2.33
    rng = np.random.default_rng(2)

    def rows(z: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        value = z[:, 3] + 0.1 * rng.standard_normal(len(z))
        return pd.DataFrame({"x": value}), value > threshold

    z, logw = _propose(rng, 3_000, dim, None)
    frame, ok = rows(z)
    pool = _Pool([np.arange(3_000)], [frame], [z], [logw], [ok])
    shift, basis = _shift(pool, ["x"], dim)
    expected = m * pool.rate()
    n = _proposal_rows(pool, basis, dim, expected)
    assert n is not None and 3_000 + n < 0.3 * m
    z2, logw2 = _propose(rng, n, dim, shift)
    frame2, ok2 = rows(z2)
    pool.slots.append(np.arange(3_000, 3_000 + n))
    pool.frames.append(frame2)
    pool.z.append(z2)
    pool.logw.append(logw2)
    pool.ok.append(ok2)
    assert pool.ess() == pytest.approx(OVERSAMPLE * expected, rel=0.3)


def test_the_choice_includes_rows_in_proportion_to_their_weights():
    # The kept rows are chosen from the weighted meeting rows; each must be included
    # with probability proportional to its weight (the importance weights then give the
    # model's own distribution). Draw-by-draw sampling without replacement included the
    # ten heavy rows 0.55 of the time instead of 0.69 (and the light ones too often),
    # which leaned the kept rows towards the proposal.
    from relsynth.synthesis._proposal import _choose, _inclusion

    w = np.r_[np.full(10, 10.0), np.full(190, 1.0)]
    rng = np.random.default_rng(0)
    counts = np.zeros(len(w))
    for _ in range(2_000):
        chosen = _choose(w, 20, rng)
        assert len(np.unique(chosen)) == 20
        counts[chosen] += 1
    assert counts[:10].mean() / 2_000 == pytest.approx(200 / 290, abs=0.02)
    assert counts[10:].mean() / 2_000 == pytest.approx(20 / 290, abs=0.004)
    capped = _inclusion(np.array([100.0, 1.0, 1.0, 1.0]), 2)  # a weight past certainty
    assert capped[0] == 1.0 and capped.sum() == pytest.approx(2.0)
