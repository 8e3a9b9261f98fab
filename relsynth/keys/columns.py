"""Key columns that no foreign key sets: surrogate ids, positions, shared group values.

Each such column of a table gets one of three fits (:func:`fit_key_values`):

* :class:`UniqueValues`: distinct values across the table (``orders.id``), in the
  learned :class:`~relsynth.keys.ids.KeyFormat` (integer sequences, UUIDs, string
  formats such as ``N123AB``, leading zeros kept);
* :class:`LocalValues`: positions within a group (``stop_times.stop_sequence`` per
  ``trip_id``): the primary key's foreign key columns make the group, or, in a key
  that no foreign key sets, the key's columns before this one (a batting table's
  ``stint`` per ``(player, year)``, its ``year`` per ``player``); values are distinct
  per group;
* :class:`GroupValues`: the first column of a composite primary key that no
  foreign key sets (``shapes.shape_id``): values shared by groups of rows whose
  sizes follow the source's (a :class:`~relsynth.keys.cardinality.DegreeModel`).

:func:`sample_key_values` fills them: unique and group values first, then
positions (whose groups may be group values).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relsynth.keys._frames import group_ids
from relsynth.keys.cardinality import DegreeModel
from relsynth.keys.ids import KeyFormat, learn_format
from relsynth.keys.skeleton import key_columns
from relsynth.metadata.schema import Metadata

__all__ = [
    "GroupValues",
    "KeyValues",
    "LocalValues",
    "UniqueValues",
    "fit_key_values",
    "key_values_from_dict",
    "sample_key_values",
]


@dataclass(frozen=True)
class UniqueValues:
    """Distinct values across the table."""

    format: KeyFormat

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        return {"mode": "global", "format": self.format.to_dict()}


@dataclass(frozen=True)
class LocalValues:
    """Values distinct within each group of rows sharing ``group``'s values."""

    group: tuple[str, ...]
    format: KeyFormat

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        return {"mode": "local", "group": list(self.group), "format": self.format.to_dict()}


@dataclass(frozen=True)
class GroupValues:
    """Values shared by groups of rows; ``n_groups`` groups in the source, sized by ``sizes``."""

    format: KeyFormat
    sizes: DegreeModel
    n_groups: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        return {
            "mode": "group",
            "format": self.format.to_dict(),
            "sizes": self.sizes.to_dict(),
            "n_groups": self.n_groups,
        }


KeyValues = UniqueValues | LocalValues | GroupValues


def key_values_from_dict(data: Mapping[str, Any]) -> KeyValues:
    """Rebuild a :data:`KeyValues` from its ``to_dict`` (the ``mode`` says which)."""
    fmt = KeyFormat.from_dict(data["format"])
    mode = data["mode"]
    if mode == "local":
        return LocalValues(tuple(data["group"]), fmt)
    if mode == "group":
        return GroupValues(fmt, DegreeModel.from_dict(data["sizes"]), int(data["n_groups"]))
    if mode == "global":
        return UniqueValues(fmt)
    raise ValueError(f"unknown key-column mode {mode!r}")


def fit_key_values(
    meta: Metadata, name: str, frame: pd.DataFrame, fk_columns: set[str]
) -> dict[str, KeyValues]:
    """The fit of each key column of ``name`` that no foreign key sets, in column order.

    ``fk_columns`` are the columns set by the table's driver and secondary keys.
    """
    out: dict[str, KeyValues] = {}
    all_fk_cols = {c for fk in meta.parents(name) for c in fk.columns}
    pk = meta.table(name).primary_key
    group_cols = tuple(c for c in pk if c in fk_columns)
    for col in key_columns(meta, name):
        if col in all_fk_cols:
            continue
        if col in pk and group_cols:
            gid = group_ids(frame, group_cols)
            out[col] = LocalValues(group_cols, learn_format(frame[col], gid))
        elif col in pk and len(pk) > 1 and col != pk[0]:
            group = pk[: pk.index(col)]  # the key's columns before it
            gid = group_ids(frame, list(group))
            out[col] = LocalValues(tuple(group), learn_format(frame[col], gid))
        elif col in pk and len(pk) > 1:
            sizes = frame.groupby(col, dropna=True).size().to_numpy()
            out[col] = GroupValues(learn_format(frame[col]), DegreeModel().fit(sizes), len(sizes))
        else:
            out[col] = UniqueValues(learn_format(frame[col]))
    return out


def sample_key_values(
    frame: pd.DataFrame,
    fits: Mapping[str, KeyValues],
    n_source_rows: int,
    rng: np.random.Generator,
) -> None:
    """Fill the columns of ``fits`` in ``frame`` (in place, ``len(frame)`` rows)."""
    n = len(frame)
    for col, fit in fits.items():
        if isinstance(fit, UniqueValues):
            frame[col] = fit.format.generate(n, rng)
        elif isinstance(fit, GroupValues):
            src_n = max(n_source_rows, 1)
            n_groups = max(1, int(round(fit.n_groups * n / src_n))) if n else 0
            n_groups = min(n_groups, n)
            g_sizes = fit.sizes.sample(n_groups, n, rng)
            values = fit.format.generate(n_groups, rng)
            frame[col] = values[np.repeat(np.arange(n_groups), g_sizes)] if n else values
    local = [(c, f) for c, f in fits.items() if isinstance(f, LocalValues)]
    for col, fit in sorted(local, key=lambda cf: len(cf[1].group)):  # a group's columns first
        gid = group_ids(frame, fit.group)
        pos = pd.Series(gid).groupby(gid).cumcount().to_numpy() if n else np.zeros(0)
        frame[col] = fit.format.at(pos, rng, gid)
