"""A private child table's parent context under DP, and the DP release of how its
values move with it (see :mod:`relsynth.synthesis._dp`, docs/privacy.md).

**The context.** A child's model is conditioned on its driver parent's values (and,
under a private parent, the family counters). The real contexts are the entity's own
rows, so they enter only the critic's per-entity clipped gradients; the generator and
the context encoder get synthetic contexts made from the DP key skeleton and the
parent's releases (:class:`DPContext`).

**The context correlations.** DP-SGD with a few noisy steps does not learn that a
child follows its parent (Berka: a loan's date follows its account's, correlation 0.94
across accounts; the DP model's stayed near 0), and it can invent a dependence on the
context that the data does not have (the critic's noise pushes the generator's context
weights at random). So each child table with continuous context columns (a parent's
numbers and datetimes, the family counters) and continuous values gets one Gaussian
release of their correlations (:func:`context_release`): for every row a vector of
the moments of the ``k`` context normal scores ``c`` and the ``v`` value normal scores
``z`` (1, ``c``, ``z``, ``c^2``, ``z^2``, ``c z``), averaged per entity, each entity's
vector clipped to L2 norm ``B = sqrt(1 + 2k + 2v + kv)``, summed, with Gaussian noise of
standard deviation ``sigma B`` (L2 sensitivity ``B``: one entity adds or removes one
clipped vector). The correlations ``(E[cz] - E[c] E[z]) / sqrt(Var c Var z)`` follow
(post-processing; the noisy count is the divisor). The scores read only DP outputs: the
context's from the ranks of the synthetic contexts, the values' from their released
quantiles (clipped to ``SCORE_CLIP``). The parent's numbers and datetimes are the
context columns here; the family counters stay in the generator's context but not in
this release (each column added to ``k`` adds noise to every entry, and a family
counter of a one-child family is a constant). A correlation that does not stand out
of the noise (``FALSE_POSITIVES``) is 0: the child's values are then made independent
of that context column (the noisy critic can make a generator depend on a context
column at random). The model's calibration moves each value's correlation with the
context from the generated one to the released one (a context tilt,
:mod:`relsynth.models._dp_tilt`): post-processing of the release and of generated
rows. The release is one entry of the ledger, weighed ``CONTEXT_WEIGHT`` times a
column release of its table, so the accounting composes it with everything else. Its
part of the budget comes out of the DP-SGD runs' (their noise is solved after it): the
other releases keep the noise they had, and the child's conditional structure gets the
budget that a few noisy critic steps did not turn into a parent dependence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

if TYPE_CHECKING:
    from relsynth.synthesis._dp import Ledger
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = [
    "CONTEXT_RELEASE",
    "CONTEXT_WEIGHT",
    "DPContext",
    "context_release",
    "correlation_columns",
    "dp_context",
]

#: The ledger's name of a table's context-correlation release.
CONTEXT_RELEASE = "context correlations"
#: Weight of a context-correlation release, in column releases of its table: it carries
#: the whole parent-child structure of the table in one release.
CONTEXT_WEIGHT = 6.0
#: Normal scores are clipped to this many standard deviations (bounded contributions).
SCORE_CLIP = 2.5
#: The chance that a table's released correlations hold one that stands out of the
#: noise where the data have none (each of its ``k v`` entries is tested at this share
#: over ``k v``, Bonferroni); entries that do not stand out are 0.
FALSE_POSITIVES = 0.05
#: A context column or value whose released variance (of normal scores, 1 when it varies
#: as the synthetic contexts or the releases say) is below this has no correlation.
MIN_VARIANCE = 0.1
#: Released correlations are clipped to this magnitude.
MAX_CORRELATION = 0.95
_CONTINUOUS = ("numerical", "datetime")


@dataclass
class DPContext:
    """What a private table's model is conditioned on under DP: its driver parent's
    learned values, and the family counters when the parent is private.

    ``synthetic``: the context frame (:meth:`Context.frame`) of the DP key skeleton's
    rows, the parent's values drawn from the parent's releases (a private parent) or
    its rows (a public one): post-processing, no real row. The generator is trained on
    these contexts and the context encoder is fitted on them; the real contexts go
    only into the critic's per-entity clipped gradients (docs/privacy.md).
    ``correlations``: the released correlations (context column -> value column ->
    correlation of their normal scores; 0 where it did not stand out of the noise), for
    the calibration's context tilt.
    """

    parent: str
    family: bool
    synthetic: pd.DataFrame
    kinds: dict[str, str | None]
    correlations: dict[str, dict[str, float]] = field(default_factory=dict)


def _candidate(
    synth: Synthesizer, name: str, public: set[str], trained: Sequence[str]
) -> tuple[str, bool, list[str]] | None:
    """``(parent, family, parent's learned columns)`` of the context a trained private
    table gets, from the schema and the plan only (None: unconditional)."""
    driver = synth.plan_.driver.get(name)
    if driver is None or driver.parent == name or synth.plan_.is_deferred(driver):
        return None
    parent = driver.parent
    family = parent not in public
    learned = list(synth.layouts_[parent].learned)
    if learned and parent not in public and parent not in trained:
        return None  # a private parent with no released values (an empty table)
    if not family and not learned:
        return None
    return parent, family, learned


def correlation_columns(
    synth: Synthesizer, public: set[str], trained: Sequence[str]
) -> dict[str, tuple[list[str], list[str]]]:
    """Per trained table with a context-correlation release: its continuous context
    columns and its continuous values (from the schema and the plan only, so that the
    releases counted before the budget are the ones made)."""
    out = {}
    for name in trained:
        cand = _candidate(synth, name, public, trained)
        if cand is None:
            continue
        parent, family, learned = cand
        kinds = synth.layouts_[parent].kinds
        context = [f"{parent}.{c}" for c in learned if kinds.get(c) in _CONTINUOUS]
        own = synth.layouts_[name]
        values = [c for c in own.learned if own.kinds.get(c) in _CONTINUOUS]
        if context and values:
            out[name] = (context, values)
    return out


def dp_context(
    synth: Synthesizer, name: str, public: set[str], trained: Sequence[str],
    source: Mapping[str, pd.DataFrame], releases: Mapping[str, Any], rng: np.random.Generator,
) -> DPContext | None:  # fmt: skip
    """The parent context of a trained private table under DP (None: unconditional).

    A private parent's rows belong to the entity of their children (entities are the
    connected components of the rows linked by foreign keys), so its values and the
    family counters (the number of siblings, all of the same entity) are the entity's
    own data. A public parent's values are public, but its family counts the rows of
    every entity under it: only its values join.
    """
    from relsynth.models._dp import dp_encoder, release_sample
    from relsynth.synthesis._context import build_context

    cand = _candidate(synth, name, public, trained)
    if cand is None:
        return None
    parent, family, learned = cand
    layouts, skeleton = synth.layouts_, releases["skeleton"]
    frame = skeleton[parent].copy()
    if learned and parent not in public:  # values drawn from the parent's releases
        cols = releases["columns"][parent]
        enc = dp_encoder(source[parent][learned], dict(layouts[parent].kinds), cols)
        drawn = release_sample(enc, cols, len(frame), rng)
        for col in learned:
            frame[col] = drawn[col].to_numpy()
    driver = synth.plan_.driver[name]
    ctx = build_context(skeleton[name], driver, {parent: frame}, layouts, (), family=family)
    synthetic = None if ctx is None else ctx.frame()
    if synthetic is None or synthetic.shape[1] == 0 or len(synthetic) == 0:
        return None
    prefix = f"{parent}."
    kinds = {  # a parent column's own kind (None: inferred), the family counters numbers
        c: layouts[parent].kinds.get(c[len(prefix) :]) if c.startswith(prefix) else "numerical"
        for c in synthetic.columns
    }
    return DPContext(parent, family, synthetic.reset_index(drop=True), kinds)


def _numbers(series: pd.Series, kind: str | None) -> np.ndarray:
    """Values as floats (datetimes: seconds), NaN for NULL."""
    from relsynth.models.numerical import NumericalEncoder

    return NumericalEncoder(str(series.name), kind or "numerical")._values(series)


def _scores(x: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Normal scores of ``x`` by the mid-rank distribution function of ``reference``
    (clipped to ``SCORE_CLIP``; NULL: 0)."""
    ref = np.sort(reference[~np.isnan(reference)])
    out = np.zeros(len(x))
    ok = ~np.isnan(x)
    if len(ref) == 0 or not ok.any():
        return out
    mid = (np.searchsorted(ref, x[ok], "left") + np.searchsorted(ref, x[ok], "right")) / 2.0
    u = np.clip((mid + 0.5) / (len(ref) + 1.0), 1e-9, 1 - 1e-9)
    out[ok] = np.clip(ndtri(u), -SCORE_CLIP, SCORE_CLIP)
    return out


