"""Key skeletons on real databases: integrity, and children-per-parent fidelity per key.

Thresholds (KS complement, 1 - KS statistic on per-parent counts with zeros):
driver keys >= 0.95, secondary keys and self-references >= 0.90.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

import relsynth
from relsynth import check
from relsynth.keys import KeyGenerator
from relsynth.keys._frames import locate as _locate
from tests.conftest import dataset_url

pytestmark = pytest.mark.datasets


def _per_parent(frames, fk) -> np.ndarray:
    idx = _locate(frames[fk.child], fk.columns, frames[fk.parent], fk.parent_columns)
    return np.bincount(idx[idx >= 0], minlength=len(frames[fk.parent]))


@pytest.mark.parametrize("name", ["northwind", "berka", "gtfs_cairns"])
def test_skeleton_fidelity_on_real_databases(name):
    url = dataset_url(name)
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    gen = KeyGenerator().fit(meta, tables)
    skeleton = gen.sample(seed=0)
    assert check(skeleton.metadata, skeleton.tables).ok
    for fk in meta.foreign_keys:
        real, synth = _per_parent(tables, fk), _per_parent(skeleton.tables, fk)
        if len(real) == 0:
            continue
        score = 1 - ks_2samp(real, synth, method="asymp").statistic
        driver = gen.plan_.driver.get(fk.child) == fk
        assert score >= (0.95 if driver else 0.90), f"{fk.label}: {score:.3f}"
