"""relsynth exceptions and warnings.

Every error relsynth raises on purpose derives from :class:`RelsynthError`, so
``except relsynth.RelsynthError`` catches them all. Errors that mean "your input
is wrong" also derive from the matching builtin (``ValueError``,
``AttributeError``...), so generic handlers keep working.

::

    RelsynthError
    ├── MetadataError (ValueError)         invalid or contradictory metadata; .problems
    │   ├── ReflectionError                the database could not be reflected
    │   └── UnsupportedSchemaError         valid SQL that relsynth cannot model
    ├── DataError (ValueError)             tables do not match the metadata; .report
    ├── ParameterError (ValueError)        bad argument value or type
    │   └── ConditionError                 a sampling condition (where=) is bad or never met
    ├── NotFittedError (AttributeError)    sample/save before fit
    ├── ReferentialIntegrityError          raised by IntegrityReport.raise_for_violations(); .report
    ├── DatabaseError                      a read or write failed (connection, SQL, target)
    │   └── TargetExistsError              the target already has the tables; .tables, .options
    ├── ArtifactError                      save/load of a model file failed
    └── TrainingError (RuntimeError)       non-finite loss, device failure

    RelsynthWarning (UserWarning)
    ├── ConvergenceWarning                 losses diverged or plateaued
    ├── DataConversionWarning              a column was coerced
    └── SchemaWarning                      something was ignored during reflection

Messages follow one template: what failed, where (``table.column``), up to five
examples, and how to fix it. Errors raised because a dependency failed chain the
original with ``raise ... from exc``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relsynth.check import IntegrityReport

__all__ = [
    "ArtifactError",
    "ConditionError",
    "ConvergenceWarning",
    "DataConversionWarning",
    "DataError",
    "DatabaseError",
    "MetadataError",
    "NotFittedError",
    "ParameterError",
    "ReferentialIntegrityError",
    "ReflectionError",
    "RelsynthError",
    "RelsynthWarning",
    "SchemaWarning",
    "TargetExistsError",
    "TrainingError",
    "UnsupportedSchemaError",
]


class RelsynthError(Exception):
    """Root of every error relsynth raises on purpose."""


class MetadataError(RelsynthError, ValueError):
    """The metadata is invalid or contradictory.

    Validation collects every problem before raising, so one error lists all of
    them (``problems``), numbered in the message.
    """

    def __init__(self, message: str, problems: Iterable[str] = ()) -> None:
        self.summary = message
        self.problems: tuple[str, ...] = tuple(problems)
        if self.problems:
            listing = "\n".join(f"  {i}. {p}" for i, p in enumerate(self.problems, 1))
            message = f"{message}\n{listing}"
        super().__init__(message)


class ReflectionError(MetadataError):
    """The database could not be reflected (connection, permissions, missing table)."""


class UnsupportedSchemaError(MetadataError):
    """The schema is valid SQL that relsynth cannot model."""


class DataError(RelsynthError, ValueError):
    """The tables do not match the metadata (missing columns, orphans, wrong types)."""

    def __init__(self, message: str, report: IntegrityReport | None = None) -> None:
        self.report = report
        super().__init__(message)


class ParameterError(RelsynthError, ValueError):
    """An argument has a bad value or type."""


class ConditionError(ParameterError):
    """A sampling condition (``sample(where=...)``) names an unknown table or column,
    compares values of the wrong type, does not parse, or no sampled row can meet it."""


class NotFittedError(RelsynthError, AttributeError):
    """``sample`` or ``save`` was called before ``fit``."""


class ReferentialIntegrityError(RelsynthError):
    """Tables violate their keys; raised by ``IntegrityReport.raise_for_violations``."""

    def __init__(self, message: str, report: IntegrityReport) -> None:
        self.report = report
        super().__init__(message)


class DatabaseError(RelsynthError):
    """Reading from or writing to a database failed; nothing was half written."""


class TargetExistsError(DatabaseError):
    """The target already has the tables to write (``if_exists="fail"``), or lacks the
    columns to append to them.

    Structured, so that each front end words the fix with its own names (the
    library says ``if_exists='replace'``, the CLI ``--if-exists replace``).

    Attributes
    ----------
    target : str
        The target, password hidden.
    tables : tuple of str
        The tables that already exist.
    options : tuple of str
        The ``if_exists`` values that would proceed (``"replace"``, ``"append"``).
    missing_columns : tuple of str
        ``table.column`` names an append lacks (empty for ``fail``).
    """

    def __init__(
        self,
        message: str,
        *,
        target: str,
        tables: tuple[str, ...],
        options: tuple[str, ...],
        missing_columns: tuple[str, ...] = (),
    ) -> None:
        self.target = target
        self.tables = tables
        self.options = options
        self.missing_columns = missing_columns
        super().__init__(message)


class ArtifactError(RelsynthError):
    """A model file could not be saved or loaded."""


class TrainingError(RelsynthError, RuntimeError):
    """Training failed (non-finite loss, device failure)."""


class RelsynthWarning(UserWarning):
    """Root of relsynth's warnings."""


class ConvergenceWarning(RelsynthWarning):
    """Adversarial losses diverged or plateaued."""


class DataConversionWarning(RelsynthWarning):
    """A column was coerced to another type."""


class SchemaWarning(RelsynthWarning):
    """Something in the schema was ignored (a view, an unsupported type)."""


def format_examples(values: Iterable[Any], limit: int = 5) -> str:
    """Format up to ``limit`` example values for an error message."""
    shown = []
    for i, value in enumerate(values):
        if i == limit:
            shown.append("...")
            break
        shown.append(repr(value) if isinstance(value, str) else str(value))
    return ", ".join(shown)
