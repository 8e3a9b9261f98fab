"""Stage 6: the outside world: databases and CSV folders.

:func:`read_tables`, :func:`write_tables` and :func:`check_database` live in
:mod:`relsynth.io.sql`; CSV folders in :mod:`relsynth.io.files`; the portable SQL
type vocabulary in :mod:`relsynth.io.types`. This package (with
:mod:`relsynth.metadata.reflect`) is the only part of relsynth that imports
SQLAlchemy; its submodules are imported on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "WriteReport",
    "check_database",
    "read_csv_folder",
    "read_tables",
    "write_csv_folder",
    "write_tables",
]

_LAZY = {
    "WriteReport": "relsynth.io.sql",
    "check_database": "relsynth.io.sql",
    "read_tables": "relsynth.io.sql",
    "write_tables": "relsynth.io.sql",
    "read_csv_folder": "relsynth.io.files",
    "write_csv_folder": "relsynth.io.files",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
