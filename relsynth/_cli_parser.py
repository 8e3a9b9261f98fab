"""The ``relsynth`` command line's argument parser: one function per command.

``build_parser(handlers)`` builds the parser; ``handlers`` maps each command name
to the function that runs it (set as the parsed namespace's ``handler``), so this
module knows the flags and ``relsynth.cli`` knows what they do.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from relsynth._cli_dp import dp_options
from relsynth._cli_safety import at_least, positive
from relsynth._version import __version__

if TYPE_CHECKING:
    from typing import TypeAlias

    from rich.console import Console

    _Sub: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["Handler", "build_parser", "duration", "schema"]

Handler = Callable[[argparse.Namespace, "Console"], int]


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line too (exit 2), pointing to the command's --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def build_parser(handlers: Mapping[str, Handler]) -> argparse.ArgumentParser:
    """The parser of every command; ``handlers[command]`` becomes ``args.handler``."""
    parser = _Parser(prog="relsynth", description="Synthetic copies of relational databases.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    common = _common_options()
    parser.add_argument("--version", action="version", version=f"relsynth {__version__}")
    sub = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    source_opts, fit_opts, write_opts = _source_options(), _fit_options(), _write_options()
    _reflect(sub, [common]).set_defaults(handler=handlers["reflect"])
    _check(sub, [common]).set_defaults(handler=handlers["check"])
    _fit(sub, [common, source_opts, fit_opts]).set_defaults(handler=handlers["fit"])
    _sample(sub, [common, write_opts, sampling_options()]).set_defaults(handler=handlers["sample"])
    _clone(sub, [common, source_opts, fit_opts, write_opts]).set_defaults(handler=handlers["clone"])
    _evaluate(sub, [common]).set_defaults(handler=handlers["evaluate"])
    return parser


def sampling_options() -> argparse.ArgumentParser:
    """``--where`` and ``--parents`` (issue 17; docs/synthesizer.md), a parent parser."""
    opts = argparse.ArgumentParser(add_help=False)
    group = opts.add_argument_group("conditional and seeded sampling")
    group.add_argument(
        "--where",
        action="append",
        metavar="CONDITION",
        help="rows of one table meet it, the other tables hold their families "
        "(\"Customers.Country = 'Germany'\"; repeatable)",
    )
    group.add_argument(
        "--parents",
        action="append",
        metavar="TABLE=FILE.csv",
        help="keep these rows exactly and generate everything below them (repeatable)",
    )
    return opts


def schema(args: argparse.Namespace) -> str | list[str] | None:
    """The ``--schema`` flags: None, one name, or a list of several (in order)."""
    schemas = list(dict.fromkeys(getattr(args, "schema", None) or ()))
    if len(schemas) > 1:
        return schemas
    return schemas[0] if schemas else None


def duration(text: str) -> float:
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


# -- options shared by several commands ---------------------------------------------


def _common_options() -> argparse.ArgumentParser:
    """The global flags again, after the subcommand; SUPPRESS keeps a subcommand from
    resetting a flag given before it (relsynth -v check URL)."""
    common = _Parser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more log output"
    )
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    return common


def _schema_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--schema",
        action="append",
        metavar="SCHEMA",
        help="a schema to read (PostgreSQL namespace; MariaDB database); give it several "
        "times to read several schemas (foreign keys between them kept); default: the "
        "connection's default schema",
    )


def _source_options() -> argparse.ArgumentParser:
    """Where the source's metadata comes from and how its rows are cleaned (fit, clone)."""
    source_opts = argparse.ArgumentParser(add_help=False)
    source_opts.add_argument("--metadata", type=Path, help="metadata file instead of reflecting")
    _schema_flag(source_opts)
    source_opts.add_argument("--exclude", nargs="+", metavar="TABLE", help="skip these tables")
    source_opts.add_argument(
        "--drop-violations",
        action="store_true",
        help="drop source rows that break their keys (orphans, duplicates) instead of failing",
    )
    return source_opts


def _fit_options() -> argparse.ArgumentParser:
    """How long, where and how the tables are learnt (fit, clone)."""
    fit_opts = dp_options(argparse.ArgumentParser(add_help=False))  # --dp-epsilon...
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
        type=duration,
        metavar="TIME",
        help="wall-clock limit for the whole fit, shared among the tables by expected "
        "training time: seconds, or with a unit (90s, 2m); the result then depends on the "
        "machine's speed",
    )
    fit_opts.add_argument(
        "--max-seconds",
        dest="max_seconds",
        type=duration,
        metavar="TIME",
        help=argparse.SUPPRESS,  # deprecated: --steps or --budget
    )
    fit_opts.add_argument("--epochs", type=int, help=argparse.SUPPRESS)  # deprecated: --steps
    _execution_options(fit_opts)
    fit_opts.add_argument(
        "--min-category-count",
        type=at_least(1),
        default=2,
        metavar="K",
        help="never emit a categorical value held by fewer than K source rows (default 2: "
        "no value of a single row; 1: keep all)",
    )
    return fit_opts


