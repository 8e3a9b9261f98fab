"""KeyGenerator: fit per-key cardinality/degree models, sample key skeletons.

Stage 2 of the pipeline (keys): decides HOW MANY rows each table gets and WHO
points to whom, before any value column exists. See ``docs/keys.md`` for the
approach to every hard case. This module is the estimator (parameters, fit,
sample, state); each idea lives in its own module, in the order a table is
sampled:

1. **driver counts** (:mod:`relsynth.keys.drivers`): each synthetic parent row
   gets a number of children from the
   :class:`~relsynth.keys.cardinality.CardinalityModel` (conditional on the
   parent's features when the parent's value columns are present, else the
   marginal); root tables get ``round(n * scale)`` rows (or ``sizes[t]``);
2. **secondary keys** (:mod:`relsynth.keys.secondary`): implied keys are copied
   through the driver parent, the others get parents' in-degrees from a
   :class:`~relsynth.keys.cardinality.DegreeModel`, most specific first; junction
   keys get unique pairs; once the table's values are drawn, a key with a
   :class:`~relsynth.keys.preference.ValuePreference` is re-matched on them
   (:meth:`KeyGenerator.match_values`, :mod:`relsynth.keys.matching`); a key that
   another key determines (a ``Determines`` rule) is drawn once per parent of that
   key;
3. **key-column values** (:mod:`relsynth.keys.columns`): surrogate values from
   learned formats (:mod:`relsynth.keys.ids`), positions inside a parent
   (``stop_sequence``), distinct per group;
4. **self-references** (:mod:`relsynth.keys.forest`): a forest level by level
   (roots, depth and fan-out per depth from the source), never a cycle;
5. **deferred keys** (:mod:`relsynth.keys.deferred`, cycle breakers) stay NULL
   until :meth:`KeyGenerator.fill_deferred`.

What the generator learned about each table is one frozen
:class:`~relsynth.keys.state.TableKeys` (``states_``).

The source must have consistent keys: ``fit`` checks them (the key part of
:func:`relsynth.check`) and raises :class:`~relsynth.errors.DataError` when they
are not. Repairing a source that breaks its keys is the synthesizer's job, done
once, before any model sees the data (``Synthesizer.fit(..., on_violations="drop")``,
:func:`relsynth.synthesis._repair.drop_violations`: offending rows dropped, a nullable
orphan key set to NULL).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from relsynth._random import as_generator, stream
from relsynth._typing import SeedLike
from relsynth._validation import Interval, Options, OrNone, Predicate, validate_params
from relsynth.errors import DataError, NotFittedError, ParameterError
from relsynth.keys._frames import key_problems, take
from relsynth.keys.columns import sample_key_values
from relsynth.keys.deferred import fill_deferred, null_deferred, tables_needing_rows
from relsynth.keys.drivers import root_size, sample_driver
from relsynth.keys.features import ParentFeatures
from relsynth.keys.fitting import fit_table
from relsynth.keys.forest import sample_forest
from relsynth.keys.joint import draw_joint, joint_within
from relsynth.keys.matching import match_secondary, match_values
from relsynth.keys.secondary import (
    DegreeKey,
    assign_secondary,
    determined_keys,
    valid_parents,
)
from relsynth.keys.skeleton import KeySkeleton, key_columns
from relsynth.keys.state import TableKeys
from relsynth.metadata._rule import Rule
from relsynth.metadata.graph import Plan
from relsynth.metadata.graph import plan as make_plan
from relsynth.metadata.schema import ForeignKey, Metadata

__all__ = ["KeyGenerator"]

logger = logging.getLogger(__name__)

_FORMAT = "relsynth.keys/1"
_PARAMS = {
    "parent_features": Options(["auto", "none"]),
    "bandwidth": [Options(["scott", "silverman"]), Interval(float, 0, math.inf, closed="neither")],
    "n_components": Interval(int, 1, 8),
    "n_neighbors": Interval(int, 1, 10_000),
    "min_count": Interval(int, 1, None, closed="left"),
}
_SAMPLE_PARAMS = {
    "scale": Interval(float, 0, math.inf, closed="left"),
    "sizes": OrNone(
        Predicate(lambda v: isinstance(v, Mapping), "a mapping of root table name to int")
    ),
}
_SIZE = Interval(int, 0, None, closed="left")


class KeyGenerator:
    """Sample primary/foreign-key skeletons with parent-conditional cardinalities.

    Parameters
    ----------
    parent_features : {"auto", "none"}
        ``"auto"``: a child's cardinality is conditioned on features of its driver
        parent's value columns (:class:`~relsynth.keys.features.ParentFeatures`);
        ``"none"``: unconditional (marginal) cardinalities.
    bandwidth : {"scott", "silverman"} or float
        Bandwidth of the feature kernel of the conditional KDE (whitened units).
    n_components : int
        Maximum dimension of the parent features (1 to 8).
    n_neighbors : int
        Nearest training parents the conditional mixture is restricted to.
    min_count : int
        Least source rows a combination of keys to copied parents needs to be drawn
        (:mod:`relsynth.keys.joint`; the synthesizer's ``min_category_count``).

    Attributes
    ----------
    metadata_ : Metadata
        The metadata fitted on.
    plan_ : Plan
        The generation plan (order, driver and secondary keys, deferred keys).
    n_rows_ : dict of str to int
        Source row counts.

    Examples
    --------
    >>> import pandas as pd
    >>> from relsynth import Column, ForeignKey, Metadata, Table, check
    >>> from relsynth.keys import KeyGenerator
    >>> meta = Metadata(
    ...     {"p": Table("p", (Column("id", "id", nullable=False),), primary_key=("id",)),
    ...      "c": Table("c", (Column("id", "id", nullable=False),
    ...                       Column("p_id", "id", nullable=False)), primary_key=("id",))},
    ...     (ForeignKey("c", ("p_id",), "p", ("id",)),),
    ... )
    >>> tables = {"p": pd.DataFrame({"id": [1, 2, 3]}),
    ...           "c": pd.DataFrame({"id": [1, 2, 3, 4], "p_id": [1, 1, 2, 3]})}
    >>> skeleton = KeyGenerator().fit(meta, tables).sample(scale=2, seed=0)
    >>> len(skeleton["p"])
    6
    >>> check(skeleton.metadata, skeleton.tables).ok
    True
    """

    #: Tables whose sampled rows are a selection, not a draw from the learned
    #: distribution (conditional or seeded sampling sets it while it samples): their
    #: children's conditional counts are kept as drawn, not rescaled to the source's
    #: children-per-parent mean (German customers keep their own order counts).
    selected_parents: frozenset[str] = frozenset()

    def __init__(
        self,
        *,
        parent_features: Literal["auto", "none"] = "auto",
        bandwidth: str | float = "scott",
        n_components: int = 4,
        n_neighbors: int = 32,
        min_count: int = 2,
    ) -> None:
        self.parent_features = parent_features
        self.bandwidth = bandwidth
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_count = min_count

    # -- parameters -------------------------------------------------------------------

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters."""
        return {
            "parent_features": self.parent_features,
            "bandwidth": self.bandwidth,
            "n_components": self.n_components,
            "n_neighbors": self.n_neighbors,
            "min_count": self.min_count,
        }

    def _validate_params(self) -> None:
        validate_params(type(self).__name__, self.get_params(), _PARAMS)

    # -- fit ----------------------------------------------------------------------------

    def fit(
        self,
        metadata: Metadata,
        tables: Mapping[str, pd.DataFrame],
        *,
        plan: Plan | None = None,
        copied: Collection[str] = (),
    ) -> KeyGenerator:
        """Fit the cardinality, degree, forest and key-format models on the source tables.

        Parameters
        ----------
        metadata : Metadata
            The source metadata.
        tables : Mapping of str to DataFrame
            The source tables (key columns required; value columns of parents are
            used to condition cardinalities). Their keys must be consistent (see
            :func:`relsynth.check`); ``Synthesizer.fit(..., on_violations="drop")``
            repairs a source that breaks them.
        plan : Plan, optional
            The generation plan; by default ``relsynth.plan(metadata)``.
        copied : collection of str
            Tables the synthetic database holds verbatim (lookup and reference
            tables): a secondary key to one of them deals each of its rows the
            in-degree rank it has in the source (``DegreeKey.source_degree``), since
            its rows *are* the source's.

        Returns
        -------
        KeyGenerator
            ``self``.

        Raises
        ------
        ParameterError
            If a parameter is invalid.
        DataError
            If a table is missing or the tables break their keys.
        """
        self._validate_params()
        if not isinstance(metadata, Metadata):
            raise ParameterError(
                "The 'metadata' parameter of KeyGenerator.fit must be a Metadata. "
                f"Got {type(metadata).__name__} instead."
            )
        missing = [t for t in metadata.tables if t not in tables]
        if missing:
            raise DataError(
                f"KeyGenerator.fit: no data for table(s) {', '.join(map(repr, missing))}. "
                "Pass a frame for every table of the metadata (an empty one is fine)."
            )
        plan = plan if plan is not None else make_plan(metadata)
        frames = {t: tables[t].reset_index(drop=True) for t in metadata.tables}
        problems = key_problems(metadata, frames)
        if problems:
            raise DataError(
                "The source tables break their keys; KeyGenerator learns from consistent "
                f"keys only: {'; '.join(problems)}. relsynth.check(metadata, tables) lists "
                "every violation; fix the data, or let Synthesizer.fit(..., "
                "on_violations='drop') repair a copy."
            )
        self.metadata_ = metadata
        self.plan_ = plan
        self.n_rows_ = {t: len(f) for t, f in frames.items()}
        features: dict[str, ParentFeatures] = {}
        self.states_: dict[str, TableKeys] = {}
        self._copied = frozenset(copied)
        for name in plan.order:
            self.states_[name] = fit_table(
                metadata, plan, name, frames, features, copied=self._copied, **self.get_params()
            )
        self.features_ = features
        self._prepare()
        logger.info(
            "KeyGenerator fitted on %d table(s), %d row(s)", len(frames), sum(self.n_rows_.values())
        )
        return self

    def _prepare(self) -> None:
        """Derived, non-persisted lookups (rebuilt after from_dict)."""
        self._fks = list(self.metadata_.foreign_keys)
        self._key_cols = {t: key_columns(self.metadata_, t) for t in self.metadata_.tables}
        self._needs_rows = tables_needing_rows(self.metadata_, self.plan_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "states_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "the metadata and the source tables before 'sample'."
            )

    # -- sample -------------------------------------------------------------------------

    def sample(
        self, scale: float = 1.0, *, sizes: Mapping[str, int] | None = None, seed: SeedLike = None
    ) -> KeySkeleton:
        """Sample a key skeleton.

        Built on :meth:`sample_table` (in plan order) and :meth:`fill_deferred`.
        No value columns exist here, so cardinalities are drawn from their marginal
        (unconditional) distribution.

        Parameters
        ----------
        scale : float
            Multiplies the row counts of root tables (``round(n * scale)``).
        sizes : Mapping of str to int, optional
            Exact row counts of root tables (override ``scale`` for those).
        seed : int, numpy.random.Generator or None

        Returns
        -------
        KeySkeleton
        """
        self._check_fitted()
        self._validate_sample_args(scale, sizes)
        base = as_generator(seed) if isinstance(seed, np.random.Generator) else seed
        if base is None:
            base = int(np.random.SeedSequence().entropy % (2**63))
        done: dict[str, pd.DataFrame] = {}
        for name in self.plan_.order:
            done[name] = self.sample_table(
                name, done, scale=scale, sizes=sizes, rng=stream(base, "keys", name)
            )
        done = self.fill_deferred(done, rng=stream(base, "keys", "deferred"))
        return KeySkeleton(self.metadata_, done)

    def _validate_sample_args(self, scale: float, sizes: Mapping[str, int] | None) -> None:
        validate_params("KeyGenerator.sample", {"scale": scale, "sizes": sizes}, _SAMPLE_PARAMS)
        if sizes is None:
            return
        roots = set(self.plan_.roots)
        for table, n in sizes.items():
            if table not in roots:
                raise ParameterError(
                    f"The 'sizes' parameter of KeyGenerator.sample names {table!r}, which "
                    "is not a root table; child sizes follow from the cardinalities. Root "
                    f"tables: {', '.join(sorted(roots)) or '(none)'}."
                )
            if not _SIZE.accepts(n):
                raise ParameterError(
                    f"The 'sizes' parameter of KeyGenerator.sample must map {table!r} to a "
                    f"non-negative int. Got {n!r} instead."
                )

    def sample_table(
        self,
        table: str,
        done: Mapping[str, pd.DataFrame],
        *,
        scale: float = 1.0,
        sizes: Mapping[str, int] | None = None,
        rng: np.random.Generator,
        rules: Sequence[Rule] | None = None,
        copied: Collection[str] = (),
    ) -> pd.DataFrame:
        """Sample the key columns of one table, given the tables generated before it.

        Parameters
        ----------
        table : str
            The table to sample; every table before it in ``plan_.order`` is in ``done``.
        done : Mapping of str to DataFrame
            Already generated tables (key columns, and the value columns the models filled:
            the driver parent's condition the cardinality; without them, the marginal).
        scale, sizes, rng, copied
            As in :meth:`sample`; a ``copied`` parent (kept verbatim) gets ``scale`` x its children.
        rules : sequence of Rule, optional
            The rules to keep (default: the metadata's): a key that another key
            determines (``Determines``) is drawn once per parent of that key.

        Returns
        -------
        DataFrame
            The key columns of ``table``; deferred foreign keys are NULL.
        """
        self._check_fitted()
        self._validate_sample_args(scale, sizes)
        meta, fks = self.metadata_, self._fks
        state = self.states_[meta.table(table).name]
        needs_rows = any(len(done.get(t, ())) > 0 for t in self._needs_rows[table])
        driver = None if state.driver is None else fks[state.driver.fk]
        columns: dict[str, Any] = {}
        idx: np.ndarray | None = None
        if state.driver is None or driver is None:
            n = root_size(table, state.n_rows, scale, sizes, needs_rows)
        else:
            idx = sample_driver(
                state.driver,
                meta,
                done,
                table,
                self.features_.get(driver.parent),
                rng,
                scale=scale,
                cap=1 if state.driver.fk in state.cap_one else None,
                unique_within=list(state.unique_within),
                blocked=self._blocked(state, done, table),
                needs_rows=needs_rows,
                free_total=driver.parent in self.selected_parents,
                copied=copied,
            )
            n = len(idx)
            for c, pc in zip(driver.columns, driver.parent_columns, strict=False):
                columns[c] = take(done[driver.parent][pc], idx)
        frame = pd.DataFrame(columns, index=pd.RangeIndex(n))
        assign_secondary(
            frame,
            state.secondary,
            meta=meta,
            done=done,
            driver_idx=idx,
            driver=driver,
            cap_one=state.cap_one,
            unique_within=state.unique_within,
            rng=rng,
            features=self.features_,
            determined=(tied := self._determined(table, rules)),
            joint=state.joint,
        )
        draw_joint(frame, state.joint, fks, done, rng, copied=copied, fixed={*tied, *tied.values()})
        sample_key_values(frame, state.values, state.n_rows, rng)
        self._self_references(frame, state, rng)
        null_deferred(frame, [fks[k] for k in state.deferred])
        return frame[[c for c in self._key_cols[table] if c in frame.columns]]

    def _self_references(
        self, frame: pd.DataFrame, state: TableKeys, rng: np.random.Generator
    ) -> None:
        """Set each self-reference of ``frame`` in place: a forest of its rows."""
        for forest in state.forests:
            fk = self._fks[forest.fk]
            pidx = sample_forest(len(frame), forest, rng, self_loop_roots=not fk.nullable)
            for c, pc in zip(fk.columns, fk.parent_columns, strict=False):
                frame[c] = take(frame[pc], pidx)

    def _determined(self, table: str, rules: Sequence[Rule] | None) -> dict[int, int]:
        """The keys of ``table`` that another key determines (:func:`determined_keys`)."""
        rules = self.metadata_.rules if rules is None else rules
        state = self.states_[self.metadata_.table(table).name]
        return determined_keys(self.metadata_, table, rules, state)

    def _blocked(self, state: TableKeys, done: Mapping[str, pd.DataFrame], table: str) -> bool:
        """Whether a NOT NULL secondary key has no parent to point at (then no row can exist)."""
        meta, fks = self.metadata_, self._fks
        return any(
            not fks[sec.fk].nullable
            and not valid_parents(
                done[fks[sec.fk].parent], fks[sec.fk], meta, fks, done, table
            ).any()
            for sec in state.secondary
            if isinstance(sec, DegreeKey)
        )

    # -- deferred keys ------------------------------------------------------------------

    def fill_deferred(
        self, done: Mapping[str, pd.DataFrame], *, rng: np.random.Generator
    ) -> dict[str, pd.DataFrame]:
        """Fill every deferred foreign key (cycle breakers) with valid values.

        NOT NULL deferred keys get a parent for every row; nullable ones keep the
        source's NULL rate. Parents' in-degrees follow the source's.

        Returns
        -------
        dict of str to DataFrame
            The frames of ``done``, with the deferred key columns filled (copies
            where changed).
        """
        self._check_fitted()
        models = {k: m for state in self.states_.values() for k, m in state.deferred.items()}
        return fill_deferred(self.plan_, self._fks, models, done, rng)

    # -- matching by preference -------------------------------------------------------

    def match_secondary(
        self,
        fk: ForeignKey,
        child_keys: pd.DataFrame,
        preferred: np.ndarray,
        parent: pd.DataFrame,
        parent_vectors: np.ndarray,
        *,
        rng: np.random.Generator,
    ) -> pd.DataFrame:
        """Reassign a secondary key so each child row gets the nearest parent with
        capacity (:func:`relsynth.keys.matching.match_secondary`: the parameters)."""
        self._check_fitted()
        group = self.states_[fk.child].unique_within.get(self._fks.index(fk))
        return match_secondary(fk, child_keys, preferred, parent, parent_vectors, rng, group)

    def match_values(
        self,
        table: str,
        frame: pd.DataFrame,
        done: Mapping[str, pd.DataFrame],
        *,
        rng: np.random.Generator,
        exclude: frozenset[ForeignKey] = frozenset(),
        rules: Sequence[Rule] | None = None,
        families: bool = False,
    ) -> pd.DataFrame:
        """``frame`` (a sampled table with its values) with each secondary key that has
        a :class:`~relsynth.keys.preference.ValuePreference` matched on the rows' values
        (:func:`relsynth.keys.matching.match_values`: the parameters; ``rules`` as in
        :meth:`sample_table`: a determined key stays, its determining key is matched
        among the rows that share the determined key; ``families``: all the rows)."""
        self._check_fitted()
        state = self.states_[self.metadata_.table(table).name]
        determined = self._determined(table, rules)
        return match_values(
            state,
            self._fks,
            self.features_,
            frame,
            done,
            rng=rng,
            exclude=exclude,
            determined=determined,
            joint=joint_within(state.joint, self._fks, {*determined, *determined.values()}),
            families=families,
        )

    # -- persistence --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able state (lists, numbers, strings): save a fitted generator without pickle."""
        self._check_fitted()
        fks = self._fks
        return {
            "format": _FORMAT,
            # min_count only shapes the fit (the joint states hold what it kept): at its
            # default the file is the one older versions wrote
            "params": {k: v for k, v in self.get_params().items() if (k, v) != ("min_count", 2)},
            "metadata": self.metadata_.to_dict(),
            "drivers": {
                t: (None if fk is None else fks.index(fk)) for t, fk in self.plan_.driver.items()
            },
            "features": {t: f.to_dict() for t, f in self.features_.items()},
            "tables": {name: state.to_dict() for name, state in self.states_.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyGenerator:
        """Rebuild a fitted generator from :meth:`to_dict`'s output."""
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise ParameterError(
                f"KeyGenerator.from_dict expects a dict made by KeyGenerator.to_dict "
                f"(format {_FORMAT!r}); got {got!r}."
            )
        self = cls(**data["params"])
        meta = Metadata.from_dict(data["metadata"])
        fks = list(meta.foreign_keys)
        drivers = {t: (None if i is None else fks[int(i)]) for t, i in data["drivers"].items()}
        self.metadata_ = meta
        self.plan_ = make_plan(meta, drivers)
        self.features_ = {t: ParentFeatures.from_dict(f) for t, f in data["features"].items()}
        self.states_ = {name: TableKeys.from_dict(d) for name, d in data["tables"].items()}
        self.n_rows_ = {t: st.n_rows for t, st in self.states_.items()}
        self._prepare()
        return self
