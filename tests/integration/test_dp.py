"""Differentially private fitting: accounting, the DP threshold, determinism, errors, CLI."""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from relsynth import DifferentialPrivacy, ParameterError, Synthesizer, check
from relsynth.cli import main
from tests.unit.evaluate.conftest import shop_metadata, shop_tables

pytestmark = pytest.mark.skipif(
    os.environ.get("RELSYNTH_REQUIRE_DP") != "1" and importlib.util.find_spec("opacus") is None,
    reason="opacus is not installed (pip install 'relsynth[dp]'); set RELSYNTH_REQUIRE_DP=1 "
    "to fail instead",
)

EPSILON = 4.0
RARE = [f"rarecity{i:03d}" for i in range(40)]


def _tables() -> dict[str, pd.DataFrame]:
    """The shop, with a city column: 3 common cities and 40 held by one customer each."""
    tables = shop_tables(seed=1, n_customers=1500)
    customers = tables["customers"].copy()
    rng = np.random.default_rng(5)
    city = rng.choice(["Paris", "Lyon", "Lille"], len(customers)).astype(object)
    city[: len(RARE)] = RARE
    customers["segment"] = city  # a categorical column with rare values
    return {**tables, "customers": customers}


def _fit(seed: int = 0, tables: dict[str, pd.DataFrame] | None = None, **kw) -> Synthesizer:
    privacy = DifferentialPrivacy(epsilon=EPSILON, delta=1e-5)
    kw = {"steps": 8, **kw}
    return Synthesizer(
        shop_metadata(),
        seed=seed,
        table_models={"products": "copy"},
        privacy=privacy,
        **kw,
    ).fit(_tables() if tables is None else tables)


@pytest.fixture(scope="module")
def fitted() -> Synthesizer:
    return _fit()


def test_reported_epsilon_is_what_the_accountant_says(fitted) -> None:
    from opacus.accountants import RDPAccountant

    from relsynth.models._dp import ALPHAS

    dp = fitted.fit_info_.dp
    assert set(dp["training"]) == {"customers", "orders", "items"}
    for run in dp["training"].values():
        assert run["steps"] == 8
        acc = RDPAccountant()
        acc.history = [(run["noise_multiplier"], run["sample_rate"], run["steps"])]
        assert run["epsilon"] == pytest.approx(
            acc.get_epsilon(run["delta"], alphas=ALPHAS), rel=1e-9
        )
        assert run["noise_multiplier"] > 0 and 0 < run["sample_rate"] <= 1
    # RDP composition of every mechanism: each Gaussian release is one step at rate 1
    acc = RDPAccountant()
    acc.history = [(r["noise"], 1.0, 1) for r in dp["releases"]] + [
        (t["noise_multiplier"], t["sample_rate"], t["steps"]) for t in dp["training"].values()
    ]
    assert dp["composition"] == "rdp"
    assert dp["epsilon"] == pytest.approx(acc.get_epsilon(dp["delta_rdp"], alphas=ALPHAS))
    assert dp["epsilon"] == pytest.approx(EPSILON, rel=1e-3)  # the budget, all of it
    # no better than basic composition of the parts: RDP composes sub-additively
    assert dp["epsilon"] <= sum(t["epsilon"] for t in dp["tables"].values()) + 1e-9
    assert dp["delta"] == pytest.approx(1e-5)
    selection = sum(r["delta"] for r in dp["releases"])
    assert dp["delta_rdp"] + selection == pytest.approx(dp["delta"])
    assert dp["unit"] == "entity"
    assert "products" not in dp["tables"]  # public: copied, not protected


def test_sample_is_clean_and_model_file_reports_dp(fitted, tmp_path) -> None:
    fake = fitted.sample(seed=1)
    assert check(fitted.metadata, fake).ok
    assert fake["products"].equals(_tables()["products"])
    path = tmp_path / "dp.relsynth"
    fitted.save(path)
    loaded = Synthesizer.load(path)
    assert loaded.fit_info_.dp["epsilon"] == fitted.fit_info_.dp["epsilon"]
    assert loaded.sample(seed=1)["orders"].equals(fake["orders"])


def test_model_file_holds_no_category_below_the_dp_threshold(fitted, tmp_path) -> None:
    path = tmp_path / "dp.relsynth"
    fitted.save(path)
    with zipfile.ZipFile(path) as zf:
        blob = b"".join(zf.read(n) for n in zf.namelist())
    assert b"Paris" in blob  # the common values are there ...
    assert not any(v.encode() in blob for v in RARE)  # ... no value of a single entity
    encoder = fitted.models_["customers"].encoder
    segment = next(e for e in encoder.encoders if e.column == "segment")
    release = next(
        r for r in fitted.fit_info_.dp["releases"] if r["what"] == "vocabulary of segment"
    )
    from relsynth.synthesis._dp_release import threshold

    tau = threshold(release["noise"], release["delta"])
    # every stored value passed the threshold: its released count is at least tau
    assert set(segment.categories) <= {"Paris", "Lyon", "Lille", None}
    assert tau > 10


