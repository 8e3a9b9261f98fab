"""Secondary foreign keys: who a child row points at, besides its driver parent.

Fit (:func:`fit_secondary`), per secondary key of a table, one of:

* :class:`ImpliedKey`: the source always agrees with the value reached through
  the driver parent (``payment.customer_id == payment.rental.customer_id``), so
  the key is copied through the driver parent;
* :class:`DegreeKey`: the parents' in-degrees and the key's NULL rate
  (:class:`~relsynth.keys.cardinality.DegreeModel`); child rows are dealt to the
  parents' slots (:func:`~relsynth.keys.dealing.degree_assign`). Which parent gets
  which of the drawn degrees follows the parents' values (:class:`SecondaryRanking`): a flight's
  destination is an airport like those the source's flights go to, not one drawn
  from all 1,458 airports alike.

Keys are assigned implied first, then the most specific (most columns) first. A
key whose columns are all set already (``flights.origin`` under
``flights.(origin, time_hour)``) is derived; one whose columns are partly set
chooses among the parents that match
(:func:`~relsynth.keys.dealing.assign_constrained`). Unique
constraints over foreign key columns become caps (:func:`fit_unique_caps`): a
one-to-one key gets at most one child per parent, a junction key unique pairs.

A key that another key of the table determines (a
:class:`~relsynth.metadata._rule.Determines` rule: ``flights.tailnum determines
flights.carrier``) is assigned after it and drawn once per parent of it
(:func:`determined_keys`, :func:`determined_order`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from relsynth.keys._frames import key_text, locate, take
from relsynth.keys.cardinality import DegreeModel
from relsynth.keys.choice import ParentChoice, fit_choice
from relsynth.keys.dealing import assign_constrained, assign_degree, set_groups, valid_parents
from relsynth.keys.features import ParentFeatures
from relsynth.keys.mixing import mix_determined
from relsynth.keys.preference import ValuePreference, fit_preference, matchable
from relsynth.keys.ranking import SecondaryRanking, fit_ranking, parent_value_features
from relsynth.keys.skeleton import key_columns
from relsynth.metadata._rule import Determines, Rule
from relsynth.metadata._rule_parse import determines_keys
from relsynth.metadata.graph import Plan
from relsynth.metadata.schema import ForeignKey, Metadata, Table

if TYPE_CHECKING:
    from relsynth.keys.joint import JointKeys
    from relsynth.keys.state import TableKeys

__all__ = [
    "DegreeKey",
    "ImpliedKey",
    "SecondaryFit",
    "assign_secondary",
    "chosen_parents",
    "degrees",
    "determined_keys",
    "determined_order",
    "fit_secondary",
    "fit_unique_caps",
    "secondary_from_dict",
    "named_degrees",
    "source_degree",
    "source_order",
]


@dataclass(frozen=True)
class ImpliedKey:
    """A secondary key copied through the driver parent's key ``via`` (indices into
    ``metadata.foreign_keys``).

    ``degree`` (in-degrees over all source rows) serves the rows whose driver key is
    NULL, which have no parent to copy from; files written before it existed lack
    it (such a table then gives those rows a NULL key when it is nullable).
    """

    fk: int
    via: int
    degree: DegreeModel | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        out: dict[str, Any] = {"fk": self.fk, "mode": "implied", "via": self.via}
        if self.degree is not None:
            out["degree"] = self.degree.to_dict()
        return out


@dataclass(frozen=True)
class DegreeKey:
    """A secondary key whose parents get in-degrees from ``degree``, handed out in
    the order of ``ranking``'s draws when it has one (files written before it
    existed lack it: degrees then go to parents at random). With a ``preference``,
    the child rows are matched to those slots on their values once the values are
    drawn (:mod:`relsynth.keys.preference`; older files lack it: no matching).
    ``source_degree`` is set for a parent copied verbatim (a lookup or reference
    table): each parent key's in-degree in the source (those of at least
    ``MIN_SOURCE_DEGREE``), used instead of the ranking: the busiest airport of the
    source gets the largest drawn degree. ``choice`` (a key that another key
    determines, to a copied parent): which parent each parent of the determining key
    takes, by its values (:mod:`relsynth.keys.choice`; older files lack it: by
    in-degree alone)."""

    fk: int
    degree: DegreeModel
    ranking: SecondaryRanking | None = None
    preference: ValuePreference | None = None
    source_degree: dict[str, int] | None = None
    choice: ParentChoice | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        out: dict[str, Any] = {"fk": self.fk, "mode": "degree", "degree": self.degree.to_dict()}
        if self.ranking is not None:
            out["ranking"] = self.ranking.to_dict()
        if self.preference is not None:
            out["preference"] = self.preference.to_dict()
        if self.source_degree is not None:
            out["source_degree"] = dict(self.source_degree)
        if self.choice is not None:
            out["choice"] = self.choice.to_dict()
        return out


SecondaryFit = ImpliedKey | DegreeKey


def secondary_from_dict(data: Mapping[str, Any]) -> SecondaryFit:
    """Rebuild an :class:`ImpliedKey` or :class:`DegreeKey` from its ``to_dict``."""
    degree = DegreeModel.from_dict(data["degree"]) if data.get("degree") is not None else None
    if data["mode"] == "implied":
        return ImpliedKey(int(data["fk"]), int(data["via"]), degree)
    if degree is None:
        raise ValueError(f"secondary key {data.get('fk')!r} of mode 'degree' has no degree model")
    ranking, preference = data.get("ranking"), data.get("preference")
    source, choice = data.get("source_degree"), data.get("choice")
    return DegreeKey(
        int(data["fk"]),
        degree,
        None if ranking is None else SecondaryRanking.from_dict(ranking),
        None if preference is None else ValuePreference.from_dict(preference),
        None if source is None else {str(k): int(v) for k, v in source.items()},
        None if choice is None else ParentChoice.from_dict(choice),
    )


# -- fit -------------------------------------------------------------------------------------


def fit_secondary(
    meta: Metadata,
    plan: Plan,
    name: str,
    frames: Mapping[str, pd.DataFrame],
    didx: np.ndarray | None,
    features: dict[str, ParentFeatures] | None = None,
    *,
    n_components: int = 4,
    bandwidth: str | float = "scott",
    n_neighbors: int = 32,
    copied: frozenset[str] = frozenset(),
) -> tuple[list[SecondaryFit], list[ForeignKey]]:
    """The secondary keys' fits in assignment order, and the keys in that order.

    With ``features`` (the parent tables' :class:`ParentFeatures`, filled here), each
    :class:`DegreeKey` learns its :class:`SecondaryRanking`; without it (the
    generator's ``parent_features="none"``), degrees go to parents at random. A key
    to a table in ``copied`` keeps its source in-degrees per parent key.
    """
    fks = list(meta.foreign_keys)
    frame = frames[name]
    driver = plan.driver.get(name)
    secondary = list(plan.secondary.get(name, ()))
    fits: list[SecondaryFit] = []
    implied = []
    for fk in secondary:
        via = _implied_via(meta, plan, fk, driver, frame, didx, frames)
        if via is not None:
            implied.append(fk)
            fits.append(ImpliedKey(fks.index(fk), fks.index(via), degrees(fk, frame, frames)))
    rest = sorted(
        (fk for fk in secondary if fk not in implied),
        key=lambda fk: (-len(fk.columns), fks.index(fk)),
    )
    for fk in rest:
        ranking, preference = None, None
        if features is not None:
            parent = frames[fk.parent]
            idx = locate(frame, fk.columns, parent, fk.parent_columns)
            ranking = fit_ranking(
                meta,
                fk,
                np.bincount(idx[idx >= 0], minlength=len(parent)),
                parent,
                features,
                n_components=n_components,
                bandwidth=bandwidth,
                n_neighbors=n_neighbors,
            )
            preference = _fit_preference(meta, fk, frames, features, n_components, copied)
        source = source_degree(fk, frame, frames[fk.parent]) if fk.parent in copied else None
        choice = fit_choice(meta, fk, frames, copied) if features is not None else None
        fits.append(
            DegreeKey(
                fks.index(fk), degrees(fk, frame, frames), ranking, preference, source, choice
            )
        )
    return fits, implied + rest


#: Parents used by fewer source rows are not named in ``DegreeKey.source_degree``: a
#: code that one row uses is a one-off, withheld as a one-off category is.
MIN_SOURCE_DEGREE = 2


def source_degree(fk: ForeignKey, frame: pd.DataFrame, parent: pd.DataFrame) -> dict[str, int]:
    """In-degree per parent key (as text) in the source, those of at least
    ``MIN_SOURCE_DEGREE``."""
    idx = locate(frame, fk.columns, parent, fk.parent_columns)
    return named_degrees(np.bincount(idx[idx >= 0], minlength=len(parent)), parent, fk)


def named_degrees(deg: np.ndarray, parent: pd.DataFrame, fk: ForeignKey) -> dict[str, int]:
    """``deg`` (children per row of ``parent``) by parent key text, those of at least
    ``MIN_SOURCE_DEGREE``."""
    names = key_text(parent, fk.parent_columns)
    return {names[i]: int(deg[i]) for i in np.nonzero(deg >= MIN_SOURCE_DEGREE)[0]}


def source_order(
    source: Mapping[str, int], parent: pd.DataFrame, columns: Sequence[str]
) -> np.ndarray:
    """Each parent row's source in-degree from :func:`source_degree`'s map (0: not named)."""
    return np.array([source.get(k, 0) for k in key_text(parent, columns)], dtype=float)


#: Column kinds a child's parent preference may read.
_LEARNED = ("numerical", "categorical", "boolean", "datetime")


def _fit_preference(
    meta: Metadata,
    fk: ForeignKey,
    frames: Mapping[str, pd.DataFrame],
    features: dict[str, ParentFeatures],
    n_components: int,
    copied: frozenset[str] = frozenset(),
) -> ValuePreference | None:
    """The key's :class:`ValuePreference` (the parent's features are kept in
    ``features`` only when it has one); None when the key cannot be re-matched or no
    child column explains its parent. Besides the drawn values, the child's keys to
    tables in ``copied`` may explain it: their values are the source's own (a
    flight's airline says which planes it flies)."""
    if not matchable(meta, fk):
        return None
    frame, parent = frames[fk.child], frames[fk.parent]
    scratch = dict(features)
    pf, _ = parent_value_features(meta, fk.parent, parent, scratch, n_components)
    keys = key_columns(meta, fk.child)
    values = [  # what the table model draws (personal text is faked: it points nowhere)
        c.name
        for c in meta.table(fk.child).columns
        if c.name not in keys and c.name in frame and c.pii is None and c.kind in _LEARNED
    ]
    values += [  # one-column keys to copied parents (categories the sample shares)
        other.columns[0]
        for other in meta.foreign_keys
        if other.child == fk.child
        and other.parent in copied
        and len(other.columns) == 1
        and other.columns[0] not in fk.columns
        and other.columns[0] not in values
    ]
    preference = fit_preference(fk, frame, values, parent, pf)
    if preference is not None and preference.features is None:
        features[fk.parent] = pf
    return preference


def degrees(fk: ForeignKey, frame: pd.DataFrame, frames: Mapping[str, pd.DataFrame]) -> DegreeModel:
    """The in-degrees of ``fk``'s parents in the source, and its NULL rate."""
    parent = frames[fk.parent]
    idx = locate(frame, fk.columns, parent, fk.parent_columns)
    null = frame[list(fk.columns)].isna().any(axis=1).to_numpy()
    deg = np.bincount(idx[idx >= 0], minlength=len(parent))
    rate = float(null.mean()) if len(frame) else 0.0
    return DegreeModel().fit(deg, rate)


def _implied_via(
    meta: Metadata,
    plan: Plan,
    fk: ForeignKey,
    driver: ForeignKey | None,
    frame: pd.DataFrame,
    didx: np.ndarray | None,
    frames: Mapping[str, pd.DataFrame],
) -> ForeignKey | None:
    """The driver parent's key that always gives ``fk``'s value in the source, if any."""
    if driver is None or didx is None or set(fk.columns) & set(driver.columns):
        return None
    parent = frames[driver.parent]
    ok_rows = didx >= 0
    if not ok_rows.any():
        return None
    for via in meta.parents(driver.parent):
        if via.is_self_reference or via in plan.deferred or via.parent != fk.parent:
            continue
        mapping = dict(zip(via.parent_columns, via.columns, strict=False))
        if set(mapping) != set(fk.parent_columns):
            continue
        equal = True
        for child_col, parent_col in zip(fk.columns, fk.parent_columns, strict=False):
            a = frame[child_col].to_numpy(dtype=object)[ok_rows]
            b = parent[mapping[parent_col]].to_numpy(dtype=object)[didx[ok_rows]]
            na, nb = pd.isna(a), pd.isna(b)
            if not (np.array_equal(na, nb) and np.all(a[~na] == b[~nb])):
                equal = False
                break
        if equal:
            return via
    return None


def fit_unique_caps(
    table: Table, assigned: Sequence[ForeignKey], driver: ForeignKey | None, fks: list[ForeignKey]
) -> tuple[tuple[int, ...], dict[int, tuple[str, ...]]]:
    """Unique constraints over foreign key columns, as caps.

    Returns the keys with at most one child per parent (one-to-one), and per
    junction key the columns within whose groups its parents must be distinct.
    """
    cap_one: list[int] = []
    unique_within: dict[int, tuple[str, ...]] = {}
    fk_cols = {c for fk in assigned for c in fk.columns}
    for unique in [table.primary_key, *table.unique]:
        if not unique or not set(unique) <= fk_cols:
            continue
        covering = [fk for fk in assigned if set(fk.columns) & set(unique)]
        if len(covering) == 1 and set(covering[0].columns) == set(unique):
            cap_one.append(fks.index(covering[0]))
        elif len(covering) >= 2:
            last = covering[-1] if covering[-1] != driver else covering[0]
            unique_within[fks.index(last)] = tuple(c for c in unique if c not in last.columns)
    return tuple(cap_one), unique_within


# -- sample ----------------------------------------------------------------------------------


def assign_secondary(
    frame: pd.DataFrame,
    fits: Sequence[SecondaryFit],
    *,
    meta: Metadata,
    done: Mapping[str, pd.DataFrame],
    driver_idx: np.ndarray | None,
    driver: ForeignKey | None,
    cap_one: Sequence[int],
    unique_within: Mapping[int, Sequence[str]],
    rng: np.random.Generator,
    features: Mapping[str, ParentFeatures] | None = None,
    determined: Mapping[int, int] | None = None,
    joint: JointKeys | None = None,
) -> None:
    """Set the columns of every secondary key of ``frame`` in place, in ``fits``' order.

    ``driver_idx`` is the driver parent row of each row (-1: NULL driver key);
    ``features`` the parent tables' :class:`ParentFeatures` (for the rankings);
    ``determined`` maps a key to the key that determines it (:func:`determined_keys`;
    the latter is then assigned first, :func:`determined_order`): such a key is drawn
    once per parent of its determining key (:func:`~relsynth.keys.dealing.one_per_group`),
    and with the table's ``joint`` model the determining key's slots are then redealt so
    that its values per set key (a flight's origin) follow the source
    (:func:`~relsynth.keys.mixing.mix_determined`).
    """
    fks = list(meta.foreign_keys)
    determined = determined or {}
    for sec in determined_order(fits, determined):
        fk = fks[sec.fk]
        parent = done[fk.parent]
        if isinstance(sec, ImpliedKey):
            if driver is None or driver_idx is None:
                raise ValueError(f"implied key {fk.label} needs the table's driver parent")
            via = fks[sec.via]
            mapping = dict(zip(via.parent_columns, via.columns, strict=False))
            for c, pc in zip(fk.columns, fk.parent_columns, strict=False):
                frame[c] = take(done[driver.parent][mapping[pc]], driver_idx)
            if (driver_idx < 0).any() and sec.degree is not None:
                mask = valid_parents(parent, fk, meta, fks, done, fk.child)
                rows = np.nonzero(driver_idx < 0)[0]
                assign_degree(
                    frame, fk, sec.degree, mask, parent, rng, rows=rows, cap_one=sec.fk in cap_one
                )
            continue
        fixed = [c for c in fk.columns if c in frame.columns]
        if len(fixed) == len(fk.columns):
            continue  # derived from a wider key already assigned
        if fixed:
            assign_constrained(frame, fk, fixed, parent, rng)
            continue
        mask = valid_parents(parent, fk, meta, fks, done, fk.child)
        order = _degree_order(sec, fk, parent, features, rng)
        by = fks[determined[sec.fk]].columns if sec.fk in determined else ()
        together = set_groups(frame, by) if by and set(by) <= set(frame.columns) else None
        inside = None  # this key determines the driver: its parents stay in one family
        if driver is not None and determined.get(fks.index(driver)) == sec.fk:
            inside = set_groups(frame, driver.columns)
        prefer = None
        if together is not None:
            prefer = chosen_parents(sec, fks, frame, parent, mask, done, determined, rng)
        assign_degree(
            frame,
            fk,
            sec.degree,
            mask,
            parent,
            rng,
            rows=None,
            cap_one=sec.fk in cap_one,
            group=unique_within.get(sec.fk),
            order=order,
            together=together,
            inside=inside,
            prefer=prefer,
        )
        a = determined.get(sec.fk, -1)
        if together is not None and a not in unique_within and fks[a] != driver:
            mix_determined(frame, joint, fks, done, sec.fk, determined, rng)


def _degree_order(
    sec: DegreeKey,
    fk: ForeignKey,
    parent: pd.DataFrame,
    features: Mapping[str, ParentFeatures] | None,
    rng: np.random.Generator,
) -> np.ndarray | None:
    """The order in which ``sec``'s drawn in-degrees go to the rows of ``parent``: a
    copied parent's source in-degrees, else the ranking's draws; None: at random."""
    source = getattr(sec, "source_degree", None)
    if source is not None:  # a copied parent: its rows are the source's
        return source_order(source, parent, fk.parent_columns)
    if sec.ranking is not None and features is not None:
        return sec.ranking.draws(parent, features.get(fk.parent), rng)
    return None


def chosen_parents(
    sec: SecondaryFit,
    fks: Sequence[ForeignKey],
    frame: pd.DataFrame,
    parent: pd.DataFrame,
    mask: np.ndarray,
    done: Mapping[str, pd.DataFrame],
    determined: Mapping[int, int],
    rng: np.random.Generator,
) -> np.ndarray | None:
    """Per row of ``frame``, the row of ``parent`` its determining key's parent chooses
    (:class:`~relsynth.keys.choice.ParentChoice`; -1: none, or not a valid parent);
    None without a choice for the key that determines ``sec`` here, or without that
    parent's value columns."""
    choice = getattr(sec, "choice", None)
    if choice is None or determined.get(sec.fk) != choice.by:
        return None
    by = fks[choice.by]
    if by.parent not in done or not set(by.columns) <= set(frame.columns):
        return None
    aparent = done[by.parent]
    if not len(aparent):
        return None
    aidx = locate(frame, by.columns, aparent, by.parent_columns)
    used, inverse = np.unique(aidx, return_inverse=True)
    rows = aparent.iloc[np.maximum(used, 0)].reset_index(drop=True)
    picked = choice.choose(rows, parent, fks[sec.fk].parent_columns, rng)
    if picked is None:
        return None
    picked = np.where((used >= 0) & (picked >= 0), picked, -1)
    picked[picked >= 0] = np.where(mask[picked[picked >= 0]], picked[picked >= 0], -1)
    return np.asarray(picked[np.asarray(inverse).reshape(-1)], dtype=np.int64)


def determined_keys(
    meta: Metadata,
    table: str,
    rules: Sequence[Rule],
    state: TableKeys,
) -> dict[int, int]:
    """Per key of ``table`` that an enforced :class:`~relsynth.metadata._rule.Determines`
    rule says another key determines, that key (indices into ``meta.foreign_keys``).

    Kept where the generator can draw the key once per parent of the other: the
    determined key is dealt by in-degree (a :class:`DegreeKey`, neither one-to-one nor
    part of a junction pair) and the determining key is the driver or another
    secondary key (never the reverse of a rule already kept); or the determined key is
    the driver and the determining key is dealt by in-degree (its parents' rows are
    then kept within one driver family, :func:`~relsynth.keys.dealing.within_groups`).
    """
    fks = list(meta.foreign_keys)
    dealt = {sec.fk for sec in state.secondary if isinstance(sec, DegreeKey)}
    known = {sec.fk for sec in state.secondary} | (
        set() if state.driver is None else {state.driver.fk}
    )
    out: dict[int, int] = {}
    for rule in rules:
        if not isinstance(rule, Determines) or not rule.enforce or rule.table != table:
            continue
        try:
            a, b = (fks.index(fk) for fk in determines_keys(meta, rule))
        except ValueError:  # the rule no longer fits the keys
            continue
        free = {k for k in dealt if k not in state.cap_one and k not in state.unique_within}
        driven = state.driver is not None and b == state.driver.fk and a in free
        if not driven and (b not in free or a not in known):
            continue
        if b not in out and out.get(a) != b:
            out[b] = a
    return out


def determined_order(
    fits: Sequence[SecondaryFit], determined: Mapping[int, int]
) -> list[SecondaryFit]:
    """``fits`` with each determined key moved after the key that determines it."""
    out = list(fits)
    for _ in range(len(out)):
        moved = False
        for b, a in determined.items():
            where = {sec.fk: i for i, sec in enumerate(out)}
            if a in where and b in where and where[a] > where[b]:
                out.insert(where[a], out.pop(where[b]))
                moved = True
        if not moved:
            break
    return out
