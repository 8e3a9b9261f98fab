"""The public face of differentially private fitting: :class:`DifferentialPrivacy`.

The mechanisms are in :mod:`relsynth.synthesis._dp` (budget, entities, releases),
:mod:`relsynth.synthesis._dp_release`, :mod:`relsynth.synthesis._dp_skeleton` and
:mod:`relsynth.models._dp` (DP-SGD); docs/privacy.md explains the guarantee.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from relsynth.errors import ParameterError

__all__ = ["DifferentialPrivacy", "check_privacy"]


@dataclass(frozen=True)
class DifferentialPrivacy:
    """Fit under ``(epsilon, delta)``-differential privacy, per entity (see docs/privacy.md).

    Parameters
    ----------
    epsilon : float
        The total privacy budget, > 0 (1 is strong, 16 weak).
    delta : float, optional
        In (0, 1). Default: ``min(1e-5, n ** -1.1)`` with ``n`` the (noisy) number of
        entities.
    bounds : mapping of "table.column" to (low, high), optional
        Public bounds of numeric columns (seconds since 1970 for datetimes); the
        others get DP bounds, at a cost in budget and accuracy.
    domains : mapping of "table.column" to a sequence of values, optional
        Public domains of categorical columns (loan durations 12, 24, 36, 48, 60 months;
        status codes from the data's documentation): every value of a domain is released
        with a noisy count and no threshold suppresses it, values outside it are not
        learned. A column's ``enum_values`` in the metadata is its domain unless one is
        given here. The others are released by partition selection (values held by too
        few entities for the budget are suppressed).
    max_grad_norm : float
        DP-SGD clipping norm of one entity's gradient.
    """

    epsilon: float
    delta: float | None = None
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    max_grad_norm: float = 1.0
    domains: Mapping[str, Sequence[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        eps = self.epsilon
        if isinstance(eps, bool) or not isinstance(eps, int | float) or not eps > 0:
            raise ParameterError(
                f"DifferentialPrivacy: epsilon must be a number > 0 (e.g. 1.0). Got {eps!r}."
            )
        if not math.isfinite(float(eps)):
            raise ParameterError(f"DifferentialPrivacy: epsilon must be finite. Got {eps!r}.")
        d = self.delta
        if d is not None and (
            isinstance(d, bool) or not isinstance(d, int | float) or not 0 < d < 1
        ):
            raise ParameterError(
                f"DifferentialPrivacy: delta must be in (0, 1), e.g. 1e-6. Got {d!r}."
            )
        for key, values in dict(self.domains).items():
            if isinstance(values, str) or not isinstance(values, Sequence) or not values:
                raise ParameterError(
                    f"DifferentialPrivacy: domains[{key!r}] must be a non-empty list of "
                    f"values. Got {values!r}."
                )
        g = self.max_grad_norm
        if isinstance(g, bool) or not isinstance(g, int | float) or not g > 0:
            raise ParameterError(
                f"DifferentialPrivacy: max_grad_norm must be a number > 0. Got {g!r}."
            )

    def resolve_delta(self, n_entities: int) -> float:
        """``delta``, or the default rule ``min(1e-5, n ** -1.1)``."""
        if self.delta is not None:
            return float(self.delta)
        return float(min(1e-5, max(n_entities, 2) ** -1.1))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able settings."""
        return {
            "epsilon": float(self.epsilon),
            "delta": self.delta,
            "bounds": {k: list(v) for k, v in self.bounds.items()},
            "max_grad_norm": float(self.max_grad_norm),
            **({"domains": {k: list(v) for k, v in self.domains.items()}} if self.domains else {}),
        }


def check_privacy(privacy: object) -> None:
    """A one-line error unless ``privacy`` is a DifferentialPrivacy with opacus installed."""
    if not isinstance(privacy, DifferentialPrivacy):
        raise ParameterError(
            "The 'privacy' parameter of Synthesizer must be a relsynth.DifferentialPrivacy "
            f"or None. Got {type(privacy).__name__}."
        )
    try:
        import opacus  # noqa: F401
    except ImportError:
        raise ParameterError(
            "Differentially private fitting needs opacus: pip install 'relsynth[dp]'."
        ) from None
