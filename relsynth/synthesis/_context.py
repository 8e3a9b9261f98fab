"""What a table's values are conditioned on: the context of each row.

A row's context is its driver parent's learned values, its family size and
position under that parent, the values of its secondary parents (decided once at
fit time, :func:`secondary_features`) and its own date/time key values as calendar
features. :func:`build_context` builds it the same way at fit time (real parents,
real keys) and at sample time (synthetic parents, the skeleton's keys), so the two
always match.

A value that the row's keys determine (a ``keys determine a value`` rule,
:class:`~relsynth.metadata._rule.DeterminedValue`: ``flights.(origin, dest) determines
flights.distance``) joins the context too (:func:`determined_features`, named
``__rule.<column>``): the keys are sampled before the values, so the value is known
before the model draws the row, and the row's other values (``air_time``) are drawn
*given* it, instead of beside a value that the rule replaces afterwards. The model
still learns the column itself: a row whose combination the rule does not know (a
key NULL, a combination held by fewer than ``min_category_count`` source rows, or new)
has NULL there and keeps the model's value (then one per combination, as before).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from relsynth._columns import (
    TableLayout,
    datetime_seconds,
    parse_clock,
)
from relsynth.metadata.graph import Plan
from relsynth.metadata.schema import ForeignKey, Metadata

if TYPE_CHECKING:
    from relsynth.metadata._rule import DeterminedValue
    from relsynth.models.context import Context

#: Context column of a value the row's keys determine: ``__rule.<column>``.
RULE_PREFIX = "__rule."

__all__ = [
    "RULE_PREFIX",
    "build_context",
    "determined_features",
    "parent_features",
    "secondary_features",
    "secondary_parents",
    "time_key_columns",
]


def parent_features(
    parent: pd.DataFrame,
    parent_name: str,
    layouts: Mapping[str, TableLayout],
    columns: Sequence[str] | None = None,
    prefix: str | None = None,
) -> pd.DataFrame:
    """A parent's learned columns (or ``columns``) but its generated ones (see
    :class:`~relsynth._columns.TableLayout`), clock text as seconds, named
    ``prefix.column`` (``parent.column`` by default)."""
    layout = layouts.get(parent_name)
    learned = layout.learned if layout else ()
    generated = set(layout.generated) if layout else set()
    cols = [
        c
        for c in (learned if columns is None else columns)
        if c in parent.columns and c not in generated
    ]
    feats = parent[cols].reset_index(drop=True).copy()
    if layout is not None:
        for col in layout.clocks:
            if col in feats.columns and not pd.api.types.is_numeric_dtype(feats[col].dtype):
                feats[col] = parse_clock(feats[col])
    feats.columns = [f"{prefix or parent_name}.{c}" for c in cols]
    return feats


def _join_parent(
    child_keys: pd.DataFrame, fk: ForeignKey, parent: pd.DataFrame, features: pd.DataFrame
) -> pd.DataFrame:
    """Parent features aligned row by row with the child (NaN where the key is NULL)."""
    lookup = parent[list(fk.parent_columns)].reset_index(drop=True).copy()
    lookup.columns = list(fk.columns)
    lookup = pd.concat([lookup, features.reset_index(drop=True)], axis=1)
    lookup = lookup.drop_duplicates(subset=list(fk.columns))
    left = child_keys[list(fk.columns)].reset_index(drop=True)
    for col in fk.columns:  # align key dtypes for the merge
        if left[col].dtype != lookup[col].dtype:
            left[col] = left[col].astype(object)
            lookup[col] = lookup[col].astype(object)
    merged = left.merge(lookup, how="left", on=list(fk.columns), sort=False)
    return merged[list(features.columns)].reset_index(drop=True)


def _family(child_keys: pd.DataFrame, fk: ForeignKey) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Family size (rows sharing the parent), position in it and a family number per row.

    NULL keys form one group for the size and position; for the family number each
    such row is a family of its own (rows without a parent share nothing).
    """
    cols = list(fk.columns)
    keys = child_keys[cols].reset_index(drop=True)
    groups = keys.groupby(cols, dropna=False, sort=False)
    ids = groups.ngroup().to_numpy()
    sizes = np.bincount(ids)[ids] if len(ids) else np.zeros(0)
    family = ids.astype(np.int64)
    orphan = keys.isna().any(axis=1).to_numpy()
    if orphan.any():
        family[orphan] = (ids.max() + 1) + np.arange(int(orphan.sum()))
    return sizes.astype("float64"), groups.cumcount().to_numpy(dtype="float64"), family


