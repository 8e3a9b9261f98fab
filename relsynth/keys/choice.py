"""A determined key's parent chosen by the values of the determining key's parent.

A key B that another key A of the same table determines (``flights.tailnum
determines flights.carrier``: a plane flies for one airline) is drawn once per
parent of A (:func:`~relsynth.keys.dealing.one_per_group`). Dealt by in-degree
alone, which airline a synthetic plane flies for has nothing to do with the plane:
on nyc20k the source's airline is nearly fixed by the plane's model (0.3 bits of
3.2 left), the synthetic one was not (2.3 bits), and the planes were told apart by
their flights (the mean flight number and distance of a plane are its airline's),
not by their own columns (C2ST 0.83 with the flights' aggregates, 0.62 without).
What a family shares (its airline) then depends on its parent, as in the source.

:class:`ParentChoice` learns, on the source, which of B's parents each parent of A
takes, from A's parent's own columns: the columns that explain the one-hot of that
choice by at least :data:`MIN_CHOICE_SHARE` (adjusted eta squared, as
:mod:`relsynth.keys.preference` measures a child's columns against its parent's
features) are encoded the same way, and the source points (shared by two rows at
least) are kept with their choice. At sampling time each synthetic parent of A
takes the choice of one of its nearest source points, drawn at random (a draw from
the conditional of B given A's parent), and its rows get that parent of B where the
drawn in-degrees leave room (:func:`~relsynth.keys.dealing.one_per_group`'s
``prefer``); B's in-degrees stay those the degree model drew.

Only for a B whose parent is copied verbatim (a lookup or reference table: its key
values are the source's, so a choice names a row of the synthetic parent) and an A
whose parent has value columns. A choice's labels are B's parent keys, which the
copy holds anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relsynth.keys._frames import key_text, locate
from relsynth.keys.preference import (
    ValuePreference,
    explaining,
    grouping,
    kept_preference,
    shared_points,
)
from relsynth.metadata.schema import ForeignKey, Metadata

__all__ = ["MAX_CHOICE_LEVELS", "MIN_CHOICE_SHARE", "MIN_DETERMINED", "ParentChoice", "fit_choice"]

#: Share of the source rows (with both keys set) whose B is their A parent's most
#: common one, for A to count as determining B.
MIN_DETERMINED = 0.99
#: Share of the choice's variance (adjusted eta squared) a column of A's parent must
#: explain to be read; each column is weighted by the square root of its share, so a
#: weak one moves the neighbours little. On nyc20k (a plane's airline): seats 0.42,
#: manufacturer 0.30, year 0.12, engine 0.03; a classifier told the synthetic planes
#: with their airlines from the source's at AUC 0.74 reading the first two (the
#: preference's SUPPORT_SHARE, 0.2), 0.67 with year, 0.64 with engine too.
MIN_CHOICE_SHARE = 0.02
#: Levels a category of A's parent may have to be read (the preference's limit is
#: 48: a child's names and codes point nowhere). A plane's model (93 levels on nyc20k,
#: 10 planes or more per level on average) fixes its airline more than any other
#: column (0.32 bits of 3.18 left, seats 0.80), and each level's mean choice is what
#: the choice keeps of it; levels fewer than two parents hold are not named.
MAX_CHOICE_LEVELS = 500
#: Column kinds of A's parent the choice may read.
_LEARNED = ("numerical", "categorical", "boolean", "datetime")


@dataclass(frozen=True)
class ParentChoice:
    """Which parent of a determined key each parent of its determining key ``by`` (an
    index into ``metadata.foreign_keys``) takes: ``labels`` are the determined key's
    parent keys (as text) in the order of ``preference``'s one-hot targets."""

    by: int
    labels: tuple[str, ...]
    preference: ValuePreference

    def choose(
        self,
        rows: pd.DataFrame,
        parent: pd.DataFrame,
        parent_columns: Sequence[str],
        rng: np.random.Generator,
    ) -> np.ndarray | None:
        """Per row of ``rows`` (parents of ``by``, with their value columns), the row of
        ``parent`` (the determined key's parent) it takes (-1: a label ``parent`` lacks);
        None when a column the choice reads is absent (keys sampled alone)."""
        drawn = self.preference.preferred(rows, rng)
        if drawn is None:
            return None
        if not len(rows):
            return np.zeros(0, dtype=np.int64)
        index = pd.Index(key_text(parent, parent_columns))
        per_label = index.get_indexer(list(self.labels))
        return np.asarray(per_label[np.argmax(drawn, axis=1)], dtype=np.int64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state: the preference's one-hot targets stored as each point's label
        index (``label_of``), a fifth of the size."""
        pref = self.preference.to_dict()
        pref.pop("targets")
        pref["label_of"] = np.argmax(self.preference.targets, axis=1).tolist()
        return {"by": self.by, "labels": list(self.labels), "preference": pref}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParentChoice:
        """Rebuild from :meth:`to_dict`."""
        labels = tuple(str(v) for v in data["labels"])
        pref = dict(data["preference"])
        if "label_of" in pref:  # else one-hot targets, as the first files of it kept them
            label_of = np.asarray(pref.pop("label_of"), dtype=np.int64)
            pref["targets"] = np.eye(len(labels))[label_of].tolist()
        return cls(int(data["by"]), labels, ValuePreference.from_dict(pref))


def fit_choice(
    meta: Metadata,
    fk: ForeignKey,
    frames: Mapping[str, pd.DataFrame],
    copied: frozenset[str],
) -> ParentChoice | None:
    """The :class:`ParentChoice` of ``fk`` (the determined key B, dealt by in-degree)
    on the source: for the first other key A of its table that determines it in
    ``MIN_DETERMINED`` of the rows and whose parent's columns explain the choice;
    None when ``fk``'s parent is not copied or no such key exists."""
    if fk.parent not in copied:
        return None
    fks = list(meta.foreign_keys)
    frame, bparent = frames[fk.child], frames[fk.parent]
    bidx = locate(frame, fk.columns, bparent, fk.parent_columns)
    for other in fks:
        if (
            other == fk
            or other.child != fk.child
            or other.is_self_reference
            or other.parent in copied
            or set(other.columns) & set(fk.columns)
        ):
            continue
        aparent = frames[other.parent]
        aidx = locate(frame, other.columns, aparent, other.parent_columns)
        choice = _fit_one(meta, other, aparent, aidx, bidx, key_text(bparent, fk.parent_columns))
        if choice is not None:
            return ParentChoice(fks.index(other), *choice)
    return None


def _fit_one(
    meta: Metadata,
    other: ForeignKey,
    aparent: pd.DataFrame,
    aidx: np.ndarray,
    bidx: np.ndarray,
    bnames: Sequence[str],
) -> tuple[tuple[str, ...], ValuePreference] | None:
    """Labels and preference of B's parent per parent of ``other`` (A), when A
    determines B and A's parent's columns explain the choice; else None."""
    both = (aidx >= 0) & (bidx >= 0)
    if both.sum() < 50:
        return None
    pairs = pd.DataFrame({"a": aidx[both], "b": bidx[both]})
    counts = pairs.value_counts().reset_index(name="n").sort_values(["a", "n", "b"])
    modal = counts.drop_duplicates("a", keep="last")  # per parent of A: its most common B
    if modal["n"].sum() < MIN_DETERMINED * len(pairs):
        return None
    key_cols = {c for fk in meta.foreign_keys if fk.child == other.parent for c in fk.columns}
    key_cols |= set(meta.table(other.parent).primary_key)
    columns = [
        c.name
        for c in meta.table(other.parent).columns
        if c.name not in key_cols and c.name in aparent and c.pii is None and c.kind in _LEARNED
    ]
    rows = aparent.iloc[modal["a"].to_numpy()].reset_index(drop=True)
    used, code = np.unique(modal["b"].to_numpy(), return_inverse=True)
    target = np.eye(len(used))[code]
    groups = {c: grouping(rows[c], max_levels=MAX_CHOICE_LEVELS) for c in columns}
    encoders = explaining(rows, groups, target, MIN_CHOICE_SHARE)
    if not encoders or len(used) < 2:
        return None
    points, targets = shared_points(rows, encoders, target)
    if not len(points):
        return None
    labels = tuple(str(bnames[i]) for i in used)
    return labels, kept_preference(encoders, points, targets)
