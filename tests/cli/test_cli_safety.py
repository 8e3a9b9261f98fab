"""The real CLI on bad inputs: one line on stderr, the right exit code, no traceback,
no password, nothing created, and errors the arguments decide raised before any fit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from relsynth.cli import main
from tests.conftest import query

FAST = ["--steps", "20", "--threads", "1", "--jobs", "1", "--seed", "0"]
SECRET = "Kx7/Vq9-secret"


def _shop(url: str, schema: str | None = None) -> None:
    engine = sa.create_engine(url)
    prefix = f"{schema}." if schema else ""
    with engine.begin() as conn:
        if schema:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        conn.exec_driver_sql(f"CREATE TABLE {prefix}customers (id INTEGER PRIMARY KEY, n INT)")
        conn.exec_driver_sql(
            f"CREATE TABLE {prefix}orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL "
            f"REFERENCES {prefix}customers (id), amount INT)"
        )
        for i in range(1, 11):
            conn.exec_driver_sql(f"INSERT INTO {prefix}customers VALUES ({i}, {i % 3})")
        for i in range(1, 21):
            conn.exec_driver_sql(f"INSERT INTO {prefix}orders VALUES ({i}, {1 + i % 10}, {i})")
    engine.dispose()


@pytest.fixture
def shop_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    sqlite3.connect(tmp_path / "shop.db").close()
    _shop(url)
    return url


def _one_error(capsys: pytest.CaptureFixture[str], *secrets: str) -> str:
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text
    for secret in secrets:
        for piece in [secret, *secret.replace("@", "/").split("/")]:
            assert len(piece) < 4 or piece not in text, piece
    lines = [ln for ln in captured.err.splitlines() if ln.strip() and not ln.startswith("✓")]
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    return lines[0]


def _with_password(url: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    user_host = rest.split("@", 1)
    return f"{scheme}://{user_host[0]}:{password}@{user_host[1]}"


@pytest.mark.parametrize(
    "argv",
    [
        ["reflect", "{missing}"],
        ["check", "{missing}"],
        ["fit", "{missing}", "-o", "{tmp}/m.relsynth"],
        ["clone", "{missing}", "sqlite:///{tmp}/out.db", *FAST],
        ["evaluate", "{missing}", "{missing}"],
    ],
)
def test_a_missing_sqlite_source_is_one_line_and_creates_nothing(argv, tmp_path, capsys):
    values = {"missing": f"sqlite:///{tmp_path}/missing.db", "tmp": str(tmp_path)}
    assert main([a.format(**values) for a in argv]) == 1
    assert "does not exist" in _one_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_server_url_without_database_is_one_line(postgres_url, capsys):
    url = sa.make_url(postgres_url)._replace(database=None).render_as_string(False)
    assert main(["reflect", url]) == 1
    assert "names no database" in _one_error(capsys)


def test_password_with_a_slash_is_never_printed(postgres_url, capsys):
    """PostgreSQL's trust login accepts any password: the reflect header and the check
    header echo the URL, which must be shown without it."""
    _shop(postgres_url)
    url = _with_password(postgres_url, SECRET)
    assert main(["reflect", url]) == 0
    assert main(["check", url]) == 0
    assert main(["check", f"{postgres_url}?password={SECRET}"]) == 0
    text = "".join(capsys.readouterr())
    assert "Kx7" not in text and "Vq9-secret" not in text
    assert "***" in text


@pytest.mark.parametrize(
    "make",
    [
        lambda url: _with_password(url, "Kx7@Wm4-secret"),  # an unencoded "@"
        lambda url: url.split("://", 1)[1].replace("@", ":Kx7-Wm4-secret@", 1),  # no scheme
        lambda url: _with_password(url.replace(":3306", ":1"), SECRET),  # unreachable
    ],
)
def test_bad_urls_are_one_line_without_password(make, mariadb_url, capsys):
    url = make(mariadb_url)
    assert main(["reflect", url]) == 1
    _one_error(capsys, "Kx7@Wm4-secret", "Kx7-Wm4-secret", SECRET)


def test_usage_errors_are_one_line_and_redacted(postgres_url, capsys):
    url = _with_password(postgres_url, SECRET)
    with pytest.raises(SystemExit) as info:
        main(["clone", postgres_url, postgres_url, "--if-exists", url])
    assert info.value.code == 2
    assert "invalid choice" in _one_error(capsys, SECRET)


def test_an_unexpected_exception_is_one_line_with_a_debug_hint(shop_db, capsys, monkeypatch):
    """The CLI's last line of defence (an exception relsynth does not raise on purpose is
    provoked here by replacing the reflect command's body)."""
    import relsynth.io.reflect as reflect_module

    def broken(url, **kwargs):
        raise RuntimeError(f"boom while reading {url}")

    monkeypatch.setattr(reflect_module, "reflect", broken)
    url = "postgresql+psycopg://u:" + SECRET + "@h/db"
    assert main(["reflect", url]) == 1
    line = _one_error(capsys, SECRET)
    assert "unexpected RuntimeError" in line and "run with --debug" in line
    assert main(["reflect", url, "--debug"]) == 1
    captured = capsys.readouterr()
    assert "Traceback" in captured.err and "Vq9-secret" not in captured.err