def _execution_options(fit_opts: argparse.ArgumentParser) -> None:
    """Where the table fits run: processes, Ray, device and threads."""
    fit_opts.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="tables fitted at once, in worker processes (default: the usable cores; a "
        "fit too small to pay for starting them runs in this process); the result does "
        "not depend on it",
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
        type=at_least(1),
        help="torch CPU threads per table fit (default 1: the same result on any machine)",
    )


def _write_options() -> argparse.ArgumentParser:
    """How much is written and what happens to tables already there (sample, clone)."""
    write_opts = argparse.ArgumentParser(add_help=False)
    write_opts.add_argument(
        "--scale", type=positive, default=1.0, help="multiplies root table sizes"
    )
    write_opts.add_argument(
        "--chunk-rows",
        type=at_least(1),
        metavar="N",
        help="sample and write in chunks of about N rows, in parallel (--jobs, --executor), "
        "with bounded memory (default: chunks of 100,000 rows above a million rows)",
    )
    write_opts.add_argument(
        "--if-exists",
        default="fail",
        choices=["fail", "replace", "append"],
        help="when the target already has the tables",
    )
    return write_opts


# -- one function per command -------------------------------------------------------


def _reflect(sub: _Sub, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "reflect",
        parents=parents,
        help="show a database's tables, keys and generation plan",
        description="Reflect a database: tables, columns and kinds, keys, the foreign-key "
        "graph, the generation order and deferred keys.",
    )
    p.add_argument("url", help="database URL, e.g. sqlite:///shop.db")
    p.add_argument("-o", "--output", type=Path, help="save the metadata (.json or .yaml)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    _schema_flag(p)
    p.add_argument("--include", nargs="+", metavar="TABLE", help="only these tables")
    p.add_argument("--exclude", nargs="+", metavar="TABLE", help="skip these tables")
    p.add_argument(
        "--sample-rows",
        type=at_least(0),
        default=10_000,
        help="rows per table read to refine column kinds (0: types only)",
    )
    p.add_argument(
        "--rules",
        action="store_true",
        help="read the tables and list the cross-table rules that hold (saved with -o)",
    )
    return p


def _check(sub: _Sub, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "check",
        parents=parents,
        help="check a database's keys and constraints (exit 1 on violations)",
        description="Check primary keys, foreign keys (composite too), NOT NULL and unique "
        "constraints with SQL anti-joins, without loading the tables.",
    )
    p.add_argument("url", help="database URL")
    p.add_argument(
        "--metadata", type=Path, help="metadata file (e.g. with foreign keys the database lacks)"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _schema_flag(p)
    return p


def _fit(sub: _Sub, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = sub.add_parser("fit", parents=parents, help="learn a database and save a model file")
    p.add_argument("url", help="source database URL")
    p.add_argument("-o", "--output", type=Path, required=True, help="model file to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model file")
    return p


def _sample(sub: _Sub, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "sample", parents=parents, help="write a synthetic database from a model file"
    )
    p.add_argument("model", type=Path, help="model file from `relsynth fit` or `clone --save`")
    p.add_argument("url", help="target database URL")
    p.add_argument("--seed", type=int, help="same model + seed = same database")
    p.add_argument("--threads", type=at_least(1), help="torch CPU threads")
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="chunks sampled at once, in worker processes (default: the usable cores); "
        "the result does not depend on it",
    )
    p.add_argument(
        "--executor",
        default="local",
        choices=["local", "ray"],
        help="sample the chunks here, or as Ray tasks (pip install relsynth[ray])",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="Ray cluster for --executor ray (default: $RAY_ADDRESS, else a local Ray)",
    )
    return p


def _clone(sub: _Sub, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "clone",
        parents=parents,
        help="make a synthetic copy of a database in one command",
        description="Reflect SRC_URL, read it, learn it, sample a synthetic database, check "
        "it and write it to DST_URL. Exit 0 only when the written database passes "
        "`relsynth check`.",
    )
    p.add_argument("source", help="source database URL (never written)")
    p.add_argument("target", help="target database URL")
    p.add_argument("--save", type=Path, help="also save the model file here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --save file")
    return p


def _evaluate(sub: _Sub, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "evaluate",
        parents=parents,
        help="score a synthetic database against the real one (fidelity, privacy)",
        description="Compare SYNTH_URL with REAL_URL: per-column shapes, column pairs, "
        "children-per-parent cardinalities, parent-child trends, a classifier two-sample "
        "test per table, and privacy figures. With --holdout, every score is printed beside "
        "its ceiling (the same score between two real databases).",
    )
    p.add_argument("real", help="the real database the model was fitted on")
    p.add_argument("synthetic", help="the synthetic database")
    p.add_argument("--metadata", type=Path, help="metadata file instead of reflecting REAL")
    _schema_flag(p)
    p.add_argument("--holdout", help="real rows the model never saw (a database URL)")
    p.add_argument(
        "--model", type=Path, help="the model file: show each column's privacy treatment"
    )
    p.add_argument("--html", type=Path, help="write a standalone HTML report with plots")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--max-rows", type=at_least(1), default=50_000, help="rows per table scored")
    p.add_argument("--seed", type=int, default=0, help="seed of subsamples and classifiers")
    return p
