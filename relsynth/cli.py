"""The ``relsynth`` command line: a thin layer over the public API.

::

    relsynth reflect URL [-o metadata.json]      show (and save) the schema, keys and plan
    relsynth check URL [--metadata FILE]         integrity report; exit 0 clean, 1 violations
    relsynth fit SRC_URL -o MODEL                learn a database, save a model file
    relsynth sample MODEL DST_URL [--scale X]    write a synthetic database from a model file
    relsynth clone SRC_URL DST_URL [--scale X]   reflect, read, fit, sample, check, write

Results go to stdout; logs and progress to stderr. A ``RelsynthError`` prints one
line (``error: ...``) and exits 1; usage errors exit 2; ``--debug`` shows tracebacks.
URLs are always shown with the password hidden.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relsynth._urls import redact_url
from relsynth._version import __version__
from relsynth.errors import RelsynthError

if TYPE_CHECKING:
    from rich.console import Console

    from relsynth.check import IntegrityReport
    from relsynth.metadata.schema import Metadata
    from relsynth.synthesizer import Synthesizer

__all__ = ["main"]

logger = logging.getLogger("relsynth.cli")

Handler = Callable[[argparse.Namespace, "Console"], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 error or violations, 2 usage)."""
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.debug)
    from rich.console import Console

    out = Console(soft_wrap=True, highlight=False)
    handler: Handler = args.handler
    try:
        return handler(args, out)
    except RelsynthError as exc:
        if args.debug:
            raise
        sys.stderr.write(f"error: {_one_line(exc)}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


def _one_line(exc: RelsynthError) -> str:
    """The error as one line; a source that breaks its keys names the first violation."""
    from relsynth.errors import DataError

    report = getattr(exc, "report", None)
    if isinstance(exc, DataError) and report is not None and report.violations:
        first = report.violations[0].message
        more = len(report.violations) - 1
        extra = f" (and {more} more violation(s))" if more else ""
        return (
            f"the source breaks its own keys: {first}{extra} Fix the source, declare the "
            "right keys with --metadata, or pass --drop-violations to drop those rows."
        )
    return " ".join(str(exc).split())


# -- parser -------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relsynth", description="Synthetic copies of relational databases."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    # The same flags after the subcommand; SUPPRESS keeps a subcommand from resetting
    # a flag given before it (relsynth -v check URL).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more log output"
    )
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    parser.add_argument("--version", action="version", version=f"relsynth {__version__}")
    sub = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "reflect",
        parents=[common],
        help="show a database's tables, keys and generation plan",
        description="Reflect a database: tables, columns and kinds, keys, the foreign-key "
        "graph, the generation order and deferred keys.",
    )
    p.add_argument("url", help="database URL, e.g. sqlite:///shop.db")
    p.add_argument("-o", "--output", type=Path, help="save the metadata (.json or .yaml)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    p.add_argument("--schema", help="database schema (PostgreSQL namespace)")
    p.add_argument("--include", nargs="+", metavar="TABLE", help="only these tables")
    p.add_argument("--exclude", nargs="+", metavar="TABLE", help="skip these tables")
    p.add_argument(
        "--sample-rows",
        type=int,
        default=10_000,
        help="rows per table read to refine column kinds (0: types only)",
    )
    p.set_defaults(handler=_cmd_reflect)

    p = sub.add_parser(
        "check",
        parents=[common],
        help="check a database's keys and constraints (exit 1 on violations)",
        description="Check primary keys, foreign keys (composite too), NOT NULL and unique "
        "constraints with SQL anti-joins, without loading the tables.",
    )
    p.add_argument("url", help="database URL")
    p.add_argument(
        "--metadata", type=Path, help="metadata file (e.g. with foreign keys the database lacks)"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=_cmd_check)

    source_opts = argparse.ArgumentParser(add_help=False)
    source_opts.add_argument("--metadata", type=Path, help="metadata file instead of reflecting")
    source_opts.add_argument("--exclude", nargs="+", metavar="TABLE", help="skip these tables")
    source_opts.add_argument(
        "--drop-violations",
        action="store_true",
        help="drop source rows that break their keys (orphans, duplicates) instead of failing",
    )
    fit_opts = argparse.ArgumentParser(add_help=False)
    fit_opts.add_argument("--seed", type=int, help="seed for a reproducible model and sample")
    fit_opts.add_argument(
        "--steps",
        type=int,
        metavar="N",
        help="training steps per table (default: from each table's rows; reproducible)",
    )
    fit_opts.add_argument(
        "--budget",
        dest="time_budget",
        type=_duration,
        metavar="TIME",
        help="wall-clock limit for the whole fit, shared among the tables by expected "
        "training time: seconds, or with a unit (90s, 2m); the result then depends on the "
        "machine's speed",
    )
    fit_opts.add_argument(
        "--max-seconds",
        dest="max_seconds",
        type=_duration,
        metavar="TIME",
        help=argparse.SUPPRESS,  # deprecated: --steps or --budget
    )
    fit_opts.add_argument("--epochs", type=int, help=argparse.SUPPRESS)  # deprecated: --steps
    fit_opts.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="tables fitted at once, in worker processes (default: the usable cores); "
        "the result does not depend on it",
    )
    fit_opts.add_argument(
        "--executor",
        default="local",
        choices=["local", "ray"],
        help="run the table fits here, or as Ray tasks (pip install relsynth[ray])",
    )
    fit_opts.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="Ray cluster for --executor ray (default: $RAY_ADDRESS, else a local Ray)",
    )
    fit_opts.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    fit_opts.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads per table fit (default 1: the same result on any machine)",
    )
    write_opts = argparse.ArgumentParser(add_help=False)
    write_opts.add_argument("--scale", type=float, default=1.0, help="multiplies root table sizes")
    write_opts.add_argument(
        "--if-exists",
        default="fail",
        choices=["fail", "replace", "append"],
        help="when the target already has the tables",
    )

    p = sub.add_parser(
        "fit",
        parents=[common, source_opts, fit_opts],
        help="learn a database and save a model file",
    )
    p.add_argument("url", help="source database URL")
    p.add_argument("-o", "--output", type=Path, required=True, help="model file to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model file")
    p.set_defaults(handler=_cmd_fit)

    p = sub.add_parser(
        "sample",
        parents=[common, write_opts],
        help="write a synthetic database from a model file",
    )
    p.add_argument("model", type=Path, help="model file from `relsynth fit` or `clone --save`")
    p.add_argument("url", help="target database URL")
    p.add_argument("--seed", type=int, help="same model + seed = same database")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.set_defaults(handler=_cmd_sample)

    p = sub.add_parser(
        "clone",
        parents=[common, source_opts, fit_opts, write_opts],
        help="make a synthetic copy of a database in one command",
        description="Reflect SRC_URL, read it, learn it, sample a synthetic database, check "
        "it and write it to DST_URL. Exit 0 only when the written database passes "
        "`relsynth check`.",
    )
    p.add_argument("source", help="source database URL (never written)")
    p.add_argument("target", help="target database URL")
    p.add_argument("--save", type=Path, help="also save the model file here")
    p.set_defaults(handler=_cmd_clone)

    p = sub.add_parser(
        "evaluate",
        parents=[common],
        help="score a synthetic database against the real one (fidelity, privacy)",
        description="Compare SYNTH_URL with REAL_URL: per-column shapes, column pairs, "
        "children-per-parent cardinalities, parent-child trends, a classifier two-sample "
        "test per table, and privacy figures. With --holdout, every score is printed beside "
        "its ceiling (the same score between two real databases).",
    )
    p.add_argument("real", help="the real database the model was fitted on")
    p.add_argument("synthetic", help="the synthetic database")
    p.add_argument("--metadata", type=Path, help="metadata file instead of reflecting REAL")
    p.add_argument("--holdout", help="real rows the model never saw (a database URL)")
    p.add_argument("--html", type=Path, help="write a standalone HTML report with plots")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--max-rows", type=int, default=50_000, help="rows per table scored")
    p.add_argument("--seed", type=int, default=0, help="seed of subsamples and classifiers")
    p.set_defaults(handler=_cmd_evaluate)
    return parser


