"""relsynth: synthetic copies of relational databases.

Same schema, new rows, the statistics and relationships of the original, and no
real person's record::

    import relsynth

    meta = relsynth.reflect("sqlite:///shop.db")
    tables = relsynth.read_tables("sqlite:///shop.db", meta)
    report = relsynth.check(meta, tables)          # DataFrames
    report = relsynth.check_database("sqlite:///shop.db")   # a live database, as SQL

The public API is flat: everything a user needs is importable from ``relsynth``.
Heavy dependencies (SQLAlchemy, torch) are imported on first use of the names that
need them, so ``import relsynth`` is fast and the pure layers stay pure.
"""

import functools as _functools
import importlib as _importlib
import logging as _logging
import os as _os
import warnings as _warnings
from collections.abc import Mapping as _Mapping
from typing import Any as _Any

import pandas as _pd

from relsynth import check as _check_module
from relsynth._version import __version__
from relsynth.check import IntegrityReport, Violation
from relsynth.errors import (
    ArtifactError,
    ConditionError,
    ConvergenceWarning,
    DatabaseError,
    DataConversionWarning,
    DataError,
    MetadataError,
    NotFittedError,
    ParameterError,
    ReferentialIntegrityError,
    ReflectionError,
    RelsynthError,
    RelsynthWarning,
    SchemaWarning,
    TargetExistsError,
    TrainingError,
    UnsupportedSchemaError,
)

# ``relsynth.evaluate`` is both a subpackage and its main function: importing the
# function here, after the subpackage, leaves the name bound to the function.
from relsynth.evaluate import EvaluationReport, evaluate, split_holdout
from relsynth.metadata.graph import Plan, plan
from relsynth.metadata.schema import CheckConstraint, Column, ForeignKey, Metadata, Table

# A library never configures logging for its users (the CLI does): this handler
# only keeps "No handlers could be found" messages away.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

# Names whose modules import SQLAlchemy or torch, loaded on first attribute access.
_LAZY = {
    "DifferentialPrivacy": "relsynth.synthesis.dp",
    "FitInfo": "relsynth.synthesis.synthesizer",
    "Synthesizer": "relsynth.synthesis.synthesizer",
    "WriteReport": "relsynth.io.sql",
    "check_database": "relsynth.io.sql",
    "infer": "relsynth.metadata.infer",
    "read_tables": "relsynth.io.sql",
    "reflect": "relsynth.io.reflect",
    "write_table_chunks": "relsynth.io.sql",
    "write_tables": "relsynth.io.sql",
}

__all__ = [
    "ArtifactError",
    "CheckConstraint",
    "Column",
    "ConditionError",
    "ConvergenceWarning",
    "DataConversionWarning",
    "DataError",
    "DatabaseError",
    "DifferentialPrivacy",
    "EvaluationReport",
    "FitInfo",
    "ForeignKey",
    "IntegrityReport",
    "Metadata",
    "MetadataError",
    "NotFittedError",
    "ParameterError",
    "Plan",
    "ReferentialIntegrityError",
    "ReflectionError",
    "RelsynthError",
    "RelsynthWarning",
    "SchemaWarning",
    "Synthesizer",
    "Table",
    "TargetExistsError",
    "TrainingError",
    "UnsupportedSchemaError",
    "Violation",
    "WriteReport",
    "__version__",
    "check",
    "check_database",
    "evaluate",
    "infer",
    "plan",
    "read_tables",
    "reflect",
    "split_holdout",
    "write_table_chunks",
    "write_tables",
]


@_functools.wraps(_check_module.check)
def check(
    source: Metadata | str | _os.PathLike[str],
    tables: _Mapping[str, _pd.DataFrame] | Metadata | None = None,
) -> IntegrityReport:
    # ``check(url)`` is deprecated (one release): a live database is checked with
    # ``check_database``, the verb of the database layer, dispatched to here.
    if isinstance(source, Metadata):
        return _check_module.check(source, tables)
    _warnings.warn(
        "relsynth.check(url) is deprecated and will be removed in the next release; "
        "use relsynth.check_database(url, metadata) instead.",
        DeprecationWarning,
        stacklevel=2,
    )
    if tables is not None and not isinstance(tables, Metadata):
        raise ParameterError(
            "check(url, metadata): the second argument must be a Metadata or None, "
            f"got {type(tables).__name__}."
        )
    from relsynth.io.sql import check_database

    return check_database(source, tables)


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
