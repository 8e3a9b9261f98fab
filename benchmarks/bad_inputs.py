"""Bad inputs through the real command line: every case in fresh databases, classified.

Each case of :data:`CASES` runs ``python -m relsynth ARGV`` in a subprocess, once per
dialect it names, against a fresh source (built from :data:`SOURCES`) and a fresh,
empty target, in SQLite files and in new PostgreSQL and MariaDB databases. Its
outcome is one of:

==============  ===================================================================
clear error     exit non-zero, stderr is one ``error: ...`` line (progress ticks
                aside), no traceback, and the case's expectations hold
ok              exit 0, and the case's expectations hold
traceback       a Python traceback was printed
leak            a password (or a piece of one) appeared in stdout or stderr
data loss       the source's content changed (checksum of every row before/after)
wrong           anything else: an error that is not one line, an exit 0 where an
                error was due (or the reverse), a file created by a read, an error
                found only after the fit, an expected phrase missing
==============  ===================================================================

Cases are plain data: add a :class:`Case` to :data:`CASES` (and, for a new kind of
source, SQL to :data:`SOURCES`, per dialect or ``"*"`` for all). A case may name a
``target`` dialect other than its source's (a cross-dialect clone), a ``prepare``
hook of :data:`PREPARES` run before its command (a first command such as ``fit -o``,
then a small Python step such as tampering with the model file; a failure there
counts against the case), the exact ``target_tables`` the target must hold
afterwards, and ``target_check`` queries on the target whose first value must be
> 0 (for an error: the target is untouched; for ``ok``: the output is right, e.g.
valid JSON, non-NULL bytes, a generated column consistent). Argument templates use
these placeholders:

``{src}`` ``{dst}``                  the source and the (empty) target
``{src_localhost}``                  the source via ``localhost`` (SQLite: a ``file:`` URI)
``{src_alias}``                      via an ``/etc/hosts`` alias of 127.0.0.1 (SQLite: a
                                     hard link to the file)
``{src_dotted}``                     SQLite: the path with ``/./``; servers: as ``{src}``
``{src_pw_slash}`` ``{src_pw_at}``   the source with a password holding ``/`` or an
``{src_pw_query}``                   unencoded ``@``, or given as ``?password=``
``{dst_pw_slash}``                   the target with a password holding ``/``
``{noscheme}``                       a server URL without ``dialect://`` (with a password)
``{nodb}``                           the server URL without a database name
``{missing}``                        a SQLite URL of a file that does not exist
``{src_charset}`` ``{dst_charset}``  with ``?charset=bogus`` (MariaDB)
``{tmp}``                            the case's temporary folder
``{fast}``                           (a whole argument) short training options

Run::

    nice -n 10 .venv/bin/python benchmarks/bad_inputs.py            # every case
    .venv/bin/python benchmarks/bad_inputs.py -k identity -d sqlite  # a subset

Servers: ``RELSYNTH_TEST_POSTGRES_URL`` / ``RELSYNTH_TEST_MARIADB_URL`` (the same
defaults as ``tests/conftest.py``); a dialect whose server is unreachable is skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import decimal
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
DIALECTS = ("sqlite", "postgresql", "mariadb")
SERVERS = ("postgresql", "mariadb")
ADMIN = {
    "postgresql": os.environ.get(
        "RELSYNTH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get(
        "RELSYNTH_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
    ),
}
SECRETS = {"slash": "Kx7/Vq9-slash", "at": "Kx7@Wm4-at", "query": "Qz8-query", "plain": "Pz5-plain"}
# A leak is any piece of a password of 4+ characters (an unencoded "@" splits it).
LEAK_FRAGMENTS = sorted(
    {p for s in SECRETS.values() for p in [s, *s.replace("@", "/").split("/")] if len(p) >= 4}
)
INJECTION = "true); DROP TABLE victim; SELECT (1"  # SQL text in a file, never to be run
VICTIM = ("CREATE TABLE victim (id INTEGER PRIMARY KEY)", "INSERT INTO victim VALUES (42)")
FAST = ["--steps", "20", "--threads", "1", "--seed", "0"]
#: Progress lines on stderr (a finished step; a table's fit started or done, when
#: stderr is not a terminal), which are not part of an error.
PROGRESS = re.compile(r"✓ |\w+: .+ (started|done) \(\d+/\d+ done, \d+s\)$")
OUTCOMES = ("clear error", "ok", "traceback", "leak", "data loss", "wrong")

_SHOP = (
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL "
    "REFERENCES customers (id), amount NUMERIC(8, 2))",
    *(f"INSERT INTO customers VALUES ({i}, 'customer {i}')" for i in range(1, 13)),
    *(f"INSERT INTO orders VALUES ({i}, {1 + i % 12}, {i * 3}.25)" for i in range(1, 31)),
)
_HOURS = [f"2013-01-01T{h:02d}:00:00Z" for h in range(10)]
_ZONED = (  # a composite key of zoned ISO text timestamps, the same text in both tables
    "CREATE TABLE slots (station VARCHAR(20) NOT NULL, at VARCHAR(40) NOT NULL, "
    "cap INTEGER, PRIMARY KEY (station, at))",
    "CREATE TABLE readings (id INTEGER PRIMARY KEY, station VARCHAR(20) NOT NULL, "
    "at VARCHAR(40) NOT NULL, value REAL, FOREIGN KEY (station, at) "
    "REFERENCES slots (station, at))",
    *(f"INSERT INTO slots VALUES ('s{s}', '{h}', {s * 10 + i})"
      for s in range(4) for i, h in enumerate(_HOURS)),
    *(f"INSERT INTO readings VALUES ({i}, 's{i % 4}', '{_HOURS[i % 10]}', {i * 0.5})"
      for i in range(1, 101)),
)  # fmt: skip
_PG_TYPES = (  # the PostgreSQL types real databases have, in a parent table
    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, doc JSON NOT NULL, meta JSONB, "
    "tags INTEGER[], blob BYTEA, ip INET, net CIDR, mac MACADDR, balance MONEY, "
    "tenure INTERVAL)",
    "CREATE TABLE events (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL "
    "REFERENCES accounts (id), at TIMESTAMP)",
    *(f"INSERT INTO accounts VALUES ({i}, "
      f"'{{\"kind\": \"k{i % 3}\", \"n\": {i}, \"sizes\": [{i}, {i % 5}]}}', "
      f"'{{\"a\": {{\"b\": {i % 7}}}, \"ok\": {str(i % 2 == 0).lower()}}}', "
      f"ARRAY[{i}, {i % 4}{', 7' * (i % 3)}], "
      + ("NULL" if i % 4 == 0 else f"decode(md5('{i}'), 'hex')")
      + f", '10.0.{i}.1', '10.{i}.0.0/16', '08:00:2b:01:02:{i:02x}', "
      f"'{i * 10}.50', '{i} days {i % 24} hours')"
      for i in range(1, 41)),
    *(f"INSERT INTO events VALUES ({i}, {1 + i % 40}, "
      f"TIMESTAMP '2024-01-01' + interval '{i} hours')" for i in range(1, 121)),
)  # fmt: skip
_UNSIGNED = (  # MariaDB: unsigned integers near 2^64
    "CREATE TABLE counters (id INTEGER PRIMARY KEY, v BIGINT UNSIGNED NOT NULL, "
    "small INT UNSIGNED)",
    *(f"INSERT INTO counters VALUES ({i}, {2**64 - 1 - i * 1000}, {4_000_000_000 + i})"
      for i in range(40)),
)  # fmt: skip
_EPOCH = (  # SQLite: epoch seconds in a DATETIME column
    "CREATE TABLE visits (id INTEGER PRIMARY KEY, at DATETIME NOT NULL, n INTEGER)",
    *(f"INSERT INTO visits VALUES ({i}, {1_600_000_000 + i * 25_200}, {i % 9})"
      for i in range(1, 41)),
)  # fmt: skip
_GAUGES = "CREATE TABLE gauges (id INTEGER PRIMARY KEY, x {}, label VARCHAR(10))"
_INF = {"postgresql": ("'Infinity'", "'-Infinity'"), "sqlite": ("9e999", "-9e999")}


def _gauges(dialect: str) -> tuple[str, ...]:
    """A float column with +Inf and -Inf among ordinary values."""
    pos, neg = _INF[dialect]
    kind = "DOUBLE PRECISION" if dialect == "postgresql" else "REAL"
    values = [pos if i % 10 == 0 else neg if i % 10 == 5 else f"{i * 1.5}" for i in range(1, 41)]
    return (_GAUGES.format(kind),
            *(f"INSERT INTO gauges VALUES ({i}, {v}, 'g{i % 3}')"
              for i, v in enumerate(values, 1)))  # fmt: skip


def _lines(generated: str) -> tuple[str, ...]:
    """A stored generated column (``total = qty * price``) in the dialect's syntax."""
    return (f"CREATE TABLE order_lines (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL, "
            f"price INTEGER NOT NULL, total INTEGER {generated} (qty * price) STORED)",
            *(f"INSERT INTO order_lines (id, qty, price) VALUES ({i}, {1 + i % 6}, {10 + i % 13})"
              for i in range(1, 61)))  # fmt: skip


