"""Conditional and seeded sampling end to end (issue 17): a hand-built shop in SQLite,
fitted once; conditions on a root and on a child, given parents, a saved model, the
pytest fixture, and the CLI writing into PostgreSQL.

The shop is built so that the condition changes everything below it: German
customers are about 60 years old (the others about 30), have about 6 orders (the
others about 2) with three times the freight. A sample that only overwrote the
country would show none of that.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import relsynth
from relsynth import ConditionError, DataError, ParameterError, Synthesizer
from relsynth.testing import database_fixture
from tests.conftest import query

SEED = 0
_MODEL_DIR = Path(__import__("tempfile").mkdtemp(prefix="relsynth-cond-"))
MODEL = _MODEL_DIR / "shop.relsynth"


def build_shop(path: Path, seed: int = 0, n: int = 400) -> str:
    rng = np.random.default_rng(seed)
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, country TEXT NOT NULL, "
            "age INTEGER NOT NULL)"
        )
        conn.exec_driver_sql(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL "
            "REFERENCES customers(id), freight REAL NOT NULL, status TEXT, shipped DATE)"
        )
        conn.exec_driver_sql(
            "CREATE TABLE lines (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL "
            "REFERENCES orders(id), qty INTEGER NOT NULL)"
        )
    country = rng.choice(["Germany", "France", "Spain", "Italy"], size=n, p=[0.2, 0.4, 0.2, 0.2])
    german = country == "Germany"
    age = np.where(german, rng.normal(60, 5, n), rng.normal(30, 5, n)).round().astype(int)
    customers = pd.DataFrame({"id": np.arange(1, n + 1), "country": country, "age": age})
    k = rng.poisson(np.where(german, 6, 2))
    m = int(k.sum())
    freight = rng.gamma(2, 20, m) * np.where(np.repeat(german, k), 3, 1)
    status = rng.choice(["open", "shipped", None], size=m, p=[0.3, 0.6, 0.1])
    shipped = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, m), unit="D")
    orders = pd.DataFrame(
        {
            "id": np.arange(1, m + 1),
            "customer_id": np.repeat(customers["id"].to_numpy(), k),
            "freight": freight.round(2),
            "status": status,
            "shipped": [d.date() for d in shipped],
        }
    )
    orders.loc[orders["status"] != "shipped", "shipped"] = None
    n_lines = rng.poisson(3, m) + 1
    lines = pd.DataFrame(
        {
            "id": np.arange(1, int(n_lines.sum()) + 1),
            "order_id": np.repeat(orders["id"].to_numpy(), n_lines),
            "qty": rng.integers(1, 10, int(n_lines.sum())),
        }
    )
    with engine.begin() as conn:
        customers.to_sql("customers", conn, if_exists="append", index=False)
        orders.to_sql("orders", conn, if_exists="append", index=False)
        lines.to_sql("lines", conn, if_exists="append", index=False)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    url = build_shop(tmp_path_factory.mktemp("shop") / "shop.db")
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    synth = Synthesizer(meta, seed=SEED, steps=150, n_threads=1).fit(tables)
    synth.save(MODEL, overwrite=True)
    return meta, tables, synth


def _owned(child: pd.DataFrame, key: str, parent: pd.DataFrame) -> bool:
    return bool(child[key].isin(parent["id"]).all())


def test_root_condition_gives_the_conditioned_part_with_its_families(shop):
    meta, real, synth = shop
    fake = synth.sample(seed=1, scale=3, where="customers.country = 'Germany'")
    assert relsynth.check(meta, fake).ok
    customers, orders = fake["customers"], fake["orders"]
    assert (customers["country"] == "Germany").all()
    assert _owned(orders, "customer_id", customers) and _owned(fake["lines"], "order_id", orders)
    # the German part of the source, not the source with the country overwritten
    real_german = real["customers"][real["customers"]["country"] == "Germany"]
    assert abs(customers["age"].mean() - real_german["age"].mean()) < 5
    per_customer = len(orders) / len(customers)
    assert per_customer > 4, per_customer  # Germans have ~6 orders, the others ~2
    # scale multiplies the qualifying part
    assert 0.6 * 3 * len(real_german) <= len(customers) <= 1.4 * 3 * len(real_german)
    report = synth.sample_report_
    assert report.conditioned["customers"].kept == len(customers)
    assert report.conditioned["customers"].fed == "country"  # asked the WGAN's vector


def test_child_condition_keeps_the_parents_it_needs(shop):
    meta, real, synth = shop
    fake = synth.sample(seed=2, where=["orders.freight > 150", "orders.status = 'shipped'"])
    assert relsynth.check(meta, fake).ok
    orders = fake["orders"]
    assert len(orders) > 0
    assert (orders["freight"] > 150).all() and (orders["status"] == "shipped").all()
    # every customer is one the kept orders need; every line belongs to a kept order
    assert set(fake["customers"]["id"]) == set(orders["customer_id"])
    assert _owned(fake["lines"], "order_id", orders)
    # big freights come from German customers in the source: the parents follow
    assert (fake["customers"]["country"] == "Germany").mean() > 0.5
    assert synth.sample_report_.conditioned["orders"].rate < 0.5


def test_conditions_on_two_tables_combine(shop):
    meta, _, synth = shop
    fake = synth.sample(
        seed=3, where=["customers.country IN ('France', 'Spain')", "orders.status IS NULL"]
    )
    assert relsynth.check(meta, fake).ok
    assert fake["customers"]["country"].isin(["France", "Spain"]).all()
    assert fake["orders"]["status"].isna().all() and len(fake["orders"]) > 0
    assert set(fake["customers"]["id"]) == set(fake["orders"]["customer_id"])


def test_sizes_ask_for_an_exact_number_of_qualifying_rows(shop):
    meta, _, synth = shop
    fake = synth.sample(
        seed=4,
        sizes={"customers": 7},
        where="customers.age BETWEEN 55 AND 70 AND customers.country = 'Germany'",
    )
    assert relsynth.check(meta, fake).ok
    assert len(fake["customers"]) == 7
    assert fake["customers"]["age"].between(55, 70).all()


def test_impossible_and_bad_conditions_are_clear_errors(shop):
    _, _, synth = shop
    with pytest.raises(ConditionError, match="No sampled row of customers meets"):
        synth.sample(seed=1, where="customers.age > 500")
    with pytest.raises(ConditionError, match="No sampled row of customers meets .*Atlantis"):
        synth.sample(seed=1, where="customers.country = 'Atlantis'")
    with pytest.raises(ConditionError, match="names the table 'shops'"):
        synth.sample(where="shops.country = 'Germany'")
    with pytest.raises(ConditionError, match="orders.weight, which does not exist"):
        synth.sample(where="orders.weight > 3")
    with pytest.raises(ConditionError, match="compares orders.freight"):
        synth.sample(where="orders.freight > 'heavy'")


def test_same_seed_same_conditional_sample_and_from_a_saved_model(shop):
    _, _, synth = shop
    where = ["customers.country = 'Spain'", "orders.freight < 30"]
    a = synth.sample(seed=9, where=where)
    b = synth.sample(seed=9, where=where)
    loaded = Synthesizer.load(MODEL, device="cpu").sample(seed=9, where=where)
    c = synth.sample(seed=10, where=where)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
        pd.testing.assert_frame_equal(a[name], loaded[name])
    assert not a["orders"].equals(c["orders"])


def _given() -> pd.DataFrame:
    """Hand-written customers (text values, as from a CSV): 20 German, 20 French."""
    ids = [str(1000 + i) for i in range(40)]
    return pd.DataFrame(
        {
            "id": ids,
            "country": ["Germany"] * 20 + ["France"] * 20,
            "age": ["62"] * 20 + ["28"] * 20,
        }
    )


def test_seeded_parents_are_kept_and_get_their_histories(shop):
    meta, _, synth = shop
    given = _given()
    fake = synth.sample(seed=5, parents={"customers": given})
    assert relsynth.check(meta, fake).ok
    kept = fake["customers"]
    assert kept["id"].tolist() == [int(i) for i in given["id"]]
    assert kept["country"].tolist() == given["country"].tolist()
    assert kept["age"].tolist() == [int(a) for a in given["age"]]
    orders = fake["orders"]
    assert _owned(orders, "customer_id", kept) and _owned(fake["lines"], "order_id", orders)
    counts = orders.groupby("customer_id").size().reindex(kept["id"], fill_value=0).to_numpy()
    # counts follow the learned cardinality given each parent: ~6 for Germans, ~2 otherwise
    assert counts[:20].mean() > 1.5 * counts[20:].mean(), counts
    assert synth.sample_report_.given == {"customers": 40}
    again = synth.sample(seed=5, parents={"customers": given})
    pd.testing.assert_frame_equal(fake["orders"], again["orders"])


def test_seeded_parents_with_a_child_condition(shop):
    meta, _, synth = shop
    fake = synth.sample(seed=6, parents={"customers": _given()}, where="orders.freight > 100")
    assert relsynth.check(meta, fake).ok
    assert len(fake["customers"]) == 40  # given rows are never trimmed
    assert (fake["orders"]["freight"] > 100).all()


@pytest.mark.parametrize(
    ("frame", "error", "message"),
    [
        (_given().drop(columns=["age"]), DataError, "missing age"),
        (_given().assign(extra=1), DataError, "unknown extra"),
        (_given().assign(age="old"), DataError, "column age does not convert"),
        (_given().assign(id="7"), DataError, "repeat primary key"),
        (_given().assign(id=None), DataError, "NULL in the primary key"),
    ],
)
def test_bad_given_rows_are_clear_errors(shop, frame, error, message):
    _, _, synth = shop
    with pytest.raises(error, match=message):
        synth.sample(seed=1, parents={"customers": frame})


def test_given_children_need_their_parents_and_tables_must_exist(shop):
    _, real, synth = shop
    with pytest.raises(DataError, match="point at customers .* which relsynth generates"):
        synth.sample(parents={"orders": real["orders"].head(3)})
    with pytest.raises(ParameterError, match="names the table 'shops'"):
        synth.sample(parents={"shops": _given()})
    with pytest.raises(ConditionError, match="both given"):
        synth.sample(parents={"customers": _given()}, where="customers.age > 3")


german_db = database_fixture(MODEL, where="customers.country = 'Germany'", scope="function")


def test_database_fixture_takes_conditions(shop, german_db):
    countries = query(german_db, "SELECT DISTINCT country FROM customers")
    assert countries == [("Germany",)]
    assert relsynth.check_database(german_db).ok


def test_cli_sample_where_and_parents_into_postgres(shop, postgres_url, tmp_path, capsys):
    from relsynth.cli import main

    csv = tmp_path / "customers.csv"
    _given().head(5).to_csv(csv, index=False)
    rc = main(
        [
            "sample", str(MODEL), postgres_url, "--seed", "3",
            "--parents", f"customers={csv}", "--where", "orders.freight > 20",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "5 given rows kept unchanged" in out and "orders: kept" in out
    rows = query(postgres_url, "SELECT id, country, age FROM customers ORDER BY id")
    assert rows == [(1000 + i, "Germany", 62) for i in range(5)]
    assert query(postgres_url, "SELECT count(*) FROM orders WHERE freight <= 20") == [(0,)]
    assert relsynth.check_database(postgres_url).ok
    rc = main(["sample", str(MODEL), f"sqlite:///{tmp_path / 'x.db'}", "--where", "orders.x > 1"])
    assert rc != 0
    assert "orders.x, which does not exist" in capsys.readouterr().err


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    """Berka's shape: dispositions are generated under clients and point at accounts
    through a secondary key (each account has 1 or 2 of them)."""
    rng = np.random.default_rng(1)
    url = f"sqlite:///{tmp_path_factory.mktemp('bank') / 'bank.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE accounts (id INTEGER PRIMARY KEY, kind TEXT)")
        conn.exec_driver_sql("CREATE TABLE clients (id INTEGER PRIMARY KEY, age INTEGER)")
        conn.exec_driver_sql(
            "CREATE TABLE disp (id INTEGER PRIMARY KEY, "
            "client_id INTEGER NOT NULL REFERENCES clients(id), "
            "account_id INTEGER NOT NULL REFERENCES accounts(id), role TEXT)"
        )
    n = 300
    per_account = rng.choice([1, 2], size=n, p=[0.8, 0.2])
    m = int(per_account.sum())
    accounts = pd.DataFrame({"id": np.arange(1, n + 1), "kind": rng.choice(["a", "b"], n)})
    clients = pd.DataFrame({"id": np.arange(1, m + 1), "age": rng.integers(18, 90, m)})
    disp = pd.DataFrame(
        {
            "id": np.arange(1, m + 1),
            "client_id": np.arange(1, m + 1),
            "account_id": np.repeat(accounts["id"].to_numpy(), per_account),
            "role": rng.choice(["OWNER", "USER"], m),
        }
    )
    with engine.begin() as conn:
        accounts.to_sql("accounts", conn, if_exists="append", index=False)
        clients.to_sql("clients", conn, if_exists="append", index=False)
        disp.to_sql("disp", conn, if_exists="append", index=False)
    engine.dispose()
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    (by_client,) = [fk for fk in meta.parents("disp") if fk.parent == "clients"]
    synth = Synthesizer(meta, seed=0, steps=30, n_threads=1, drivers={"disp": by_client})
    return meta, tables, synth.fit(tables)


def test_given_rows_get_the_learned_in_degree_of_a_secondary_key(bank):
    meta, real, synth = bank
    assert synth.plan_.driver["disp"].parent == "clients"  # accounts is a secondary parent
    given = real["accounts"].head(3)
    fake = synth.sample(seed=0, parents={"accounts": given})
    assert relsynth.check(meta, fake).ok
    per_account = fake["disp"].groupby("account_id").size()
    # 1 or 2 dispositions each (as the source), not every disposition of the database
    assert per_account.between(1, 2).all() and len(fake["disp"]) <= 6, per_account
    # the clients are the ones the kept dispositions need
    assert set(fake["clients"]["id"]) == set(fake["disp"]["client_id"])
    assert synth.sample_report_.removed["disp"] > 100


#: The quantile of orders.freight above which the proposal tests condition: a tail the
#: pilot meets often enough (about twenty rows) to find the noise shift for any seed.
TAIL = 0.99


def _proposal_forced(monkeypatch) -> None:
    """Use the noise proposal whenever the pilot finds a shift. By default the sampler
    takes it only when it is predicted to generate under ``REJECT_SHARE`` of rejection's
    rows, which depends on how strongly the fitted generator's noise steers the column
    (with some package versions this test model's 150 steps steer ``freight`` only enough
    to save about a quarter: rejection, rightly); these tests are about the proposal."""
    import relsynth.synthesis._proposal as proposal
    import relsynth.synthesis._tails as tails

    monkeypatch.setattr(tails, "TAILS", False)  # slot first: test_conditional_tails.py
    monkeypatch.setattr(proposal, "REJECT_SHARE", 1.0)


def test_a_child_condition_is_importance_sampled_with_fewer_rows(shop, monkeypatch):
    # A 1 % tail of orders.freight at a scale where rejection would generate every
    # order: the sampler's proposal in the generator's noise needs fewer rows, and its
    # kept rows follow the model's own distribution inside the condition (rejection's).
    # (At a 0.5 % tail the pilot meets about ten rows, and whether their mean noise
    # stands out of its own sampling noise is then a matter of the seed: seed 3 found
    # no shift with one 150-step model, seed 4 did.)
    _proposal_forced(monkeypatch)
    meta, tables, synth = shop
    from relsynth.evaluate.metrics import ks_complement

    threshold = float(np.quantile(tables["orders"]["freight"], TAIL))
    where = f"orders.freight > {threshold:.2f}"
    fake = synth.sample(seed=3, scale=30, where=where)
    report = synth.sample_report_.conditioned["orders"]
    assert (fake["orders"]["freight"] > threshold).all() and relsynth.check(meta, fake).ok
    plain = synth.sample(seed=3, scale=30)
    assert report.shift is not None and report.shift > 0  # the proposal was used
    assert report.generated < len(plain["orders"])  # rejection generates them all
    rejected = plain["orders"][plain["orders"]["freight"] > threshold]
    assert abs(report.kept - len(rejected)) < 0.35 * len(rejected)  # Binomial(slots, p)
    assert ks_complement(rejected["freight"], fake["orders"]["freight"]) > 0.8
    assert "importance-sampled" in str(synth.sample_report_)
    # every model call has a fixed cost: a pilot of two or three calls, then one proposal
    # batch sized from the pilot (the sampler before made 9 calls here)
    assert report.batches is not None and report.batches <= 4, report
    assert f"{report.batches} batches" in str(synth.sample_report_)


def test_the_sampler_takes_rejection_when_the_proposal_would_not_pay(shop):
    # by default the proposal is used only when predicted to generate under
    # REJECT_SHARE of rejection's rows; either way the rows meet the condition
    import relsynth.synthesis._proposal as proposal

    meta, tables, synth = shop
    threshold = float(np.quantile(tables["orders"]["freight"], 0.995))
    fake = synth.sample(seed=3, scale=30, where=f"orders.freight > {threshold:.2f}")
    report = synth.sample_report_.conditioned["orders"]
    assert (fake["orders"]["freight"] > threshold).all() and relsynth.check(meta, fake).ok
    slots = len(synth.sample(seed=3, scale=30)["orders"])
    if report.shift:  # the proposal was used: it was predicted to pay, and did
        assert report.generated < slots
    else:  # rejection: a row for every slot
        assert report.generated == slots
    assert 0 < proposal.REJECT_SHARE <= 1


def test_the_importance_sampler_is_deterministic_by_seed(shop, monkeypatch):
    _proposal_forced(monkeypatch)
    _, tables, synth = shop
    threshold = float(np.quantile(tables["orders"]["freight"], TAIL))
    where = f"orders.freight > {threshold:.2f}"
    a = synth.sample(seed=3, scale=30, where=where)
    assert synth.sample_report_.conditioned["orders"].shift  # the proposal was used
    b = synth.sample(seed=3, scale=30, where=where)
    loaded = Synthesizer.load(MODEL, device="cpu").sample(seed=3, scale=30, where=where)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
        pd.testing.assert_frame_equal(a[name], loaded[name])
    c = synth.sample(seed=5, scale=30, where=where)
    assert not a["orders"].equals(c["orders"]) and (c["orders"]["freight"] > threshold).all()


@pytest.fixture(scope="module")
def sequential_shop(tmp_path_factory):
    # customers and their visits in order: PRIMARY KEY (customer_id, seq) makes the
    # visits a sequential child (SequenceModel, one sequence per customer)
    rng = np.random.default_rng(0)
    url = f"sqlite:///{tmp_path_factory.mktemp('seq') / 'visits.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE customers (id INTEGER PRIMARY KEY, age INTEGER)")
        conn.exec_driver_sql(
            "CREATE TABLE visits (customer_id INTEGER NOT NULL REFERENCES customers(id), "
            "seq INTEGER NOT NULL, spend REAL NOT NULL, PRIMARY KEY (customer_id, seq))"
        )
        n = 150
        k = rng.integers(1, 7, n)
        customers = pd.DataFrame({"id": np.arange(1, n + 1), "age": rng.integers(20, 70, n)})
        visits = pd.DataFrame(
            {
                "customer_id": np.repeat(customers["id"].to_numpy(), k),
                "seq": np.concatenate([np.arange(1, j + 1) for j in k]),
                "spend": rng.gamma(2, 10, int(k.sum())).round(2),
            }
        )
        customers.to_sql("customers", conn, if_exists="append", index=False)
        visits.to_sql("visits", conn, if_exists="append", index=False)
    engine.dispose()
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    return meta, tables, Synthesizer(meta, seed=SEED, steps=60, n_threads=1).fit(tables)


def test_a_condition_on_a_sequential_child_is_met_by_rejection(sequential_shop):
    # Sequence models take no condition: rejection, in a bounded number of tries.
    from relsynth.synthesis._conditional import MAX_TRIES

    meta, tables, synth = sequential_shop
    assert synth.tables_["visits"].sequence is not None
    threshold = float(np.quantile(tables["visits"]["spend"], 0.8))
    fake = synth.sample(seed=2, where=f"visits.spend > {threshold:.2f}")
    report = synth.sample_report_.conditioned["visits"]
    assert len(fake["visits"]) and (fake["visits"]["spend"] > threshold).all()
    assert relsynth.check(meta, fake).ok
    assert fake["customers"]["id"].isin(fake["visits"]["customer_id"]).all()  # trimmed
    assert 1 <= report.tries <= MAX_TRIES and report.shift is None
    assert 0 < report.rate < 1 and report.generated > report.kept
    assert "visits: kept" in str(synth.sample_report_)
    with pytest.raises(ConditionError, match=rf"No sampled row of visits .* in {MAX_TRIES} tries"):
        synth.sample(seed=2, where="visits.spend > 100000")


def test_a_child_condition_the_noise_does_not_steer_keeps_rejections_count(shop):
    # A category of a child: its pilot finds no noise direction (or a weak one); either
    # way the kept rows are as many as rejection over the whole table keeps.
    meta, _, synth = shop
    fake = synth.sample(seed=5, scale=3, where="orders.status = 'open'")
    report = synth.sample_report_.conditioned["orders"]
    assert (fake["orders"]["status"] == "open").all() and relsynth.check(meta, fake).ok
    plain = synth.sample(seed=5, scale=3)["orders"]
    expected = int((plain["status"] == "open").sum())
    assert abs(report.kept - expected) < 0.2 * expected, (report, expected)


def test_a_root_condition_on_a_number_takes_the_cheaper_sampler(shop):
    # The pilot predicts the proposal rows needed; on this small root table they and the
    # pilot would cover most of its slots, so the sampler gives every slot a row from
    # the prior instead (plain rejection, noise shift 0): as many rows as an
    # unconditional sample, and as many kept as it has meeting the condition.
    meta, tables, synth = shop
    threshold = float(np.quantile(tables["customers"]["age"], 0.99))
    where = f"customers.age > {threshold:.0f}"
    fake = synth.sample(seed=4, scale=30, where=where)
    report = synth.sample_report_.conditioned["customers"]
    assert (fake["customers"]["age"] > threshold).all() and relsynth.check(meta, fake).ok
    assert _owned(fake["orders"], "customer_id", fake["customers"])
    plain = synth.sample(seed=4, scale=30)["customers"]
    expected = int((plain["age"] > threshold).sum())
    assert report.shift == 0.0 and report.generated == len(plain)
    assert abs(report.kept - expected) < 0.35 * expected, (report, expected)
