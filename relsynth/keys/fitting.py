"""What :meth:`KeyGenerator.fit <relsynth.keys.generator.KeyGenerator.fit>` learns per table.

One table's :class:`~relsynth.keys.state.TableKeys`, fitted on the source frames in
plan order (a parent's :class:`~relsynth.keys.features.ParentFeatures` are made when
its first child is fitted and reused by the others, through ``features``). Each idea
is fitted by its own module, in the order :meth:`KeyGenerator.sample_table` samples
them: the driver counts (:mod:`relsynth.keys.drivers`), the secondary keys and their
order (:mod:`relsynth.keys.secondary`), the one-to-one and junction caps, the joint
model of keys to copied parents (:mod:`relsynth.keys.joint`), the key-column formats
(:mod:`relsynth.keys.columns`), self-references (:mod:`relsynth.keys.forest`) and
deferred keys (:mod:`relsynth.keys.deferred`). Kept apart from the estimator so that
the estimator holds the parameters, the sampling calls and the state, and this the
fit of one table from them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pandas as pd

from relsynth.keys.columns import fit_key_values
from relsynth.keys.deferred import fit_deferred
from relsynth.keys.drivers import fit_driver
from relsynth.keys.features import ParentFeatures
from relsynth.keys.forest import fit_forest
from relsynth.keys.joint import fit_joint
from relsynth.keys.secondary import fit_secondary, fit_unique_caps
from relsynth.keys.state import TableKeys
from relsynth.metadata.graph import Plan
from relsynth.metadata.schema import Metadata

__all__ = ["fit_table"]


def fit_table(
    meta: Metadata,
    plan: Plan,
    name: str,
    frames: Mapping[str, pd.DataFrame],
    features: dict[str, ParentFeatures],
    *,
    parent_features: str,
    n_components: int,
    bandwidth: str | float,
    n_neighbors: int,
    min_count: int,
    copied: Collection[str],
) -> TableKeys:
    """Fit what the key generator learns about table ``name``.

    Parameters
    ----------
    meta, plan, name : Metadata, Plan, str
        The source metadata, the generation plan and the table.
    frames : Mapping of str to DataFrame
        Every source table (reset index).
    features : dict of str to ParentFeatures
        The parents' features fitted so far; a parent fitted here is added.
    parent_features, n_components, bandwidth, n_neighbors, min_count, copied
        The :class:`~relsynth.keys.generator.KeyGenerator` parameters and copied tables.

    Returns
    -------
    TableKeys
    """
    fks = list(meta.foreign_keys)
    frame = frames[name]
    copied = frozenset(copied)
    driver = plan.driver.get(name)
    driver_fit, didx = None, None
    if driver is not None:
        driver_fit, didx = fit_driver(
            meta,
            driver,
            frame,
            frames[driver.parent],
            features,
            parent_features=parent_features,
            n_components=n_components,
            bandwidth=bandwidth,
            n_neighbors=n_neighbors,
            copied=driver.parent in copied,
        )
    secondary, order = fit_secondary(
        meta,
        plan,
        name,
        frames,
        didx,
        features if parent_features == "auto" else None,
        n_components=n_components,
        bandwidth=bandwidth,
        n_neighbors=n_neighbors,
        copied=copied,
    )
    assigned = ([] if driver is None else [driver]) + order
    cap_one, unique_within = fit_unique_caps(meta.table(name), assigned, driver, fks)
    capped = {*cap_one, *unique_within}
    joint = fit_joint(
        meta, plan, name, frames, secondary, capped=capped, copied=copied, min_count=min_count
    )
    return TableKeys(
        joint=joint,
        n_rows=len(frame),
        driver=driver_fit,
        secondary=tuple(secondary),
        cap_one=cap_one,
        unique_within=unique_within,
        values=fit_key_values(meta, name, frame, {c for fk in assigned for c in fk.columns}),
        forests=tuple(
            fit_forest(frame, fk, fks.index(fk)) for fk in plan.self_references if fk.child == name
        ),
        deferred=fit_deferred(plan, fks, name, frames),
    )