_DEFERRABLE = (
    "CREATE TABLE teams (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL)",
    "CREATE TABLE players (id INTEGER PRIMARY KEY, team_id INTEGER NOT NULL "
    "REFERENCES teams (id) DEFERRABLE INITIALLY DEFERRED, age INTEGER)",
    *(f"INSERT INTO teams VALUES ({i}, 'team {i}')" for i in range(1, 11)),
    *(f"INSERT INTO players VALUES ({i}, {1 + i % 10}, {18 + i % 15})" for i in range(1, 61)),
)  # fmt: skip
#: Named sources: SQL per dialect ("*" for all); a case names one (or "" for none).
SOURCES: dict[str, dict[str, tuple[str, ...]]] = {
    "shop": {"*": _SHOP},
    "shop_in_schema": {  # PostgreSQL: every table outside the default schema
        "postgresql": (
            "CREATE SCHEMA sales",
            "SET search_path TO sales",
            *_SHOP,
            "SET search_path TO public",
        ),
    },
    "zoned_keys": {"*": _ZONED},
    "pg_types": {"postgresql": _PG_TYPES},
    "unsigned": {"mariadb": _UNSIGNED},
    "epoch": {"sqlite": _EPOCH},
    "infinity": {d: _gauges(d) for d in _INF},
    "generated": {
        "postgresql": _lines("GENERATED ALWAYS AS"),
        "sqlite": _lines("GENERATED ALWAYS AS"),
        "mariadb": _lines("AS"),
    },
    "deferrable": {"postgresql": _DEFERRABLE, "sqlite": _DEFERRABLE},
}

