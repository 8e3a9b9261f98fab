"""Nothing identifying leaves: secrets and account names regenerated in a clone."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from relsynth.cli import main
from relsynth.metadata._secrets import secret_format

FAST = ["--steps", "20", "--threads", "1", "--jobs", "1", "--seed", "0"]


def _staff_db(path: Path, n: int = 60) -> str:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE stores (store_id INTEGER PRIMARY KEY, city TEXT)")
        con.execute(
            "CREATE TABLE staff (staff_id INTEGER PRIMARY KEY, username VARCHAR(16) NOT NULL, "
            "password VARCHAR(40), title TEXT, active INTEGER, "
            "store_id INTEGER REFERENCES stores(store_id))"
        )
        con.executemany(
            "INSERT INTO stores VALUES (?, ?)",
            [(i, ["Lethbridge", "Woodridge"][i % 2]) for i in (1, 2)],
        )
        con.executemany(
            "INSERT INTO staff VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    i,
                    f"{['mike', 'jon', 'ann', 'li'][i % 4]}.{i}",
                    hashlib.sha1(f"secret{i}".encode()).hexdigest(),
                    "Chief Wizard" if i == 7 else ["clerk", "manager"][i % 2],
                    i % 2,
                    1 + i % 2,
                )
                for i in range(1, n + 1)
            ],
        )
    return f"sqlite:///{path}"


def _column(url: str, table: str, column: str) -> list[str]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as con:
        return [r[0] for r in con.execute(f"SELECT {column} FROM {table}")]


def test_reflect_shows_secret_and_username_columns(tmp_path, capsys) -> None:
    url = _staff_db(tmp_path / "staff.db")
    assert main(["reflect", url]) == 0
    out = capsys.readouterr().out
    assert "pii:secret" in out and "pii:username" in out


def test_clone_copies_no_password_hash_and_no_username(tmp_path, capsys) -> None:
    url = _staff_db(tmp_path / "staff.db")
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    assert main(["clone", url, target, *FAST]) == 0
    capsys.readouterr()
    for column in ("password", "username"):
        source = set(_column(url, "staff", column))
        copy = _column(target, "staff", column)
        assert len(copy) == len(source)
        assert not source & set(copy), column
    passwords = _column(target, "staff", "password")
    assert secret_format(passwords) == {"format": "hex", "length": 40, "case": "lower"}
    assert len(set(_column(target, "staff", "username"))) == len(source)  # unique as the source


def test_fit_summary_shows_treatments_and_withheld_values(tmp_path, capsys) -> None:
    url = _staff_db(tmp_path / "staff.db")
    model = tmp_path / "m.relsynth"
    assert main(["fit", url, "-o", str(model), *FAST]) == 0
    out = capsys.readouterr().out
    assert "privacy" in out and "secret regenerated (hex 40)" in out
    assert "account name faked" in out
    assert "rare values withheld" in out and "staff.title 1" in out
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    assert main(["sample", str(model), target, "--seed", "1"]) == 0
    assert "Chief Wizard" not in _column(target, "staff", "title")
    model2 = tmp_path / "m2.relsynth"
    args = ["fit", url, "-o", str(model2), *FAST, "--min-category-count", "1"]
    assert main(args) == 0
    assert "rare values withheld" not in capsys.readouterr().out


def test_evaluate_without_holdout_shows_copies_beside_chance(tmp_path, capsys) -> None:
    url = _staff_db(tmp_path / "staff.db")
    model = tmp_path / "m.relsynth"
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    assert main(["clone", url, target, *FAST, "--save", str(model)]) == 0
    capsys.readouterr()
    assert main(["evaluate", url, target, "--model", str(model), "--max-rows", "500"]) == 0
    out = capsys.readouterr().out
    section = out.split("Privacy (chance reference: real vs real")[1]
    for table in ("staff", "stores"):
        assert f"\n{table} " in section
    assert "Column treatments (from the model file)" in out
    assert "secret regenerated (hex 40)" in out
    assert main(["evaluate", url, target, "--model", str(model), "--json"]) == 0
    assert '"exact_copy_chance"' in capsys.readouterr().out
