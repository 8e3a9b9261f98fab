"""Edge-case schemas (``schemas/*.sql``) for tests: a loader and the expected reflected shape.

``load_schema(name, url)`` runs ``schemas/<name>.<dialect>.sql`` when it exists
(``<dialect>`` is ``sqlite``, ``postgresql`` or ``mysql``, the last one for MariaDB
too), else the portable ``schemas/<name>.sql``. On MariaDB/MySQL the session runs
with ``ANSI_QUOTES`` so that the portable files can double-quote identifiers.

``SCHEMA_CASES`` maps each case to a :class:`SchemaCase` describing what
:func:`relsynth.reflect` must find. Other test modules (io, keys) may use both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"

__all__ = [
    "SCHEMAS_DIR",
    "SCHEMA_CASES",
    "FK",
    "SchemaCase",
    "load_schema",
    "schema_sql",
    "split_sql",
]

#: A foreign key as (child, columns, parent, parent_columns, nullable).
FK = tuple[str, tuple[str, ...], str, tuple[str, ...], bool]


def _variant(dialect: str) -> str:
    return "mysql" if dialect in ("mysql", "mariadb") else dialect


def schema_sql(name: str, dialect: str) -> str:
    """The DDL text of case ``name`` for ``dialect`` (variant file first, then portable)."""
    for candidate in (SCHEMAS_DIR / f"{name}.{_variant(dialect)}.sql", SCHEMAS_DIR / f"{name}.sql"):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise FileNotFoundError(f"No schemas/{name}.sql nor schemas/{name}.{_variant(dialect)}.sql")


def split_sql(text: str) -> list[str]:
    """Split SQL text into statements at ``;`` outside quotes and comments."""
    statements: list[str] = []
    buf: list[str] = []
    i, n = 0, len(text)
    quote: str | None = None
    while i < n:
        ch = text[i]
        if quote:
            buf.append(ch)
            if ch == quote:
                if i + 1 < n and text[i + 1] == quote:  # doubled quote inside a literal
                    buf.append(text[i + 1])
                    i += 1
                else:
                    quote = None
        elif ch in ("'", '"', "`"):
            quote = ch
            buf.append(ch)
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end == -1 else end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end == -1 else end + 2
            continue
        elif ch == ";":
            statement = "".join(buf).strip()
            if statement:
                statements.append(statement)
            buf = []
        else:
            buf.append(ch)
        i += 1
    tail = "".join(buf).strip()
    if tail:
        statements.append(tail)
    return statements


def load_schema(name: str, url: str | sa.engine.URL) -> None:
    """Create schema case ``name`` (tables and any rows) in the database at ``url``."""
    engine = sa.create_engine(url)
    dialect = engine.dialect.name
    try:
        with engine.begin() as conn:
            if dialect in ("mysql", "mariadb"):
                conn.exec_driver_sql("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')")
            for statement in split_sql(schema_sql(name, dialect)):
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class SchemaCase:
    """What reflecting a case must give.

    ``tables`` maps each table to its column names in order; ``primary_keys`` to its
    primary key. ``not_null`` lists the NOT NULL columns per table (others are
    nullable). ``types`` gives portable types to check, per dialect family
    (``"*"`` for all, overridden by ``"sqlite"``/``"postgresql"``/``"mysql"``).
    ``deferred`` holds the labels of the keys ``plan()`` defers.
    """

    name: str
    description: str
    tables: Mapping[str, tuple[str, ...]]
    primary_keys: Mapping[str, tuple[str, ...]]
    foreign_keys: frozenset[FK] = frozenset()
    not_null: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unique: Mapping[str, frozenset[frozenset[str]]] = field(default_factory=dict)
    n_checks: Mapping[str, int] = field(default_factory=dict)
    types: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    autoincrement: Mapping[str, frozenset[str]] = field(default_factory=dict)
    deferred: frozenset[str] = frozenset()
    order_constraints: tuple[tuple[str, str], ...] = ()  # (before, after) pairs in plan order

    def types_for(self, dialect: str) -> dict[str, str]:
        """The expected ``table.column -> portable type`` for ``dialect``."""
        out = dict(self.types.get("*", {}))
        out.update(self.types.get(_variant(dialect), {}))
        return out


def _fk(child: str, cols: str, parent: str, pcols: str, nullable: bool = False) -> FK:
    return (child, tuple(cols.split(",")), parent, tuple(pcols.split(",")), nullable)


def _cases() -> Iterator[SchemaCase]:
    yield SchemaCase(
        "star",
        "fact table with three dimension parents",
        tables={
            "calendar": ("day", "is_holiday"),
            "products": ("product_id", "name", "price"),
            "sales": ("sale_id", "product_id", "store_id", "day", "quantity"),
            "stores": ("store_id", "city"),
        },
        primary_keys={"calendar": ("day",), "products": ("product_id",),
                      "sales": ("sale_id",), "stores": ("store_id",)},
        foreign_keys=frozenset({
            _fk("sales", "product_id", "products", "product_id"),
            _fk("sales", "store_id", "stores", "store_id"),
            _fk("sales", "day", "calendar", "day"),
        }),
        not_null={"sales": ("sale_id", "product_id", "store_id", "day", "quantity")},
        types={"*": {"products.price": "NUMERIC(10, 2)", "products.name": "VARCHAR(60)",
                     "calendar.day": "DATE", "calendar.is_holiday": "BOOLEAN"}},
        order_constraints=(("products", "sales"), ("stores", "sales"), ("calendar", "sales")),
    )  # fmt: skip
    yield SchemaCase(
        "chain",
        "chain of depth 4 (regions <- countries <- cities <- addresses)",
        tables={
            "addresses": ("address_id", "city_id", "street"),
            "cities": ("city_id", "country_id", "name"),
            "countries": ("country_id", "region_id", "name"),
            "regions": ("region_id", "name"),
        },
        primary_keys={"addresses": ("address_id",), "cities": ("city_id",),
                      "countries": ("country_id",), "regions": ("region_id",)},
        foreign_keys=frozenset({
            _fk("countries", "region_id", "regions", "region_id"),
            _fk("cities", "country_id", "countries", "country_id"),
            _fk("addresses", "city_id", "cities", "city_id", nullable=True),
        }),
        not_null={"addresses": ("address_id",)},
        order_constraints=(("regions", "countries"), ("countries", "cities"),
                           ("cities", "addresses")),
    )  # fmt: skip
    yield SchemaCase(
        "diamond",
        "payment -> rental -> customer and payment -> customer",
        tables={
            "customer": ("customer_id", "email"),
            "payment": ("payment_id", "customer_id", "rental_id", "amount"),
            "rental": ("rental_id", "customer_id", "rented_at"),
        },
        primary_keys={"customer": ("customer_id",), "payment": ("payment_id",),
                      "rental": ("rental_id",)},
        foreign_keys=frozenset({
            _fk("rental", "customer_id", "customer", "customer_id"),
            _fk("payment", "customer_id", "customer", "customer_id"),
            _fk("payment", "rental_id", "rental", "rental_id", nullable=True),
        }),
        not_null={"payment": ("payment_id", "customer_id", "amount")},
        types={"*": {"rental.rented_at": "TIMESTAMP"}, "sqlite": {"rental.rented_at": "TIMESTAMP"}},
        order_constraints=(("customer", "rental"), ("rental", "payment")),
    )  # fmt: skip
    yield SchemaCase(
        "flights",
        "two FKs to one parent (origin/dest -> airports) and overlapping FKs "
        "(origin -> airports, (origin, time_hour) -> weather)",
        tables={
            "airports": ("faa", "name"),
            "flights": ("flight_id", "origin", "dest", "time_hour", "dep_delay"),
            "weather": ("origin", "time_hour", "temp"),
        },
        primary_keys={"airports": ("faa",), "flights": ("flight_id",),
                      "weather": ("origin", "time_hour")},
        foreign_keys=frozenset({
            _fk("weather", "origin", "airports", "faa"),
            _fk("flights", "origin", "airports", "faa"),
            _fk("flights", "dest", "airports", "faa"),
            _fk("flights", "origin,time_hour", "weather", "origin,time_hour"),
        }),
        not_null={"flights": ("flight_id", "origin", "dest", "time_hour"),
                  "weather": ("origin", "time_hour")},
        # MySQL/MariaDB REAL is a synonym of DOUBLE (8 bytes), hence FLOAT there.
        types={"*": {"airports.faa": "CHAR(3)", "weather.temp": "REAL"},
               "mysql": {"weather.temp": "FLOAT"}},
        order_constraints=(("airports", "weather"), ("weather", "flights")),
    )  # fmt: skip
    yield SchemaCase(
        "self_ref",
        "self-reference with a nullable manager_id",
        tables={"employees": ("employee_id", "manager_id", "name")},
        primary_keys={"employees": ("employee_id",)},
        foreign_keys=frozenset({
            _fk("employees", "manager_id", "employees", "employee_id", nullable=True),
        }),
        not_null={"employees": ("employee_id", "name")},
    )  # fmt: skip
    yield SchemaCase(
        "nullable_cycle",
        "departments <-> people, broken at the nullable departments.head_id",
        tables={"departments": ("department_id", "head_id", "name"),
                "people": ("person_id", "department_id")},
        primary_keys={"departments": ("department_id",), "people": ("person_id",)},
        foreign_keys=frozenset({
            _fk("departments", "head_id", "people", "person_id", nullable=True),
            _fk("people", "department_id", "departments", "department_id"),
        }),
        not_null={"departments": ("department_id", "name"),
                  "people": ("person_id", "department_id")},
        deferred=frozenset({"departments(head_id) -> people(person_id)"}),
        order_constraints=(("departments", "people"),),
    )  # fmt: skip
    yield SchemaCase(
        "not_null_cycle",
        "Sakila store <-> staff, both keys NOT NULL",
        tables={"staff": ("staff_id", "store_id", "first_name"),
                "store": ("store_id", "manager_staff_id", "address")},
        primary_keys={"staff": ("staff_id",), "store": ("store_id",)},
        foreign_keys=frozenset({
            _fk("store", "manager_staff_id", "staff", "staff_id"),
            _fk("staff", "store_id", "store", "store_id"),
        }),
        not_null={"staff": ("staff_id", "store_id", "first_name"),
                  "store": ("store_id", "manager_staff_id", "address")},
        # staff(store_id) is declared first (tables are read in name order), so the
        # later store(manager_staff_id) key is the one deferred.
        deferred=frozenset({"store(manager_staff_id) -> staff(staff_id)"}),
        order_constraints=(("store", "staff"),),
    )  # fmt: skip
    yield SchemaCase(
        "composite",
        "composite primary and foreign keys, junction with a composite FK",
        tables={
            "order_lines": ("region", "order_no", "line_no", "quantity"),
            "order_tags": ("region", "order_no", "tag_id"),
            "orders": ("region", "order_no", "placed_on"),
            "tags": ("tag_id", "label"),
        },
        primary_keys={"order_lines": ("region", "order_no", "line_no"),
                      "order_tags": ("region", "order_no", "tag_id"),
                      "orders": ("region", "order_no"), "tags": ("tag_id",)},
        foreign_keys=frozenset({
            _fk("order_lines", "region,order_no", "orders", "region,order_no"),
            _fk("order_tags", "region,order_no", "orders", "region,order_no"),
            _fk("order_tags", "tag_id", "tags", "tag_id"),
        }),
        not_null={"order_lines": ("region", "order_no", "line_no", "quantity")},
        types={"*": {"orders.region": "CHAR(2)", "orders.placed_on": "DATE"}},
        order_constraints=(("orders", "order_lines"), ("tags", "order_tags")),
    )  # fmt: skip
    yield SchemaCase(
        "junction",
        "many-to-many junction table whose PK is its two FKs",
        tables={"courses": ("course_id", "title"),
                "enrollments": ("student_id", "course_id", "grade"),
                "students": ("student_id", "name")},
        primary_keys={"courses": ("course_id",), "enrollments": ("student_id", "course_id"),
                      "students": ("student_id",)},
        foreign_keys=frozenset({
            _fk("enrollments", "student_id", "students", "student_id"),
            _fk("enrollments", "course_id", "courses", "course_id"),
        }),
        not_null={"enrollments": ("student_id", "course_id")},
    )  # fmt: skip
    yield SchemaCase(
        "natural_keys",
        "string keys with leading zeros",
        tables={"employee_territories": ("employee_id", "territory_id"),
                "territories": ("territory_id", "description")},
        primary_keys={"employee_territories": ("employee_id", "territory_id"),
                      "territories": ("territory_id",)},
        foreign_keys=frozenset({
            _fk("employee_territories", "territory_id", "territories", "territory_id"),
        }),
        types={"*": {"territories.territory_id": "VARCHAR(20)"}},
    )  # fmt: skip
    yield SchemaCase(
        "sequential",
        "sequential child stop_times(trip_id, stop_sequence), times past midnight",
        tables={"stop_times": ("trip_id", "stop_sequence", "arrival_time"),
                "trips": ("trip_id", "headsign")},
        primary_keys={"stop_times": ("trip_id", "stop_sequence"), "trips": ("trip_id",)},
        foreign_keys=frozenset({_fk("stop_times", "trip_id", "trips", "trip_id")}),
    )  # fmt: skip
    yield SchemaCase(
        "empty",
        "empty parent and child tables",
        tables={"empty_child": ("id", "parent_id"), "empty_parent": ("id", "label")},
        primary_keys={"empty_child": ("id",), "empty_parent": ("id",)},
        foreign_keys=frozenset({
            _fk("empty_child", "parent_id", "empty_parent", "id", nullable=True),
        }),
    )  # fmt: skip
    yield SchemaCase(
        "reserved_names",
        "reserved words and spaces as table and column names",
        tables={"Order Details": ("Order ID", "Line No", "table"),
                "group": ("select", "from"),
                "order": ("where", "select", "unit price")},
        primary_keys={"Order Details": ("Order ID", "Line No"), "group": ("select",),
                      "order": ("where",)},
        foreign_keys=frozenset({
            _fk("order", "select", "group", "select"),
            _fk("Order Details", "Order ID", "order", "where"),
        }),
        types={"*": {"order.unit price": "NUMERIC(10, 2)"}},
        order_constraints=(("group", "order"), ("order", "Order Details")),
    )  # fmt: skip
    yield SchemaCase(
        "unicode_names",
        "unicode table and column names",
        tables={"café": ("café_id", "straße_id", "prix_€"), "straße": ("straße_id", "näme")},
        primary_keys={"café": ("café_id",), "straße": ("straße_id",)},
        foreign_keys=frozenset({_fk("café", "straße_id", "straße", "straße_id")}),
        order_constraints=(("straße", "café"),),
    )  # fmt: skip
    yield SchemaCase(
        "checks",
        "CHECK constraints, unique constraints and a unique index",
        tables={"accounts": ("account_id", "email", "balance", "kind", "opened", "closed",
                             "branch", "number")},
        primary_keys={"accounts": ("account_id",)},
        unique={"accounts": frozenset({frozenset({"email"}), frozenset({"branch", "number"}),
                                       frozenset({"kind", "opened"})})},
        n_checks={"accounts": 2},
    )  # fmt: skip
    yield SchemaCase(
        "enum",
        "ENUM columns (PostgreSQL named types, MariaDB ENUM; SQLite: TEXT + CHECK)",
        tables={"tickets": ("ticket_id", "status", "priority")},
        primary_keys={"tickets": ("ticket_id",)},
        not_null={"tickets": ("ticket_id", "status")},
        types={"*": {"tickets.status": "ENUM", "tickets.priority": "ENUM"},
               "sqlite": {"tickets.status": "VARCHAR(7)", "tickets.priority": "VARCHAR(4)"}},
        n_checks={"tickets": 0},  # SQLite: 2, checked in the test's explicit branch
    )  # fmt: skip
    yield SchemaCase(
        "identity",
        "identity / serial / AUTO_INCREMENT / rowid-alias columns",
        tables={name: ("id", "label") for name in
                ("with_identity", "with_default_identity", "with_serial", "without_identity")},
        primary_keys={name: ("id",) for name in
                      ("with_identity", "with_default_identity", "with_serial",
                       "without_identity")},
        autoincrement={"with_identity": frozenset({"id"}),
                       "with_default_identity": frozenset({"id"}),
                       "with_serial": frozenset({"id"}), "without_identity": frozenset()},
    )  # fmt: skip
    yield SchemaCase(
        "types",
        "one column per portable type",
        tables={},  # differs per dialect: checked through ``types``
        primary_keys={"all_types": ("id",)},
        types={
            "*": {"all_types.id": "INTEGER", "all_types.c_bigint": "BIGINT",
                  "all_types.c_smallint": "SMALLINT", "all_types.c_numeric": "NUMERIC(10, 2)",
                  "all_types.c_float": "FLOAT", "all_types.c_real": "REAL",
                  "all_types.c_varchar": "VARCHAR(40)", "all_types.c_char": "CHAR(5)",
                  "all_types.c_text": "TEXT", "all_types.c_date": "DATE",
                  "all_types.c_datetime": "DATETIME", "all_types.c_timestamp": "TIMESTAMP",
                  "all_types.c_time": "TIME", "all_types.c_boolean": "BOOLEAN",
                  "all_types.c_blob": "BLOB", "all_types.c_json": "JSON"},
            "sqlite": {"all_types.c_untyped": "TEXT"},
            "postgresql": {"all_types.c_datetime": "TIMESTAMP", "all_types.c_uuid": "UUID",
                           "all_types.c_timestamptz": "TIMESTAMP WITH TIME ZONE",
                           "all_types.c_interval": "INTERVAL", "all_types.c_inet": "INET",
                           "all_types.c_cidr": "CIDR", "all_types.c_macaddr": "MACADDR",
                           "all_types.c_int_array": "INTEGER[]",
                           "all_types.c_text_array": "TEXT[]",
                           "all_types.c_money": "NUMERIC(19, 2)"},
            "mysql": {"all_types.c_tinyint": "SMALLINT", "all_types.c_year": "SMALLINT",
                      "all_types.c_ubig": "BIGINT UNSIGNED",
                      "all_types.c_uint": "INTEGER UNSIGNED"},
        },
    )  # fmt: skip


SCHEMA_CASES: dict[str, SchemaCase] = {case.name: case for case in _cases()}