#: SQL: 1 when the table (``{1}``) has rows and every one satisfies ``{0}``.
ALL1 = (
    "SELECT CASE WHEN count(*) > 0 AND count(*) = sum(CASE WHEN {} THEN 1 ELSE 0 END) "
    "THEN 1 ELSE 0 END FROM {}"
)
PG_TYPES_OK = (  # valid values of the source's kinds, never all NULL, never lorem text
    ALL1.format(
        "jsonb_typeof(doc::jsonb) = 'object' AND jsonb_typeof(doc::jsonb -> 'sizes') = 'array'",
                "accounts"),
    "SELECT count(*) FROM accounts WHERE jsonb_typeof(meta -> 'a') = 'object'",
    "SELECT count(*) FROM accounts WHERE array_length(tags, 1) > 0",
    "SELECT count(*) FROM accounts WHERE length(blob) > 0",
    ALL1.format("family(ip) = 4", "accounts WHERE ip IS NOT NULL"),
    "SELECT count(*) FROM accounts WHERE mac IS NOT NULL AND net IS NOT NULL",
    "SELECT count(*) FROM accounts WHERE balance::numeric > 0",  # money is NUMERIC(19, 2)
    "SELECT count(*) FROM accounts WHERE tenure > interval '0'",
    "SELECT count(*) FROM events",
)  # fmt: skip
LINES_CONSISTENT = ALL1.format("total = qty * price", "order_lines")
GENERATED_ON = {  # the target recreated ``total`` as a generated column
    "postgresql": "SELECT count(*) FROM information_schema.columns WHERE "
    "table_name = 'order_lines' AND column_name = 'total' AND is_generated = 'ALWAYS'",
    "mariadb": "SELECT count(*) FROM information_schema.columns WHERE table_schema = DATABASE() "
    "AND table_name = 'order_lines' AND column_name = 'total' AND extra LIKE '%GENERATED%'",
    "sqlite": "SELECT count(*) FROM sqlite_master WHERE name = 'order_lines' AND sql LIKE "
    "'%GENERATED ALWAYS AS%'",
}
DEFERRABLE_ON = {  # the target kept the foreign key DEFERRABLE
    "postgresql": "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND condeferrable",
    "sqlite": "SELECT count(*) FROM sqlite_master WHERE name = 'players' AND sql LIKE "
    "'%DEFERRABLE%'",
}


@dataclass(frozen=True)
class Case:
    """One bad input: the command line, where it runs and what must happen."""

    name: str
    argv: tuple[str, ...]
    klass: str  # what it exercises: identity, redaction, read, schema, cli, ...
    expect: str = "error"  # "error", "ok" or "any" (either, when the dialect decides)
    dialects: tuple[str, ...] = DIALECTS
    source: str = "shop"
    target_sql: tuple[str, ...] = ()  # run on the fresh target first
    must_say: str = ""  # a phrase the error must contain
    before_fit: bool = False  # the error must come before the source is read/fitted
    absent: tuple[str, ...] = ()  # path templates that must not exist afterwards
    target_check: tuple[str, ...] = ()  # SQL on the target; each first value must be > 0
    target: str = ""  # the target's dialect when it is not the source's (cross-dialect)
    prepare: str = ""  # a function of PREPARES run first (e.g. fit a model, tamper it)
    target_tables: tuple[str, ...] | None = None  # the target holds exactly these tables


