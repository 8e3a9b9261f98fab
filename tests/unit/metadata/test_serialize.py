"""The JSON/YAML form of Metadata: round trips, save/load, and every problem reported at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings

from relsynth import Column, ForeignKey, Metadata, MetadataError, Table
from relsynth.metadata.serialize import FORMAT_VERSION, metadata_from_dict
from tests.strategies import metadata_strategy


def _shop() -> Metadata:
    return Metadata(
        tables={
            "customers": Table(
                "customers",
                (
                    Column("id", "id", "INTEGER", nullable=False, autoincrement=True),
                    Column("email", "text", "VARCHAR(80)", pii="email"),
                    Column("tier", "categorical", "ENUM", enum_values=("gold", "silver")),
                ),
                primary_key=("id",),
                unique=(("email",),),
                comment="People who buy",
            ),
            "Order Details": Table(
                "Order Details",
                (
                    Column("order_id", "id", "INTEGER", nullable=False),
                    Column("line", "numerical", "INTEGER", nullable=False),
                    Column("customer_id", "id", "INTEGER"),
                ),
                primary_key=("order_id", "line"),
                sequence_index="line",
            ),
        },
        foreign_keys=(
            ForeignKey("Order Details", ("customer_id",), "customers", ("id",), nullable=True),
        ),
        schema="public",
    )


def test_dict_round_trip() -> None:
    meta = _shop()
    assert Metadata.from_dict(meta.to_dict()) == meta


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_save_load_round_trip(tmp_path: Path, suffix: str) -> None:
    meta = _shop()
    path = tmp_path / f"meta{suffix}"
    meta.save(path)
    assert Metadata.load(path) == meta
    with pytest.raises(MetadataError, match="already exists"):
        meta.save(path)
    meta.save(path, overwrite=True)


def test_invalid_file_lists_every_problem(tmp_path: Path) -> None:
    data = _shop().to_dict()
    data["tables"]["customers"]["columns"][0]["kind"] = "number"  # not a kind
    data["tables"]["customers"]["colour"] = "red"  # unknown property
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(MetadataError) as info:
        Metadata.load(path)
    assert len(info.value.problems) == 2
    assert str(path) in str(info.value)


def test_inconsistent_file_lists_every_problem(tmp_path: Path) -> None:
    data = _shop().to_dict()
    data["foreign_keys"].append(
        {
            "child": "Order Details",
            "columns": ["nope"],
            "parent": "ghosts",
            "parent_columns": ["id"],
        }
    )
    data["tables"]["customers"]["primary_key"] = ["missing"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(MetadataError) as info:
        Metadata.load(path)
    text = "\n".join(info.value.problems)
    assert "ghosts" in text and "nope" in text and "missing" in text


def test_newer_format_version_is_refused() -> None:
    data = _shop().to_dict()
    data["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(MetadataError, match="newer than this relsynth"):
        metadata_from_dict(data)


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(MetadataError, match="not valid JSON"):
        Metadata.load(path)
    with pytest.raises(MetadataError, match="Cannot read"):
        Metadata.load(tmp_path / "absent.json")


def test_unreadable_files_are_one_metadata_error(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(b'{"format_version": 1, "tables": {"caf\xe9": {}}}')
    with pytest.raises(MetadataError, match=r"latin1\.json is not UTF-8"):
        Metadata.load(latin1)
    with pytest.raises(MetadataError, match="Cannot read"):
        Metadata.load(tmp_path)  # a folder
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(MetadataError, match="deep.json"):
        Metadata.load(deep)


def test_expressions_are_checked_on_load(tmp_path: Path) -> None:
    data = _shop().to_dict()
    data["tables"]["customers"]["checks"] = [
        {"sqltext": "true); DROP TABLE victim; SELECT (1", "name": "ck"},
        {"sqltext": "[id] > 0", "name": "ok"},  # SQLite spelling: accepted
    ]
    data["tables"]["customers"]["columns"][2]["default"] = "(SELECT 'gold')"
    data["foreign_keys"][0]["deferrable"] = True
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(MetadataError) as info:
        Metadata.load(path)
    assert len(info.value.problems) == 2
    assert str(path) in str(info.value)
    assert "CHECK 'ck' of table 'customers'" in info.value.problems[0]
    assert "default of column customers.tier" in info.value.problems[1]
    data["tables"]["customers"]["checks"].pop(0)
    data["tables"]["customers"]["columns"][2]["default"] = "'gold'"
    meta = metadata_from_dict(data)
    assert meta.foreign_keys[0].deferrable and not meta.foreign_keys[0].initially_deferred


def test_hand_written_fk_nullable_is_derived() -> None:
    data = _shop().to_dict()
    del data["foreign_keys"][0]["nullable"]
    assert metadata_from_dict(data).foreign_keys[0].nullable is True


@settings(deadline=None, max_examples=60)
@given(meta=metadata_strategy())
def test_round_trip_property(meta: Metadata) -> None:
    assert Metadata.from_dict(meta.to_dict()) == meta
    assert Metadata.from_dict(json.loads(json.dumps(meta.to_dict()))) == meta
