"""The privacy accounting of a DP fit: opacus' RDP accountant over Gaussian releases and
subsampled Gaussian DP-SGD runs (see :mod:`relsynth.models._dp` and docs/privacy.md).

:func:`composed_epsilon` / :func:`solve_noise` compose any list of (subsampled)
Gaussian mechanisms ``(noise, sample_rate, steps)``; a Gaussian release of
sensitivity 1 is ``(sigma, 1.0, 1)``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from relsynth.errors import ParameterError

__all__ = [
    "ALPHAS",
    "composed_epsilon",
    "epsilon_spent",
    "noise_for",
    "sample_rate_for",
    "solve_noise",
]

#: RDP orders the accountant optimises over: opacus' defaults, extended to 4,096 so
#: that small per-table budgets (epsilon ~0.1 at delta ~1e-6) stay reachable.
ALPHAS = (
    [1 + x / 10.0 for x in range(1, 100)]
    + [float(a) for a in range(12, 64)]
    + [float(2**k) for k in range(6, 13)]
)


def noise_for(epsilon: float, delta: float, sample_rate: float, steps: int) -> float:
    """The noise multiplier opacus' RDP accountant needs for ``(epsilon, delta)``."""
    from opacus.accountants.utils import get_noise_multiplier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            sigma = get_noise_multiplier(
                target_epsilon=epsilon,
                target_delta=delta,
                sample_rate=sample_rate,
                steps=steps,
                accountant="rdp",
                alphas=ALPHAS,
            )
        except ValueError:  # opacus: "The privacy budget is too low."
            raise ParameterError(
                f"DP-SGD cannot reach epsilon {epsilon:.3g} at delta {delta:.2g} in {steps} "
                "steps: raise DifferentialPrivacy(epsilon=...) or lower steps."
            ) from None
    return float(sigma)


def epsilon_spent(noise: float, sample_rate: float, steps: int, delta: float) -> float:
    """Epsilon of ``steps`` subsampled Gaussian steps, by opacus' RDP accountant."""
    from opacus.accountants import RDPAccountant

    if steps == 0:
        return 0.0
    acc = RDPAccountant()
    acc.history = [(noise, sample_rate, steps)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return float(acc.get_epsilon(delta, alphas=ALPHAS))


def _rdp(history: list[tuple[float, float, int]]) -> np.ndarray:
    """The RDP curve (over ALPHAS) of mechanisms ``(noise, sample_rate, steps)``, composed
    (RDP adds up: ``steps`` runs of one mechanism are ``steps`` times its curve)."""
    from opacus.accountants.analysis.rdp import compute_rdp

    steps_of: dict[tuple[float, float], int] = {}
    for noise, rate, steps in history:
        key = (float(noise), float(rate))
        steps_of[key] = steps_of.get(key, 0) + int(steps)
    out = np.zeros(len(ALPHAS))
    for (noise, rate), steps in steps_of.items():
        if steps > 0:
            out += steps * np.asarray(
                compute_rdp(q=rate, noise_multiplier=noise, steps=1, orders=ALPHAS)
            )
    return out


def _epsilon(rdp: np.ndarray, delta: float) -> float:
    from opacus.accountants.analysis.rdp import get_privacy_spent

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return float(get_privacy_spent(orders=ALPHAS, rdp=rdp, delta=delta)[0])


def composed_epsilon(history: list[tuple[float, float, int]], delta: float) -> float:
    """Epsilon at ``delta`` of all the mechanisms in ``history``, composed by opacus' RDP
    accountant (a Gaussian release of sensitivity 1 is ``(sigma, 1.0, 1)``)."""
    from opacus.accountants import RDPAccountant

    if not any(steps for _, _, steps in history):
        return 0.0
    acc = RDPAccountant()
    acc.history = [tuple(h) for h in history if h[2] > 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return float(acc.get_epsilon(delta, alphas=ALPHAS))


def solve_noise(
    fixed: list[tuple[float, float, int]],
    entries: Any,
    epsilon: float,
    delta: float,
) -> float:
    """The smallest noise ``s`` (to 0.01%) with ``fixed + entries(s)`` composing to at most
    ``epsilon`` at ``delta`` by the RDP accountant (bisection on ``log s``)."""
    base = _rdp(fixed)

    def eps_at(s: float) -> float:
        return _epsilon(base + _rdp(entries(s)), delta)

    lo, hi = 0.05, 1e4
    if eps_at(hi) > epsilon:
        raise ParameterError(
            f"Differential privacy cannot reach epsilon {epsilon:.3g} at delta {delta:.2g} "
            "with this many releases and steps: raise DifferentialPrivacy(epsilon=...) or "
            "lower steps."
        )
    if eps_at(lo) <= epsilon:
        return lo
    while hi / lo > 1.0001:
        mid = float(np.sqrt(lo * hi))
        lo, hi = (lo, mid) if eps_at(mid) <= epsilon else (mid, hi)
    return hi


def sample_rate_for(n_entities: int) -> float:
    """DP-SGD's Poisson sampling rate: batches of n/10 entities (8 to 256)."""
    n = max(int(n_entities), 1)
    return min(1.0, min(256.0, max(8.0, n / 10.0)) / n)
