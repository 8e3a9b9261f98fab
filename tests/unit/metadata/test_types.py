"""The portable type vocabulary: reflected SQLAlchemy types -> portable -> dialect types."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from relsynth import MetadataError, SchemaWarning
from relsynth.io.types import DIALECTS, enum_type_name, to_portable, to_sqlalchemy
from relsynth.metadata.types import PORTABLE_TYPES, kind_from_type, parse_type

_ENGINES = {
    "sqlite": "sqlite://",
    "postgresql": "postgresql+psycopg://",
    "mysql": "mysql+pymysql://",
    "mariadb": "mariadb+pymysql://",
}


@pytest.mark.parametrize(
    ("sa_type", "portable"),
    [
        (sa.Integer(), "INTEGER"),
        (sa.BigInteger(), "BIGINT"),
        (sa.SmallInteger(), "SMALLINT"),
        (mysql.TINYINT(display_width=1), "BOOLEAN"),
        (mysql.TINYINT(), "SMALLINT"),
        (mysql.YEAR(), "SMALLINT"),
        (mysql.BIT(1), "BOOLEAN"),
        (sa.Numeric(10, 2), "NUMERIC(10, 2)"),
        (sa.NUMERIC(), "NUMERIC"),
        (mysql.DECIMAL(8, 3), "NUMERIC(8, 3)"),
        (postgresql.MONEY(), "NUMERIC(19, 2)"),
        (postgresql.DOUBLE_PRECISION(), "FLOAT"),
        (mysql.DOUBLE(), "FLOAT"),
        (sa.Float(), "FLOAT"),
        (postgresql.REAL(), "REAL"),
        (mysql.FLOAT(), "REAL"),
        (sa.VARCHAR(40), "VARCHAR(40)"),
        (sa.NVARCHAR(40), "VARCHAR(40)"),
        (sa.String(), "TEXT"),
        (sa.CHAR(5), "CHAR(5)"),
        (sa.Text(), "TEXT"),
        (mysql.LONGTEXT(), "TEXT"),
        (mysql.SET("a", "b"), "TEXT"),
        (sa.Date(), "DATE"),
        (sa.DATETIME(), "DATETIME"),
        (mysql.DATETIME(fsp=6), "DATETIME"),
        (postgresql.TIMESTAMP(), "TIMESTAMP"),
        (postgresql.TIMESTAMP(timezone=True), "TIMESTAMP WITH TIME ZONE"),
        (sa.Time(), "TIME"),
        (postgresql.INTERVAL(), "INTERVAL"),
        (sa.Boolean(), "BOOLEAN"),
        (sqlite.BLOB(), "BLOB"),
        (postgresql.BYTEA(), "BLOB"),
        (mysql.LONGBLOB(), "BLOB"),
        (sa.JSON(), "JSON"),
        (postgresql.JSONB(), "JSON"),
        (postgresql.ARRAY(sa.Integer()), "INTEGER[]"),
        (postgresql.ARRAY(sa.Text()), "TEXT[]"),
        (postgresql.INET(), "INET"),
        (postgresql.CIDR(), "CIDR"),
        (postgresql.MACADDR(), "MACADDR"),
        (mysql.BIGINT(unsigned=True), "BIGINT UNSIGNED"),
        (mysql.INTEGER(unsigned=True), "INTEGER UNSIGNED"),
        (mysql.SMALLINT(unsigned=True), "SMALLINT UNSIGNED"),
        (postgresql.UUID(), "UUID"),
        (postgresql.ENUM("a", "b", name="ab"), "ENUM"),
        (mysql.ENUM("a", "b"), "ENUM"),
    ],
)
def test_to_portable(sa_type: sa.types.TypeEngine, portable: str) -> None:  # type: ignore[type-arg]
    assert to_portable(sa_type) == portable
    parse_type(portable)  # every result is in the vocabulary


@pytest.mark.parametrize("sa_type", [sa.types.NullType(), postgresql.TSVECTOR()])
def test_unknown_types_are_text_with_a_warning(sa_type: sa.types.TypeEngine) -> None:  # type: ignore[type-arg]
    with pytest.warns(SchemaWarning, match=r"orders\.note"):
        assert to_portable(sa_type, where="orders.note") == "TEXT"


def test_parse_type_aliases_and_errors() -> None:
    assert parse_type("decimal(10,2)") == ("NUMERIC", (10, 2))
    assert parse_type("double precision") == ("FLOAT", ())
    assert parse_type("timestamptz") == ("TIMESTAMP WITH TIME ZONE", ())
    with pytest.raises(MetadataError, match="Unknown portable SQL type 'GEOMETRY'"):
        parse_type("GEOMETRY")
    assert parse_type("int[]") == ("ARRAY", ())
    assert parse_type("bigint unsigned") == ("BIGINT UNSIGNED", ())
    with pytest.raises(MetadataError, match="GEOMETRY"):
        parse_type("GEOMETRY[]")


@pytest.mark.parametrize(
    ("portable", "dialect", "ddl"),
    [
        ("INTEGER[]", "postgresql", "INTEGER[]"),
        ("INTEGER[]", "sqlite", "JSON"),
        ("TEXT[]", "mariadb", "JSON"),
        ("INET", "postgresql", "INET"),
        ("INET", "sqlite", "VARCHAR(43)"),
        ("MACADDR", "mariadb", "VARCHAR(23)"),
        ("BIGINT UNSIGNED", "mariadb", "BIGINT UNSIGNED"),
        ("BIGINT UNSIGNED", "postgresql", "NUMERIC(20, 0)"),
        ("INTEGER UNSIGNED", "postgresql", "BIGINT"),
    ],
)
def test_structured_and_unsigned_types_per_dialect(portable: str, dialect: str, ddl: str) -> None:
    assert _ddl(portable, dialect) == ddl


def test_kind_from_type() -> None:
    assert kind_from_type("NUMERIC(10, 2)") == "numerical"
    assert kind_from_type("VARCHAR(4)") == "categorical"
    assert kind_from_type("TIMESTAMP WITH TIME ZONE") == "datetime"
    assert kind_from_type("BLOB") == "binary"
    assert kind_from_type("UUID") == "id"
    assert {kind_from_type(t) for t in PORTABLE_TYPES} <= {
        "numerical", "categorical", "datetime", "boolean", "text", "id", "binary"
    }  # fmt: skip


def _ddl(sql_type: str | None, dialect: str, **kw: object) -> str:
    col_type = to_sqlalchemy(sql_type, dialect=dialect, **{"kind": "categorical", **kw})  # type: ignore[arg-type]
    return str(col_type.compile(dialect=sa.create_engine(_ENGINES[dialect]).dialect))


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("sql_type", PORTABLE_TYPES)
def test_every_type_compiles_on_every_dialect(sql_type: str, dialect: str) -> None:
    if sql_type in ("VARCHAR", "CHAR"):
        sql_type += "(10)"
    assert _ddl(sql_type, dialect, enum_values=("a", "b"), name="t.c")


def test_mysql_specifics() -> None:
    assert _ddl("TEXT", "mariadb", indexed=True) == "VARCHAR(255)"
    assert _ddl("TEXT", "mariadb") == "LONGTEXT"
    assert _ddl("VARCHAR(30)", "mysql", indexed=True) == "VARCHAR(30)"
    assert _ddl("BLOB", "mysql", indexed=True) == "VARBINARY(255)"
    assert _ddl("DATETIME", "mariadb") == "DATETIME(6)"
    assert _ddl("TIMESTAMP", "mysql") == "DATETIME(6)"
    assert _ddl("BOOLEAN", "mariadb") == "BOOL"
    assert _ddl("ENUM", "mysql", enum_values=("a", "b")) == "ENUM('a','b')"


def test_postgresql_and_sqlite_specifics() -> None:
    assert _ddl("ENUM", "postgresql", enum_values=("a",), name="Order Details.status") == (
        "order_details_status_enum"
    )
    assert _ddl("BLOB", "postgresql") == "BYTEA"
    assert _ddl("JSON", "postgresql") == "JSONB"
    assert _ddl("FLOAT", "postgresql") == "DOUBLE PRECISION"
    assert _ddl("DATETIME", "postgresql") == "TIMESTAMP WITHOUT TIME ZONE"
    assert _ddl("ENUM", "sqlite", enum_values=("open", "on hold")) == "VARCHAR(7)"
    assert _ddl("ENUM", "sqlite") == "TEXT"  # no values: plain text
    assert to_sqlalchemy("NUMERIC(10, 2)", kind="numerical", dialect="sqlite").asdecimal is False  # type: ignore[attr-defined]


def test_type_from_kind_and_errors() -> None:
    assert _ddl(None, "postgresql", kind="numerical") == "DOUBLE PRECISION"
    assert _ddl(None, "sqlite", kind="boolean") == "BOOLEAN"
    assert _ddl(None, "mariadb", kind="id") == "BIGINT"
    with pytest.raises(MetadataError, match="Unsupported dialect 'oracle'"):
        to_sqlalchemy("TEXT", kind="text", dialect="oracle")
    assert len(enum_type_name("x" * 100)) == 63
