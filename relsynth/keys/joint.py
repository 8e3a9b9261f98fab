"""Several keys of a child to copied parents, drawn together.

A flight's airline, origin and destination are three keys to copied tables
(``airlines``, ``airports``: lookup and reference tables kept verbatim). Dealt one
by one, each by its in-degrees, a flight's destination has nothing to do with its
airline: every airline flies every route, and what an airline's flights look like
(distance, air time) averages out. Copied parents are the source's own rows, so the
source's **co-occurrence** of their key values (a contingency table over the
combinations) can be kept:

* fit (:func:`fit_joint`): per child table with two or more keys to copied parents,
  the number of source rows holding each combination of their values (rows with
  all of them set); a combination held by fewer than ``min_count`` rows is left out
  (``min_category_count``, docs/privacy.md), and a table whose kept combinations
  cover less than half of its rows gets no joint model (its keys are dealt as
  before). Which keys may be redrawn (*movable*): keys dealt by in-degree, with
  columns of their own (not part of the driver or of another key), neither
  one-to-one nor part of a junction pair;
* sample (:func:`draw_joint`), after the keys are dealt: the movable keys that no
  ``Determines`` rule ties (a determined airline stays one per plane) are drawn
  for each row from the combinations **given** the row's other keys of the set
  (its origin, set by the driver; its airline, set per plane), with stratified
  uniforms within each group of rows sharing them (the group's draws follow the
  conditional's shares to within one row). A group whose given values the source
  never held backs off to fewer given keys (the last dropped first), and to the
  marginal of the movable keys. Only combinations whose drawn parents exist in the
  synthetic parent table are used.

Afterwards, :func:`~relsynth.keys.matching.match_values` re-matches a drawn key on
the row's values only among the rows that share the set's other keys, so every
group keeps its combinations.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from relsynth.keys._frames import key_text, locate, parent_texts, take
from relsynth.metadata.graph import Plan
from relsynth.metadata.schema import ForeignKey, Metadata

if TYPE_CHECKING:
    from relsynth.keys.secondary import SecondaryFit

__all__ = ["JointKeys", "draw_joint", "fit_joint", "joint_within", "parent_texts"]

#: Most combinations a joint model keeps (more: the keys are dealt one by one).
MAX_COMBINATIONS = 20_000
#: Least share of the rows (all keys set) the kept combinations must cover.
MIN_COVER = 0.5


@dataclass(frozen=True)
class JointKeys:
    """The source's combinations of a table's keys to copied parents.

    Attributes
    ----------
    fks : tuple of int
        The keys (indices into ``meta.foreign_keys``).
    movable : tuple of bool
        Per key, whether :func:`draw_joint` may redraw it.
    combos : tuple of tuple of str
        Each combination: one key text per key (:func:`~relsynth.keys._frames.key_text`).
    counts : tuple of int
        Source rows holding each combination.
    """

    fks: tuple[int, ...]
    movable: tuple[bool, ...]
    combos: tuple[tuple[str, ...], ...]
    counts: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        return {
            "fks": list(self.fks),
            "movable": list(self.movable),
            "combos": [list(c) for c in self.combos],
            "counts": list(self.counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JointKeys:
        """Rebuild from :meth:`to_dict`'s output."""
        return cls(
            fks=tuple(int(k) for k in data["fks"]),
            movable=tuple(bool(m) for m in data["movable"]),
            combos=tuple(tuple(str(v) for v in c) for c in data["combos"]),
            counts=tuple(int(n) for n in data["counts"]),
        )


def fit_joint(
    meta: Metadata,
    plan: Plan,
    name: str,
    frames: Mapping[str, pd.DataFrame],
    secondary: Sequence[SecondaryFit],
    *,
    capped: Collection[int],
    copied: Collection[str],
    min_count: int,
) -> JointKeys | None:
    """The joint model of ``name``'s keys to ``copied`` parents (None: fewer than two,
    none movable, or too few rows in kept combinations). ``capped``: one-to-one and
    junction keys."""
    from relsynth.keys.secondary import DegreeKey

    fks = list(meta.foreign_keys)
    own = [fk for fk in meta.parents(name) if not fk.is_self_reference]
    keys = [fk for fk in own if fk.parent in copied and not plan.is_deferred(fk)]
    frame = frames[name]
    if len(keys) < 2 or not len(frame):
        return None
    dealt = {s.fk for s in secondary if isinstance(s, DegreeKey)}

    def movable(fk: ForeignKey) -> bool:
        k = fks.index(fk)
        shared = any(set(fk.columns) & set(o.columns) for o in own if o != fk)
        return k in dealt and k not in capped and not shared

    moves = tuple(movable(fk) for fk in keys)
    cols = [c for fk in keys for c in fk.columns]
    full = frame[cols].notna().all(axis=1).to_numpy()
    if not any(moves) or not full.any():
        return None
    texts = pd.DataFrame(
        {str(i): parent_texts(frame, fk, frames[fk.parent])[full] for i, fk in enumerate(keys)}
    )
    counts = texts.groupby(list(texts.columns), sort=True).size()
    counts = counts[counts >= max(1, min_count)]
    if len(counts) > MAX_COMBINATIONS or counts.sum() < MIN_COVER * len(texts):
        return None
    combos = tuple(
        tuple(str(v) for v in (c if isinstance(c, tuple) else (c,))) for c in counts.index
    )
    return JointKeys(
        tuple(fks.index(fk) for fk in keys), moves, combos, tuple(int(n) for n in counts)
    )