CASES: list[Case] = [
    # -- the source, under another name, is never written ------------------------------
    Case("same URL", ("clone", "{src}", "{src}", "--if-exists", "replace", "{fast}"),
         "identity", must_say="source", before_fit=True),
    Case("localhost vs IP", ("clone", "{src}", "{src_localhost}", "--if-exists", "replace",
         "{fast}"), "identity", must_say="source", before_fit=True),
    Case("hosts alias / hard link", ("clone", "{src}", "{src_alias}", "--if-exists",
         "replace", "{fast}"), "identity", must_say="source", before_fit=True),
    Case("IP target of a localhost source", ("clone", "{src_localhost}", "{src}",
         "--if-exists", "replace", "{fast}"), "identity", must_say="source", before_fit=True),
    Case("alias target, append", ("clone", "{src}", "{src_alias}", "--if-exists", "append",
         "{fast}"), "identity", must_say="source", before_fit=True),
    Case("dotted path", ("clone", "{src}", "{src_dotted}", "--if-exists", "replace",
         "{fast}"), "identity", dialects=("sqlite",), must_say="source", before_fit=True),
    # -- no password is ever shown ------------------------------------------------------
    Case("password with /", ("reflect", "{src_pw_slash}"), "redaction", expect="any",
         dialects=SERVERS),
    Case("password with @", ("reflect", "{src_pw_at}"), "redaction", dialects=SERVERS),
    Case("?password= argument", ("check", "{src_pw_query}"), "redaction", expect="any",
         dialects=SERVERS),
    Case("URL without a scheme", ("reflect", "{noscheme}"), "redaction", dialects=SERVERS,
         must_say="not a database URL"),
    Case("target password with /", ("clone", "{src}", "{dst_pw_slash}", "{fast}"),
         "redaction", expect="any", dialects=SERVERS),
    Case("unreachable server", ("check", "postgresql+psycopg://u:" + SECRETS["plain"]
         + "@127.0.0.1:1/x"), "redaction", dialects=("sqlite",), source=""),
    Case("URL echoed by a usage error", ("clone", "{src}", "{dst}", "--if-exists",
         "{src_pw_slash}"), "redaction", dialects=SERVERS, must_say="invalid choice"),
    # -- a read creates nothing and guesses nothing -------------------------------------
    Case("reflect a missing SQLite file", ("reflect", "{missing}"), "read", source="",
         dialects=("sqlite",), must_say="does not exist", absent=("{tmp}/missing.db",)),
    Case("clone a missing SQLite file", ("clone", "{missing}", "{dst}", "{fast}"), "read",
         source="", must_say="does not exist", absent=("{tmp}/missing.db",), before_fit=True),
    Case("fit a missing SQLite file", ("fit", "{missing}", "-o", "{tmp}/m.relsynth"), "read",
         source="", dialects=("sqlite",), must_say="does not exist",
         absent=("{tmp}/missing.db", "{tmp}/m.relsynth")),
    Case("check a missing SQLite file", ("check", "{missing}"), "read", source="",
         dialects=("sqlite",), absent=("{tmp}/missing.db",)),
    Case("evaluate against a missing file", ("evaluate", "{src}", "{missing}"), "read",
         absent=("{tmp}/missing.db",)),
    Case("server URL without a database", ("reflect", "{nodb}"), "read", dialects=SERVERS,
         must_say="names no database"),
    Case("clone a server URL without a database", ("clone", "{nodb}", "{dst}", "{fast}"),
         "read", dialects=SERVERS, must_say="names no database", before_fit=True),
    Case("clone an empty database", ("clone", "{src}", "{dst}", "{fast}"), "read",
         source="", must_say="no tables", before_fit=True),
    # -- schemas ------------------------------------------------------------------------
    Case("tables only outside the default schema", ("clone", "{src}", "{dst}", "{fast}"),
         "schema", dialects=("postgresql",), source="shop_in_schema", must_say="--schema",
         before_fit=True),
    Case("reflect names the schemas found", ("reflect", "{src}"), "schema",
         dialects=("postgresql",), source="shop_in_schema", must_say="'sales'"),
    Case("clone --schema keeps the schema", ("clone", "{src}", "{dst}", "--schema", "sales",
         "{fast}"), "schema", expect="ok", dialects=("postgresql",), source="shop_in_schema",
         target_check=("SELECT count(*) FROM sales.orders",)),
    Case("unknown --schema", ("reflect", "{src}", "--schema", "nope"), "schema",
         dialects=SERVERS, must_say="does not exist"),
    Case("--schema twice", ("fit", "{src}", "-o", "{tmp}/m.relsynth", "--schema", "a",
         "--schema", "b"), "schema", dialects=("postgresql",), must_say="--schema"),
    # -- errors the arguments decide, found before the fit ------------------------------
    Case("reflect -o into a missing folder", ("reflect", "{src}", "-o",
         "{tmp}/no/such/meta.json"), "cli", dialects=("sqlite",), must_say="does not exist"),
    Case("reflect -o into a read-only folder", ("reflect", "{src}", "-o", "/sys/meta.json"),
         "cli", dialects=("sqlite",), must_say="not writable"),
    Case("reflect -o is a folder", ("reflect", "{src}", "-o", "{tmp}"), "cli",
         dialects=("sqlite",), must_say="folder"),
    Case("reflect -o onto an existing file", ("reflect", "{src}", "-o", "{tmp}/src.db"),
         "cli", dialects=("sqlite",), must_say="--overwrite"),
    Case("clone --save onto an existing file", ("clone", "{src}", "{dst}", "--save",
         "{tmp}/src.db", "{fast}"), "cli", dialects=("sqlite",), must_say="--overwrite",
         before_fit=True),
    Case("evaluate --html into a missing folder", ("evaluate", "{src}", "{src}", "--html",
         "{tmp}/no/report.html"), "cli", dialects=("sqlite",), must_say="does not exist"),
    Case("negative --scale", ("clone", "{src}", "{dst}", "--scale", "-1", "{fast}"), "cli",
         dialects=("sqlite",), must_say="--scale"),
    Case("--threads 0", ("fit", "{src}", "-o", "{tmp}/m.relsynth", "--threads", "0"), "cli",
         dialects=("sqlite",), must_say="--threads", absent=("{tmp}/m.relsynth",)),
    Case("fit -o is a folder", ("fit", "{src}", "-o", "{tmp}", "{fast}"), "cli",
         dialects=("sqlite",), must_say="folder", before_fit=True),
    Case("clone --save into a missing folder", ("clone", "{src}", "{dst}", "--save",
         "{tmp}/no/m.relsynth", "{fast}"), "cli", dialects=("sqlite",), before_fit=True),
    Case("--device cuda without CUDA", ("clone", "{src}", "{dst}", "--device", "cuda",
         "{fast}"), "cli", dialects=("sqlite",), must_say="cuda", before_fit=True),
    Case("model path is a folder", ("sample", "{tmp}", "{dst}"), "cli", source="",
         must_say="folder"),
    Case("model file missing", ("sample", "{tmp}/none.relsynth", "{dst}"), "cli", source="",
         dialects=("sqlite",), must_say="does not exist"),
    Case("?charset=bogus on the source", ("reflect", "{src_charset}"), "cli",
         dialects=("mariadb",), must_say="charset"),
    Case("?charset=bogus on the target", ("clone", "{src}", "{dst_charset}", "{fast}"), "cli",
         dialects=("mariadb",), must_say="charset", before_fit=True),
    Case("target already has the tables", ("clone", "{src}", "{dst}", "{fast}"), "cli",
         target_sql=("CREATE TABLE customers (id INTEGER PRIMARY KEY)",),
         must_say="--if-exists replace", before_fit=True),
    Case("SQLite target in a missing folder", ("clone", "{src}", "sqlite:///{tmp}/no/x.db",
         "{fast}"), "cli", must_say="does not exist", before_fit=True),
    # -- SQL text from a file never runs --------------------------------------------------
    *(Case(f"model file: {where} injection", ("sample", "{tmp}/bad.relsynth", "{dst}",
           "--if-exists", "append", "--seed", "1"), "sql from file",
           prepare=f"inject {where} into model", target_sql=VICTIM, must_say="metadata.json",
           target_tables=("victim",), target_check=("SELECT count(*) FROM victim WHERE id = 42",))
      for where in ("check", "default")),
    *(Case(f"--metadata file: {where} injection", ("clone", "{src}", "{dst}", "--metadata",
           "{tmp}/meta.json", "--if-exists", "append", "{fast}"), "sql from file",
           prepare=f"inject {where} into metadata file", target_sql=VICTIM,
           must_say="meta.json", before_fit=True, target_tables=("victim",),
           target_check=("SELECT count(*) FROM victim WHERE id = 42",))
      for where in ("check", "default")),
    # -- tampered model files: one line naming the file and the member ------------------
    *(Case(f"model file: {hook}", ("sample", "{tmp}/bad.relsynth", "{dst}"), "model file",
           dialects=("sqlite",), prepare=hook, must_say=say, target_tables=())
      for hook, say in (("garbage .pt member", "models/"),
                        ("non-UTF-8 JSON member", "synthesizer.json"),
                        ("missing member", "keys.json"),
                        ("column renamed in metadata.json", "total"),
                        ("not a zip", "not a relsynth model file"))),
    Case("model file: sample into PostgreSQL", ("sample", "{tmp}/bad.relsynth", "{dst}"),
         "model file", dialects=("sqlite",), target="postgresql", prepare="garbage .pt member",
         must_say="models/", target_tables=()),
    # -- the column types real databases have ------------------------------------------
    Case("zoned ISO text in a composite key", ("clone", "{src}", "{dst}", "{fast}"), "types",
         expect="ok", source="zoned_keys",
         target_check=(ALL1.format("EXISTS (SELECT 1 FROM slots s WHERE s.station = "
                                   "r.station AND s.at = r.at)", "readings r"),
                       ALL1.format("at LIKE '%Z'", "readings"))),
    Case("zoned composite key: check agrees", ("check", "{src}"), "types", expect="ok",
         source="zoned_keys"),
    Case("PostgreSQL json, arrays, bytea, inet, money, interval", ("clone", "{src}", "{dst}",
         "{fast}"), "types", expect="ok", dialects=("postgresql",), source="pg_types",
         target_check=PG_TYPES_OK),
    Case("interval in a parent: fit -o, then sample", ("sample", "{tmp}/m.relsynth", "{dst}",
         "--seed", "1"), "types", expect="ok", dialects=("postgresql",), source="pg_types",
         prepare="fit model", target_check=PG_TYPES_OK),
    Case("PostgreSQL types to SQLite", ("clone", "{src}", "{dst}", "{fast}"), "types",
         expect="ok", dialects=("postgresql",), target="sqlite", source="pg_types",
         target_check=(ALL1.format("json_valid(doc) AND json_type(doc) = 'object'", "accounts"),
                       "SELECT count(*) FROM accounts WHERE json_type(doc, '$.sizes') = 'array'",
                       ALL1.format("json_valid(tags) AND json_type(tags) = 'array'",
                                   "accounts WHERE tags IS NOT NULL"),
                       "SELECT count(*) FROM accounts WHERE length(blob) > 0",
                       ALL1.format("ip LIKE '%.%.%.%'", "accounts WHERE ip IS NOT NULL"),
                       "SELECT count(*) FROM events")),
    Case("BIGINT UNSIGNED near 2^64", ("clone", "{src}", "{dst}", "{fast}"), "types",
         expect="ok", dialects=("mariadb",), source="unsigned", target_check=(
             "SELECT count(*) FROM counters WHERE v > 9223372036854775807",
             "SELECT CASE WHEN max(v) <= 18446744073709551615 AND min(v) >= "
             "18446744073709512615 THEN 1 ELSE 0 END FROM counters",
             "SELECT count(*) FROM information_schema.columns WHERE table_schema = DATABASE() "
             "AND table_name = 'counters' AND column_name = 'v' AND column_type LIKE "
             "'%unsigned%'")),
    Case("BIGINT UNSIGNED to PostgreSQL", ("clone", "{src}", "{dst}", "{fast}"), "types",
         expect="ok", dialects=("mariadb",), target="postgresql", source="unsigned",
         target_check=("SELECT count(*) FROM counters WHERE v > 9223372036854775807",
                       "SELECT CASE WHEN max(v) <= 18446744073709551615 THEN 1 ELSE 0 END "
                       "FROM counters")),
    Case("epoch integers in a DATETIME column", ("clone", "{src}", "{dst}", "{fast}"),
         "types", expect="ok", dialects=("sqlite",), source="epoch", target_check=(
             ALL1.format("(typeof(at) = 'integer' AND at BETWEEN 1599000000 AND 1602000000) "
                         "OR (typeof(at) = 'text' AND at BETWEEN '2020-09' AND '2020-10')",
                         "visits"),)),
    Case("epoch integers to PostgreSQL", ("clone", "{src}", "{dst}", "{fast}"), "types",
         expect="ok", dialects=("sqlite",), target="postgresql", source="epoch",
         target_check=(ALL1.format("at BETWEEN '2020-09-01' AND '2020-10-31'", "visits"),)),
    Case("±Inf in a float column", ("clone", "{src}", "{dst}", "{fast}"), "types",
         expect="ok", dialects=("sqlite", "postgresql"), source="infinity",
         target_check=("SELECT count(*) FROM gauges WHERE x > 1e308 OR x < -1e308",
                       "SELECT count(*) FROM gauges WHERE x BETWEEN -1e308 AND 1e308")),
    *(Case(f"±Inf to MariaDB from {d}", ("clone", "{src}", "{dst}", "{fast}"), "types",
           dialects=(d,), target="mariadb", source="infinity", must_say="gauges")
      for d in ("sqlite", "postgresql")),
    *(Case(f"GENERATED column ({d})", ("clone", "{src}", "{dst}", "{fast}"), "types",
           expect="ok", dialects=(d,), source="generated",
           target_check=(LINES_CONSISTENT, GENERATED_ON[d]))
      for d in DIALECTS),
    Case("GENERATED column, PostgreSQL to SQLite", ("clone", "{src}", "{dst}", "{fast}"),
         "types", expect="ok", dialects=("postgresql",), target="sqlite", source="generated",
         target_check=(LINES_CONSISTENT, GENERATED_ON["sqlite"])),
    Case("GENERATED column, MariaDB to PostgreSQL", ("clone", "{src}", "{dst}", "{fast}"),
         "types", expect="ok", dialects=("mariadb",), target="postgresql", source="generated",
         target_check=(LINES_CONSISTENT, GENERATED_ON["postgresql"])),
    *(Case(f"DEFERRABLE foreign key ({d})", ("clone", "{src}", "{dst}", "{fast}"), "types",
           expect="ok", dialects=(d,), source="deferrable", target_check=(DEFERRABLE_ON[d],))
      for d in ("sqlite", "postgresql")),
    Case("DEFERRABLE foreign key, PostgreSQL to SQLite", ("clone", "{src}", "{dst}", "{fast}"),
         "types", expect="ok", dialects=("postgresql",), target="sqlite", source="deferrable",
         target_check=(DEFERRABLE_ON["sqlite"],)),
    # -- the baseline works -------------------------------------------------------------
    Case("plain clone", ("clone", "{src}", "{dst}", "{fast}"), "baseline", expect="ok",
         target_check=("SELECT count(*) FROM orders",)),
]  # fmt: skip


