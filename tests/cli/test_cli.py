"""The command line, in process: exit codes, one-line errors, no passwords, clones."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import relsynth
from relsynth.cli import main
from tests.conftest import dataset_path, dataset_url

FAST = ["--steps", "20", "--threads", "1", "--jobs", "1", "--seed", "0"]


def _copy_db(src: Path, dst: Path) -> str:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    return f"sqlite:///{dst}"


def test_reflect_prints_plan_and_saves(tmp_path, capsys):
    out_file = tmp_path / "northwind.json"
    rc = main(["reflect", dataset_url("northwind"), "-o", str(out_file)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "Order Details" in out and "generation plan" in out
    assert "Employees(ReportsTo) -> Employees(EmployeeID)" in out  # the self-reference
    meta = relsynth.Metadata.load(out_file)
    assert len(meta.tables) == 13 and len(meta.foreign_keys) == 13
    assert main(["reflect", dataset_url("northwind"), "-o", str(out_file)]) == 1
    assert "already exists" in capsys.readouterr().err


def test_check_clean_and_violations(tmp_path, capsys):
    assert main(["check", dataset_url("berka")]) == 0
    assert "no violations" in capsys.readouterr().out
    url = _copy_db(dataset_path("northwind"), tmp_path / "nw.db")
    with sqlite3.connect(tmp_path / "nw.db") as conn:
        conn.execute("UPDATE Orders SET CustomerID = 'NOBODY' WHERE OrderID = 10248")
    assert main(["check", url]) == 1
    out = capsys.readouterr().out
    assert "Orders(CustomerID) -> Customers(CustomerID) has 1 row(s) with no parent" in out
    assert "NOBODY" in out


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["check"])
    assert info.value.code == 2


def test_unreachable_server_is_one_line_without_password(capsys):
    url = "postgresql+psycopg://alice:hunter2@127.0.0.1:1/nowhere"
    assert main(["check", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "hunter2" not in err
    assert "Traceback" not in err


def test_clone_sqlite_to_sqlite_then_sample_from_model(tmp_path, capsys):
    target = f"sqlite:///{tmp_path / 'synthetic.db'}"
    model = tmp_path / "northwind.relsynth"
    rc = main(["clone", dataset_url("northwind"), target, *FAST, "--save", str(model)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "integrity OK" in captured.out
    assert relsynth.check_database(target).ok
    # the target exists now: --if-exists fail refuses and writes nothing
    before = (tmp_path / "synthetic.db").read_bytes()
    assert main(["sample", str(model), target, "--seed", "1"]) == 1
    err = capsys.readouterr().err
    assert "already has table" in err and "✓ sample" not in err  # refused before sampling
    assert (tmp_path / "synthetic.db").read_bytes() == before
    # a saved model seeds fresh databases deterministically
    one, two = tmp_path / "one.db", tmp_path / "two.db"
    assert main(["sample", str(model), f"sqlite:///{one}", "--seed", "7"]) == 0
    assert main(["sample", str(model), f"sqlite:///{two}", "--seed", "7"]) == 0
    with sqlite3.connect(one) as a, sqlite3.connect(two) as b:
        query = 'SELECT * FROM "Order Details" ORDER BY OrderID, ProductID'
        assert a.execute(query).fetchall() == b.execute(query).fetchall()


def test_clone_refuses_to_write_into_its_source(tmp_path, capsys):
    url = _copy_db(dataset_path("berka"), tmp_path / "berka.db")
    assert main(["clone", url, url, *FAST]) == 1
    assert "source" in capsys.readouterr().err


def test_clone_with_orphans_fails_or_drops(tmp_path, capsys):
    url = _copy_db(dataset_path("berka"), tmp_path / "berka.db")
    with sqlite3.connect(tmp_path / "berka.db") as conn:
        conn.execute(
            "UPDATE loan SET account_id = 999999 WHERE loan_id = (SELECT MIN(loan_id) FROM loan)"
        )
    target = tmp_path / "out.db"
    assert main(["clone", url, f"sqlite:///{target}", *FAST]) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if not line.startswith("✓")]
    assert len(errors) == 1 and errors[0].startswith("error: "), err  # one line, no traceback
    assert "loan(account_id) -> account(account_id)" in err and "--drop-violations" in err
    assert not target.exists()  # checked before the work: no file created
    assert main(["clone", url, f"sqlite:///{target}", *FAST, "--drop-violations"]) == 0
    assert "repaired source rows" in capsys.readouterr().out


def test_unknown_table_in_metadata_is_one_line_and_writes_nothing(tmp_path, capsys):
    source = dataset_url("berka")
    data = relsynth.reflect(source).to_dict()
    data["tables"]["ghost"] = dict(data["tables"]["district"])
    meta_file = tmp_path / "ghost.json"
    meta_file.write_text(json.dumps(data))
    target = tmp_path / "out.db"
    rc = main(["clone", source, f"sqlite:///{target}", "--metadata", str(meta_file), *FAST])
    err = capsys.readouterr().err
    assert rc == 1
    assert "table 'ghost' does not exist" in err and "Traceback" not in err
    assert not target.exists()  # not even an empty file


@pytest.mark.parametrize(("text", "seconds"), [("90", 90.0), ("90s", 90.0), ("2m", 120.0),
                                               ("1.5h", 5400.0)])  # fmt: skip
def test_budget_units(text, seconds):
    from relsynth._cli_parser import duration as _duration

    assert _duration(text) == seconds


@pytest.mark.parametrize("text", ["2x", "-5", "0", "m"])
def test_bad_budget_is_a_usage_error(text, capsys):
    with pytest.raises(SystemExit) as info:
        main(["fit", "sqlite:///x.db", "-o", "x.relsynth", "--budget", text])
    assert info.value.code == 2
    assert "--budget" in capsys.readouterr().err
