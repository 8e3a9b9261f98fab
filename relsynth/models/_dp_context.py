"""A child table's parent context under DP (see :mod:`relsynth.models._dp`).

The critic reads each real row with its real context (the entity's own data, inside
that entity's clipped gradient); the generator and the context encoder see only
synthetic contexts made from DP outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from relsynth.models.encoding import TableEncoder
from relsynth.models.wgan import ConditionalWGAN

__all__ = ["UNCONDITIONED_SHARE", "DPContextFrames"]


@dataclass(frozen=True)
class DPContextFrames:
    """A table's contexts under DP (the frames of :meth:`Context.frame`, same columns).

    ``real``: one row per table row, its parent's values (and family counters); only
    the critic reads them, inside each entity's clipped gradient. ``synthetic``: made
    from DP outputs only; the generator's contexts, and what the context encoder is
    fitted on. ``kinds``: per column its model kind (None: inferred). ``correlations``:
    the DP release of the values' correlations with the context (context column ->
    value column -> correlation), for the calibration's context tilt.
    """

    real: pd.DataFrame
    synthetic: pd.DataFrame
    kinds: Mapping[str, str | None]
    correlations: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def _encode_contexts(
    model: ConditionalWGAN, context: DPContextFrames | None, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Encoded real and synthetic contexts; the context encoder is fitted on the
    synthetic ones (post-processing of DP outputs), never on a real row."""
    if context is None:
        model.context_encoder = None
        return np.zeros((n, 0), np.float32), np.zeros((1, 0), np.float32)
    kinds = {c: k for c, k in context.kinds.items() if k}
    encoder = TableEncoder(kinds, method="quantile", cdf=False).fit(context.synthetic, rng)
    model.context_encoder = encoder
    return encoder.transform(context.real, rng), encoder.transform(context.synthetic, rng)


def _start_unconditional(generator: torch.nn.Module, ctx_dim: int) -> None:
    """Zero the generator's weights on its context inputs: training starts from an
    unconditional generator and makes its rows depend on the parent only as far as the
    (noisy) critic asks. Random initial weights would tie the rows to the parent's
    values at random, a dependence a few noisy DP-SGD steps do not undo.

    The context is the last ``ctx_dim`` inputs (``[noise, conditions, context]``), and
    CTGAN's residual blocks pass the input on to every later layer as its last columns.
    """
    if ctx_dim == 0:
        return
    with torch.no_grad():
        for layer in generator.net:
            linear = getattr(layer, "fc", layer)
            linear.weight[:, -ctx_dim:] = 0.0


#: Share of the rows trained with a zero conditional vector when a context is given
#: (as ``ConditionalWGAN`` does): sampling then uses zero vectors, the context drives.
UNCONDITIONED_SHARE = 0.5


def _drop_conditions(cond: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """``cond`` with a share :data:`UNCONDITIONED_SHARE` of its rows set to zero."""
    zero = torch.from_numpy(rng.random(len(cond)) < UNCONDITIONED_SHARE).to(cond.device)
    return cond.masked_fill(zero[:, None], 0.0)