# -- prepare hooks: a first command (fit, reflect) and a small Python step ---------------

Cli = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]
Step = Optional["subprocess.CompletedProcess[str]"]


def _first(cli: Cli, argv: Sequence[str]) -> Step:
    """Run a first command; its process when it failed (the case is then not run)."""
    proc = cli(argv)
    return None if proc.returncode == 0 else proc


def _reseal(members: dict[str, bytes], meta: dict) -> None:
    """Replace metadata.json and recompute its checksum (it is not a signature)."""
    raw = json.dumps(meta).encode("utf-8")
    manifest = json.loads(members["manifest.json"])
    manifest["metadata_sha256"] = hashlib.sha256(raw).hexdigest()
    members["metadata.json"] = raw
    members["manifest.json"] = json.dumps(manifest).encode("utf-8")


def _inject(meta: dict, where: str) -> None:
    """Put :data:`INJECTION` in a CHECK of ``orders`` or the default of ``orders.amount``."""
    table = meta["tables"]["orders"]
    if where == "check":
        table["checks"] = [{"sqltext": INJECTION, "name": "ck"}]
        return
    for col in table["columns"]:
        if col["name"] == "amount":
            col["default"] = INJECTION


def _tampered(change: Callable[[dict[str, bytes]], None]) -> Callable[[dict[str, str], Cli], Step]:
    """A hook: fit ``{src}`` into ``{tmp}/m.relsynth``; write it changed to ``bad.relsynth``."""

    def prepare(values: dict[str, str], cli: Cli) -> Step:
        failed = _first(cli, ("fit", "{src}", "-o", "{tmp}/m.relsynth", "{fast}"))
        if failed is None:
            with zipfile.ZipFile(Path(values["tmp"], "m.relsynth")) as zf:
                members = {name: zf.read(name) for name in zf.namelist()}
            change(members)
            with zipfile.ZipFile(Path(values["tmp"], "bad.relsynth"), "w") as zf:
                for name, raw in members.items():
                    zf.writestr(name, raw)
        return failed

    return prepare


