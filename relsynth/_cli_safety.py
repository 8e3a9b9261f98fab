"""What the command line checks and hides before and around a command (used by ``cli.py``).

* :func:`redacted_output`: while a command runs, ``sys.stdout`` and ``sys.stderr``
  pass every write through :func:`relsynth.io.urls.redact`, with the password
  candidates of the URLs on the command line as literal secrets. Whatever prints
  (rich tables, log records, argparse usage errors, an unexpected exception's
  message), no password given on the command line reaches the terminal.
* :func:`check_output_file`, :func:`check_model_file`, :func:`check_device`: the
  errors that the arguments alone decide, raised before any database is read or
  any model trained.
* :func:`one_line`: an error as one line, worded with the CLI's flag names.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from relsynth.errors import DataError, ParameterError, RelsynthError, TargetExistsError
from relsynth.io.urls import folder_writable, redact, url_secrets

__all__ = [
    "argv_secrets",
    "at_least",
    "check_device",
    "check_model_file",
    "check_output_file",
    "one_line",
    "positive",
    "redacted_output",
    "unexpected",
]


def argv_secrets(argv: Sequence[str]) -> list[str]:
    """The password candidates of every argument that looks like a database URL."""
    found: list[str] = []
    for arg in argv:
        if "@" in arg or "password=" in arg.lower() or "passwd=" in arg.lower():
            found.extend(url_secrets(arg.strip()))
    return found


class _RedactingStream:
    """A text stream that redacts what it is given before passing it on."""

    def __init__(self, stream: TextIO, secrets: Sequence[str]) -> None:
        self._stream = stream
        self._secrets = tuple(secrets)

    def write(self, text: str) -> int:
        self._stream.write(redact(text, self._secrets))
        return len(text)

    def writelines(self, lines: Sequence[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, flush...
        return getattr(self._stream, name)


@contextlib.contextmanager
def redacted_output(secrets: Sequence[str]) -> Iterator[None]:
    """Redact everything written to stdout and stderr inside the block."""
    out, err = sys.stdout, sys.stderr
    sys.stdout = _RedactingStream(out, secrets)  # type: ignore[assignment]
    sys.stderr = _RedactingStream(err, secrets)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


def check_output_file(
    path: Path | None, flag: str, *, overwrite: bool, example: str = "model.relsynth"
) -> None:
    """Refuse an output file that cannot be written, before the work that produces it."""
    if path is None:
        return
    if path.is_dir():
        raise ParameterError(
            f"{flag} {path} is a folder; give a file name inside it (e.g. {flag} {path / example})."
        )
    if path.exists() and not overwrite:
        raise ParameterError(
            f"{flag} {path} already exists; pass --overwrite to replace it, or choose "
            "another file name."
        )
    folder = path.expanduser().absolute().parent
    if not folder.is_dir():
        raise ParameterError(
            f"The folder {folder} of {flag} {path} does not exist; create it first "
            f"(mkdir -p {folder}) or choose another path."
        )
    if not folder_writable(folder):
        raise ParameterError(
            f"The folder {folder} of {flag} {path} is not writable; choose a folder you may "
            "write to."
        )


def check_model_file(path: Path) -> None:
    """Refuse a model path that is missing or a folder before connecting anywhere."""
    if path.is_dir():
        raise ParameterError(
            f"The model {path} is a folder, not a model file; give the file written by "
            "`relsynth fit -o FILE` or `relsynth clone --save FILE`."
        )
    if not path.is_file():
        raise ParameterError(
            f"The model file {path} does not exist; give the file written by "
            "`relsynth fit -o FILE` or `relsynth clone --save FILE`."
        )


def check_device(device: str) -> None:
    """Refuse ``--device cuda`` when torch has no CUDA, before reading or fitting."""
    if device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        raise ParameterError(
            "--device cuda was given, but this torch has no usable CUDA device "
            f"(torch {torch.__version__}); use --device cpu or --device auto, or install "
            "a CUDA build of torch."
        )


def one_line(exc: RelsynthError) -> str:
    """The error as one line, worded with the CLI's flags."""
    report = getattr(exc, "report", None)
    if isinstance(exc, DataError) and report is not None and report.violations:
        first = report.violations[0].message
        more = len(report.violations) - 1
        extra = f" (and {more} more violation(s))" if more else ""
        return (
            f"the source breaks its own keys: {first}{extra} Fix the source, declare the "
            "right keys with --metadata, or pass --drop-violations to drop those rows."
        )
    if isinstance(exc, TargetExistsError):
        tables = ", ".join(repr(t) for t in exc.tables)
        if exc.missing_columns:
            return (
                f"cannot append: the existing tables of {exc.target} lack column(s) "
                f"{', '.join(exc.missing_columns)}; nothing was written. Use --if-exists "
                "replace, or add the columns."
            )
        fixes = " or ".join(f"--if-exists {o}" for o in exc.options)
        return (
            f"{exc.target} already has table(s) {tables}; nothing was written. Pass {fixes} "
            "(replace drops and recreates them, append adds rows), or write to another "
            "database."
        )
    return " ".join(str(exc).split())


def unexpected(exc: BaseException) -> str:
    """One line for an exception relsynth did not raise on purpose."""
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:300] + "..."
    detail = f": {text}" if text else ""
    return (
        f"unexpected {type(exc).__name__}{detail} (a bug or an unhandled input; run with "
        "--debug for the traceback)"
    )


# -- argument types (argparse): bad values are usage errors, before any work --------------


def at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low`` (checked before any work)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def positive(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value
