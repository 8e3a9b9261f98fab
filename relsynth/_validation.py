"""Declarative parameter checks with one message template (after scikit-learn).

Each estimator lists its constraints once; :func:`validate_params` checks them all
and raises a single :class:`~relsynth.errors.ParameterError` per bad parameter::

    The 'epochs' parameter of ConditionalWGAN must be an int in the range [1, inf).
    Got -1 instead.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from relsynth.errors import NotFittedError, ParameterError

__all__ = [
    "BOOL",
    "Interval",
    "Options",
    "OrNone",
    "Predicate",
    "check_is_fitted",
    "validate_params",
]


@dataclass(frozen=True)
class Interval:
    """A numeric range constraint: ``Interval(int, 1, None, closed="left")`` means ``[1, inf)``."""

    type: type
    low: float | None
    high: float | None
    closed: str = "both"  # "both" | "left" | "right" | "neither"
    allow_none: bool = False

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` satisfies the constraint."""
        if value is None:
            return self.allow_none
        if isinstance(value, bool):
            return False
        kind = numbers.Integral if self.type is int else numbers.Real
        if not isinstance(value, kind):
            return False
        if isinstance(value, float) and math.isnan(value):
            return False
        low_ok = self.low is None or (
            value >= self.low if self.closed in ("both", "left") else value > self.low
        )
        high_ok = self.high is None or (
            value <= self.high if self.closed in ("both", "right") else value < self.high
        )
        return low_ok and high_ok

    def describe(self) -> str:
        """Words for the message: ``an int in the range [1, inf)``."""
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        noun = "an int" if self.type is int else "a float"
        text = f"{noun} in the range {left}{low}, {high}{right}"
        return text + (" or None" if self.allow_none else "")


@dataclass(frozen=True)
class Options:
    """A constraint to one of a fixed set of values (e.g. ``{"fail", "replace", "append"}``)."""

    values: tuple[Any, ...]

    def __init__(self, values: Iterable[Any]) -> None:
        object.__setattr__(self, "values", tuple(values))

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is one of the options."""
        return any(value == v and type(value) is type(v) for v in self.values)

    def describe(self) -> str:
        """Words for the message."""
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Predicate:
    """A constraint given by a test and the words for it: ``Predicate(callable, "a callable")``."""

    test: Callable[[Any], bool]
    words: str

    def accepts(self, value: Any) -> bool:
        """Whether ``test(value)`` holds (a test that raises rejects the value)."""
        try:
            return bool(self.test(value))
        except (TypeError, ValueError):
            return False

    def describe(self) -> str:
        """Words for the message."""
        return self.words


#: A Python or numpy bool.
BOOL = Predicate(lambda v: type(v).__name__ in ("bool", "bool_"), "a bool")


@dataclass(frozen=True)
class OrNone:
    """``inner``, or None (an optional parameter whose default is None); the message
    names only ``inner``."""

    inner: Interval | Options | Predicate

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is None or accepted by ``inner``."""
        return value is None or self.inner.accepts(value)

    def describe(self) -> str:
        """Words for the message."""
        return self.inner.describe()


Constraint = Interval | Options | Predicate | OrNone


def validate_params(owner: str, params: Mapping[str, Any], constraints: Mapping[str, Any]) -> None:
    """Check ``params`` against ``constraints``; raise on the first bad parameter.

    ``constraints`` maps a parameter name to a constraint, or to a list of
    constraints any of which may accept the value.
    """
    for name, spec in constraints.items():
        if name not in params:
            continue
        options = spec if isinstance(spec, (list, tuple)) else [spec]
        value = params[name]
        if not any(c.accepts(value) for c in options):
            wanted = " or ".join(c.describe() for c in options)
            raise ParameterError(
                f"The {name!r} parameter of {owner} must be {wanted}. Got {value!r} instead."
            )


def check_is_fitted(estimator: object, attribute: str, *, action: str = "sample") -> None:
    """Raise :class:`NotFittedError` unless ``estimator`` has ``attribute`` set."""
    if getattr(estimator, attribute, None) is None:
        name = type(estimator).__name__
        raise NotFittedError(
            f"This {name} instance is not fitted yet. Call 'fit' with the source "
            f"tables before '{action}'."
        )
