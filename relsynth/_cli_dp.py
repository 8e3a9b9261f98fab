"""The CLI's differential-privacy options: ``--dp-epsilon``, ``--dp-delta``, ``--dp-public``."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from relsynth._cli_safety import positive
from relsynth.errors import ParameterError

__all__ = ["dp_notes", "dp_options", "dp_params", "with_model_info"]


def dp_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``parser`` (the options of ``fit``/``clone``) with the DP flags."""
    parser.add_argument(
        "--dp-epsilon",
        type=positive,
        metavar="E",
        help="fit under (E, delta)-differential privacy per entity (a root row with all its "
        "descendant rows; needs pip install relsynth[dp]; see docs/privacy.md)",
    )
    parser.add_argument(
        "--dp-delta",
        type=float,
        metavar="D",
        help="the delta of --dp-epsilon, in (0, 1) (default: min(1e-5, n^-1.1), n the number "
        "of entities)",
    )
    parser.add_argument(
        "--dp-public",
        action="append",
        default=[],
        metavar="TABLE",
        help="under --dp-epsilon, a public table (airlines, regions): copied as it is and not "
        "protected; repeat for several (tables marked reference in the metadata are public)",
    )
    return parser


def dp_params(args: argparse.Namespace) -> dict[str, Any]:
    """Synthesizer keyword arguments for the DP flags (none without --dp-epsilon)."""
    from relsynth.synthesis.dp import DifferentialPrivacy

    if args.dp_epsilon is None:
        if args.dp_delta is not None or args.dp_public:
            flag = "--dp-delta" if args.dp_delta is not None else "--dp-public"
            raise ParameterError(f"{flag} needs --dp-epsilon E (the privacy budget).")
        return {}
    params: dict[str, Any] = {
        "privacy": DifferentialPrivacy(epsilon=args.dp_epsilon, delta=args.dp_delta)
    }
    if args.dp_public:
        params["table_models"] = dict.fromkeys(args.dp_public, "copy")
    return params


def dp_notes(dp: Mapping[str, Any]) -> list[str]:
    """The fit summary's line on DP: epsilon and delta spent, in total and per table."""
    if not dp:
        return []
    per = "; ".join(f"{t} {v['epsilon']:.3g}" for t, v in dp["tables"].items())
    return [
        f"differential privacy spent: epsilon {dp['epsilon']:.4g}, delta {dp['delta']:.3g} "
        f"per entity (epsilon per table: {per})"
    ] + _context_notes(dp)


def _context_notes(dp: Mapping[str, Any]) -> list[str]:
    """The released parent-child correlations that stood out of their noise (none: the
    children's values are independent of their parents' numbers)."""
    released = {
        t: spec["correlations"]
        for t, spec in (dp.get("context") or {}).items()
        if spec.get("correlations")
    }
    if not released:
        return []
    found = [
        f"{t}: {a} ~ {b} {r:.2f}"
        for t, corr in released.items()
        for a, row in corr.items()
        for b, r in row.items()
        if r
    ]
    return [
        "differential privacy, parent-child correlations released: "
        + ("; ".join(found) if found else "none stood out of the noise")
    ]


def with_model_info(report: Any, model: str) -> Any:
    """``evaluate --model``: the report with the model file's column treatments and, for a
    DP model, the epsilon and delta spent."""
    from dataclasses import replace

    from relsynth.synthesis.artifact import read_dp, read_privacy

    info = {**report.info, "treatments": read_privacy(model)}
    dp = read_dp(model)
    if dp:
        info["differential_privacy"] = dp
    return replace(report, info=info)