def test_existing_target_speaks_the_cli_flag(shop_db, tmp_path, capsys):
    target = tmp_path / "out.db"
    with sqlite3.connect(target) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    assert main(["clone", shop_db, f"sqlite:///{target}", *FAST]) == 1
    line = _one_error(capsys)
    assert "--if-exists replace" in line and "if_exists=" not in line


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["reflect", "{src}", "-o", "{tmp}/no/such/meta.json"], "does not exist"),
        (["reflect", "{src}", "-o", "/sys/meta.json"], "not writable"),
        (["reflect", "{src}", "-o", "{tmp}/exists.json"], "--overwrite"),
        (["fit", "{src}", "-o", "{tmp}", *FAST], "is a folder"),
        (["fit", "{src}", "-o", "{tmp}/m.relsynth", "--device", "cuda", *FAST], "cuda"),
        (["clone", "{src}", "sqlite:///{tmp}/o.db", "--save", "{tmp}/exists.json"], "--overwrite"),
        (["clone", "{src}", "sqlite:///{tmp}/no/o.db", *FAST], "does not exist"),
        (["sample", "{tmp}", "sqlite:///{tmp}/o.db"], "is a folder"),
        (
            ["fit", "{src}", "-o", "{tmp}/m.relsynth", "--schema", "a", "--schema", "b"],
            "Schema(s) 'a', 'b' do not exist",
        ),
    ],
)
def test_errors_the_arguments_decide_come_before_any_work(argv, phrase, shop_db, tmp_path, capsys):
    (tmp_path / "exists.json").write_text("{}")
    values = {"src": shop_db, "tmp": str(tmp_path)}
    assert main([a.format(**values) for a in argv]) == 1
    captured_err = capsys.readouterr()
    text = captured_err.err
    assert "✓ read" not in text and "✓ fit" not in text, text
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("✓")]
    assert len(lines) == 1 and phrase in lines[0], text
    assert not (tmp_path / "o.db").exists() and not (tmp_path / "m.relsynth").exists()


def test_charset_bogus_is_one_line(mariadb_url, capsys):
    assert main(["reflect", f"{mariadb_url}?charset=bogus"]) == 1
    assert "charset" in _one_error(capsys)


def test_clone_with_schema_writes_into_that_schema(postgres_url, capsys):
    """Source tables in schema 'sales' only: a clone without --schema is refused with the
    fix; with --schema the target gets the same schema, checked before exit 0."""
    from tests.conftest import _server_database

    _shop(postgres_url, schema="sales")
    target_gen = _server_database(postgres_url, "postgresql")
    target = next(target_gen)
    try:
        assert main(["clone", postgres_url, target, *FAST]) == 1
        assert "--schema sales" in _one_error(capsys)
        assert main(["clone", postgres_url, target, "--schema", "sales", *FAST]) == 0
        assert "integrity OK" in capsys.readouterr().out
        assert query(target, "SELECT count(*) > 0 FROM sales.orders") == [(True,)]
    finally:
        target_gen.close()


def test_an_empty_source_is_not_cloned_as_empty(db_url, tmp_path, capsys):
    if db_url.startswith("sqlite"):
        sqlite3.connect(sa.make_url(db_url).database).close()  # an empty file
    target = tmp_path / "out.db"
    assert main(["clone", db_url, f"sqlite:///{target}", *FAST]) == 1
    assert "has no tables" in _one_error(capsys)
    assert main(["fit", db_url, "-o", str(tmp_path / "m.relsynth"), *FAST]) == 1
    assert "has no tables" in _one_error(capsys)
    assert not target.exists() and not (tmp_path / "m.relsynth").exists()


def test_values_the_target_cannot_hold_are_found_before_the_fit(tmp_path, mariadb_url, capsys):
    """±Inf cannot go to MariaDB: the source's values decide it, so clone says so at once,
    before any training, and writes nothing."""
    source = tmp_path / "gauges.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE gauges (id INTEGER PRIMARY KEY, x REAL)")
        conn.executemany(
            "INSERT INTO gauges VALUES (?, ?)",
            [(i, float("inf") if i % 10 == 0 else i * 1.5) for i in range(1, 101)],
        )
    rc = main(["clone", f"sqlite:///{source}", mariadb_url, "--steps", "20", "--threads", "1"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "gauges.x" in err and "infinite" in err
    assert "✓ fit" not in err and "started" not in err  # no table began training
    assert query(mariadb_url, "SHOW TABLES") == []
