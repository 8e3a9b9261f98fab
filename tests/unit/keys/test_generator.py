"""Unit tests of KeyGenerator: the incremental API, hard cases and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import relsynth
from relsynth import Column, ForeignKey, Metadata, Table, check
from relsynth.errors import DataError, NotFittedError, ParameterError
from relsynth.keys import KeyGenerator
from relsynth.synthesis._repair import drop_violations


def _meta(tables: dict[str, tuple[tuple[str, ...], tuple[str, ...]]], fks=(), nullable=()):
    built = {
        name: Table(
            name,
            tuple(
                Column(
                    c,
                    "id" if c in pk or c.endswith("_id") else "numerical",
                    nullable=(name, c) in nullable,
                )
                for c in cols
            ),
            primary_key=pk,
        )
        for name, (cols, pk) in tables.items()
    }
    return Metadata(built, tuple(fks))


@pytest.fixture
def shop(rng):
    """customers(id, x) -> orders(id, customer_id); rich customers (x=1) order ~10 times."""
    n = 400
    x = (rng.random(n) < 0.5).astype(float)
    counts = np.where(x == 1, rng.poisson(10, n), rng.poisson(1, n))
    customers = pd.DataFrame({"id": np.arange(1, n + 1), "x": x})
    orders = pd.DataFrame(
        {
            "id": np.arange(1, counts.sum() + 1),
            "customer_id": np.repeat(customers["id"], counts).to_numpy(),
        }
    )
    meta = _meta(
        {"customers": (("id", "x"), ("id",)), "orders": (("id", "customer_id"), ("id",))},
        [ForeignKey("orders", ("customer_id",), "customers", ("id",))],
    )
    return meta, {"customers": customers, "orders": orders}


def test_sample_table_conditions_on_synthetic_parent_values(shop, rng):
    meta, tables = shop
    gen = KeyGenerator().fit(meta, tables)
    parents = gen.sample_table("customers", {}, scale=0.5, rng=rng)
    parents["x"] = np.r_[np.ones(100), np.zeros(100)]  # the models fill the values
    orders = gen.sample_table("orders", {"customers": parents}, rng=rng)
    per = orders["customer_id"].value_counts().reindex(parents["id"], fill_value=0).to_numpy()
    assert per[:100].mean() > 8 and per[100:].mean() < 2


def test_without_values_cardinality_is_marginal(shop):
    meta, tables = shop
    gen = KeyGenerator(parent_features="none").fit(meta, tables)
    skel = gen.sample(seed=1)
    assert len(skel["orders"]) == len(tables["orders"])  # stratified marginal at scale 1
    assert check(skel.metadata, skel.tables).ok


def test_same_seed_same_skeleton_and_sizes(shop):
    meta, tables = shop
    gen = KeyGenerator().fit(meta, tables)
    assert gen.sample(2.0, seed=5).equals(gen.sample(2.0, seed=5))
    assert not gen.sample(2.0, seed=5).equals(gen.sample(2.0, seed=6))
    assert len(gen.sample(sizes={"customers": 17}, seed=0)["customers"]) == 17
    assert len(gen.sample(0.25, seed=0)["customers"]) == 100


def test_implied_diamond_is_copied_through_the_driver(rng):
    # payment(rental_id -> rental, customer_id -> customer); rental.customer_id agrees
    cust = pd.DataFrame({"id": np.arange(1, 51)})
    rental = pd.DataFrame({"id": np.arange(1, 201), "customer_id": rng.integers(1, 51, 200)})
    rows = rng.integers(0, 200, 300)
    payment = pd.DataFrame(
        {
            "id": np.arange(1, 301),
            "rental_id": rental["id"].to_numpy()[rows],
            "customer_id": rental["customer_id"].to_numpy()[rows],
        }
    )
    meta = _meta(
        {
            "customer": (("id",), ("id",)),
            "rental": (("id", "customer_id"), ("id",)),
            "payment": (("id", "rental_id", "customer_id"), ("id",)),
        },
        [
            ForeignKey("rental", ("customer_id",), "customer", ("id",)),
            ForeignKey("payment", ("rental_id",), "rental", ("id",)),
            ForeignKey("payment", ("customer_id",), "customer", ("id",)),
        ],
    )
    gen = KeyGenerator().fit(meta, {"customer": cust, "rental": rental, "payment": payment})
    assert [type(s).__name__ for s in gen.states_["payment"].secondary] == ["ImpliedKey"]
    skel = gen.sample(3.0, seed=2)
    joined = skel["payment"].merge(
        skel["rental"], left_on="rental_id", right_on="id", suffixes=("", "_r")
    )
    assert (joined["customer_id"] == joined["customer_id_r"]).all()


def test_overlapping_key_is_derived_from_the_composite_one(rng):
    airports = pd.DataFrame({"faa": ["EWR", "JFK", "LGA", "ABQ"]})
    hours = pd.date_range("2013-01-01", periods=24, freq="h")
    weather = pd.DataFrame(
        {"origin": np.repeat(["EWR", "JFK", "LGA"], 24), "time_hour": np.tile(hours, 3)}
    )
    rows = rng.integers(0, len(weather), 500)
    flights = pd.DataFrame(
        {
            "id": np.arange(1, 501),
            "origin": weather["origin"].to_numpy()[rows],
            "time_hour": weather["time_hour"].to_numpy()[rows],
            "dest": rng.choice(airports["faa"], 500),
        }
    )
    meta = _meta(
        {
            "airports": (("faa",), ("faa",)),
            "weather": (("origin", "time_hour"), ("origin", "time_hour")),
            "flights": (("id", "origin", "time_hour", "dest"), ("id",)),
        },
        [
            ForeignKey("weather", ("origin",), "airports", ("faa",)),
            ForeignKey("flights", ("origin",), "airports", ("faa",)),
            ForeignKey("flights", ("dest",), "airports", ("faa",)),
            ForeignKey("flights", ("origin", "time_hour"), "weather", ("origin", "time_hour")),
        ],
    )
    gen = KeyGenerator().fit(meta, {"airports": airports, "weather": weather, "flights": flights})
    skel = gen.sample(2.0, seed=0)
    assert check(skel.metadata, skel.tables).ok
    assert not skel["weather"].duplicated(["origin", "time_hour"]).any()
    steps = skel["weather"].groupby("origin")["time_hour"].diff().dropna()
    assert steps.eq(pd.Timedelta("1h")).all()


def test_junction_pairs_unique_even_when_orders_are_large(rng):
    orders = pd.DataFrame({"id": np.arange(1, 101)})
    products = pd.DataFrame({"id": np.arange(1, 11)})
    rows = [
        (o, p)
        for o in range(1, 101)
        for p in rng.choice(np.arange(1, 11), rng.integers(5, 11), replace=False)
    ]
    lines = pd.DataFrame(rows, columns=["order_id", "product_id"])
    meta = _meta(
        {
            "orders": (("id",), ("id",)),
            "products": (("id",), ("id",)),
            "lines": (("order_id", "product_id"), ("order_id", "product_id")),
        },
        [
            ForeignKey("lines", ("order_id",), "orders", ("id",)),
            ForeignKey("lines", ("product_id",), "products", ("id",)),
        ],
    )
    gen = KeyGenerator().fit(meta, {"orders": orders, "products": products, "lines": lines})
    for seed in range(5):
        skel = gen.sample(seed=seed)
        assert not skel["lines"].duplicated().any()
        assert skel["lines"].groupby("order_id").size().max() <= 10


def test_not_null_cycle_and_fill_deferred(rng):
    store = pd.DataFrame({"id": [1, 2, 3], "manager_id": [1, 3, 5]})
    staff = pd.DataFrame({"id": [1, 2, 3, 4, 5, 6], "store_id": [1, 1, 2, 2, 3, 3]})
    meta = _meta(
        {"store": (("id", "manager_id"), ("id",)), "staff": (("id", "store_id"), ("id",))},
        [
            ForeignKey("staff", ("store_id",), "store", ("id",)),
            ForeignKey("store", ("manager_id",), "staff", ("id",)),
        ],
    )
    gen = KeyGenerator().fit(meta, {"store": store, "staff": staff})
    assert gen.plan_.deferred_not_null
    done = {}
    for t in gen.plan_.order:
        done[t] = gen.sample_table(t, done, scale=4, rng=rng)
    assert done["store"]["manager_id"].isna().all()
    filled = gen.fill_deferred(done, rng=rng)
    assert filled["store"]["manager_id"].notna().all()
    assert check(gen.sample(4, seed=1).metadata, filled).ok


def test_self_reference_is_a_forest_with_source_roots(rng):
    n = 300
    boss = [None] + [int(rng.integers(1, i + 1)) for i in range(1, n)]
    emp = pd.DataFrame({"id": np.arange(1, n + 1), "boss_id": pd.array(boss, dtype="Int64")})
    meta = _meta(
        {"emp": (("id", "boss_id"), ("id",))},
        [ForeignKey("emp", ("boss_id",), "emp", ("id",), nullable=True)],
        nullable={("emp", "boss_id")},
    )
    gen = KeyGenerator().fit(meta, {"emp": emp})
    skel = gen.sample(2.0, seed=0)
    assert skel["emp"]["boss_id"].isna().sum() == 2


def test_match_secondary_prefers_nearest_and_keeps_degrees(rng):
    shops = pd.DataFrame({"id": np.arange(1, 21)})
    sales = pd.DataFrame({"id": np.arange(1, 401), "shop_id": rng.integers(1, 21, 400)})
    meta = _meta(
        {"shops": (("id",), ("id",)), "sales": (("id", "shop_id"), ("id",))},
        [ForeignKey("sales", ("shop_id",), "shops", ("id",))],
    )
    meta = Metadata(
        {**meta.tables, "anchor": Table("anchor", (Column("id", "id"),), primary_key=("id",))},
        meta.foreign_keys + (ForeignKey("sales", ("id",), "anchor", ("id",)),),
    )
    tables = {"shops": shops, "sales": sales, "anchor": pd.DataFrame({"id": np.arange(1, 401)})}
    gen = KeyGenerator().fit(meta, tables, plan=None)
    fk = meta.foreign_keys[0]
    skel = gen.sample(seed=0)
    keys = skel["sales"]
    parent = skel["shops"]
    vec_parent = np.arange(len(parent), dtype=float)[:, None]
    preferred = rng.integers(0, len(parent), len(keys)).astype(float)[:, None]
    out = gen.match_secondary(fk, keys, preferred, parent, vec_parent, rng=rng)
    before = keys["shop_id"].value_counts().sort_index()
    after = out["shop_id"].value_counts().sort_index()
    assert before.equals(after)
    chosen = pd.Index(parent["id"]).get_indexer(out["shop_id"])
    assert np.mean(np.abs(chosen - preferred[:, 0])) < 2.0


def test_errors():
    meta = _meta(
        {"p": (("id",), ("id",)), "c": (("id", "p_id"), ("id",))},
        [ForeignKey("c", ("p_id",), "p", ("id",))],
    )
    tables = {"p": pd.DataFrame({"id": [1, 2]}), "c": pd.DataFrame({"id": [1, 2], "p_id": [1, 3]})}
    with pytest.raises(NotFittedError, match="not fitted yet. Call 'fit'"):
        KeyGenerator().sample()
    with pytest.raises(ParameterError, match="'bandwidth' parameter of KeyGenerator"):
        KeyGenerator(bandwidth=-1).fit(meta, tables)
    with pytest.raises(ParameterError, match="'parent_features'"):
        KeyGenerator(parent_features="yes").fit(meta, tables)
    with pytest.raises(DataError, match=r"c\(p_id\) -> p\(id\) has 1 row\(s\) with no parent"):
        KeyGenerator().fit(meta, tables)
    assert not check(meta, tables).ok  # relsynth.check gives the full report
    # The one repair (the synthesizer's, before any model): a NOT NULL orphan row is dropped.
    gen = KeyGenerator().fit(meta, drop_violations(meta, tables)[0])
    assert gen.n_rows_["c"] == 1
    with pytest.raises(ParameterError, match="'scale' parameter"):
        gen.sample(-1)
    with pytest.raises(ParameterError, match="not a root table"):
        gen.sample(sizes={"c": 3})


def test_count_feature_finds_the_column_that_decides_family_sizes(rng):
    # Setup: hourly parents with 10 noisy columns; children only between 6:00 and 21:00
    # (flights per weather hour). A 4-component PCA of the 11 columns loses the hour.
    n = 2400
    hour = np.tile(np.arange(24), n // 24)
    cols = {f"noise{i}": rng.normal(0, 1, n) for i in range(10)}
    hours = pd.DataFrame({"id": np.arange(1, n + 1), "hour": hour.astype(float), **cols})
    counts = np.where((hour >= 6) & (hour <= 21), rng.poisson(3, n), 0)
    kids = pd.DataFrame(
        {"id": np.arange(1, counts.sum() + 1), "hour_id": np.repeat(hours["id"], counts).to_numpy()}
    )
    meta = _meta(
        {"hours": (tuple(hours.columns), ("id",)), "kids": (("id", "hour_id"), ("id",))},
        [ForeignKey("kids", ("hour_id",), "hours", ("id",))],
    )
    gen = KeyGenerator().fit(meta, {"hours": hours, "kids": kids})
    driver = gen.states_["kids"].driver
    assert driver is not None and driver.count_feature is not None
    assert driver.count_feature.column == "hour"  # not a noise column
    # Run: synthetic parents (new noise), and a round trip through the saved state.
    synth = hours.assign(**{f"noise{i}": rng.normal(0, 1, n) for i in range(10)})
    for g in (gen, KeyGenerator.from_dict(gen.to_dict())):
        out = g.sample_table("kids", {"hours": synth}, rng=np.random.default_rng(1))
        per = out["hour_id"].value_counts().reindex(synth["id"], fill_value=0).to_numpy()
        night = (hour < 6) | (hour > 21)
        # Assert: (almost) no children at night, the source's total.
        assert per[night].sum() <= 0.01 * per.sum() and per.sum() == counts.sum()


def test_implied_key_under_a_nullable_driver_key(rng):
    # Setup: payment.customer_id always equals payment.rental.customer_id where the
    # payment has a rental; a fifth of the payments have none (NULL rental_id) and
    # their customer comes from the customers directly.
    n_cust, n_rent, n_pay = 30, 120, 300
    cust = pd.DataFrame({"id": np.arange(1, n_cust + 1)})
    rental = pd.DataFrame(
        {"id": np.arange(1, n_rent + 1), "customer_id": rng.integers(1, n_cust + 1, n_rent)}
    )
    rental_id = pd.array(rng.integers(1, n_rent + 1, n_pay), dtype="Int64")
    rental_id[: n_pay // 5] = pd.NA
    customer_id = (
        rental.set_index("id")["customer_id"].reindex(rental_id.fillna(1)).to_numpy().copy()
    )
    customer_id[: n_pay // 5] = rng.integers(1, n_cust + 1, n_pay // 5)
    payment = pd.DataFrame(
        {"id": np.arange(1, n_pay + 1), "rental_id": rental_id, "customer_id": customer_id}
    )
    by_rental = ForeignKey("payment", ("rental_id",), "rental", ("id",), nullable=True)
    meta = _meta(
        {
            "customer": (("id",), ("id",)),
            "rental": (("id", "customer_id"), ("id",)),
            "payment": (("id", "rental_id", "customer_id"), ("id",)),
        },
        [
            ForeignKey("rental", ("customer_id",), "customer", ("id",)),
            by_rental,
            ForeignKey("payment", ("customer_id",), "customer", ("id",)),
        ],
        nullable={("payment", "rental_id")},
    )
    tables = {"customer": cust, "rental": rental, "payment": payment}
    gen = KeyGenerator().fit(meta, tables, plan=relsynth.plan(meta, {"payment": by_rental}))
    assert [type(s).__name__ for s in gen.states_["payment"].secondary] == ["ImpliedKey"]
    # Run: sample, and sample again from the saved state.
    for g in (gen, KeyGenerator.from_dict(gen.to_dict())):
        skel = g.sample(1.0, seed=3)
        pay = skel["payment"]
        # Assert: the rows without a rental still get a customer; the others agree.
        assert pay["rental_id"].isna().sum() == n_pay // 5
        assert pay["customer_id"].notna().all()
        assert check(skel.metadata, skel.tables).ok
        joined = pay.dropna(subset=["rental_id"]).merge(
            skel["rental"], left_on="rental_id", right_on="id", suffixes=("", "_r")
        )
        assert (joined["customer_id"] == joined["customer_id_r"]).all()


@pytest.fixture
def two_parents(rng):
    """shop(id, a) drives sale(id, shop_id, item_id, x); item(id, y) is a secondary parent
    whose in-degree follows y: only items with y > 0 are ever sold."""
    n_shop, n_item, n_sale = 50, 400, 3000
    shop = pd.DataFrame({"id": np.arange(1, n_shop + 1), "a": rng.normal(size=n_shop)})
    y = rng.normal(size=n_item)
    item = pd.DataFrame({"id": np.arange(1, n_item + 1), "y": y})
    sold = item["id"].to_numpy()[y > 0]
    sale = pd.DataFrame(
        {
            "id": np.arange(1, n_sale + 1),
            "shop_id": rng.integers(1, n_shop + 1, n_sale),
            "item_id": rng.choice(sold, n_sale),
        }
    )
    meta = _meta(
        {
            "shop": (("id", "a"), ("id",)),
            "item": (("id", "y"), ("id",)),
            "sale": (("id", "shop_id", "item_id"), ("id",)),
        },
        [
            ForeignKey("sale", ("shop_id",), "shop", ("id",)),
            ForeignKey("sale", ("item_id",), "item", ("id",)),
        ],
    )
    return meta, {"shop": shop, "item": item, "sale": sale}


def _share_to_positive_items(sale: pd.DataFrame, item: pd.DataFrame) -> float:
    y = sale.merge(item, left_on="item_id", right_on="id", how="left")["y"]
    return float((y > 0).mean())


def test_secondary_degrees_follow_the_parents_values(two_parents, rng):
    """Which items get sold follows the items' values (rank coupling), while the
    in-degree distribution stays the source's; with parent_features='none' the
    degrees go to items at random (about half the sales at items with y < 0)."""
    meta, tables = two_parents
    gen = KeyGenerator().fit(meta, tables)
    item = pd.DataFrame({"id": np.arange(1, 401), "y": np.linspace(-2.0, 2.0, 400)})
    done = {"shop": tables["shop"], "item": item}
    sale = gen.sample_table("sale", done, rng=rng)
    assert _share_to_positive_items(sale, item) >= 0.9
    real = np.sort(np.bincount(tables["sale"]["item_id"], minlength=401)[1:])
    fake = np.sort(np.bincount(sale["item_id"], minlength=401)[1:])
    assert np.abs(real - fake).max() <= 2  # the degree distribution is kept
    plain = KeyGenerator(parent_features="none").fit(meta, tables)
    sale = plain.sample_table("sale", done, rng=rng)
    assert 0.3 <= _share_to_positive_items(sale, item) <= 0.7
    # keys sampled without the parents' values: the marginal, as before
    keys_only = gen.sample_table("sale", {"shop": tables["shop"], "item": item[["id"]]}, rng=rng)
    assert 0.3 <= _share_to_positive_items(keys_only, item) <= 0.7


def test_secondary_ranking_survives_state_dict(two_parents, rng):
    meta, tables = two_parents
    gen = KeyGenerator().fit(meta, tables)
    again = KeyGenerator.from_dict(gen.to_dict())
    assert again.states_["sale"].secondary[0].ranking is not None
    item = tables["item"]
    done = {"shop": tables["shop"], "item": item}
    a = gen.sample_table("sale", done, rng=np.random.default_rng(3))
    b = again.sample_table("sale", done, rng=np.random.default_rng(3))
    pd.testing.assert_frame_equal(a, b)


def test_each_key_column_counts_within_the_key_columns_before_it(rng):
    # batting(player, year, stint): a player's seasons, and within a season his stints
    # (traded mid-season: stint 2). No foreign key sets them: year counts per player,
    # stint per (player, year), so most stints are 1, as in the source.
    rows = []
    for p in range(300):
        for year in range(1990, 1990 + int(rng.integers(3, 12))):
            for stint in range(1, 2 + int(rng.random() < 0.1)):
                rows.append((f"p{p:04d}", year, stint))
    batting = pd.DataFrame(rows, columns=["player", "year", "stint"])
    key = ("player", "year", "stint")
    meta = Metadata({"batting": Table("batting", tuple(Column(c, "id") for c in key), key)})
    gen = KeyGenerator().fit(meta, {"batting": batting})
    out = gen.sample_table("batting", {}, rng=rng)
    assert not out.duplicated(["player", "year", "stint"]).any()
    firsts = out.groupby(["player", "year"])["stint"].min()
    assert (firsts == 1).all()  # positions within each (player, year), not within player
    assert (out["stint"] == 1).mean() > 0.8