def test_model_file_keeps_no_exact_source_count(fitted, tmp_path) -> None:
    """Row counts are those of the DP key skeleton (noisy), repair counts are not kept."""
    source = _tables()
    path = tmp_path / "dp.relsynth"
    fitted.save(path)
    info = Synthesizer.load(path).fit_info_
    assert info.dropped_rows == {}
    assert info.rows["products"] == len(source["products"])  # public: copied as it is
    private = ["customers", "orders", "items"]
    assert all(info.rows[n] > 0 for n in private)
    # the noisy sizes differ from the source's (a tie on all three is chance ~ 0)
    assert any(info.rows[n] != len(source[n]) for n in private)


def test_sampled_marginals_follow_the_releases(fitted) -> None:
    """The calibration fitted against the releases (no real row) brings each column's
    marginal to the released one, even after 8 noisy training steps."""
    fake = fitted.sample(seed=2, scale=2.0)
    enc = {e.column: e for e in fitted.models_["customers"].encoder.encoders}
    seg = enc["segment"]
    released = dict(zip(seg.categories, seg.level_freq, strict=True))
    drawn = fake["customers"]["segment"].value_counts(normalize=True, dropna=False)
    tv = 0.5 * sum(abs(drawn.get(c, 0.0) - p) for c, p in released.items())
    assert tv < 0.1
    # ages: the released quantiles (a DP estimate of 18..80), not the untrained generator's
    age = fake["customers"]["age"].astype(float)
    assert 10 <= age.quantile(0.1) and age.quantile(0.9) <= 90
    assert abs(age.median() - np.median(enc["age"].quantiles)) < 10


def test_child_models_are_conditioned_on_their_parent(fitted) -> None:
    """Under DP a child's model takes its driver parent's values and, under a private
    parent, the family counters as context (the parent row and the siblings belong to
    the child's entity); the root stays unconditional."""
    dp = fitted.fit_info_.dp
    assert dp["unconditional"] == ["customers"]
    assert {n: (c["parent"], c["family"]) for n, c in dp["context"].items()} == {
        "orders": ("customers", True),
        "items": ("orders", True),
    }
    model = fitted.models_["orders"]
    assert model.context_encoder.columns == [
        "customers.age", "customers.segment", "customers.signup", "__n_siblings", "__position",
    ]  # fmt: skip
    # the context encoder is fitted on synthetic contexts: only released categories
    segment = next(e for e in model.context_encoder.encoders if e.column == "customers.segment")
    assert set(segment.categories) <= {"Paris", "Lyon", "Lille", None}
    # the generated orders follow the parent they are generated for
    from relsynth.models.context import Context

    def orders_for(age: float) -> pd.DataFrame:
        parent = pd.DataFrame({
            "customers.age": [age] * 400, "customers.segment": ["Paris"] * 400,
            "customers.signup": pd.to_datetime(["2020-01-01"] * 400),
        })  # fmt: skip
        ctx = Context(parent=parent, family_size=np.full(400, 2.0), position=np.zeros(400))
        return model.sample(ctx, seed=0)

    assert not orders_for(20.0).equals(orders_for(80.0))


def test_a_public_parent_gives_its_values_but_no_family_counters() -> None:
    """A public parent's family counts the rows of every entity under it: only its
    values join the context of its children."""
    synth = Synthesizer(
        shop_metadata(), seed=0, steps=3,
        table_models={"products": "copy", "customers": "copy"},
        privacy=DifferentialPrivacy(epsilon=EPSILON, delta=1e-5),
    ).fit(_tables())  # fmt: skip
    spec = synth.fit_info_.dp["context"]["orders"]
    assert (spec["parent"], spec["family"]) == ("customers", False)
    columns = synth.models_["orders"].context_encoder.columns
    assert columns == ["customers.age", "customers.segment", "customers.signup"]
    fake = synth.sample(seed=0)
    assert check(synth.metadata, fake).ok


def test_a_small_table_gets_a_larger_share_of_the_release_budget() -> None:
    """A table with few entities gets less noise on its column releases (weights by
    its DP size), the others more, and the releases still compose to the same total:
    the accountant's epsilon is the budget."""
    tables = _tables()
    tables["items"] = tables["items"].iloc[:80].reset_index(drop=True)
    synth = _fit(steps=2, tables=tables)
    dp = synth.fit_info_.dp
    noise: dict[str, list[float]] = {}
    for r in dp["releases"]:
        if r["what"].startswith(("vocabulary of", "bounds and quantiles of")):
            noise.setdefault(r["table"], []).append(r["noise"])
    assert max(noise["items"]) < min(noise["customers"]) / 1.5
    assert dp["epsilon"] == pytest.approx(EPSILON, rel=1e-3)


def test_dp_fit_is_deterministic_by_seed(fitted) -> None:
    again = _fit(seed=0)
    assert again.fit_info_.dp == fitted.fit_info_.dp
    a, b = fitted.sample(seed=3), again.sample(seed=3)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])


