"""CSV folders: read_tables(folder) uses the same metadata-driven dtypes as a database."""

from __future__ import annotations

import pytest

from relsynth import DataError
from relsynth.io.files import write_csv_folder
from relsynth.io.sql import read_tables
from tests.conftest import dataset_path, dataset_url
from tests.integration.test_roundtrip_datasets import assert_same_tables, reflect_quietly


@pytest.mark.datasets
def test_csv_folder_reads_like_the_database(tmp_path) -> None:
    meta = reflect_quietly(dataset_url("northwind")).without_tables("Categories", "Employees")
    tables = read_tables(dataset_url("northwind"), meta)
    write_csv_folder(tmp_path, meta, tables)

    back = read_tables(tmp_path, meta)

    assert_same_tables(meta, tables, back)
    assert "01581" in back["Territories"]["TerritoryID"].tolist()
    assert back["Orders"]["OrderDate"].dtype == "datetime64[ns]"
    assert back["Orders"].attrs["relsynth_source"] == f"folder:{tmp_path.resolve()}"


@pytest.mark.datasets
def test_berka_upstream_csvs(tmp_path) -> None:
    meta = reflect_quietly(dataset_url("berka"))
    from_db = read_tables(dataset_url("berka"), meta)
    from_csv = read_tables(dataset_path("berka").parent / "csv", meta)
    assert {n: len(f) for n, f in from_csv.items()} == {n: len(f) for n, f in from_db.items()}
    assert from_csv["order"]["k_symbol"].isna().sum() == from_db["order"]["k_symbol"].isna().sum()


def test_missing_files_and_columns_are_listed(tmp_path) -> None:
    meta = reflect_quietly(dataset_url("northwind")).subset(["Regions", "Shippers"])
    (tmp_path / "Regions.csv").write_text("RegionID\n1\n")
    with pytest.raises(DataError, match=r"Regions\.RegionDescription.*|.*Shippers"):
        read_tables(tmp_path, meta)