def _released_scores(x: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    """Normal scores of ``x`` by its released quantiles (clipped; NULL: 0)."""
    q = np.maximum.accumulate(np.asarray(quantiles, dtype=float))
    q = q + np.arange(len(q)) * 1e-9 * max(1.0, float(np.abs(q).max()))  # strictly rising
    out = np.zeros(len(x))
    ok = ~np.isnan(x)
    if len(q) < 2 or not ok.any():
        return out
    u = np.interp(x[ok], q, np.linspace(0.0, 1.0, len(q)))
    out[ok] = np.clip(ndtri(np.clip(u, 1e-9, 1 - 1e-9)), -SCORE_CLIP, SCORE_CLIP)
    return out


def entity_means(products: np.ndarray, entity: np.ndarray) -> np.ndarray:
    """Per entity (rows of ``entity``'s distinct values, in sorted order), the mean of its
    rows of ``products``."""
    _, codes = np.unique(entity, return_inverse=True)
    n = int(codes.max()) + 1 if len(codes) else 0
    sums = np.zeros((n, products.shape[1]))
    np.add.at(sums, codes, products)
    return sums / np.bincount(codes, minlength=n)[:, None]


def context_release(
    synth: Synthesizer, name: str, columns: tuple[list[str], list[str]],
    context: DPContext | None, source: Mapping[str, pd.DataFrame], entity: np.ndarray,
    releases: Mapping[str, Any], ledger: Ledger, rng: np.random.Generator,
) -> dict[str, dict[str, float]]:  # fmt: skip
    """The released correlations of a table's continuous values with its continuous
    context columns (see the module docstring; empty in the ledger's counting mode)."""
    from relsynth.synthesis._context import build_context

    ctx_cols, value_cols = columns
    sigma = ledger.take(name, f"{CONTEXT_RELEASE} of {name}")
    if ledger.sigma_unit is None or context is None or len(source[name]) == 0:
        return {}
    driver = synth.plan_.driver[name]
    real = build_context(
        source[name], driver, source, synth.layouts_, (), family=context.family
    ).frame()  # the entity's own rows: only inside its clipped contribution
    ctx_cols = [c for c in ctx_cols if c in real.columns and c in context.synthetic.columns]
    if not ctx_cols:
        return {}
    c = np.column_stack(
        [_scores(_numbers(real[col], context.kinds.get(col)), _numbers(
            context.synthetic[col], context.kinds.get(col))) for col in ctx_cols]
    )  # fmt: skip
    own, kinds = source[name], synth.layouts_[name].kinds
    z = np.column_stack(
        [_released_scores(_numbers(own[col], kinds.get(col)), releases["columns"][name][col][
            "quantiles"]) for col in value_cols]
    )  # fmt: skip
    return _correlations(c, z, entity, sigma, rng, ctx_cols, value_cols)


def _correlations(
    c: np.ndarray, z: np.ndarray, entity: np.ndarray, sigma: float, rng: np.random.Generator,
    ctx_cols: Sequence[str], value_cols: Sequence[str],
) -> dict[str, dict[str, float]]:  # fmt: skip
    """The Gaussian release of the moments of context scores ``c`` and value scores
    ``z`` (count, means, second moments, cross moments; each entity's mean over its
    rows, clipped to norm ``sqrt(1 + 2k + 2v + kv)``) and the correlations they give
    (post-processing): ``(E[cz] - E[c] E[z]) / sqrt(Var c Var z)``, 0 where the
    covariance does not stand out of the noise (``FALSE_POSITIVES`` of a table's ``k v``
    entries, Bonferroni) or where a column hardly varies (``MIN_VARIANCE``)."""
    k, v = c.shape[1], z.shape[1]
    cross = (c[:, :, None] * z[:, None, :]).reshape(len(c), k * v)
    per = entity_means(np.hstack([np.ones((len(c), 1)), c, z, c**2, z**2, cross]), entity)
    bound = float(np.sqrt(1 + 2 * k + 2 * v + k * v))
    norms = np.sqrt((per**2).sum(axis=1))
    per *= np.minimum(1.0, bound / np.maximum(norms, 1e-12))[:, None]
    noisy = per.sum(axis=0) + rng.normal(0.0, sigma * bound, per.shape[1])
    n = max(float(noisy[0]), 1.0)
    at = np.cumsum([1, k, v, k, v])
    mc, mz = noisy[at[0] : at[1]] / n, noisy[at[1] : at[2]] / n
    vc, vz = noisy[at[2] : at[3]] / n - mc**2, noisy[at[3] : at[4]] / n - mz**2
    cov = noisy[at[4] :].reshape(k, v) / n - np.outer(mc, mz)
    stand_out = float(ndtri(1.0 - FALSE_POSITIVES / (2.0 * k * v))) * sigma * bound / n
    varies = np.outer(vc >= MIN_VARIANCE, vz >= MIN_VARIANCE)
    rho = cov / np.sqrt(np.outer(np.maximum(vc, MIN_VARIANCE), np.maximum(vz, MIN_VARIANCE)))
    rho = np.where(varies & (np.abs(cov) >= stand_out), rho, 0.0)
    rho = np.clip(rho, -MAX_CORRELATION, MAX_CORRELATION)
    return {
        a: {b: float(rho[i, j]) for j, b in enumerate(value_cols)} for i, a in enumerate(ctx_cols)
    }