def _duration(text: str) -> float:
    """``"90"``, ``"90s"``, ``"2m"``, ``"1.5h"`` -> seconds (argparse type)."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    value = text.strip().lower()
    factor = units.get(value[-1:])
    number = value[:-1] if factor is not None else value
    try:
        seconds = float(number) * (factor or 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r}: use seconds (90), or 90s, 2m, 1h"
        ) from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"the time budget must be positive, got {text!r}")
    return seconds


def _configure_logging(verbose: int, debug: bool) -> None:
    level = logging.DEBUG if debug or verbose > 1 else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("relsynth")
    root.handlers = [h for h in root.handlers if isinstance(h, logging.NullHandler)]
    root.addHandler(handler)
    root.setLevel(level)


# -- commands -----------------------------------------------------------------------


def _cmd_reflect(args: argparse.Namespace, out: Console) -> int:
    from relsynth.metadata.reflect import reflect

    meta = reflect(
        args.url,
        schema=args.schema,
        include=args.include,
        exclude=args.exclude,
        sample_rows=args.sample_rows,
    )
    show_metadata(meta, out, title=redact_url(args.url))
    if args.output is not None:
        meta.save(args.output, overwrite=args.overwrite)
        out.print(f"metadata saved to {args.output}")
    return 0


def _cmd_check(args: argparse.Namespace, out: Console) -> int:
    from relsynth.check import check
    from relsynth.metadata.schema import Metadata

    meta = Metadata.load(args.metadata) if args.metadata is not None else None
    report = check(args.url, meta)
    if args.json:
        import json

        out.print_json(json.dumps(report.to_dict()))
    else:
        status = "[green]OK[/green]" if report.ok else "[red]VIOLATIONS[/red]"
        out.print(f"{status} {redact_url(args.url)}")
        out.print(str(report), markup=False)
    return 0 if report.ok else 1


def _source_metadata(args: argparse.Namespace, url: str) -> Metadata:
    from relsynth.metadata.reflect import reflect
    from relsynth.metadata.schema import Metadata

    if args.metadata is not None:
        meta = Metadata.load(args.metadata)
    else:
        meta = reflect(url)
    if args.exclude:
        meta = meta.without_tables(*args.exclude)
    return meta


def _fit(
    args: argparse.Namespace, url: str, steps: _Steps, meta: Metadata | None = None
) -> Synthesizer:
    from relsynth.io.sql import read_tables
    from relsynth.synthesizer import Synthesizer

    if meta is None:
        with steps.step("reflect"):
            meta = _source_metadata(args, url)
    with steps.step("read"):
        tables = read_tables(url, meta)
    steps.rows["source"] = sum(len(t) for t in tables.values())
    synth = Synthesizer(
        meta,
        seed=args.seed,
        device=args.device,
        steps=args.steps,
        time_budget=args.time_budget,
        max_seconds=args.max_seconds,
        epochs=args.epochs,
        n_threads=args.threads,
        n_jobs=_jobs(args),
        executor=args.executor,
        ray_address=args.ray_address,
    )
    with steps.step("fit", total=len(meta.tables) + 1) as tick, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # said once, in the CLI's words
        synth.fit(
            tables,
            on_violations="drop" if args.drop_violations else "raise",
            progress=tick,
        )
    info = synth.fit_info_
    changes = [f"{t}: {n:,} row(s) dropped" for t, n in info.dropped_rows.items()]
    changes += [f"{t}: {n:,} orphan key(s) set to NULL" for t, n in info.nulled_keys.items()]
    if changes:
        steps.notes.append("repaired source rows that broke their keys: " + "; ".join(changes))
    return synth


def _jobs(args: argparse.Namespace) -> int:
    """``--jobs`` (default: the usable cores); deprecated flags named once on stderr."""
    from relsynth._parallel import usable_cores

    for flag, value, instead in (
        ("--max-seconds", args.max_seconds, "--steps N or --budget TIME"),
        ("--epochs", args.epochs, "--steps N"),
    ):
        if value is not None:
            sys.stderr.write(f"warning: {flag} is deprecated; use {instead}\n")
    if args.jobs is not None and args.jobs < 1:
        raise _usage(f"--jobs must be 1 or more, got {args.jobs}")
    return args.jobs if args.jobs is not None else usable_cores()


def _usage(message: str) -> RelsynthError:
    from relsynth.errors import ParameterError

    return ParameterError(message)


def _sample_write(
    synth: Synthesizer, args: argparse.Namespace, target: str, steps: _Steps, source: str | None
) -> int:
    from relsynth.io.sql import check_database, write_tables

    with steps.step("sample", total=len(synth.plan_.order)) as tick:
        fake = synth.sample(scale=args.scale, seed=args.seed, progress=tick)
    with steps.step("write"):
        write_tables(target, synth.metadata, fake, if_exists=args.if_exists, source=source)
    with steps.step("check"):
        report = check_database(target, synth.metadata)
    steps.show(fake, report, target)
    return 0 if report.ok else 1


def _cmd_fit(args: argparse.Namespace, out: Console) -> int:
    steps = _Steps(out)
    synth = _fit(args, args.url, steps)
    with steps.step("save"):
        synth.save(args.output, overwrite=args.overwrite)
    steps.show_fit(synth)
    out.print(f"model saved to {args.output}")
    return 0


def _cmd_sample(args: argparse.Namespace, out: Console) -> int:
    from relsynth.io.sql import check_target
    from relsynth.synthesizer import Synthesizer

    steps = _Steps(out)
    with steps.step("load"):
        synth = Synthesizer.load(args.model)
    check_target(args.url, synth.metadata, if_exists=args.if_exists)
    if args.threads is not None:
        synth.n_threads = args.threads
    return _sample_write(synth, args, args.url, steps, source=None)


def _cmd_clone(args: argparse.Namespace, out: Console) -> int:
    from relsynth.io.sql import check_target

    steps = _Steps(out)
    with steps.step("reflect"):
        meta = _source_metadata(args, args.source)
    check_target(args.target, meta, if_exists=args.if_exists, source=args.source)
    synth = _fit(args, args.source, steps, meta)
    if args.save is not None:
        with steps.step("save"):
            synth.save(args.save, overwrite=True)
    return _sample_write(synth, args, args.target, steps, source=args.source)


def _cmd_evaluate(args: argparse.Namespace, out: Console) -> int:
    from relsynth.evaluate import evaluate
    from relsynth.io.sql import read_tables
    from relsynth.metadata.reflect import reflect
    from relsynth.metadata.schema import Metadata

    steps = _Steps(out)
    with steps.step("read"):
        meta = Metadata.load(args.metadata) if args.metadata else reflect(args.real)
        real = read_tables(args.real, meta)
        synthetic = read_tables(args.synthetic, meta)
        holdout = read_tables(args.holdout, meta) if args.holdout else None
    with steps.step("evaluate"):
        report = evaluate(
            meta, real, synthetic, holdout=holdout, seed=args.seed, max_rows=args.max_rows
        )
    if args.html is not None:
        with steps.step("html"):
            report.to_html(args.html)
    if args.json:
        out.print_json(report.to_json())
    else:
        out.print(str(report), markup=False, highlight=False)
        if args.html is not None:
            out.print(f"HTML report written to {args.html}")
    return 0


class _Steps:
    """Progress on stderr for each stage, and the final summary on stdout."""

    def __init__(self, out: Console) -> None:
        from rich.console import Console

        self.out = out
        self.err = Console(stderr=True)
        self.seconds: dict[str, float] = {}
        self.rows: dict[str, int] = {}
        self.notes: list[str] = []

    def step(self, name: str, total: int | None = None) -> Any:
        import contextlib
        import time

        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        @contextlib.contextmanager
        def run() -> Any:
            progress = Progress(
                TextColumn(f"[bold]{name:<8}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} {task.description}"),
                TimeElapsedColumn(),
                console=self.err,
                transient=True,
                disable=not self.err.is_terminal,
            )
            started = time.perf_counter()
            running: list[str] = []
            plain = not self.err.is_terminal  # a CI log or a file: one line per event
            with progress:
                task = progress.add_task("", total=total or 1)

                def tick(stage: str, table: str, done: int, n: int) -> None:
                    if stage == "fit-start":
                        running.append(table)
                    elif stage == "fit" and table in running:
                        running.remove(table)
                    if plain and stage in ("fit-start", "fit"):
                        verb = "started" if stage == "fit-start" else "done"
                        clock = time.perf_counter() - started
                        self.err.print(
                            f"{name}: {table} {verb} ({done}/{n} done, {clock:.0f}s)",
                            markup=False,
                            highlight=False,
                        )
                    label = ", ".join(running) if running else f"{stage} {table}"
                    progress.update(task, completed=done, total=n, description=label)

                yield tick
                progress.update(task, completed=total or 1)
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
            logger.info("%s done in %.1fs", name, self.seconds[name])
            self.err.print(f"[green]✓[/green] {name} ({self.seconds[name]:.1f}s)")

        return run()

    def show_fit(self, synth: Synthesizer) -> None:
        from rich.table import Table as RichTable

        table = RichTable(title="fitted")
        for heading in ("table", "rows", "model", "seconds"):
            table.add_column(heading, justify="right" if heading in ("rows", "seconds") else "left")
        info = synth.fit_info_
        for name in synth.plan_.order:
            table.add_row(
                name,
                f"{info.rows.get(name, 0):,}",
                info.models.get(name, "-"),
                f"{info.seconds.get('fit:' + name, 0.0):.1f}",
            )
        self.out.print(table)
        self._show_stages()

    def show(self, fake: Mapping[str, Any], report: IntegrityReport, target: str) -> None:
        from rich.table import Table as RichTable

        table = RichTable(title=f"synthetic database: {redact_url(target)}")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, frame in fake.items():
            table.add_row(name, f"{len(frame):,}")
        self.out.print(table)
        self._show_stages()
        status = "[green]integrity OK[/green]" if report.ok else "[red]VIOLATIONS[/red]"
        self.out.print(f"{status}: {report}", markup=True)

    def _show_stages(self) -> None:
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items())
        self.out.print(f"stages: {stages}; total {sum(self.seconds.values()):.1f}s")
        for note in self.notes:
            self.out.print(f"note: {note}")


# -- rendering ----------------------------------------------------------------------


def show_metadata(meta: Metadata, out: Console, *, title: str) -> None:
    """Print tables, keys, the FK graph and the plan of ``meta``."""
    from rich.table import Table as RichTable
    from rich.tree import Tree

    from relsynth.metadata.graph import plan

    the_plan = plan(meta)
    summary = RichTable(title=f"{title}: {len(meta.tables)} tables, {len(meta.foreign_keys)} FKs")
    for heading in ("table", "columns", "primary key", "unique", "parents (driver first)"):
        summary.add_column(heading)
    for name in the_plan.order:
        table = meta.table(name)
        driver = the_plan.driver.get(name)
        parents = ([f"*{driver.label}"] if driver else []) + [
            fk.label for fk in meta.parents(name) if fk is not driver
        ]
        summary.add_row(
            name,
            str(len(table.columns)),
            ", ".join(table.primary_key) or "-",
            "; ".join(", ".join(u) for u in table.unique) or "-",
            "\n".join(parents) or "(root)",
        )
    out.print(summary)

    kinds = RichTable(title="columns")
    for heading in ("table", "column", "kind", "sql type", "null", "notes"):
        kinds.add_column(heading)
    for name in the_plan.order:
        table = meta.table(name)
        for col in table.columns:
            notes = []
            if col.name in table.primary_key:
                notes.append("pk")
            if col.autoincrement:
                notes.append("auto")
            if col.pii:
                notes.append(f"pii:{col.pii}")
            if col.enum_values:
                notes.append("enum(" + ", ".join(col.enum_values[:5]) + ")")
            kinds.add_row(
                name,
                col.name,
                col.kind,
                col.sql_type or "-",
                "yes" if col.nullable else "no",
                " ".join(notes),
            )
    out.print(kinds)

    tree = Tree("generation plan (parents before children)")
    for name in the_plan.order:
        driver = the_plan.driver.get(name)
        label = f"{name}" + (
            f"  [dim]per {driver.parent} row[/dim]" if driver else "  [dim]root[/dim]"
        )
        tree.add(label)
    out.print(tree)
    if the_plan.self_references:
        out.print("self-references: " + "; ".join(fk.label for fk in the_plan.self_references))
    if the_plan.deferred:
        out.print(
            "deferred (cycle breakers): "
            + "; ".join(
                fk.label + ("" if fk.nullable else " [NOT NULL]") for fk in the_plan.deferred
            )
        )