def test_dp_fit_is_the_same_with_two_jobs(fitted) -> None:
    """DP fits run through the normal table tasks: n_jobs=2 gives the same model."""
    two = _fit(seed=0, n_jobs=2)
    assert two.fit_info_.dp == fitted.fit_info_.dp
    assert two.fit_info_.models == fitted.fit_info_.models
    a, b = fitted.sample(seed=3), two.sample(seed=3)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])


def test_time_budget_stops_dp_training_and_spends_less() -> None:
    """A time budget under DP: the table fits stop early, the accountant counts the steps
    run, and less than the budget is spent."""
    synth = _fit(seed=0, steps=100000, time_budget=8.0)
    dp = synth.fit_info_.dp
    runs = dp["training"].values()
    assert all(1 <= r["steps"] < 100000 for r in runs)
    assert dp["epsilon"] < EPSILON
    assert check(synth.metadata, synth.sample(seed=0)).ok


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"epsilon": 0}, "epsilon must be a number > 0"),
        ({"epsilon": -1.0}, "epsilon must be a number > 0"),
        ({"epsilon": float("inf")}, "epsilon must be finite"),
        ({"epsilon": "1"}, "epsilon must be a number > 0"),
        ({"epsilon": 1.0, "delta": 0.0}, "delta must be in (0, 1)"),
        ({"epsilon": 1.0, "delta": 1.0}, "delta must be in (0, 1)"),
        ({"epsilon": 1.0, "delta": -1e-6}, "delta must be in (0, 1)"),
        ({"epsilon": 1.0, "max_grad_norm": 0}, "max_grad_norm must be a number > 0"),
    ],
)
def test_bad_parameters_give_one_line_errors(kw, message) -> None:
    with pytest.raises(ParameterError) as err:
        DifferentialPrivacy(**kw)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_privacy_must_be_a_differential_privacy() -> None:
    synth = Synthesizer(shop_metadata(), privacy={"epsilon": 1.0})  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="must be a relsynth.DifferentialPrivacy"):
        synth.fit(shop_tables(n_customers=20))


def _shop_db(path: Path) -> str:
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, age INTEGER, "
        "segment TEXT, signup TIMESTAMP);"
        "CREATE TABLE products (id INTEGER PRIMARY KEY, price REAL, category TEXT);"
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL "
        "REFERENCES customers(id), amount REAL, status TEXT, paid BOOLEAN);"
        "CREATE TABLE items (order_id INTEGER NOT NULL REFERENCES orders(id), product_id "
        "INTEGER NOT NULL REFERENCES products(id), quantity INTEGER, "
        "PRIMARY KEY (order_id, product_id));"
    )
    for name, frame in shop_tables(n_customers=300).items():
        frame = frame.copy()
        if "signup" in frame:
            frame["signup"] = frame["signup"].astype(str)
        frame.to_sql(name, con, if_exists="append", index=False)
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def test_cli_fit_and_evaluate_report_epsilon(tmp_path, capsys) -> None:
    url = _shop_db(tmp_path / "shop.db")
    model = tmp_path / "m.relsynth"
    args = ["fit", url, "-o", str(model), "--steps", "3", "--seed", "0", "--jobs", "1"]
    assert main([*args, "--dp-epsilon", "2", "--dp-public", "products"]) == 0
    out = capsys.readouterr().out
    assert "differential privacy spent: epsilon" in out and "customers" in out
    with zipfile.ZipFile(model) as zf:
        dp = json.loads(zf.read("synthesizer.json"))["fit_info"]["dp"]
    assert 0 < dp["epsilon"] <= 2 + 1e-9 and dp["budget"]["epsilon"] == 2
    correlations = dp["context"]["orders"]["correlations"]
    assert "differential privacy, parent-child correlations released: " in out
    age = correlations["customers.age"]["amount"]
    assert (f"orders: customers.age ~ amount {age:.2f}" in out) == (age != 0)
    target = f"sqlite:///{tmp_path / 'fake.db'}"
    assert main(["sample", str(model), target, "--seed", "1"]) == 0
    capsys.readouterr()
    assert main(["evaluate", url, target, "--model", str(model), "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "Differential privacy (per entity" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--dp-epsilon", "1", "--dp-public", "nope"], "No table named 'nope'"),
        (["--dp-delta", "1e-6"], "--dp-delta needs --dp-epsilon"),
        (["--dp-epsilon", "1", "--dp-delta", "2"], "delta must be in (0, 1)"),
    ],
)
def test_cli_bad_dp_flags(tmp_path, capsys, extra, message) -> None:
    url = _shop_db(tmp_path / "shop.db")
    rc = main(["fit", url, "-o", str(tmp_path / "m.relsynth"), *extra])
    assert rc != 0
    err = capsys.readouterr().err
    assert message in err
    assert not (tmp_path / "m.relsynth").exists()