def _meta_change(edit: Callable[[dict], None]) -> Callable[[dict[str, bytes]], None]:
    def change(members: dict[str, bytes]) -> None:
        meta = json.loads(members["metadata.json"])
        edit(meta)
        _reseal(members, meta)

    return change


def _rename_amount(meta: dict) -> None:
    for col in meta["tables"]["orders"]["columns"]:
        if col["name"] == "amount":
            col["name"] = "total"


def _garbage_pt(members: dict[str, bytes]) -> None:
    members[next(n for n in members if n.endswith(".pt"))] = b"\x00not a tensor file" * 10


def _non_utf8(members: dict[str, bytes]) -> None:
    members["synthesizer.json"] = members["synthesizer.json"][:-1] + b'"\xe9\xff"}'


def _drop_member(members: dict[str, bytes]) -> None:
    del members["keys.json"]


def _metadata_file(where: str) -> Callable[[dict[str, str], Cli], Step]:
    """A hook: reflect ``{src}`` into ``{tmp}/meta.json`` with :data:`INJECTION` in it."""

    def prepare(values: dict[str, str], cli: Cli) -> Step:
        failed = _first(cli, ("reflect", "{src}", "-o", "{tmp}/meta.json"))
        if failed is None:
            path = Path(values["tmp"], "meta.json")
            meta = json.loads(path.read_text(encoding="utf-8"))
            _inject(meta, where)
            path.write_text(json.dumps(meta), encoding="utf-8")
        return failed

    return prepare


def _not_a_zip(values: dict[str, str], cli: Cli) -> Step:
    Path(values["tmp"], "bad.relsynth").write_text("hello, not a model", encoding="utf-8")
    return None


#: Named hooks a case runs before its command: (placeholders, cli) -> the failed process
#: of a first command, or None when all went well.
PREPARES: dict[str, Callable[[dict[str, str], Cli], Step]] = {
    "fit model": lambda values, cli: _first(
        cli, ("fit", "{src}", "-o", "{tmp}/m.relsynth", "{fast}")),
    "inject check into model": _tampered(_meta_change(lambda m: _inject(m, "check"))),
    "inject default into model": _tampered(_meta_change(lambda m: _inject(m, "default"))),
    "inject check into metadata file": _metadata_file("check"),
    "inject default into metadata file": _metadata_file("default"),
    "garbage .pt member": _tampered(_garbage_pt),
    "non-UTF-8 JSON member": _tampered(_non_utf8),
    "missing member": _tampered(_drop_member),
    "column renamed in metadata.json": _tampered(_meta_change(_rename_amount)),
    "not a zip": _not_a_zip,
}  # fmt: skip