def build_context(
    keys: pd.DataFrame,
    driver: ForeignKey | None,
    parents: Mapping[str, pd.DataFrame],
    layouts: Mapping[str, TableLayout],
    time_keys: Sequence[str],
    secondary: Sequence[tuple[ForeignKey, Sequence[str]]] = (),
    *,
    family: bool = True,
    determined: pd.DataFrame | None = None,
) -> Context | None:
    """What a row's values are conditioned on: its driver parent's values, its family
    size and position, its secondary parents' values (``secondary``: key and parent
    columns, named ``parent(key columns).column``: a flight's ``airports(dest).lon``)
    and the row's own date/time key values: a :class:`~relsynth.models.context.Context`.

    Date/time keys carry meaning the values depend on: ``weather(origin, time_hour)``
    has month, hour and temperature that follow ``time_hour``. ``family=False`` leaves
    the family counters and the family number out (under differential privacy a public
    parent's family counts other entities' rows, see :mod:`relsynth.synthesis._dp`).
    ``determined``: the values the rows' keys determine (:func:`determined_features`).
    """
    from relsynth.models.context import Context

    own: dict[str, Any] = {}
    if driver is not None:
        parent = parents[driver.parent]
        features = parent_features(parent, driver.parent, layouts)
        own["parent"] = _join_parent(keys, driver, parent, features)
        if family:
            own["family_size"], own["position"], own["family"] = _family(keys, driver)
    parts = []
    for fk, cols in secondary:
        parent = parents[fk.parent]
        prefix = f"{fk.parent}({','.join(fk.columns)})"
        features = parent_features(parent, fk.parent, layouts, cols, prefix)
        parts.append(_join_parent(keys, fk, parent, features))
    if time_keys:
        parts.append(_time_key_features(keys, time_keys))
    if determined is not None and len(determined.columns):
        parts.append(determined.reset_index(drop=True))
    if parts:
        own["extra"] = pd.concat(parts, axis=1)
    return Context(**own) if own else None


def determined_features(
    keys: pd.DataFrame,
    rules: Sequence[tuple[str, DeterminedValue | None]],
    dtypes: Mapping[str, str],
) -> pd.DataFrame | None:
    """Per ``(column, rule)``, ``__rule.<column>``: the value ``rule`` gives each row's
    key combination, NULL where it knows none (or where the rule is gone: a model
    file whose rules were edited since the fit). None without rules."""
    from relsynth.rules._values import known_values

    if not rules:
        return None
    out = {}
    for column, rule in rules:
        dtype = dtypes.get(column, "object")
        if rule is None:
            values = pd.Series(np.full(len(keys), np.nan))
        else:
            values = known_values(keys, rule, dtype).reset_index(drop=True)
        out[f"{RULE_PREFIX}{column}"] = values
    return pd.DataFrame(out, index=pd.RangeIndex(len(keys)))


def _time_key_features(keys: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Date/time key columns as calendar features (NaN for NULL).

    Seconds since the epoch for trends, and the calendar parts (month, day of month,
    day of week, hour and minute of day) that values follow but that a network cannot
    easily read off a single time axis: ``weather.hour`` is periodic in ``time_hour``.
    """
    out = {}
    for col in columns:
        stamps = pd.to_datetime(keys[col], errors="coerce").reset_index(drop=True)
        out[f"__key.{col}"] = datetime_seconds(stamps)
        parts = {
            "month": stamps.dt.month,
            "day": stamps.dt.day,
            "weekday": stamps.dt.day_of_week,
            "minute_of_day": stamps.dt.hour * 60 + stamps.dt.minute,
        }
        for part, values in parts.items():
            out[f"__key.{col}.{part}"] = values.to_numpy(dtype="float64", na_value=np.nan)
    return pd.DataFrame(out)


def time_key_columns(layout: TableLayout, dtypes: Mapping[str, str]) -> tuple[str, ...]:
    """The key columns of a table that hold dates or times (conditioning context)."""
    return tuple(c for c in layout.keys if dtypes.get(c, "").startswith("datetime64"))


def secondary_features(
    meta: Metadata,
    plan: Plan,
    layouts: Mapping[str, TableLayout],
    name: str,
    tables: Mapping[str, pd.DataFrame],
    copied: Collection[str] = (),
) -> list[list[Any]]:
    """``[foreign key index, parent columns]`` of each secondary parent whose values
    join the context of ``name``'s rows (decided once, at fit time).

    A secondary key qualifies when its parent is another table generated before
    this one (not a self-reference, not a key deferred to break a cycle). Its
    parent's learned columns join, less categories that name nearly every row
    apart (:func:`~relsynth.models.encoding.is_distinct`, airport names): an
    identifier says nothing a model can carry over to new rows, and would only
    widen the context. A parent in ``copied`` (a lookup table copied verbatim) keeps
    them: its synthetic rows are its real rows, so a flight's airline name means at
    sampling time what it meant at fit time (Hawaiian flies 4,983 miles on average).
    """
    from relsynth.models.encoding import infer_kind, is_distinct

    fks = list(meta.foreign_keys)
    out: list[list[Any]] = []
    for fk in plan.secondary.get(name, ()):
        layout = layouts.get(fk.parent)
        if fk.parent == name or plan.is_deferred(fk) or layout is None:
            continue
        parent = tables[fk.parent]
        cols = [
            col
            for col in layout.learned
            if fk.parent in copied
            or not (
                (layout.kinds.get(col) or infer_kind(parent[col])) == "categorical"
                and is_distinct(parent[col])
            )
        ]
        if cols:
            out.append([fks.index(fk), cols])
    return out


def secondary_parents(
    meta: Metadata, context_keys: Sequence[Sequence[Any]] | None
) -> list[tuple[ForeignKey, list[str]]]:
    """The secondary parents (key, columns) named by a table's ``context_keys``."""
    fks = meta.foreign_keys
    return [(fks[i], list(cols)) for i, cols in context_keys or []]
