"""ConditionalWGAN's family latent: siblings share a draw and come out alike.

Children of one parent share something their parent's columns do not tell (here a
hidden family level ``f``: every child's ``x`` is ``f`` plus a little noise). With
the family latent, generated siblings resemble each other; without it they are as
unlike as strangers. Old model files (no ``family_dim`` in their state) load and
sample as before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from relsynth.models import ConditionalWGAN  # noqa: E402
from relsynth.models.context import Context, family_codes, has_siblings  # noqa: E402
from relsynth.models.wgan_training import SiblingPairs  # noqa: E402

SMALL = {
    "n_threads": 1,
    "device": "cpu",
    "embedding_dim": 16,
    "generator_dims": (64, 64),
    "critic_dims": (64, 64),
    "batch_size": 200,
    "calibrate": False,
    "early_stopping": False,
}


def _families(seed: int, n_parents: int = 150) -> tuple[pd.DataFrame, Context]:
    """Children ``x = f + noise`` with a hidden family level ``f``; a parent column
    ``p`` that tells nothing about ``f``; sizes 4 to 8."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(4, 9, n_parents)
    parent = np.repeat(np.arange(n_parents), sizes)
    level = rng.normal(size=n_parents)
    table = pd.DataFrame({"x": level[parent] + 0.3 * rng.normal(size=len(parent))})
    context = Context(
        parent=pd.DataFrame({"parent.p": rng.normal(size=n_parents)[parent]}),
        family_size=sizes[parent],
        position=np.concatenate([np.arange(s) for s in sizes]),
        family=parent,
    )
    return table, context


def _between_share(x: np.ndarray, family: np.ndarray) -> float:
    """Share of the variance of ``x`` between families (about 0.92 in the source)."""
    means = pd.Series(x).groupby(family).transform("mean").to_numpy()
    return float(np.var(means) / np.var(x))


def test_siblings_resemble_each_other_with_the_family_latent() -> None:
    table, context = _families(0)
    assert _between_share(table["x"].to_numpy(), context.family) > 0.85
    shares = {}
    for dim in (0, 16):
        model = ConditionalWGAN(steps=400, seed=0, family_dim=dim, **SMALL).fit(table, context)
        out = model.sample(context, seed=1)["x"].to_numpy()
        shares[dim] = _between_share(out, context.family)
    # Without a shared draw, a family's mean varies only by chance (about 1 / size).
    assert shares[0] < 0.3
    assert shares[16] > shares[0] + 0.1, shares


def test_family_latent_state_round_trip_and_old_files() -> None:
    table, context = _families(1, n_parents=40)
    model = ConditionalWGAN(steps=5, seed=0, family_dim=8, **SMALL).fit(table, context)
    assert model.family_dim_ == 8
    state = model.state_dict()
    again = ConditionalWGAN.from_state_dict(state)
    a = model.sample(context, seed=3)
    pd.testing.assert_frame_equal(a, again.sample(context, seed=3))
    # A model file from before the family latent: no "family_dim", no latent inputs.
    old = ConditionalWGAN(steps=5, seed=0, family_dim=0, **SMALL).fit(table, context)
    old_state = old.state_dict()
    del old_state["fitted"]["family_dim"]
    del old_state["params"]["family_dim"]
    loaded = ConditionalWGAN.from_state_dict(old_state)
    assert loaded.family_dim_ == 0
    pd.testing.assert_frame_equal(loaded.sample(context, seed=3), old.sample(context, seed=3))


def test_family_latent_off_without_siblings() -> None:
    """Every family of one row, or a plain DataFrame context: nothing to share."""
    table, context = _families(2, n_parents=40)
    lone = Context(parent=context.parent, family=np.arange(len(table)))
    assert ConditionalWGAN(steps=2, seed=0, **SMALL).fit(table, lone).family_dim_ == 0
    assert ConditionalWGAN(steps=2, seed=0, **SMALL).fit(table, context.parent).family_dim_ == 0


def test_sibling_pairs_draw_a_sibling_or_a_stranger() -> None:
    codes = family_codes(np.array(["a", "a", "b", "c", "c", "c"]))
    assert codes.tolist() == [0, 0, 1, 2, 2, 2] and has_siblings(codes)
    assert not has_siblings(family_codes(np.array([1, 2, 3])))
    pairs = SiblingPairs(codes)
    anchors = np.repeat(np.arange(6), 200)
    partners, sibling = pairs.draw(anchors, np.random.default_rng(0))
    assert (sibling == np.isin(anchors, [0, 1, 3, 4, 5])).all()
    assert (partners[sibling] != anchors[sibling]).all()
    assert (codes[partners[sibling]] == codes[anchors[sibling]]).all()
    # the rows of family "c" are each drawn as a partner of the others
    assert set(partners[anchors == 3]) == {4, 5}
