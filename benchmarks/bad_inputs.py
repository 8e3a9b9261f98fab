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
source, SQL to :data:`SOURCES`). Argument templates use these placeholders:

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
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
FAST = ["--steps", "20", "--threads", "1", "--seed", "0"]
OUTCOMES = ("clear error", "ok", "traceback", "leak", "data loss", "wrong")

_SHOP = (
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL "
    "REFERENCES customers (id), amount NUMERIC(8, 2))",
    *(f"INSERT INTO customers VALUES ({i}, 'customer {i}')" for i in range(1, 13)),
    *(f"INSERT INTO orders VALUES ({i}, {1 + i % 12}, {i * 3}.25)" for i in range(1, 31)),
)
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
    target_check: str = ""  # ok cases: SQL on the target whose first value must be > 0


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
         target_check="SELECT count(*) FROM sales.orders"),
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
    # -- the baseline works -------------------------------------------------------------
    Case("plain clone", ("clone", "{src}", "{dst}", "{fast}"), "baseline", expect="ok",
         target_check="SELECT count(*) FROM orders"),
]  # fmt: skip


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
                    table = sa.Table(name, sa.MetaData(), autoload_with=conn, schema=schema)
                    rows = sorted(repr(tuple(r)) for r in conn.execute(sa.select(table)))
                    digest.update(f"{schema}.{name}:{len(rows)}:{''.join(rows)}".encode())
    finally:
        engine.dispose()
    return digest.hexdigest()


def _first_value(url: str, sql: str) -> object:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(sql).scalar()
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
            src_path, dst_path = tmp / "src.db", tmp / "dst.db"
            src = f"sqlite:///{src_path}"
            sa.create_engine(src).dispose()
            src_path.touch()
            os.link(src_path, tmp / "link.db")
            values = {
                "src": src,
                "dst": f"sqlite:///{dst_path}",
                "src_localhost": f"sqlite:///file:{src_path}?mode=ro&uri=true",
                "src_alias": f"sqlite:///{tmp / 'link.db'}",
                "src_dotted": f"sqlite:///{tmp}/./src.db",
            }
            nodb = "sqlite://"
        else:
            src_url = stack.enter_context(server_database(dialect))
            dst_url = stack.enter_context(server_database(dialect))
            show = lambda u: u.render_as_string(hide_password=False)  # noqa: E731
            values = {
                "src": show(src_url),
                "dst": show(dst_url),
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
            dst_host = values["dst"].split("://", 1)[1].split("@", 1)[-1]
            values["dst_pw_slash"] = f"{base[0]}://{user}:{SECRETS['slash']}@{dst_host}"
            values["src_charset"] = f"{values['src']}?charset=bogus"
            values["dst_charset"] = f"{values['dst']}?charset=bogus"
        values["nodb"] = nodb
        values["missing"] = f"sqlite:///{tmp}/missing.db"
        values["tmp"] = str(tmp)
        yield values


def _argv(case: Case, values: dict[str, str]) -> list[str]:
    out: list[str] = []
    for arg in case.argv:
        out.extend(FAST if arg == "{fast}" else [arg.format(**values)])
    return out


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
            env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT),
                   "COLUMNS": "200", "PYTHONWARNINGS": "default"}  # fmt: skip
            started = time.perf_counter()
            try:
                proc = subprocess.run(
                    [sys.executable, "-m", "relsynth", *_argv(case, values)],
                    cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                return Result(case, dialect, "wrong", f"no answer in {timeout:.0f}s", timeout)
            seconds = time.perf_counter() - started
            after = checksum(values["src"])
            outcome, reason = classify(case, values, proc, lost=before != after)
            return Result(case, dialect, outcome, reason, seconds, proc.stdout + proc.stderr)


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
        if case.target_check:
            value = _first_value(values["dst"], case.target_check)
            if not isinstance(value, int) or value <= 0:
                return "wrong", f"target check {case.target_check!r} gave {value!r}"
        return "ok", ""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("✓")]
    if len(lines) != 1 or not lines[0].startswith("error: "):
        return "wrong", f"not one error line (exit {proc.returncode}): {lines[:3]}"
    if case.expect == "ok":
        return "wrong", f"error where success was due: {lines[0][:160]}"
    if case.must_say and case.must_say.lower() not in lines[0].lower():
        return "wrong", f"error lacks {case.must_say!r}: {lines[0][:160]}"
    if case.before_fit and any(s in proc.stderr for s in ("✓ read", "✓ fit")):
        return "wrong", "the error came after reading/fitting the source"
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
