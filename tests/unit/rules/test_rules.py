"""Rules: text form and parser, bad rules, metadata file, discovery, enforcement."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from relsynth import Column, ForeignKey, Metadata, Table
from relsynth.errors import MetadataError
from relsynth.rules import (
    Aggregate,
    Equality,
    Order,
    PathAgreement,
    discover,
    fit_rules,
    measure,
    parse_rule,
)
from relsynth.rules.enforce import apply_aggregates, derive_values, match_paths
from tests.unit.rules.shop import shop_metadata, shop_tables, shop_with_due

EXPECTED = {
    "payment.customer_id = payment.rental_id -> rental.customer_id",
    "payment.country = payment.customer_id -> customer.country",
    "payment.payment_date >= payment.rental_id -> rental.rental_date",
    "rental.rental_date >= rental.customer_id -> customer.joined",
    "invoice.total = sum(line.price * line.qty)",
    "invoice.n_lines = count(line)",
}


@pytest.fixture(scope="module")
def shop() -> tuple[Metadata, dict[str, pd.DataFrame]]:
    return shop_metadata(), shop_tables()


# -- text form ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("payment.customer_id = payment.rental_id -> rental.customer_id", PathAgreement),
        ("payment.country = payment.rental_id -> rental.customer_id -> customer.country", Equality),
        ("payment.payment_date >= payment.rental_id -> rental.rental_date", Order),
        ("payment.amount <= payment.rental_id -> rental.rate", Order),
        ("invoice.total = sum(line.price * line.qty)", Aggregate),
        ("invoice.n_lines = count(line)", Aggregate),
        ("invoice.total = max(line.price)", Aggregate),
    ],
)
def test_text_form_round_trips(shop, text, kind):
    meta, _ = shop
    rule = parse_rule(text, meta)
    assert isinstance(rule, kind)
    assert str(rule) == text
    assert parse_rule(str(rule), meta) == rule


def test_quoted_and_composite_names_round_trip():
    meta = Metadata(
        tables={
            "Order Details": Table(
                "Order Details",
                (Column("o", "id"), Column("p", "id"), Column("Unit Price", "numerical")),
                primary_key=("o", "p"),
            ),
            "x": Table("x", (Column("o", "id"), Column("p", "id"), Column("total", "numerical"))),
        },
        foreign_keys=(ForeignKey("x", ("o", "p"), "Order Details", ("o", "p")),),
    )
    text = 'x.total = x.(o, p) -> "Order Details"."Unit Price"'
    rule = parse_rule(text, meta)
    assert rule.anchor.steps == (("x", ("o", "p")), ("Order Details", ("Unit Price",)))
    assert str(rule) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("payment.payment_date >=", "does not parse"),
        ("payment.payment_date", "does not parse"),
        ("payment.payment_date >= payment.rental_id -> rental.rental_date extra", "does not parse"),
        ("invoice.total = avg(line.price)", "unknown function 'avg'"),
        ("nope.x = nope.y -> rental.rate", "Unknown table 'nope'"),
        ("payment.nope >= payment.rental_id -> rental.rental_date", "no column 'nope'"),
        ("payment.amount >= payment.id -> rental.rate", "is not a foreign key"),
        ("payment.amount >= rental.rate", "same table"),
        ("payment.amount >= payment.amount", "at least one foreign key"),
        ("invoice.total = max(line.price * line.qty)", "only aggregated with sum"),
        ("invoice.total = sum(line)", "needs a column"),
        ("rental.rate = sum(line.price)", "no foreign key to 'rental'"),
        ("invoice.total >= sum(line.price)", "func(child.column)"),
        ("payment.amount >= 3", "unexpected ' 3' at character 18"),
        ("invoice.total = sum(line.price * payment.amount)", "columns of one table"),
        ("payment.customer_id = payment.rental_id", "reach different tables"),
        ("payment.rental_id -> rental.rate >= payment.rental_id -> rental.rate", "one column"),
        ("payment.(amount, country) = payment.rental_id -> rental.rate", "one column"),
        ("invoice.total = sum(line.nope)", "no column 'nope'"),
        ("invoice.total = count(nope)", "Unknown table 'nope'"),
    ],
)
def test_bad_rules_are_one_line_errors_naming_the_rule(shop, text, message):
    meta, _ = shop
    with pytest.raises(MetadataError, match="Rule ") as info:
        parse_rule(text, meta)
    assert message in str(info.value)
    assert text in str(info.value) and "\n" not in str(info.value)


def test_aggregate_over_two_keys_to_one_parent_is_an_error():
    meta = Metadata(
        tables={
            "airport": Table(
                "airport", (Column("id", "id"), Column("n", "numerical")), primary_key=("id",)
            ),  # fmt: skip
            "flight": Table(
                "flight",
                (Column("id", "id"), Column("origin", "id"), Column("dest", "id")),
                primary_key=("id",),
            ),
        },
        foreign_keys=(
            ForeignKey("flight", ("origin",), "airport", ("id",)),
            ForeignKey("flight", ("dest",), "airport", ("id",)),
        ),
    )
    text = "airport.n = count(flight)"
    with pytest.raises(MetadataError, match="more than one foreign key") as info:
        parse_rule(text, meta)
    assert text in str(info.value) and "\n" not in str(info.value)


def test_declared_rule_the_source_breaks_is_an_error(shop):
    meta, tables = shop
    broken = meta.with_rules(parse_rule("payment.amount >= payment.rental_id -> rental.rate", meta))
    with pytest.raises(MetadataError, match=r"holds in only \d+\.\d% of the 720 source rows"):
        fit_rules(broken, tables, find=False)


def test_declared_rule_is_measured_and_kept(shop):
    meta, tables = shop
    text = "payment.payment_date >= payment.customer_id -> customer.joined"
    rules = fit_rules(meta.with_rules(parse_rule(text, meta)), tables, find=False)
    (rule,) = rules
    assert str(rule) == text and rule.share == 1.0
    assert len(rule.gap) > 2 and rule.gap[0] >= 0 and rule.step == 86400.0


def test_disabled_rule_drops_the_discovered_one(shop):
    meta, tables = shop
    text = "invoice.n_lines = count(line)"
    dropped = meta.with_rules(parse_rule(text, meta, enforce=False))
    assert text in {str(r) for r in fit_rules(meta, tables)}
    assert text not in {str(r) for r in fit_rules(dropped, tables)}


# -- metadata file ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_rules_round_trip_through_the_metadata_file(shop, tmp_path, suffix):
    meta, tables = shop
    with_rules = meta.with_rules(*discover(meta, tables))
    path = tmp_path / f"meta{suffix}"
    with_rules.save(path)
    loaded = Metadata.load(path)
    assert loaded.rules == with_rules.rules
    orders = [r for r in loaded.rules if isinstance(r, Order)]
    assert orders and all(len(r.gap) == 21 for r in orders)


def test_hand_written_rules_in_the_file(shop, tmp_path):
    meta, _ = shop
    data = meta.to_dict()
    data["rules"] = [
        "invoice.total = sum(line.price * line.qty)",
        {"rule": "invoice.n_lines = count(line)", "enforce": False},
    ]
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(data))
    loaded = Metadata.load(path)
    assert [r.enforce for r in loaded.rules] == [True, False]
    assert loaded.rules[0].share is None


def test_bad_rules_in_the_file_are_all_reported(shop, tmp_path):
    meta, _ = shop
    data = meta.to_dict()
    data["rules"] = ["invoice.total = sum(line.nope)", "payment.x >= payment.rental_id -> rental.y"]
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(data))
    with pytest.raises(MetadataError) as info:
        Metadata.load(path)
    assert len(info.value.problems) == 2
    assert "line" in info.value.problems[0] and "nope" in info.value.problems[0]


def test_dropping_a_table_drops_its_rules(shop):
    meta, tables = shop
    with_rules = meta.with_rules(*discover(meta, tables))
    kept = with_rules.without_tables("line")
    assert not any("line" in str(r) for r in kept.rules)
    kept.validate()


# -- discovery -------------------------------------------------------------------------------


def test_discovery_finds_one_rule_of_each_kind(shop):
    meta, tables = shop
    found = {str(r): r for r in discover(meta, tables)}
    assert EXPECTED <= set(found)
    assert all(r.share == 1.0 for r in found.values())


def test_discovery_skips_noise():
    rng = np.random.default_rng(0)
    n = 300
    meta = Metadata(
        tables={
            "p": Table(
                "p",
                (
                    Column("id", "id"),
                    Column("small", "numerical"),
                    Column("const", "categorical"),
                    Column("two", "numerical"),
                ),
                primary_key=("id",),
            ),  # fmt: skip
            "c": Table(
                "c",
                (
                    Column("id", "id"),
                    Column("p_id", "id"),
                    Column("big", "numerical"),
                    Column("const", "categorical"),
                    Column("two", "numerical"),
                ),
                primary_key=("id",),
            ),  # fmt: skip
        },
        foreign_keys=(ForeignKey("c", ("p_id",), "p", ("id",)),),
    )
    p = pd.DataFrame(
        {"id": np.arange(50), "small": rng.integers(1, 5, 50), "const": "a",
         "two": rng.integers(0, 2, 50)}
    )  # fmt: skip
    c = pd.DataFrame(
        {"id": np.arange(n), "p_id": rng.integers(0, 50, n), "big": rng.integers(100, 900, n),
         "const": "a", "two": rng.integers(0, 2, n)}
    )  # fmt: skip
    # big >= small always (disjoint ranges), const = const always, two has two values
    assert discover(meta, {"p": p, "c": c}) == ()


def test_discovery_keeps_a_weaker_rule_with_its_share(shop):
    meta, tables = shop
    payment = tables["payment"].copy()
    flip = np.random.default_rng(1).random(len(payment)) < 0.2
    payment.loc[flip, "country"] = "XX"
    found = {str(r): r for r in discover(meta, {**tables, "payment": payment})}
    rule = found["payment.country = payment.customer_id -> customer.country"]
    assert 0.75 < rule.share < 0.85


def test_discovery_is_cheap_on_sampled_tables(shop):
    meta, tables = shop
    rules = discover(meta, tables, max_rows=100)
    assert EXPECTED <= {str(r) for r in rules}


# -- enforcement -----------------------------------------------------------------------------


def _broken(tables: dict[str, pd.DataFrame], seed: int = 3) -> dict[str, pd.DataFrame]:
    """The shop with every rule broken: keys, dates, countries and totals shuffled."""
    rng = np.random.default_rng(seed)
    out = {k: v.copy() for k, v in tables.items()}
    pay = out["payment"]
    for col in ("customer_id", "payment_date", "country"):
        pay[col] = pay[col].to_numpy()[rng.permutation(len(pay))]
    inv = out["invoice"]
    inv["total"] = inv["total"].to_numpy()[rng.permutation(len(inv))]
    return out


def test_match_paths_re_points_the_secondary_key(shop):
    meta, tables = shop
    rule = parse_rule("payment.customer_id = payment.rental_id -> rental.customer_id", meta)
    broken = _broken(tables)
    assert measure(meta, broken, rule)[0] < 0.1
    driver = meta.parents("payment")[0]  # payment(rental_id) -> rental
    keys = broken["payment"][["id", "customer_id", "rental_id"]]
    fixed = match_paths(meta, [rule], "payment", keys, broken, np.random.default_rng(0),
                        driver=driver, protected=("id",))  # fmt: skip
    assert measure(meta, {**broken, "payment": fixed}, rule)[0] == 1.0
    assert (fixed["rental_id"] == keys["rental_id"]).all()


def test_match_paths_picks_a_matching_second_hop(shop):
    meta, tables = shop
    rule = parse_rule("payment.customer_id = payment.rental_id -> rental.customer_id", meta)
    broken = _broken(tables)
    driver = meta.parents("payment")[1]  # payment(customer_id) -> customer
    keys = broken["payment"][["id", "customer_id", "rental_id"]]
    fixed = match_paths(meta, [rule], "payment", keys, broken, np.random.default_rng(0),
                        driver=driver, protected=("id",))  # fmt: skip
    assert measure(meta, {**broken, "payment": fixed}, rule)[0] == 1.0
    assert fixed["rental_id"].dtype == keys["rental_id"].dtype
    moved = (fixed["customer_id"] != keys["customer_id"]).mean()
    assert moved < 0.05  # the driver key moves only where no rental of its customer exists


def test_derive_values_copies_and_orders(shop):
    meta, tables = shop
    rules = [r for r in fit_rules(meta, tables) if r.table == "payment"]
    broken = _broken(tables)
    # keys as sampled (path agreements hold before values are derived): every order on
    # payment_date (after the rental, after the customer joined) can hold at once
    broken["payment"]["customer_id"] = tables["payment"]["customer_id"]
    out = derive_values(meta, rules, "payment", broken["payment"], broken,
                        np.random.default_rng(0))  # fmt: skip
    order = parse_rule("payment.payment_date >= payment.rental_id -> rental.rental_date", meta)
    equal = parse_rule("payment.country = payment.customer_id -> customer.country", meta)
    merged = {**broken, "payment": out}
    assert measure(meta, merged, order)[0] == 1.0
    assert measure(meta, merged, equal)[0] == 1.0
    assert out["payment_date"].dtype == tables["payment"]["payment_date"].dtype
    # the gap follows the source's: 0 to 9 whole days, each about as often
    gap = (out["payment_date"] - out["rental_id"].map(tables["rental"].set_index("id")
           ["rental_date"])).dt.days  # fmt: skip
    assert set(gap.unique()) <= set(range(10)) and gap.value_counts().min() > 30


def test_derive_values_moves_followers(shop):
    meta, tables = shop
    rules = [r for r in fit_rules(meta, tables) if str(r).startswith("payment.payment_date >=")]
    frame = _broken(tables)["payment"]
    frame["due"] = frame["payment_date"] + pd.Timedelta(days=30)
    out = derive_values(meta, rules, "payment", frame, tables, np.random.default_rng(0),
                        followers={"payment_date": ["due"]})  # fmt: skip
    assert ((out["due"] - out["payment_date"]) == pd.Timedelta(days=30)).all()


def test_a_follower_keeps_its_gap_and_its_own_orders_only_repair():
    """A rental's due date is rebuilt from its rental date inside the row (a follower):
    when the rental date is redrawn after the customer joined, the due date moves with
    it and keeps its gap; its own order to the customer's join date then holds without
    a redraw (one would lose the gap, and a payment between the two would have no room)."""
    meta, tables = shop_with_due(n_customers=60)
    rules = [r for r in fit_rules(meta, tables) if r.table == "rental"]
    texts = {str(r) for r in rules}
    assert "rental.due >= rental.customer_id -> customer.joined" in texts
    assert "rental.rental_date >= rental.customer_id -> customer.joined" in texts
    frame = tables["rental"].copy()
    gap = frame["due"] - frame["rental_date"]
    shift = pd.to_timedelta(np.random.default_rng(4).integers(-400, 400, len(frame)), "D")
    frame["rental_date"] += shift  # both orders broken on many rows
    frame["due"] = frame["rental_date"] + gap
    out = derive_values(meta, rules, "rental", frame, tables, np.random.default_rng(0),
                        followers={"rental_date": ["due"]})  # fmt: skip
    assert ((out["due"] - out["rental_date"]) == gap).all()
    merged = {**tables, "rental": out}
    assert all(measure(meta, merged, r)[0] == 1.0 for r in rules if "joined" in str(r))


def test_weak_order_keeps_its_share(shop):
    meta, tables = shop
    pay = tables["payment"].copy()
    late = np.random.default_rng(2).random(len(pay)) < 0.1
    pay.loc[late, "payment_date"] -= pd.Timedelta(days=40)
    source = {**tables, "payment": pay}
    text = "payment.payment_date >= payment.rental_id -> rental.rental_date"
    rule = next(r for r in fit_rules(meta, source) if str(r) == text)
    assert 0.85 < rule.share < 0.95
    out = derive_values(meta, [rule], "payment", _broken(tables)["payment"], tables,
                        np.random.default_rng(0))  # fmt: skip
    assert abs(measure(meta, {**tables, "payment": out}, rule)[0] - rule.share) < 0.05


def test_an_order_beside_a_weaker_equality_is_found_and_kept(shop):
    # Northwind: a line's price is its product's on 69 % of the lines and below it on
    # the rest; the order was left out beside the equality, so the lines the equality
    # did not copy kept any price, and the product's max(line price) rose with them
    meta, tables = shop
    pay = tables["payment"].copy()
    rate = pay["rental_id"].map(tables["rental"].set_index("id")["rate"])
    lower = np.random.default_rng(4).random(len(pay)) < 0.3
    pay["amount"] = np.where(lower, np.round(rate * 0.8, 2), rate)
    source = {**tables, "payment": pay}
    rules = {str(r): r for r in fit_rules(meta, source) if r.table == "payment"}
    equal = rules["payment.amount = payment.rental_id -> rental.rate"]
    order = rules["payment.amount <= payment.rental_id -> rental.rate"]
    assert 0.6 < equal.share < 0.8 and order.share == 1.0
    broken = pay.copy()
    broken["amount"] = np.round(np.random.default_rng(5).uniform(0.5, 6.0, len(pay)), 2)
    out = derive_values(meta, [equal, order], "payment", broken, tables,
                        np.random.default_rng(0))  # fmt: skip
    merged = {**tables, "payment": out}
    assert measure(meta, merged, order)[0] == 1.0
    assert measure(meta, merged, equal)[0] >= equal.share - 0.05


def test_apply_aggregates_rounds_and_keeps_dtypes(shop):
    meta, tables = shop
    rules = [r for r in fit_rules(meta, tables) if r.table == "invoice"]
    broken = _broken(tables)
    broken["invoice"]["n_lines"] = 0
    out = apply_aggregates(meta, rules, broken, np.random.default_rng(0))
    for rule in rules:
        assert measure(meta, out, rule)[0] == 1.0
    assert out["invoice"]["n_lines"].dtype == tables["invoice"]["n_lines"].dtype
    cents = out["invoice"]["total"] * 100
    assert np.allclose(cents, np.round(cents))


def test_rules_have_value_semantics(shop):
    meta, tables = shop
    a = discover(meta, tables)
    b = discover(meta, tables)
    assert a == b
    assert replace(a[0], share=0.5) != a[0]


def _composite() -> tuple[Metadata, dict[str, pd.DataFrame]]:
    """region <- shop; stock(shop_id, sku) -> shop and -> region (the shop's region);
    sale(id) -> stock by (shop_id, sku), -> shop by shop_id (a column shared with the
    composite key) and -> region: the stock's region."""
    rng = np.random.default_rng(0)
    meta = Metadata(
        tables={
            "region": Table("region", (Column("id", "id"), Column("tax", "numerical")),
                            primary_key=("id",)),
            "shop": Table("shop", (Column("id", "id"), Column("region_id", "id")),
                          primary_key=("id",)),
            "stock": Table("stock", (Column("shop_id", "id"), Column("sku", "id"),
                                     Column("region_id", "id"), Column("price", "numerical")),
                           primary_key=("shop_id", "sku")),
            "sale": Table("sale", (Column("id", "id"), Column("shop_id", "id"), Column("sku", "id"),
                                   Column("region_id", "id")), primary_key=("id",)),
        },
        foreign_keys=(
            ForeignKey("shop", ("region_id",), "region", ("id",)),
            ForeignKey("stock", ("shop_id",), "shop", ("id",)),
            ForeignKey("stock", ("region_id",), "region", ("id",)),
            ForeignKey("sale", ("shop_id", "sku"), "stock", ("shop_id", "sku")),
            ForeignKey("sale", ("shop_id",), "shop", ("id",)),
            ForeignKey("sale", ("region_id",), "region", ("id",)),
        ),
    )  # fmt: skip
    region = pd.DataFrame({"id": np.arange(6), "tax": rng.random(6)})
    shop = pd.DataFrame({"id": np.arange(30), "region_id": rng.integers(0, 6, 30)})
    stock = pd.DataFrame(
        [(s, k, float(rng.integers(1, 50))) for s in range(30) for k in range(5)],
        columns=["shop_id", "sku", "price"],
    )
    stock.insert(2, "region_id", shop["region_id"].to_numpy()[stock["shop_id"].to_numpy()])
    pick = rng.integers(0, len(stock), 400)
    sale = pd.DataFrame(
        {"id": np.arange(400), "shop_id": stock["shop_id"].to_numpy()[pick],
         "sku": stock["sku"].to_numpy()[pick], "region_id": stock["region_id"].to_numpy()[pick]}
    )  # fmt: skip
    return meta, {"region": region, "shop": shop, "stock": stock, "sale": sale}


COMPOSITE = "sale.region_id = sale.(shop_id, sku) -> stock.region_id"


def test_path_agreement_through_a_composite_key_is_found():
    meta, tables = _composite()
    found = {str(r) for r in discover(meta, tables)}
    assert COMPOSITE in found
    assert "stock.region_id = stock.shop_id -> shop.region_id" in found
    # sale.shop_id and the composite key's shop_id are one column: equal by construction
    assert not any(t.startswith("sale.shop_id =") for t in found)


@pytest.mark.parametrize("driver_index", [3, 5])  # the composite key drives, or the region
def test_match_paths_with_a_composite_key(driver_index):
    meta, tables = _composite()
    rule = parse_rule(COMPOSITE, meta)
    rng = np.random.default_rng(1)
    keys = tables["sale"].assign(region_id=rng.integers(0, 6, 400))
    assert measure(meta, {**tables, "sale": keys}, rule)[0] < 0.4
    driver = meta.foreign_keys[driver_index]
    fixed = match_paths(meta, [rule], "sale", keys, tables, np.random.default_rng(0),
                        driver=driver, protected=("id",))  # fmt: skip
    out = {**tables, "sale": fixed}
    assert measure(meta, out, rule)[0] == 1.0
    kept = fixed[list(driver.columns)].to_numpy() == keys[list(driver.columns)].to_numpy()
    assert kept.all(axis=1).mean() > 0.95
    from relsynth import check

    assert check(meta, out).ok


def test_weak_equality_counts_chance_agreements(shop):
    meta, tables = shop
    payment = tables["payment"].copy()
    flip = np.random.default_rng(1).random(len(payment)) < 0.2
    payment.loc[flip, "country"] = "XX"
    text = "payment.country = payment.customer_id -> customer.country"
    rule = next(r for r in fit_rules(meta, {**tables, "payment": payment}) if str(r) == text)
    broken = _broken(tables)  # countries shuffled: about a fifth agree by chance
    out = derive_values(meta, [rule], "payment", broken["payment"], broken,
                        np.random.default_rng(0))  # fmt: skip
    assert abs(measure(meta, {**broken, "payment": out}, rule)[0] - rule.share) < 0.01


def test_several_orders_on_one_column_hold_together():
    meta, tables = shop_with_due()
    rules = [r for r in fit_rules(meta, tables) if r.table == "payment"]
    texts = {str(r) for r in rules}
    lower = "payment.payment_date >= payment.rental_id -> rental.rental_date"
    upper = "payment.payment_date <= payment.rental_id -> rental.due"
    assert {lower, upper} <= texts
    broken = _broken(tables)
    broken["payment"]["customer_id"] = tables["payment"]["customer_id"]
    out = derive_values(meta, rules, "payment", broken["payment"], broken,
                        np.random.default_rng(0))  # fmt: skip
    merged = {**broken, "payment": out}
    for text in (lower, upper):
        assert measure(meta, merged, parse_rule(text, meta))[0] == 1.0
    # conditioned, not clipped: no more payments on their due date than in the source
    due = out["rental_id"].map(tables["rental"].set_index("id")["due"])
    src_due = tables["payment"]["rental_id"].map(tables["rental"].set_index("id")["due"])
    at_bound = (out["payment_date"] == due).mean()
    assert at_bound < (tables["payment"]["payment_date"] == src_due).mean() + 0.05


def test_only_the_first_order_rule_was_applied_before():
    """The interval is needed: the first rule alone breaks the other on many rows."""
    meta, tables = shop_with_due()
    rules = [r for r in fit_rules(meta, tables) if r.table == "payment"]
    from relsynth.rules.enforce import column_rules

    first = column_rules(rules, "payment", ["payment_date"])["payment_date"]
    assert len([r for r in first if isinstance(r, Order)]) >= 2
    broken = _broken(tables)
    out = derive_values(meta, [first[0]], "payment", broken["payment"], broken,
                        np.random.default_rng(0))  # fmt: skip
    shares = [measure(meta, {**broken, "payment": out}, r)[0] for r in first[1:]]
    assert min(shares) < 0.95


def test_match_paths_through_two_hops_of_the_moved_route():
    """``payment.store_id = payment.rental_id -> rental.customer_id -> customer.store_id``:
    the moved route has two hops; a rental is picked whose customer is of the store."""
    rng = np.random.default_rng(0)
    meta = Metadata(
        tables={
            "store": Table("store", (Column("id", "id"),), primary_key=("id",)),
            "customer": Table(
                "customer", (Column("id", "id"), Column("store_id", "id")), primary_key=("id",)
            ),
            "rental": Table(
                "rental", (Column("id", "id"), Column("customer_id", "id")), primary_key=("id",)
            ),
            "payment": Table(
                "payment",
                (Column("id", "id"), Column("store_id", "id"), Column("rental_id", "id")),
                primary_key=("id",),
            ),
        },
        foreign_keys=(
            ForeignKey("customer", ("store_id",), "store", ("id",)),
            ForeignKey("rental", ("customer_id",), "customer", ("id",)),
            ForeignKey("payment", ("store_id",), "store", ("id",)),
            ForeignKey("payment", ("rental_id",), "rental", ("id",)),
        ),
    )
    tables = {
        "store": pd.DataFrame({"id": [1, 2, 3]}),
        "customer": pd.DataFrame({"id": np.arange(30), "store_id": np.arange(30) % 3 + 1}),
        "rental": pd.DataFrame({"id": np.arange(200), "customer_id": rng.integers(0, 30, 200)}),
    }
    keys = pd.DataFrame(
        {"id": np.arange(500), "store_id": rng.integers(1, 4, 500),
         "rental_id": rng.integers(0, 200, 500)}
    )  # fmt: skip
    text = "payment.store_id = payment.rental_id -> rental.customer_id -> customer.store_id"
    rule = parse_rule(text, meta)
    assert isinstance(rule, PathAgreement)
    assert measure(meta, {**tables, "payment": keys}, rule)[0] < 0.5
    driver = meta.parents("payment")[0]  # payment(store_id) -> store
    fixed = match_paths(meta, [rule], "payment", keys, tables, np.random.default_rng(1),
                        driver=driver, protected=("id",))  # fmt: skip
    assert measure(meta, {**tables, "payment": fixed}, rule)[0] == 1.0
    assert (fixed["store_id"] == keys["store_id"]).all()  # the driver key is kept
    assert fixed["rental_id"].nunique() > 150  # rentals dealt out, not one per store


def _timetable(seed: int = 0) -> tuple[Metadata, dict[str, pd.DataFrame]]:
    """GTFS-like clock text: a trip starts at ``start`` ('5:00:00' to '25:30:00', past
    midnight allowed); each of its stops is reached 0 to 90 minutes later."""
    rng = np.random.default_rng(seed)
    meta = Metadata(
        tables={
            "trip": Table(
                "trip",
                (Column("id", "id"), Column("start", "categorical", "TEXT")),
                primary_key=("id",),
            ),  # fmt: skip
            "stop_time": Table(
                "stop_time",
                (
                    Column("id", "id"),
                    Column("trip_id", "id"),
                    Column("arrival", "categorical", "TEXT"),
                ),
                primary_key=("id",),
            ),  # fmt: skip
        },
        foreign_keys=(ForeignKey("stop_time", ("trip_id",), "trip", ("id",)),),
    )

    def clock(seconds: np.ndarray) -> list[str]:
        return [f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" for s in seconds]

    start = rng.integers(5 * 60, 25 * 60 + 30, 80) * 60
    trip_id = rng.integers(0, 80, 1500)
    arrival = start[trip_id] + rng.integers(0, 91, 1500) * 60
    trip = pd.DataFrame({"id": np.arange(80), "start": pd.array(clock(start), dtype="string")})
    stop_time = pd.DataFrame(
        {"id": np.arange(1500), "trip_id": trip_id,
         "arrival": pd.array(clock(arrival), dtype="string")}
    )  # fmt: skip
    return meta, {"trip": trip, "stop_time": stop_time}


def test_clock_text_orders_are_found_and_kept():
    meta, tables = _timetable()
    rule = next(r for r in discover(meta, tables) if isinstance(r, Order))
    assert str(rule) == "stop_time.arrival >= stop_time.trip_id -> trip.start"
    assert rule.share == 1.0 and rule.step == 60.0 and rule.gap[-1] == 90 * 60
    frame = tables["stop_time"].copy()
    frame["arrival"] = frame["arrival"].to_numpy()[np.random.default_rng(1).permutation(1500)]
    assert measure(meta, {**tables, "stop_time": frame}, rule)[0] < 0.8
    out = derive_values(meta, [rule], "stop_time", frame, tables, np.random.default_rng(0))
    assert measure(meta, {**tables, "stop_time": out}, rule)[0] == 1.0
    assert out["arrival"].dtype == frame["arrival"].dtype
    assert out["arrival"].str.match(r"^\d{1,2}:\d{2}:00$").all()  # the source's style
    assert (out["arrival"].str.split(":").str[0].astype(int) >= 24).any()  # past midnight


def test_a_weaker_bound_keeps_its_share_beside_an_exact_order():
    meta, tables = shop_with_due()
    pay = tables["payment"].copy()
    late = np.random.default_rng(3).random(len(pay)) < 0.1
    pay.loc[late, "payment_date"] += pd.Timedelta(days=15)  # one in ten paid after due
    source = {**tables, "payment": pay}
    rules = [r for r in fit_rules(meta, source) if r.table == "payment"]
    upper = next(r for r in rules if str(r).endswith("<= payment.rental_id -> rental.due"))
    assert 0.85 < upper.share < 0.95
    frame = pay.copy()
    frame["payment_date"] = frame["payment_date"].to_numpy()[
        np.random.default_rng(1).permutation(len(frame))
    ]
    out = derive_values(meta, rules, "payment", frame, source, np.random.default_rng(0))
    for rule in rules:
        real = measure(meta, source, rule)[0]
        assert abs(measure(meta, {**source, "payment": out}, rule)[0] - real) < 0.02, str(rule)
