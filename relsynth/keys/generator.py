"""KeyGenerator: fit per-key cardinality/degree models, sample key skeletons.

Stage 2 of the pipeline (keys): decides HOW MANY rows each table gets and WHO
points to whom, before any value column exists. See ``docs/keys.md`` for the
approach to every hard case; in short, for each table in plan order:

1. **driver key**: each synthetic parent row gets a number of children from the
   :class:`~relsynth.keys.cardinality.CardinalityModel` (conditional on the
   parent's features when the parent's value columns are present, else the
   marginal); root tables get ``round(n * scale)`` rows (or ``sizes[t]``);
2. **implied secondary keys** (the source always agrees with the value reached
   through the driver parent: ``payment.customer_id == payment.rental.customer_id``)
   are copied through the driver parent;
3. **other secondary keys**, most specific (most columns) first: parents get
   in-degrees from a :class:`~relsynth.keys.cardinality.DegreeModel` and child
   rows are dealt to the slots; a key whose columns are all set already
   (``flights.origin`` under ``flights.(origin, time_hour)``) is derived, its
   validity ensured by only choosing parents of the wider key whose overlapping
   values exist; a key in a junction primary key gets unique pairs;
4. **non-key-reference key columns**: surrogate values from learned formats
   (:mod:`relsynth.keys.ids`), positions inside a parent (``stop_sequence``),
   distinct per group;
5. **self-references**: a forest level by level (roots, depth and fan-out per
   depth from the source), never a cycle;
6. **deferred keys** (cycle breakers) stay NULL until :meth:`fill_deferred`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from relsynth._random import as_generator, stream
from relsynth._typing import SeedLike
from relsynth.check import check
from relsynth.errors import DataError, NotFittedError, ParameterError
from relsynth.keys.cardinality import CardinalityModel, DegreeModel
from relsynth.keys.features import CountFeature, ParentFeatures
from relsynth.keys.ids import KeyFormat, allocate, learn_format
from relsynth.keys.skeleton import KeySkeleton, key_columns, key_metadata
from relsynth.metadata.graph import Plan
from relsynth.metadata.graph import plan as make_plan
from relsynth.metadata.schema import ForeignKey, Metadata

__all__ = ["KeyGenerator"]

logger = logging.getLogger(__name__)

_FORMAT = "relsynth.keys/1"
_MAX_LEVELS = 64


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

    def __init__(
        self,
        *,
        parent_features: Literal["auto", "none"] = "auto",
        bandwidth: str | float = "scott",
        n_components: int = 4,
        n_neighbors: int = 32,
    ) -> None:
        self.parent_features = parent_features
        self.bandwidth = bandwidth
        self.n_components = n_components
        self.n_neighbors = n_neighbors

    # -- parameters -------------------------------------------------------------------

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters."""
        return {
            "parent_features": self.parent_features,
            "bandwidth": self.bandwidth,
            "n_components": self.n_components,
            "n_neighbors": self.n_neighbors,
        }

    def _validate_params(self) -> None:
        name = type(self).__name__
        if self.parent_features not in ("auto", "none"):
            raise ParameterError(
                f"The 'parent_features' parameter of {name} must be a str among "
                f"{{'auto', 'none'}}. Got {self.parent_features!r} instead."
            )
        bw = self.bandwidth
        if isinstance(bw, str):
            if bw not in ("scott", "silverman"):
                raise ParameterError(
                    f"The 'bandwidth' parameter of {name} must be a str among "
                    f"{{'scott', 'silverman'}} or a float in the range (0, inf). Got {bw!r} "
                    "instead."
                )
        elif (
            isinstance(bw, bool)
            or not isinstance(bw, (int, float))
            or not bw > 0
            or not np.isfinite(bw)
        ):
            raise ParameterError(
                f"The 'bandwidth' parameter of {name} must be a str among "
                f"{{'scott', 'silverman'}} or a float in the range (0, inf). Got {bw!r} instead."
            )
        for pname, lo, hi in (("n_components", 1, 8), ("n_neighbors", 1, 10_000)):
            value = getattr(self, pname)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, np.integer))
                or not lo <= value <= hi
            ):
                raise ParameterError(
                    f"The '{pname}' parameter of {name} must be an int in the range "
                    f"[{lo}, {hi}]. Got {value!r} instead."
                )

    # -- fit ----------------------------------------------------------------------------

    def fit(
        self,
        metadata: Metadata,
        tables: Mapping[str, pd.DataFrame],
        *,
        plan: Plan | None = None,
        on_violations: Literal["raise", "drop"] = "raise",
    ) -> KeyGenerator:
        """Fit the cardinality, degree, forest and key-format models on the source tables.

        Parameters
        ----------
        metadata : Metadata
            The source metadata.
        tables : Mapping of str to DataFrame
            The source tables (key columns required; value columns of parents are
            used to condition cardinalities).
        plan : Plan, optional
            The generation plan; by default ``relsynth.plan(metadata)``.
        on_violations : {"raise", "drop"}
            What to do when the keys of ``tables`` violate integrity: raise a
            ``DataError`` carrying the report, or drop the orphan child rows
            (cascading; logged) and go on.

        Returns
        -------
        KeyGenerator
            ``self``.

        Raises
        ------
        ParameterError
            If a parameter is invalid.
        DataError
            If the tables violate their keys (``.report`` holds the IntegrityReport).
        """
        self._validate_params()
        if on_violations not in ("raise", "drop"):
            raise ParameterError(
                "The 'on_violations' parameter of KeyGenerator.fit must be a str among "
                f"{{'raise', 'drop'}}. Got {on_violations!r} instead."
            )
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
        frames = self._clean(metadata, plan, frames, on_violations)
        self.metadata_ = metadata
        self.plan_ = plan
        self.n_rows_ = {t: len(f) for t, f in frames.items()}
        features: dict[str, ParentFeatures] = {}
        self.states_: dict[str, dict[str, Any]] = {}
        for name in plan.order:
            self.states_[name] = self._fit_table(name, frames, features)
        self.features_ = features
        self._prepare()
        logger.info(
            "KeyGenerator fitted on %d table(s), %d row(s)", len(frames), sum(self.n_rows_.values())
        )
        return self

    def _clean(
        self, meta: Metadata, plan: Plan, frames: dict[str, pd.DataFrame], on_violations: str
    ) -> dict[str, pd.DataFrame]:
        if _keys_look_clean(meta, frames):
            return frames
        kmeta = key_metadata(meta)
        report = check(kmeta, frames)
        if report.ok:
            return frames
        if on_violations == "raise" or any(
            v.kind not in ("orphan_foreign_key",) for v in report.violations
        ):
            raise DataError(
                "The source tables violate their keys; KeyGenerator can only learn from "
                f"consistent keys. {report} Fix the data, or call "
                "fit(..., on_violations='drop') to drop orphan rows.",
                report=report,
            )
        for _ in range(len(frames) + 2):
            changed = False
            for fk in meta.foreign_keys:
                child, parent = frames[fk.child], frames[fk.parent]
                idx = _locate(child, fk.columns, parent, fk.parent_columns)
                null = child[list(fk.columns)].isna().any(axis=1).to_numpy()
                orphan = (idx < 0) & ~null
                if orphan.any():
                    logger.warning("Dropping %d orphan row(s) of %s", int(orphan.sum()), fk.label)
                    frames[fk.child] = child.loc[~orphan].reset_index(drop=True)
                    changed = True
            if not changed:
                break
        report = check(kmeta, frames)
        if not report.ok:
            raise DataError(f"Dropping orphan rows left violations: {report}", report=report)
        return frames

    def _fit_table(
        self, name: str, frames: Mapping[str, pd.DataFrame], features: dict[str, ParentFeatures]
    ) -> dict[str, Any]:
        meta, plan = self.metadata_, self.plan_
        table = meta.table(name)
        frame = frames[name]
        fks = list(meta.foreign_keys)
        state: dict[str, Any] = {"n_rows": len(frame)}
        driver = plan.driver.get(name)
        secondary = list(plan.secondary.get(name, ()))
        state["driver"] = None if driver is None else fks.index(driver)
        assigned: list[ForeignKey] = [] if driver is None else [driver]
        didx = None
        if driver is not None:
            parent = frames[driver.parent]
            didx = _locate(frame, driver.columns, parent, driver.parent_columns)
            counts = np.bincount(didx[didx >= 0], minlength=len(parent))
            feats = None
            if self.parent_features == "auto":
                values = [
                    c
                    for c in meta.table(driver.parent).column_names
                    if c not in key_columns(meta, driver.parent) and c in parent
                ]
                pf = features.get(driver.parent)
                if pf is None:
                    pf = ParentFeatures(self.n_components).fit(parent, values)
                    features[driver.parent] = pf
                feats = pf.transform(parent) if pf.n_features_out else None
                count_feature = CountFeature().fit(parent, values, counts)
                state["count_feature"] = count_feature
                feats = _with_count_feature(feats, count_feature, parent)
            model = CardinalityModel(bandwidth=self.bandwidth, n_neighbors=self.n_neighbors)
            state["cardinality"] = model.fit(counts, feats)
            state["driver_null_rows"] = int((didx < 0).sum())
            state["n_parent_rows"] = len(parent)
        # secondary keys: implied first, then the most specific first
        sec_states: list[dict[str, Any]] = []
        implied = []
        for fk in secondary:
            via = self._implied_via(fk, driver, frame, didx, frames) if driver is not None else None
            if via is not None:
                implied.append(fk)
                sec_states.append({"fk": fks.index(fk), "mode": "implied", "via": fks.index(via)})
        rest = sorted(
            (fk for fk in secondary if fk not in implied),
            key=lambda fk: (-len(fk.columns), fks.index(fk)),
        )
        for fk in rest:
            parent = frames[fk.parent]
            idx = _locate(frame, fk.columns, parent, fk.parent_columns)
            null = frame[list(fk.columns)].isna().any(axis=1).to_numpy()
            deg = np.bincount(idx[idx >= 0], minlength=len(parent))
            rate = float(null.mean()) if len(frame) else 0.0
            sec_states.append(
                {"fk": fks.index(fk), "mode": "degree", "degree": DegreeModel().fit(deg, rate)}
            )
        assigned += implied + rest
        state["secondary"] = sec_states
        # unique constraints over foreign key columns: one-to-one caps, junction pairs
        state["cap_one"] = []
        state["unique_within"] = {}
        fk_cols = {c for fk in assigned for c in fk.columns}
        for unique in [table.primary_key, *table.unique]:
            if not unique or not set(unique) <= fk_cols:
                continue
            covering = [fk for fk in assigned if set(fk.columns) & set(unique)]
            if len(covering) == 1 and set(covering[0].columns) == set(unique):
                state["cap_one"].append(fks.index(covering[0]))
            elif len(covering) >= 2:
                last = covering[-1] if covering[-1] != driver else covering[0]
                group = [c for c in unique if c not in last.columns]
                state["unique_within"][str(fks.index(last))] = group
        # non-foreign-key key columns
        formats: dict[str, Any] = {}
        all_fk_cols = {c for fk in meta.parents(name) for c in fk.columns}
        pk = table.primary_key
        group_cols = [c for c in pk if c in fk_cols]
        for col in key_columns(meta, name):
            if col in all_fk_cols:
                continue
            if col in pk and group_cols:
                gid = _group_ids(frame, group_cols)
                formats[col] = {
                    "mode": "local",
                    "group": group_cols,
                    "format": learn_format(frame[col], gid),
                }
            elif col in pk and len(pk) > 1 and col != pk[0]:
                gid = _group_ids(frame, [pk[0]])
                formats[col] = {
                    "mode": "local",
                    "group": [pk[0]],
                    "format": learn_format(frame[col], gid),
                }
            elif col in pk and len(pk) > 1:
                sizes = frame.groupby(col, dropna=True).size().to_numpy()
                formats[col] = {
                    "mode": "group",
                    "format": learn_format(frame[col]),
                    "sizes": DegreeModel().fit(sizes),
                    "n_groups": int(len(sizes)),
                }
            else:
                formats[col] = {"mode": "global", "format": learn_format(frame[col])}
        state["formats"] = formats
        # self-references
        state["self_refs"] = [
            {"fk": fks.index(fk), **_forest_stats(frame, fk)}
            for fk in plan.self_references
            if fk.child == name
        ]
        # deferred keys held by this table
        deferred = {}
        for fk in plan.deferred:
            if fk.child != name:
                continue
            parent = frames[fk.parent]
            idx = _locate(frame, fk.columns, parent, fk.parent_columns)
            null = frame[list(fk.columns)].isna().any(axis=1).to_numpy()
            deg = np.bincount(idx[idx >= 0], minlength=len(parent))
            deferred[str(fks.index(fk))] = DegreeModel().fit(
                deg, float(null.mean()) if len(frame) else 0.0
            )
        state["deferred"] = deferred
        return state

    def _implied_via(
        self,
        fk: ForeignKey,
        driver: ForeignKey | None,
        frame: pd.DataFrame,
        didx: np.ndarray | None,
        frames: Mapping[str, pd.DataFrame],
    ) -> ForeignKey | None:
        if driver is None or didx is None or set(fk.columns) & set(driver.columns):
            return None
        parent = frames[driver.parent]
        ok_rows = didx >= 0
        if not ok_rows.any():
            return None
        for via in self.metadata_.parents(driver.parent):
            if via.is_self_reference or via in self.plan_.deferred or via.parent != fk.parent:
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

    def _prepare(self) -> None:
        """Derived, non-persisted lookups (rebuilt after from_dict)."""
        fks = list(self.metadata_.foreign_keys)
        self._fks = fks
        self._key_cols = {t: key_columns(self.metadata_, t) for t in self.metadata_.tables}
        needs: dict[str, set[str]] = {t: set() for t in self.metadata_.tables}
        for fk in self.plan_.deferred_not_null:
            table: str | None = fk.parent
            seen = set()
            while table is not None and table not in seen:
                seen.add(table)
                needs[table].add(fk.child)
                drv = self.plan_.driver.get(table)
                table = None if drv is None else drv.parent
        self._needs_rows = needs

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
        if (
            isinstance(scale, bool)
            or not isinstance(scale, (int, float, np.number))
            or not np.isfinite(scale)
            or scale < 0
        ):
            raise ParameterError(
                "The 'scale' parameter of KeyGenerator.sample must be a float in the range "
                f"[0, inf). Got {scale!r} instead."
            )
        if sizes is not None:
            if not isinstance(sizes, Mapping):
                raise ParameterError(
                    "The 'sizes' parameter of KeyGenerator.sample must be a mapping of root "
                    f"table name to int. Got {type(sizes).__name__} instead."
                )
            roots = set(self.plan_.roots)
            for table, n in sizes.items():
                if table not in roots:
                    raise ParameterError(
                        f"The 'sizes' parameter of KeyGenerator.sample names {table!r}, which "
                        "is not a root table; child sizes follow from the cardinalities. Root "
                        f"tables: {', '.join(sorted(roots)) or '(none)'}."
                    )
                if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
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
    ) -> pd.DataFrame:
        """Sample the key columns of one table, given the tables generated before it.

        Parameters
        ----------
        table : str
            The table to sample; every table before it in ``plan_.order`` is in ``done``.
        done : Mapping of str to DataFrame
            Already generated tables (key columns, and value columns when the models
            have filled them: the driver parent's value columns condition the
            cardinality; without them the marginal is used).
        scale, sizes
            As in :meth:`sample` (used only when ``table`` is a root).
        rng : numpy.random.Generator

        Returns
        -------
        DataFrame
            The key columns of ``table``; deferred foreign keys are NULL.
        """
        self._check_fitted()
        self._validate_sample_args(scale, sizes)
        meta, fks = self.metadata_, self._fks
        state = self.states_[self.metadata_.table(table).name]
        out: dict[str, Any] = {}
        needs_rows = any(len(done.get(t, ())) > 0 for t in self._needs_rows[table])
        cap_one = set(state["cap_one"])
        unique_within = {int(k): v for k, v in state["unique_within"].items()}
        drv_i = state["driver"]
        idx: np.ndarray | None = None
        # NOT NULL secondary parents that are empty: no child row can exist
        blocked = False
        for sec in state["secondary"]:
            fk = fks[sec["fk"]]
            if (
                not fk.nullable
                and sec["mode"] == "degree"
                and not _valid_parents(
                    done[fk.parent], fk, meta, fks, done, table, assigned=()
                ).any()
            ):
                blocked = True
        if drv_i is None:
            n = (
                int(sizes[table])
                if sizes is not None and table in sizes
                else int(round(state["n_rows"] * scale))
            )
            if n == 0 and needs_rows:
                n = 1
                logger.info("Table %r gets 1 row (a NOT NULL deferred key needs a parent)", table)
        else:
            driver = fks[drv_i]
            parent = done[driver.parent]
            valid = _valid_parents(parent, driver, meta, fks, done, table, assigned=())
            model: CardinalityModel = state["cardinality"]
            feats = None
            pf = self.features_.get(driver.parent)
            if model.features_ is not None and pf is not None:
                feats = _with_count_feature(
                    pf.transform(parent) if pf.n_features_out else None,
                    state.get("count_feature"),
                    parent,
                )
            cap = 1 if drv_i in cap_one else None
            for k, _group in unique_within.items():
                if k != drv_i:
                    cap = _min_cap(
                        cap,
                        int(
                            _valid_parents(
                                done[fks[k].parent],
                                fks[k],
                                meta,
                                fks,
                                done,
                                table,
                                assigned=driver.columns,
                            ).sum()
                        ),
                    )
            counts = model.sample(feats if feats is not None else len(parent), rng, cap=cap)
            counts[~valid] = 0
            if blocked:
                counts[:] = 0
            if counts.sum() == 0 and needs_rows and valid.any() and not blocked:
                counts[rng.choice(np.nonzero(valid)[0])] = 1
            idx = np.repeat(np.arange(len(parent), dtype=np.int64), counts)
            n_src_parents = state["n_parent_rows"]
            ratio = len(parent) / n_src_parents if n_src_parents else scale
            n_null = int(round(state["driver_null_rows"] * ratio)) if driver.nullable else 0
            if n_null and not blocked:
                idx = np.concatenate([idx, np.full(n_null, -1, dtype=np.int64)])
            n = len(idx)
            for c, pc in zip(driver.columns, driver.parent_columns, strict=False):
                out[c] = _take(parent[pc], idx)
        frame = pd.DataFrame(out, index=pd.RangeIndex(n))
        # secondary keys
        for sec in state["secondary"]:
            fk = fks[sec["fk"]]
            if sec["mode"] == "implied":
                assert idx is not None
                via = fks[sec["via"]]
                parent = done[fks[drv_i].parent]
                mapping = dict(zip(via.parent_columns, via.columns, strict=False))
                for c, pc in zip(fk.columns, fk.parent_columns, strict=False):
                    frame[c] = _take(parent[mapping[pc]], idx)
                if (idx < 0).any():
                    self._assign_degree(
                        frame,
                        fk,
                        sec,
                        done,
                        rng,
                        rows=np.nonzero(idx < 0)[0],
                        cap_one=sec["fk"] in cap_one,
                    )
                continue
            fixed = [c for c in fk.columns if c in frame.columns]
            if len(fixed) == len(fk.columns):
                continue  # derived from a wider key already assigned
            if fixed:
                _assign_constrained(frame, fk, fixed, done[fk.parent], rng)
                continue
            group = unique_within.get(sec["fk"])
            self._assign_degree(
                frame, fk, sec, done, rng, rows=None, cap_one=sec["fk"] in cap_one, group=group
            )
        # non-foreign-key key columns
        for col, spec in state["formats"].items():
            fmt: KeyFormat = spec["format"]
            if spec["mode"] == "global":
                frame[col] = fmt.generate(n, rng)
            elif spec["mode"] == "group":
                sizes_model: DegreeModel = spec["sizes"]
                src_n = max(state["n_rows"], 1)
                n_groups = max(1, int(round(spec["n_groups"] * n / src_n))) if n else 0
                n_groups = min(n_groups, n)
                g_sizes = sizes_model.sample(n_groups, n, rng)
                values = fmt.generate(n_groups, rng)
                frame[col] = values[np.repeat(np.arange(n_groups), g_sizes)] if n else values
        for col, spec in state["formats"].items():
            if spec["mode"] == "local":
                gid = _group_ids(frame, spec["group"])
                pos = pd.Series(gid).groupby(gid).cumcount().to_numpy() if n else np.zeros(0)
                frame[col] = spec["format"].at(pos, rng, gid)
        # self-references: a forest
        for ref in state["self_refs"]:
            fk = fks[ref["fk"]]
            pidx = _forest(n, ref, rng, self_loop_roots=not fk.nullable)
            for c, pc in zip(fk.columns, fk.parent_columns, strict=False):
                frame[c] = _take(frame[pc], pidx)
        # deferred keys: NULL for now
        for key in state["deferred"]:
            fk = fks[int(key)]
            for c in fk.columns:
                if c not in frame.columns:
                    frame[c] = pd.Series([None] * n, dtype=object)
        cols = [c for c in self._key_cols[table] if c in frame.columns]
        return frame[cols]

    def _assign_degree(
        self,
        frame: pd.DataFrame,
        fk: ForeignKey,
        sec: Mapping[str, Any],
        done: Mapping[str, pd.DataFrame],
        rng: np.random.Generator,
        *,
        rows: np.ndarray | None,
        cap_one: bool,
        group: Sequence[str] | None = None,
    ) -> None:
        parent = done[fk.parent]
        model: DegreeModel = sec["degree"]
        rows = np.arange(len(frame)) if rows is None else rows
        pidx = _degree_assign(
            frame,
            fk,
            model,
            parent,
            rows,
            rng,
            cap_one=cap_one,
            group=group,
            mask=_valid_parents(parent, fk, self.metadata_, self._fks, done, fk.child, assigned=()),
        )
        for c, pc in zip(fk.columns, fk.parent_columns, strict=False):
            col = _take(parent[pc], pidx)
            if len(rows) == len(frame):
                frame[c] = col
            else:
                merged = (
                    frame[c].astype(object).to_numpy().copy()
                    if c in frame
                    else np.full(len(frame), None, dtype=object)
                )
                merged[rows] = col.astype(object).to_numpy()
                frame[c] = pd.Series(merged).infer_objects()

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
        out = dict(done)
        for fk in self.plan_.deferred:
            i = self._fks.index(fk)
            model = self.states_[fk.child]["deferred"][str(i)]
            child = out[fk.child].copy()
            parent = out[fk.parent]
            rows = np.arange(len(child))
            pidx = _degree_assign(
                child,
                fk,
                model,
                parent,
                rows,
                rng,
                cap_one=False,
                group=None,
                mask=np.ones(len(parent), dtype=bool),
            )
            for c, pc in zip(fk.columns, fk.parent_columns, strict=False):
                child[c] = _take(parent[pc], pidx)
            out[fk.child] = child
        return out

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
        """Reassign a secondary key so each child row gets the nearest parent with capacity.

        Parameters
        ----------
        fk : ForeignKey
            A secondary (or deferred) key of ``child_keys``' table.
        child_keys : DataFrame
            The child's key columns as sampled (their current assignment sets each
            parent's capacity: the in-degree drawn by :meth:`sample_table`).
        preferred : ndarray of shape (n_child, d)
            Per child row, the feature vector of the parent it would prefer.
        parent : DataFrame
            The parent table (its referenced key columns are read).
        parent_vectors : ndarray of shape (n_parent, d)
            Feature vectors of the parent rows, in the same space.
        rng : numpy.random.Generator

        Returns
        -------
        DataFrame
            A copy of ``child_keys`` with ``fk``'s columns reassigned; in-degrees and
            NULL rows are unchanged, and junction pairs stay unique.
        """
        self._check_fitted()
        from scipy.spatial import cKDTree

        preferred = np.asarray(preferred, dtype=float)
        parent_vectors = np.asarray(parent_vectors, dtype=float)
        if (
            preferred.ndim != 2
            or len(preferred) != len(child_keys)
            or parent_vectors.ndim != 2
            or len(parent_vectors) != len(parent)
            or preferred.shape[1] != parent_vectors.shape[1]
        ):
            raise ParameterError(
                "match_secondary: 'preferred' must have shape (n_child, d) and "
                "'parent_vectors' (n_parent, d) with the same d; got "
                f"{preferred.shape} for {len(child_keys)} child row(s) and "
                f"{parent_vectors.shape} for {len(parent)} parent row(s)."
            )
        idx = _locate(child_keys, fk.columns, parent, fk.parent_columns)
        rows = np.nonzero(idx >= 0)[0]
        capacity = np.bincount(idx[rows], minlength=len(parent)).astype(np.int64)
        result = np.full(len(child_keys), -1, dtype=np.int64)
        pending = rng.permutation(rows)
        if len(pending) and len(parent):
            tree = cKDTree(parent_vectors)
            k = min(len(parent), 8)
            dist, cand = tree.query(preferred[pending], k=k)
            if k == 1:
                dist, cand = dist[:, None], cand[:, None]
            for j in range(k):  # the j-th nearest parent, for children still unmatched
                if not len(pending):
                    break
                c, d = cand[:, j], dist[:, j]
                order = np.lexsort((d, c))  # by parent, nearest child first
                c_sorted = c[order]
                starts = np.searchsorted(c_sorted, c_sorted, side="left")
                rank = np.arange(len(c_sorted)) - starts
                won = order[rank < capacity[c_sorted]]
                result[pending[won]] = c[won]
                np.subtract.at(capacity, c[won], 1)
                keep = np.ones(len(pending), dtype=bool)
                keep[won] = False
                pending, cand, dist = pending[keep], cand[keep], dist[keep]
            if len(pending):
                # The rest: 1-D optimal transport along the parents' first principal
                # axis (children and the remaining slots matched in sorted order).
                slots = np.repeat(np.arange(len(parent)), np.maximum(capacity, 0))
                centered = parent_vectors - parent_vectors.mean(axis=0)
                axis = (
                    np.linalg.svd(centered, full_matrices=False)[2][0]
                    if len(parent) > 1
                    else np.ones(parent_vectors.shape[1])
                )
                slot_order = slots[np.argsort(parent_vectors[slots] @ axis, kind="stable")]
                child_order = pending[np.argsort(preferred[pending] @ axis, kind="stable")]
                result[child_order] = slot_order[: len(child_order)]
        state = self.states_[fk.child]
        i = self._fks.index(fk)
        group = state["unique_within"].get(str(i))
        if group and len(rows):
            gid = _group_ids(child_keys, group)
            result[rows] = _repair_unique(gid[rows], result[rows], len(parent), rng)
        out = child_keys.copy()
        for c, pc in zip(fk.columns, fk.parent_columns, strict=False):
            out[c] = _take(parent[pc], result)
        return out

    # -- persistence --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able state (lists, numbers, strings): save a fitted generator without pickle."""
        self._check_fitted()
        fks = self._fks
        tables: dict[str, Any] = {}
        for name, st in self.states_.items():
            d: dict[str, Any] = {
                "n_rows": st["n_rows"],
                "driver": st["driver"],
                "cap_one": list(st["cap_one"]),
                "unique_within": {k: list(v) for k, v in st["unique_within"].items()},
                "secondary": [
                    {k: (v.to_dict() if isinstance(v, DegreeModel) else v) for k, v in s.items()}
                    for s in st["secondary"]
                ],
                "formats": {
                    c: {
                        k: (v.to_dict() if isinstance(v, (KeyFormat, DegreeModel)) else v)
                        for k, v in spec.items()
                    }
                    for c, spec in st["formats"].items()
                },
                "self_refs": [_jsonable(r) for r in st["self_refs"]],
                "deferred": {k: v.to_dict() for k, v in st["deferred"].items()},
            }
            if st["driver"] is not None:
                d["cardinality"] = st["cardinality"].to_dict()
                if st.get("count_feature") is not None:
                    d["count_feature"] = st["count_feature"].to_dict()
                d["driver_null_rows"] = st["driver_null_rows"]
                d["n_parent_rows"] = st["n_parent_rows"]
            tables[name] = d
        return {
            "format": _FORMAT,
            "params": self.get_params(),
            "metadata": self.metadata_.to_dict(),
            "drivers": {
                t: (None if fk is None else fks.index(fk)) for t, fk in self.plan_.driver.items()
            },
            "features": {t: f.to_dict() for t, f in self.features_.items()},
            "tables": tables,
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
        self.states_ = {}
        for name, d in data["tables"].items():
            st: dict[str, Any] = {
                "n_rows": int(d["n_rows"]),
                "driver": d["driver"],
                "cap_one": [int(x) for x in d["cap_one"]],
                "unique_within": {k: list(v) for k, v in d["unique_within"].items()},
                "secondary": [
                    {k: (DegreeModel.from_dict(v) if k == "degree" else v) for k, v in s.items()}
                    for s in d["secondary"]
                ],
                "formats": {
                    c: {
                        k: (
                            KeyFormat.from_dict(v)
                            if k == "format"
                            else DegreeModel.from_dict(v)
                            if k == "sizes"
                            else v
                        )
                        for k, v in spec.items()
                    }
                    for c, spec in d["formats"].items()
                },
                "self_refs": [dict(r) for r in d["self_refs"]],
                "deferred": {k: DegreeModel.from_dict(v) for k, v in d["deferred"].items()},
            }
            if d["driver"] is not None:
                st["cardinality"] = CardinalityModel.from_dict(d["cardinality"])
                if d.get("count_feature") is not None:
                    st["count_feature"] = CountFeature.from_dict(d["count_feature"])
                st["driver_null_rows"] = int(d["driver_null_rows"])
                st["n_parent_rows"] = int(d["n_parent_rows"])
            self.states_[name] = st
        self.n_rows_ = {t: st["n_rows"] for t, st in self.states_.items()}
        self._prepare()
        return self


# -- helpers ---------------------------------------------------------------------------------


def _keys_look_clean(meta: Metadata, frames: Mapping[str, pd.DataFrame]) -> bool:
    """A fast pre-check (no report): keys present, PKs unique and non-null, no orphans.

    Only when it fails does ``fit`` run :func:`relsynth.check` for the full report.
    """
    for name, table in meta.tables.items():
        frame = frames[name]
        if any(c not in frame.columns for c in key_columns(meta, name)):
            return False
        pk = list(table.primary_key)
        if pk and len(frame):
            keys = frame[pk]
            if keys.isna().any().any() or keys.duplicated().any():
                return False
        for col in table.columns:
            if (
                not col.nullable
                and col.name in key_columns(meta, name)
                and frame[col.name].isna().any()
            ):
                return False
    for fk in meta.foreign_keys:
        child = frames[fk.child]
        idx = _locate(child, fk.columns, frames[fk.parent], fk.parent_columns)
        null = child[list(fk.columns)].isna().any(axis=1).to_numpy()
        if ((idx < 0) & ~null).any():
            return False
    return True


def _min_cap(a: int | None, b: int) -> int:
    return b if a is None else min(a, b)


def _locate(
    child: pd.DataFrame, columns: Sequence[str], parent: pd.DataFrame, parent_columns: Sequence[str]
) -> np.ndarray:
    """Row position in ``parent`` of each child row's key (-1: NULL or not found)."""
    n = len(child)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if len(parent) == 0:
        return np.full(n, -1, dtype=np.int64)
    left = child[list(columns)].reset_index(drop=True)
    right = parent[list(parent_columns)].reset_index(drop=True)
    right.columns = list(columns)
    left, right = _align(left, right)
    null = left.isna().any(axis=1).to_numpy()
    if len(columns) == 1:
        index = pd.Index(right.iloc[:, 0])
        if not index.is_unique:
            index = pd.Index(right.iloc[:, 0].drop_duplicates(keep="first"))
            pos = index.get_indexer(left.iloc[:, 0])
            first = right.iloc[:, 0].drop_duplicates(keep="first").index.to_numpy()
            out = np.where(pos >= 0, first[np.maximum(pos, 0)], -1)
        else:
            out = index.get_indexer(left.iloc[:, 0])
    else:
        right = right.assign(_pos=np.arange(len(right))).drop_duplicates(list(columns))
        merged = left.merge(right, how="left", on=list(columns), sort=False)
        out = merged["_pos"].fillna(-1).to_numpy(dtype=np.int64)
    out = np.array(out, dtype=np.int64)
    out[null] = -1
    return out


def _align(left: pd.DataFrame, right: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    left, right = left.copy(), right.copy()
    for col in left.columns:
        a, b = left[col], right[col]
        num_a = pd.api.types.is_numeric_dtype(a.dtype) and not pd.api.types.is_bool_dtype(a)
        num_b = pd.api.types.is_numeric_dtype(b.dtype) and not pd.api.types.is_bool_dtype(b)
        if num_a and num_b:
            if a.dtype != b.dtype:
                left[col], right[col] = a.astype("Float64"), b.astype("Float64")
        elif a.dtype != b.dtype:
            left[col] = (
                a.astype(object).where(a.notna(), None).map(lambda v: v if v is None else str(v))
            )
            right[col] = (
                b.astype(object).where(b.notna(), None).map(lambda v: v if v is None else str(v))
            )
    return left, right


def _take(values: pd.Series, idx: np.ndarray) -> pd.Series:
    """``values[idx]`` with NULL where ``idx < 0``, keeping the dtype where possible."""
    idx = np.asarray(idx, dtype=np.int64)
    values = values.reset_index(drop=True)
    if not (idx < 0).any():
        return pd.Series(values.to_numpy()[idx], dtype=values.dtype)
    if pd.api.types.is_integer_dtype(values.dtype) and not isinstance(
        values.dtype, pd.api.extensions.ExtensionDtype
    ):
        values = values.astype("Int64")
    if isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
        return pd.Series(values.array.take(idx, allow_fill=True))
    arr = values.to_numpy()
    if arr.dtype.kind == "f":
        out = np.full(len(idx), np.nan)
    elif arr.dtype.kind == "M":
        out = np.full(len(idx), np.datetime64("NaT"), dtype=arr.dtype)
    else:
        out = np.full(len(idx), None, dtype=object)
    ok = idx >= 0
    if len(arr):
        out[ok] = arr[idx[ok]]
    return pd.Series(out)


def _group_ids(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    if len(frame) == 0:
        return np.zeros(0, dtype=np.int64)
    codes = frame.groupby(list(columns), sort=False, dropna=False).ngroup()
    return codes.to_numpy(dtype=np.int64)


def _valid_parents(
    parent: pd.DataFrame,
    fk: ForeignKey,
    meta: Metadata,
    fks: Sequence[ForeignKey],
    done: Mapping[str, pd.DataFrame],
    table: str,
    assigned: Sequence[str],
) -> np.ndarray:
    """Parent rows a child of ``fk`` may point at: key not NULL, and every narrower key
    of the child contained in ``fk``'s columns finds its own parent."""
    if len(parent) == 0:
        return np.zeros(0, dtype=bool)
    valid = parent[list(fk.parent_columns)].notna().all(axis=1).to_numpy().copy()
    mapping = dict(zip(fk.columns, fk.parent_columns, strict=False))
    for other in meta.parents(table):
        if other == fk or other.is_self_reference or other.parent not in done:
            continue
        if not set(other.columns) < set(fk.columns) and not (
            set(other.columns) == set(fk.columns) and fks.index(other) > fks.index(fk)
        ):
            continue
        proj = parent[[mapping[c] for c in other.columns]]
        proj.columns = list(other.columns)
        found = _locate(proj, other.columns, done[other.parent], other.parent_columns) >= 0
        nulls = proj.isna().any(axis=1).to_numpy()
        valid &= found | (nulls & other.nullable)
    return valid


def _with_count_feature(
    feats: np.ndarray | None, count_feature: CountFeature | None, parent: pd.DataFrame
) -> np.ndarray | None:
    """Parent features with the key's count feature appended (when it has one)."""
    extra = None if count_feature is None else count_feature.transform(parent)
    if extra is None:
        return feats
    return extra if feats is None else np.hstack([feats, extra])


def _degree_assign(
    frame: pd.DataFrame,
    fk: ForeignKey,
    model: DegreeModel,
    parent: pd.DataFrame,
    rows: np.ndarray,
    rng: np.random.Generator,
    *,
    cap_one: bool,
    group: Sequence[str] | None,
    mask: np.ndarray,
) -> np.ndarray:
    """Parent row index for each of ``rows`` (-1 = NULL), following the degree model."""
    m = len(rows)
    pidx = np.full(m, -1, dtype=np.int64)
    if m == 0:
        return pidx
    n_null = model.n_null(m, rng) if fk.nullable else 0
    if not mask.any():
        if not fk.nullable:
            raise DataError(
                f"Cannot assign foreign key {fk.label}: {m} child row(s) but no parent row "
                "to point at. Give the parent table rows (scale/sizes), or make the key "
                "nullable."
            )
        return pidx
    n_assign = m - n_null
    target = rng.permutation(m)[:n_assign]
    cap = 1 if cap_one else None
    if group:
        gid = _group_ids(frame.iloc[rows], group)[target]
        n_groups = int(gid.max()) + 1 if len(gid) else 0
        cap = _min_cap(cap, max(n_groups, 1))
    degrees = model.sample(len(parent), n_assign, rng, cap=cap, mask=mask)
    slots = np.repeat(np.arange(len(parent), dtype=np.int64), degrees)
    if group:
        pidx[target] = _assign_unique(gid, slots, degrees, len(parent), rng)
    else:
        pidx[target] = rng.permutation(slots)
    return pidx


def _assign_unique(
    gid: np.ndarray, slots: np.ndarray, degrees: np.ndarray, n_parent: int, rng: np.random.Generator
) -> np.ndarray:
    """Deal parent slots to rows so that (group, parent) pairs are unique.

    Rows are laid out round-robin (the first row of every group, largest groups
    first, then the second row of every group...) and parents' slots, largest
    degree first, fill that layout: a parent's consecutive slots land in distinct
    groups unless its degree exceeds a round's size; the rare clashes are then
    repaired by swaps that keep every degree.
    """
    m = len(gid)
    sizes = np.bincount(gid)
    grank_order = np.lexsort((rng.random(len(sizes)), -sizes))
    grank = np.empty(len(sizes), dtype=np.int64)
    grank[grank_order] = np.arange(len(sizes))
    order = np.argsort(gid, kind="stable")
    pos = np.empty(m, dtype=np.int64)
    starts = np.searchsorted(gid[order], gid[order], side="left")
    pos[order] = np.arange(m) - starts
    layout = np.lexsort((grank[gid], pos))
    p_order = np.lexsort((rng.random(n_parent), -degrees))
    dealt = np.repeat(p_order, degrees[p_order])
    out = np.empty(m, dtype=np.int64)
    out[layout] = dealt
    return _repair_unique(gid, out, n_parent, rng)


def _repair_unique(
    gid: np.ndarray, assigned: np.ndarray, n_parent: int, rng: np.random.Generator
) -> np.ndarray:
    """Swap parents between rows until no (group, parent) pair repeats; degrees kept."""
    out = assigned.copy()
    m = len(out)
    if m == 0:
        return out
    for _ in range(200):
        code = gid * n_parent + out
        dup = pd.Series(code).duplicated(keep="first").to_numpy()
        bad = np.nonzero(dup)[0]
        if len(bad) == 0:
            return out
        partners = rng.integers(0, m, len(bad))
        existing = np.unique(code)
        new_bad = gid[bad] * n_parent + out[partners]
        new_partner = gid[partners] * n_parent + out[bad]
        ok = (
            (gid[bad] != gid[partners])
            & ~_isin_sorted(new_bad, existing)
            & ~_isin_sorted(new_partner, existing)
        )
        bad, partners = bad[ok], partners[ok]
        # one swap per row per round
        _, first = np.unique(np.concatenate([bad, partners]), return_index=True)
        keep = np.zeros(len(bad) * 2, dtype=bool)
        keep[first] = True
        use = keep[: len(bad)] & keep[len(bad) :]
        bad, partners = bad[use], partners[use]
        out[bad], out[partners] = out[partners].copy(), out[bad].copy()
    # last resort (never seen in practice): give the row a parent its group lacks
    code = gid * n_parent + out
    dup = np.nonzero(pd.Series(code).duplicated(keep="first").to_numpy())[0]
    for row in dup:  # a handful of rows at most
        used = set(out[gid == gid[row]].tolist())
        free = [p for p in range(n_parent) if p not in used]
        if free:
            out[row] = free[int(rng.integers(0, len(free)))]
    return out


def _isin_sorted(values: np.ndarray, sorted_ref: np.ndarray) -> np.ndarray:
    if len(sorted_ref) == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ref, values), len(sorted_ref) - 1)
    return sorted_ref[pos] == values


def _assign_constrained(
    frame: pd.DataFrame,
    fk: ForeignKey,
    fixed: Sequence[str],
    parent: pd.DataFrame,
    rng: np.random.Generator,
) -> None:
    """Assign a key whose columns are partly set already: choose among matching parents."""
    mapping = dict(zip(fk.columns, fk.parent_columns, strict=False))
    n = len(frame)
    pidx = np.full(n, -1, dtype=np.int64)
    if n and len(parent):
        left = frame[list(fixed)].reset_index(drop=True)
        right = parent[[mapping[c] for c in fixed]].reset_index(drop=True)
        right.columns = list(fixed)
        left, right = _align(left, right)
        right = right.assign(_pos=np.arange(len(right)))
        groups = right.groupby(list(fixed), sort=False, dropna=True)["_pos"].apply(np.asarray)
        lkeys = left.groupby(list(fixed), sort=False, dropna=True).indices
        for key, rows in lkeys.items():  # one iteration per distinct fixed value
            cand = groups.get(key)
            if cand is None or len(cand) == 0:
                continue
            pidx[rows] = cand[rng.integers(0, len(cand), len(rows))]
    if (pidx < 0).any() and not fk.nullable and n:
        raise DataError(
            f"Cannot assign foreign key {fk.label}: some rows' already-set columns "
            f"({', '.join(fixed)}) match no parent row. Declare the overlapping key on the "
            "wider key's parent too, so the values are consistent by construction."
        )
    for c in fk.columns:
        if c not in fixed:
            frame[c] = _take(parent[mapping[c]], pidx)
    if (pidx < 0).any():
        for c in fixed:
            col = frame[c].astype(object).to_numpy().copy()
            col[pidx < 0] = None
            frame[c] = pd.Series(col).infer_objects()


def _forest_stats(frame: pd.DataFrame, fk: ForeignKey) -> dict[str, Any]:
    """Depth proportions and per-depth fan-outs of a self-reference."""
    n = len(frame)
    if n == 0:
        return {"levels": [1.0], "fanouts": [[0]]}
    pidx = _locate(frame, fk.columns, frame, fk.parent_columns)
    self_loop = pidx == np.arange(n)
    pidx = np.where(self_loop, -1, pidx)
    depth = np.full(n, -1, dtype=np.int64)
    roots = np.nonzero(pidx < 0)[0]
    depth[roots] = 0
    order = np.argsort(pidx, kind="stable")
    sorted_p = pidx[order]
    frontier = roots
    level = 0
    while len(frontier) and level < 10_000:
        lo = np.searchsorted(sorted_p, frontier, side="left")
        hi = np.searchsorted(sorted_p, frontier, side="right")
        lens = hi - lo
        if lens.sum() == 0:
            break
        starts = np.repeat(lo, lens) + (
            np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
        )
        children = order[starts]
        children = children[depth[children] < 0]
        level += 1
        depth[children] = min(level, _MAX_LEVELS - 1)
        frontier = children
    depth[depth < 0] = 0  # rows on a source cycle: treated as roots
    fanout = np.bincount(pidx[pidx >= 0], minlength=n)
    n_levels = int(depth.max()) + 1
    levels = np.bincount(depth, minlength=n_levels) / n
    fanouts = [fanout[depth == d].tolist() for d in range(n_levels)]
    return {"levels": levels.tolist(), "fanouts": fanouts}


def _forest(
    n: int, stats: Mapping[str, Any], rng: np.random.Generator, self_loop_roots: bool
) -> np.ndarray:
    """Parent row of each of ``n`` rows (-1 for roots): a forest, level by level."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    sizes = allocate(np.asarray(stats["levels"], dtype=float), n, rng)
    if sizes[0] == 0:
        sizes[int(np.argmax(sizes))] -= 1
        sizes[0] += 1
    zero = np.nonzero(sizes == 0)[0]
    if len(zero):
        first = int(zero[0])
        sizes[first - 1] += sizes[first:].sum()
        sizes = sizes[:first]
    parent_node = np.full(n, -1, dtype=np.int64)
    start = 0
    fanouts = stats["fanouts"]
    for lvl in range(1, len(sizes)):
        prev = np.arange(start, start + sizes[lvl - 1])
        start += sizes[lvl - 1]
        fan = np.asarray(fanouts[min(lvl - 1, len(fanouts) - 1)], dtype=np.int64)
        deg = DegreeModel().fit(fan).sample(len(prev), int(sizes[lvl]), rng)
        slots = np.repeat(prev, deg)
        parent_node[start : start + sizes[lvl]] = rng.permutation(slots)
    perm = rng.permutation(n)  # node -> row
    out = np.full(n, -1, dtype=np.int64)
    has = parent_node >= 0
    out[perm[has]] = perm[parent_node[has]]
    if self_loop_roots:
        roots = perm[~has]
        out[roots] = roots
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value