@dataclass
class Result:
    case: Case
    dialect: str
    outcome: str
    reason: str = ""
    seconds: float = 0.0
    output: str = field(default="", repr=False)


# -- databases ---------------------------------------------------------------------------


def _alias_host() -> str:
    """A name other than localhost that /etc/hosts maps to 127.0.0.1 (else localhost)."""
    with contextlib.suppress(OSError):
        for line in Path("/etc/hosts").read_text().splitlines():
            parts = line.split("#", 1)[0].split()
            if parts and parts[0] == "127.0.0.1":
                for name in parts[1:]:
                    if name != "localhost" and socket.gethostbyname(name) == "127.0.0.1":
                        return name
    return "localhost"


def server_available(dialect: str) -> bool:
    engine = sa.create_engine(ADMIN[dialect], connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except sa.exc.DBAPIError:
        return False
    finally:
        engine.dispose()


@contextlib.contextmanager
def server_database(dialect: str) -> Iterator[sa.URL]:
    """A new, empty database on the server (dropped afterwards)."""
    name = f"relsynth_bad_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(ADMIN[dialect], isolation_level="AUTOCOMMIT")
    quoted = f'"{name}"' if dialect == "postgresql" else f"`{name}`"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
    try:
        yield sa.make_url(ADMIN[dialect]).set(database=name)
    finally:
        force = " WITH (FORCE)" if dialect == "postgresql" else ""
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}{force}")
        admin.dispose()


def _run_sql(url: str, statements: Sequence[str]) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for sql in statements:
                conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def checksum(url: str) -> str:
    """A digest of every row of every table of every user schema at ``url``."""
    engine = sa.create_engine(url)
    digest = hashlib.sha256()
    try:
        insp = sa.inspect(engine)
        schemas = [None]
        if engine.dialect.name == "postgresql":
            schemas += [s for s in insp.get_schema_names() if s not in ("public",)
                        and s != "information_schema" and not s.startswith("pg_")]  # fmt: skip
        with engine.connect() as conn:
            for schema in schemas:
                for name in sorted(insp.get_table_names(schema=schema)):
                    # untyped columns: the driver's raw values (no result processors,
                    # which fail on e.g. integers in a SQLite DATETIME column)
                    query = sa.select(sa.literal_column("*")).select_from(
                        sa.table(name, schema=schema)
                    )
                    rows = sorted(repr(tuple(r)) for r in conn.execute(query))
                    digest.update(f"{schema}.{name}:{len(rows)}:{''.join(rows)}".encode())
    finally:
        engine.dispose()
    return digest.hexdigest()


def _first_value(url: str, sql: str) -> object:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()  # text(): "%" is not a placeholder
    except sa.exc.DBAPIError as exc:
        return f"query failed: {str(exc.orig).splitlines()[0]}"
    finally:
        engine.dispose()


# -- one case ----------------------------------------------------------------------------


@contextlib.contextmanager
def _places(case: Case, dialect: str, tmp: Path) -> Iterator[dict[str, str]]:
    """The placeholders' values for ``case`` in ``dialect``; databases made and dropped."""
    with contextlib.ExitStack() as stack:
        if dialect == "sqlite":
            src_path = tmp / "src.db"
            src = f"sqlite:///{src_path}"
            sa.create_engine(src).dispose()
            src_path.touch()
            os.link(src_path, tmp / "link.db")
            values = {
                "src": src,
                "src_localhost": f"sqlite:///file:{src_path}?mode=ro&uri=true",
                "src_alias": f"sqlite:///{tmp / 'link.db'}",
                "src_dotted": f"sqlite:///{tmp}/./src.db",
            }
            nodb = "sqlite://"
        else:
            src_url = stack.enter_context(server_database(dialect))
            show = lambda u: u.render_as_string(hide_password=False)  # noqa: E731
            values = {
                "src": show(src_url),
                "src_localhost": show(src_url.set(host="localhost")),
                "src_alias": show(src_url.set(host=_alias_host())),
                "src_dotted": show(src_url),
            }
            nodb = show(src_url._replace(database=None))
            base = values["src"].split("://", 1)
            host_part = base[1].split("@", 1)[-1]
            user = src_url.username or "root"
            values["src_pw_slash"] = f"{base[0]}://{user}:{SECRETS['slash']}@{host_part}"
            values["src_pw_at"] = f"{base[0]}://{user}:{SECRETS['at']}@{host_part}"
            values["src_pw_query"] = f"{values['src']}?password={SECRETS['query']}"
            values["noscheme"] = f"{user}:{SECRETS['plain']}@{host_part}"
            values["src_charset"] = f"{values['src']}?charset=bogus"
        target = case.target or dialect
        if target == "sqlite":
            values["dst"] = f"sqlite:///{tmp / 'dst.db'}"
        else:
            dst_url = stack.enter_context(server_database(target))
            values["dst"] = dst_url.render_as_string(hide_password=False)
            scheme, rest = values["dst"].split("://", 1)
            user = dst_url.username or "root"
            values["dst_pw_slash"] = (
                f"{scheme}://{user}:{SECRETS['slash']}@{rest.split('@', 1)[-1]}"
            )
            values["dst_charset"] = f"{values['dst']}?charset=bogus"
        values["nodb"] = nodb
        values["missing"] = f"sqlite:///{tmp}/missing.db"
        values["tmp"] = str(tmp)
        yield values


