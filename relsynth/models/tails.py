"""Where a child table's tail rows sit: ``P(value bin | context)`` learned from the real rows.

Conditional sampling on a child (``flights.dep_delay > 192``) keeps the sampled slots
(a flight's parents: its weather row, its day and hour) that the condition favours.
Left to the generator, that is its own ``P(condition | context)``, which a WGAN learns
only weakly from the 1 % of rows in a tail (real late departures are evening flights of
stormy days; the generator's are spread over the day). :class:`ContextTails` learns it
directly: a small network reads the row's encoded context (the same encoding the
generator reads) and gives, for each numeric column, the probability of each of its
quantile bins (finer in the tails: :data:`LEVELS`). Conditional sampling
(:mod:`relsynth.synthesis._tails`) then draws the slots of a range condition in
proportion to ``P(low < value < high | context)`` and the row of each slot from the
generator restricted to the condition.

What is stored: the bin edges of each column (quantiles of its values, as the quantile
encoder keeps) and the network's weights; no row. A bin with fewer than
``min_count`` rows is merged with its inner neighbour. A column is kept only when the
network's held-out log loss beats the column's marginal bin shares (else its slots are
left to the generator). Not fitted under differential privacy.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from relsynth.models._torch import build_modules, module_state

__all__ = ["LEVELS", "ContextTails", "TailColumn", "fit_tails"]

#: Bin edges in quantile rank: fine in both tails (0.1 %, 0.5 %, 1 %, 2 %, 5 %), coarse in
#: the body.
LEVELS = (
    0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5,
    0.75, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1.0,
)  # fmt: skip
#: Hidden layers of the network; training steps (batches) at most / at least; batch rows.
HIDDEN = (64, 64)
MAX_STEPS, MIN_STEPS, BATCH = 2000, 300, 1024
#: Held-out share of the rows, and the least held-out log-loss gain (nats per row) over
#: the marginal shares for a column to be kept.
HOLDOUT = 0.15
MIN_GAIN = 0.002


@dataclass(frozen=True)
class TailColumn:
    """One numeric column's bins (value edges, increasing) and whether NULL is a bin."""

    column: str
    edges: tuple[float, ...]
    null: bool
    #: each bin's share of the rows (NULL last, when a bin)
    freq: tuple[float, ...] = ()

    @property
    def width(self) -> int:
        return len(self.edges) - 1 + int(self.null)

    def labels(self, x: np.ndarray) -> np.ndarray:
        """The bin of each value (NULL: the last bin)."""
        inner = np.asarray(self.edges[1:-1])
        out = np.searchsorted(inner, np.nan_to_num(x), side="right")
        return np.where(np.isnan(x), len(self.edges) - 1, out)

    def share_in(self, low: float | None, high: float | None) -> np.ndarray:
        """Each bin's share inside ``low < value < high`` (values spread evenly within a
        bin; a bin of one value is in or out; NULL is out)."""
        lo, hi = np.asarray(self.edges[:-1]), np.asarray(self.edges[1:])
        a = np.full(len(lo), -np.inf) if low is None else np.full(len(lo), float(low))
        b = np.full(len(lo), np.inf) if high is None else np.full(len(lo), float(high))
        width = hi - lo
        inside = np.clip(np.minimum(hi, b) - np.maximum(lo, a), 0, None)
        point = (lo >= a) & (lo <= b) & ((low is None) | (lo > a)) & ((high is None) | (lo < b))
        share = np.where(width > 0, inside / np.where(width > 0, width, 1.0), point.astype(float))
        return np.append(share, [0.0] * int(self.null))