def joint_within(
    joint: JointKeys | None, fks: Sequence[ForeignKey], fixed: Collection[int]
) -> dict[int, list[str]]:
    """Per key :func:`draw_joint` draws, the columns of the set's other keys (the rows
    :func:`~relsynth.keys.matching.match_values` may re-match it among)."""
    if joint is None:
        return {}
    free = [k for k, m in zip(joint.fks, joint.movable, strict=True) if m and k not in fixed]
    return {k: [c for o in joint.fks if o != k for c in fks[o].columns] for k in free}


def draw_joint(
    frame: pd.DataFrame,
    joint: JointKeys | None,
    fks: Sequence[ForeignKey],
    done: Mapping[str, pd.DataFrame],
    rng: np.random.Generator,
    *,
    copied: Collection[str],
    fixed: Collection[int] = (),
) -> None:
    """Redraw ``frame``'s movable keys of ``joint`` in place, given its other keys
    (see the module docstring); ``fixed`` keys (tied by a rule) stay as dealt."""
    if joint is None or not len(frame):
        return
    if any(fks[k].parent not in copied or fks[k].parent not in done for k in joint.fks):
        return
    free = [
        i
        for i, (k, m) in enumerate(zip(joint.fks, joint.movable, strict=True))
        if m and k not in fixed
    ]
    if not free:
        return
    given = [i for i in range(len(joint.fks)) if i not in free]
    keys = [fks[k] for k in joint.fks]
    cols = [c for fk in keys for c in fk.columns]
    rows = np.flatnonzero(frame[cols].notna().all(axis=1).to_numpy())
    if not len(rows):
        return
    table = pd.DataFrame(
        [list(c) for c in joint.combos], columns=[str(i) for i in range(len(keys))]
    )
    table["n"] = np.asarray(joint.counts, dtype=np.int64)
    where: dict[int, dict[str, int]] = {}
    for i in free:  # combinations whose drawn parents exist
        parent = done[keys[i].parent]
        where[i] = {t: j for j, t in enumerate(key_text(parent, keys[i].parent_columns))}
        table = table[table[str(i)].isin(where[i])]
    if table.empty:
        return
    have = pd.DataFrame(index=pd.RangeIndex(len(rows)))
    for i in given:
        have[str(i)] = parent_texts(frame, keys[i], done[keys[i].parent])[rows]
    picked = _draw(table, have, [str(i) for i in given], [str(i) for i in free], rng)
    for j, i in enumerate(free):
        fk = keys[i]
        parent = done[fk.parent]
        idx = locate(frame, fk.columns, parent, fk.parent_columns)
        ok = picked[:, j] != ""
        idx[rows[ok]] = [where[i][t] for t in picked[ok, j]]
        for c, pc in zip(fk.columns, fk.parent_columns, strict=True):
            frame[c] = take(parent[pc], idx).set_axis(frame.index)


def _draw(
    table: pd.DataFrame,
    have: pd.DataFrame,
    given: list[str],
    free: list[str],
    rng: np.random.Generator,
) -> np.ndarray:
    """Per row of ``have``, the free keys' texts drawn from ``table`` given the row's
    given keys (backing off to fewer); "" where nothing could be drawn."""
    out = np.full((len(have), len(free)), "", dtype=object)
    todo = np.ones(len(have), dtype=bool)
    for j in range(len(given), -1, -1):
        cond = given[:j]
        if not todo.any():
            break
        cells = table.groupby([*cond, *free], sort=True)["n"].sum().reset_index()
        if cond:
            groups = {_tup(k): v for k, v in have.loc[todo, cond].groupby(cond).indices.items()}
            options = {_tup(k): g for k, g in cells.groupby(cond, sort=True)}
        else:
            groups = {(): np.arange(int(todo.sum()))}
            options = {(): cells}
        at = np.flatnonzero(todo)
        for key, members in groups.items():
            cand = options.get(key)
            if cand is None or cand.empty:
                continue
            who = at[np.asarray(members)]
            cum = np.cumsum(cand["n"].to_numpy(dtype=float))
            m = len(who)
            u = (rng.permutation(m) + rng.random(m)) / m * cum[-1]
            pick = np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)
            out[who] = cand[free].to_numpy(dtype=object)[pick]
            todo[who] = False
    return out


def _tup(key: Any) -> tuple[Any, ...]:
    return key if isinstance(key, tuple) else (key,)