def _cli(
    argv: Sequence[str], values: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """``python -m relsynth ARGV`` (templates filled in) in a subprocess of this interpreter."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT),
           "COLUMNS": "200", "PYTHONWARNINGS": "default"}  # fmt: skip
    args: list[str] = []
    for arg in argv:
        args.extend(FAST if arg == "{fast}" else [arg.format(**values)])
    return subprocess.run(
        [sys.executable, "-m", "relsynth", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _prepare(case: Case, values: dict[str, str], timeout: float) -> tuple[str, str] | None:
    """Run the case's prepare hook; the outcome and reason when its first command failed."""
    if not case.prepare:
        return None
    step = PREPARES[case.prepare](values, lambda argv: _cli(argv, values, timeout))
    if step is None:
        return None
    first = dataclasses.replace(case, expect="ok", target_check=(), target_tables=None, absent=())
    outcome, reason = classify(first, values, step, lost=False)
    return outcome, f"prepare {case.prepare!r}: {reason}"


def run_case(case: Case, dialect: str, *, timeout: float = 300) -> Result:
    """Run ``case`` in ``dialect`` in fresh databases and classify the outcome."""
    with tempfile.TemporaryDirectory(prefix="relsynth-bad-") as folder:
        tmp = Path(folder)
        with _places(case, dialect, tmp) as values:
            if case.source:
                sql = SOURCES[case.source]
                _run_sql(values["src"], sql.get(dialect, sql.get("*", ())))
            if case.target_sql:
                _run_sql(values["dst"], case.target_sql)
            before = checksum(values["src"])
            started = time.perf_counter()
            try:
                failed = _prepare(case, values, timeout)
                if failed is not None:
                    outcome, reason = failed
                    return Result(case, dialect, outcome, reason, time.perf_counter() - started)
                proc = _cli(case.argv, values, timeout)
            except subprocess.TimeoutExpired:
                return Result(case, dialect, "wrong", f"no answer in {timeout:.0f}s", timeout)
            seconds = time.perf_counter() - started
            after = checksum(values["src"])
            outcome, reason = classify(case, values, proc, lost=before != after)
            return Result(case, dialect, outcome, reason, seconds, proc.stdout + proc.stderr)


def _target_problem(case: Case, values: dict[str, str]) -> str:
    """What is wrong with the target after the run ("" when its checks hold)."""
    if case.target_tables is not None:
        engine = sa.create_engine(values["dst"])
        try:
            found = set(sa.inspect(engine).get_table_names())
        finally:
            engine.dispose()
        if found != set(case.target_tables):
            return f"the target holds tables {sorted(found)}, not {sorted(case.target_tables)}"
    for sql in case.target_check:
        value = _first_value(values["dst"], sql)
        if isinstance(value, decimal.Decimal) and value == int(value):
            value = int(value)
        if not isinstance(value, int) or value <= 0:
            return f"target check {sql!r} gave {value!r}"
    return ""


def classify(
    case: Case, values: dict[str, str], proc: subprocess.CompletedProcess[str], *, lost: bool
) -> tuple[str, str]:
    """The outcome of one run (see the module docstring) and why."""
    text = proc.stdout + proc.stderr
    leaked = [f for f in LEAK_FRAGMENTS if f in text]
    if leaked:
        return "leak", f"printed {leaked[0]!r}"
    if "Traceback (most recent call last)" in text:
        return "traceback", text.strip().splitlines()[-1][:160]
    if lost:
        return "data loss", "the source's rows changed"
    created = [p.format(**values) for p in case.absent if Path(p.format(**values)).exists()]
    if created:
        return "wrong", f"created {created[0]}"
    if proc.returncode == 0:
        if case.expect == "error":
            return "wrong", "exit 0 where an error was due"
        problem = _target_problem(case, values)
        return ("wrong", problem) if problem else ("ok", "")
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not PROGRESS.match(ln)]
    if len(lines) != 1 or not lines[0].startswith("error: "):
        return "wrong", f"not one error line (exit {proc.returncode}): {lines[:3]}"
    if case.expect == "ok":
        return "wrong", f"error where success was due: {lines[0][:160]}"
    if case.must_say and case.must_say.lower() not in lines[0].lower():
        return "wrong", f"error lacks {case.must_say!r}: {lines[0][:160]}"
    fitted = any(s in proc.stderr for s in ("✓ read", "✓ fit", "\nfit: ", "\nread: "))
    if case.before_fit and (fitted or proc.stderr.startswith(("fit: ", "read: "))):
        return "wrong", "the error came after reading/fitting the source"
    problem = _target_problem(case, values)
    if problem:
        return "wrong", f"after the error, {problem}"
    return "clear error", lines[0][:160]


# -- the tally ---------------------------------------------------------------------------


def run(cases: Sequence[Case], dialects: Sequence[str], *, echo: bool = True) -> list[Result]:
    """Run every case in every dialect it names (skipping servers that are down)."""
    up = {d: d == "sqlite" or server_available(d) for d in dialects}
    results: list[Result] = []
    for case in cases:
        for dialect in case.dialects:
            if dialect not in dialects or not up[dialect]:
                continue
            result = run_case(case, dialect)
            results.append(result)
            if echo:
                print(
                    f"{result.outcome:<12} {dialect:<10} {case.klass:<9} {case.name:<40} "
                    f"{result.seconds:5.1f}s  {result.reason}",
                    flush=True,
                )
    return results


def tally(results: Sequence[Result]) -> Counter[str]:
    counts = Counter(r.outcome for r in results)
    return Counter({k: counts.get(k, 0) for k in OUTCOMES})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", help="only cases whose name or class contains this text")
    parser.add_argument("-d", "--dialect", action="append", choices=DIALECTS)
    args = parser.parse_args(argv)
    cases = [c for c in CASES if not args.k or args.k in c.name or args.k in c.klass]
    results = run(cases, args.dialect or DIALECTS)
    counts = tally(results)
    print(f"\n{len(results)} runs of {len(cases)} cases: " + ", ".join(
        f"{counts[k]} {k}" for k in OUTCOMES))  # fmt: skip
    bad = counts["traceback"] + counts["leak"] + counts["data loss"] + counts["wrong"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