class _Net(nn.Module):
    def __init__(self, d_in: int, widths: Sequence[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for h in HIDDEN:
            layers += [nn.Linear(d_in, h), nn.ReLU()]
            d_in = h
        layers.append(nn.Linear(d_in, int(sum(widths))))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class ContextTails:
    """``P(bin of each numeric column | encoded context)``, see the module docstring."""

    def __init__(self, columns: Sequence[TailColumn], d_in: int) -> None:
        self.columns = list(columns)
        self.d_in = int(d_in)
        self.net: nn.Module = build_modules([lambda: _Net(self.d_in, self._widths())], None)[0]
        self.gains: dict[str, float] = {}
        #: per column, per inner edge: the held-out relative log-loss gain of
        #: ``P(value >= edge | context)`` over the source share (1: perfect, 0: none)
        self.skill: dict[str, tuple[float, ...]] = {}

    def _widths(self) -> list[int]:
        return [c.width for c in self.columns]

    def column(self, name: str) -> TailColumn | None:
        """``name``'s bins (None: not a column of the network)."""
        return next((c for c in self.columns if c.column == name), None)

    def range_skill(self, column: str, low: float | None, high: float | None) -> float:
        """The held-out skill (:attr:`skill`) at the edges nearest to the range's bounds
        (the lower of the two; a bound beyond the source's values bounds nothing); 0
        without a column or a bound."""
        col, skill = self.column(column), self.skill.get(column, ())
        if col is None or not skill:
            return 0.0
        inner = np.asarray(col.edges[1:-1])
        bounds = [b for b in (low, high) if b is not None and col.edges[0] < b < col.edges[-1]]
        found = [skill[int(np.argmin(np.abs(inner - float(b))))] for b in bounds]
        return float(min(found)) if found else 0.0

    def share(self, column: str, low: float | None, high: float | None) -> float:
        """The source rows' share inside ``low < value < high`` (from the bin shares)."""
        col = self.column(column)
        return 0.0 if col is None else float(np.dot(col.freq, col.share_in(low, high)))

    def probability(
        self, ctx: np.ndarray, column: str, low: float | None, high: float | None
    ) -> np.ndarray | None:
        """``P(low < value < high | context)`` per row of ``ctx`` (None: no such column)."""
        col = self.column(column)
        if col is None or self.gains.get(column, 0.0) < MIN_GAIN:
            return None
        start = sum(c.width for c in self.columns[: self.columns.index(col)])
        share = col.share_in(low, high)
        out = []
        self.net.eval()
        with torch.no_grad():
            for lo in range(0, len(ctx), 65536):
                x = torch.from_numpy(np.ascontiguousarray(ctx[lo : lo + 65536], np.float32))
                logits = self.net(x)[:, start : start + col.width]
                out.append(torch.softmax(logits, dim=1).numpy().astype(float) @ share)
        return np.clip(np.concatenate(out) if out else np.zeros(0), 0.0, 1.0)

    def state(self) -> dict[str, Any]:
        return {
            "columns": [[c.column, list(c.edges), c.null, list(c.freq)] for c in self.columns],
            "d_in": self.d_in,
            "net": module_state(self.net),
            "gains": dict(self.gains),
            "skill": {k: list(v) for k, v in self.skill.items()},
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> ContextTails | None:
        if not state:
            return None
        cols = [
            TailColumn(str(c), tuple(map(float, edges)), bool(n), tuple(map(float, freq)))
            for c, edges, n, freq in state["columns"]
        ]
        out = cls(cols, int(state["d_in"]))
        out.net.load_state_dict(dict(state["net"]))
        out.gains = {str(k): float(v) for k, v in state.get("gains", {}).items()}
        out.skill = {str(k): tuple(map(float, v)) for k, v in state.get("skill", {}).items()}
        return out


def _bins(column: str, x: np.ndarray, min_count: int) -> TailColumn | None:
    """``column``'s bins at :data:`LEVELS` (equal edges merged, bins under ``min_count``
    rows merged inwards); None for a column of one value. The edges come from the
    finite values (a float column may hold infinities: they fall in the outer bins)."""
    valid = x[np.isfinite(x)]
    if len(valid) < 2 * min_count or np.nanmin(valid) == np.nanmax(valid):
        return None
    edges = list(np.unique(np.quantile(valid, LEVELS)))
    while len(edges) > 2:
        counts = np.bincount(
            np.searchsorted(np.asarray(edges[1:-1]), valid, side="right"), minlength=len(edges) - 1
        )
        small = np.flatnonzero(counts < min_count)
        if not len(small):
            break
        i = int(small[0])
        del edges[i + 1 if i < (len(edges) - 1) / 2 else i]  # merge towards the middle
    if len(edges) <= 2:
        return None
    col = TailColumn(column, tuple(float(e) for e in edges), bool(np.isnan(x).any()))
    freq = np.bincount(col.labels(x), minlength=col.width) / len(x)
    return TailColumn(col.column, col.edges, col.null, tuple(float(f) for f in freq))


def fit_tails(
    values: pd.DataFrame,
    ctx: np.ndarray,
    seed: int,
    min_count: int,
    *,
    deadline: float | None = None,
) -> ContextTails | None:
    """:class:`ContextTails` of the numeric columns of ``values`` (real rows) given their
    encoded contexts ``ctx``; None when no column's bins are predicted better than by
    their marginal shares (or there is no context).

    ``deadline`` (``time.time()``; a fit under a time budget): training stops there, and
    tails that could not train their ``MIN_STEPS`` steps by then are not kept (None).
    Without it the steps decide, never the clock."""
    n = len(values)
    if ctx.shape[1] == 0 or n < 20 * max(min_count, 1):
        return None
    if deadline is not None and time.time() >= deadline:
        return None
    cols, labels = [], []
    for name in values.columns:
        if not pd.api.types.is_numeric_dtype(values[name].dtype) or pd.api.types.is_bool_dtype(
            values[name].dtype
        ):
            continue
        x = pd.to_numeric(values[name], errors="coerce").to_numpy(dtype=float)
        col = _bins(str(name), x, max(min_count, 1))
        if col is not None:
            cols.append(col)
            labels.append(col.labels(x))
    if not cols:
        return None
    rng = np.random.default_rng(seed)
    tails = ContextTails(cols, ctx.shape[1])
    tails.net = build_modules([lambda: _Net(ctx.shape[1], tails._widths())], seed)[0]
    held = rng.random(n) < HOLDOUT
    y = np.column_stack(labels)
    if not _train(tails, ctx[~held], y[~held], rng, deadline):
        return None
    keep = _gains(tails, ctx[held], y[held], y[~held])
    tails.skill = _skills(tails, ctx[held], y[held], y[~held])
    if not any(g >= MIN_GAIN for g in keep.values()):
        return None
    tails.gains = {k: round(v, 5) for k, v in keep.items()}
    return tails


def _train(
    tails: ContextTails,
    ctx: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    deadline: float | None = None,
) -> bool:
    """Train the network; False when ``deadline`` came before ``MIN_STEPS`` steps."""
    n = len(ctx)
    steps = int(np.clip(3 * n // BATCH, MIN_STEPS, MAX_STEPS))
    opt = torch.optim.Adam(tails.net.parameters(), lr=2e-3, weight_decay=1e-5)
    widths = tails._widths()
    x_all = torch.from_numpy(np.ascontiguousarray(ctx, np.float32))
    y_all = torch.from_numpy(y.astype(np.int64))
    tails.net.train()
    for step in range(steps):
        if deadline is not None and time.time() >= deadline:
            return step >= MIN_STEPS
        idx = torch.from_numpy(rng.integers(0, n, min(BATCH, n)))
        out = tails.net(x_all[idx])
        loss = out.new_zeros(())
        for j, part in enumerate(torch.split(out, widths, dim=1)):
            loss = loss + nn.functional.cross_entropy(part, y_all[idx, j])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return True


def _outputs(tails: ContextTails, ctx: np.ndarray) -> tuple[torch.Tensor, ...]:
    """The network's logits for ``ctx``, one block per column (evaluation mode)."""
    tails.net.eval()
    with torch.no_grad():
        out = tails.net(torch.from_numpy(np.ascontiguousarray(ctx, np.float32)))
    return torch.split(out, tails._widths(), dim=1)


def _skills(
    tails: ContextTails, ctx: np.ndarray, y: np.ndarray, y_train: np.ndarray
) -> dict[str, tuple[float, ...]]:
    """Per column and inner edge ``j``: ``1 - loss / loss0`` of the held-out event ``bin >= j``,
    ``loss`` the network's binary log loss, ``loss0`` that of the training share."""
    skills = {}
    parts = _outputs(tails, ctx)
    for i, (col, part) in enumerate(zip(tails.columns, parts, strict=True)):
        prob = torch.softmax(part, dim=1).numpy().astype(float)
        nb = len(col.edges) - 1
        row = []
        for j in range(1, nb):
            event, train = (
                (y[:, i] >= j) & (y[:, i] < nb),
                (y_train[:, i] >= j) & (y_train[:, i] < nb),
            )
            p = np.clip(prob[:, j:nb].sum(axis=1), 1e-6, 1 - 1e-6)
            p0 = float(np.clip(train.mean(), 1e-6, 1 - 1e-6))
            loss = -(event * np.log(p) + ~event * np.log(1 - p)).mean()
            loss0 = -(event * np.log(p0) + ~event * np.log(1 - p0)).mean()
            row.append(round(float(1 - loss / loss0), 4) if len(y) and loss0 > 0 else 0.0)
        skills[col.column] = tuple(row)
    return skills


def _gains(
    tails: ContextTails, ctx: np.ndarray, y: np.ndarray, y_train: np.ndarray
) -> dict[str, float]:
    """Held-out log loss of the marginal shares less the network's, per column (nats)."""
    gains = {}
    parts = _outputs(tails, ctx)
    for j, (col, part) in enumerate(zip(tails.columns, parts, strict=True)):
        logp = torch.log_softmax(part, dim=1).numpy()[np.arange(len(y)), y[:, j]]
        shares = (np.bincount(y_train[:, j], minlength=col.width) + 0.5) / (
            len(y_train) + 0.5 * col.width
        )
        gains[col.column] = float(-np.log(shares[y[:, j]]).mean() + logp.mean()) if len(y) else 0.0
    return gains
