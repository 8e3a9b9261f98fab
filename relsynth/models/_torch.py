"""Torch plumbing shared by the models: threads, devices, seeded init, output activations.

Nothing here touches torch's *global* state for longer than a ``with`` block: thread
counts are restored, module construction runs under :func:`torch.random.fork_rng`
and every random draw goes through a model's own :class:`torch.Generator`.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from relsynth.errors import ParameterError
from relsynth.models.encoding import Span

__all__ = [
    "activate",
    "build_modules",
    "hard_sample",
    "module_state",
    "resolve_device",
    "torch_threads",
    "usable_cores",
    "warm_up",
]


def usable_cores() -> int:
    """Number of CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return max(1, os.cpu_count() or 1)


# The count of the innermost torch_threads block around this code (None: no block).
_PINNED: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "relsynth_torch_threads", default=None
)


@contextlib.contextmanager
def torch_threads(n: int | None = None) -> Iterator[int]:
    """Set ``torch.set_num_threads(n)`` inside the block and restore it afterwards.

    Oversubscribed intra-op threads were measured to slow training 25x on a shared
    2-core machine, so fit/sample always run under a deliberate thread count.

    Parameters
    ----------
    n : int, optional
        Threads to use; defaults to the count of the enclosing ``torch_threads``
        block, else the number of usable cores. So a model left at ``n_threads=None``
        samples under its caller's count: a chunk worker pinned to one thread stays
        at one (it ran each model under every core: two OpenMP threads per worker
        on two cores made small tensor operations ~50x slower on a loaded machine).
    """
    n = (_PINNED.get() or usable_cores()) if n is None else int(n)
    if n < 1:
        raise ParameterError(f"The 'n_threads' parameter must be an int >= 1. Got {n} instead.")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    token = _PINNED.set(n)
    try:
        yield n
    finally:
        _PINNED.reset(token)
        torch.set_num_threads(before)


def warm_up() -> None:
    """Do torch's one-off lazy imports now (the first optimizer imports ``torch._dynamo``,
    seconds on a busy machine), so that they do not land in one table's time budget."""
    layer = nn.Linear(1, 1)
    torch.optim.Adam(layer.parameters())


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"auto"``/None -> CUDA when available, else CPU; anything else as given."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ParameterError(
            f"The 'device' parameter must be 'auto', 'cpu', 'cuda' or a torch.device. "
            f"Got {device!r} instead."
        ) from exc


def _init_module(module: nn.Module, gen: torch.Generator) -> None:
    """Re-draw parameters with ``gen`` (torch's default init, but from our own stream)."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv1d):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
            if m.bias is not None:
                fan_in = m.weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in) if fan_in else 0.0
                nn.init.uniform_(m.bias, -bound, bound, generator=gen)
        elif isinstance(m, nn.LSTM | nn.GRU):
            bound = 1.0 / math.sqrt(m.hidden_size)
            for p in m.parameters():
                nn.init.uniform_(p, -bound, bound, generator=gen)


def build_modules(factories: Sequence[Any], seed: int | None) -> list[nn.Module]:
    """Construct modules without consuming the global RNG, then init them from ``seed``.

    ``nn.Linear`` draws its initial weights from torch's global generator; building
    under ``fork_rng`` restores that state, and the weights are then re-drawn from a
    private generator so the result depends on ``seed`` only. ``seed=None`` skips
    the re-draw (used when a state dict is loaded right after).
    """
    with torch.random.fork_rng(devices=[]):
        modules = [factory() for factory in factories]
    if seed is not None:
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for m in modules:
                _init_module(m, gen)
    return modules


def gumbel(
    shape: torch.Size | tuple[int, ...], gen: torch.Generator, device: torch.device
) -> torch.Tensor:
    """Standard Gumbel noise drawn from ``gen`` (``F.gumbel_softmax`` uses the global RNG).

    ``-log(-log(u))`` computed in place: the same values bit for bit, without three
    temporaries of the draw's size (sampling calls this on ``rows x categories``)."""
    u = torch.rand(shape, generator=gen, device=device).clamp_(1e-10, 1.0 - 1e-7)
    return u.log_().neg_().log_().neg_()


def activate(
    raw: torch.Tensor, spans: Sequence[Span], gen: torch.Generator, tau: float = 0.2
) -> torch.Tensor:
    """Training-time outputs: ``tanh`` scalars, Gumbel-softmax one-hots (Jang et al., 2017).

    CTGAN (Xu et al., 2019) uses ``tau = 0.2``; the Gumbel noise comes from ``gen``.
    """
    parts = []
    for s in spans:
        x = raw[:, s.start : s.stop]
        if s.activation == "tanh":
            parts.append(torch.tanh(x))
        else:
            g = gumbel(x.shape, gen, x.device)
            parts.append(torch.softmax((x + g) / tau, dim=1))
    if not parts:
        return raw[:, :0]
    return torch.cat(parts, dim=1)


def hard_sample(raw: torch.Tensor, spans: Sequence[Span], gen: torch.Generator) -> np.ndarray:
    """Sampling-time outputs as a numpy array: scalars through ``tanh``, one-hots drawn.

    ``argmax(logits + Gumbel)`` is an exact draw from ``softmax(logits)`` (the Gumbel-max
    trick), and equals the argmax of CTGAN's Gumbel-softmax sample.
    """
    out = torch.zeros_like(raw)
    for s in spans:
        x = raw[:, s.start : s.stop]
        if s.activation == "tanh":
            out[:, s.start : s.stop] = torch.tanh(x)
        else:
            idx = gumbel(x.shape, gen, x.device).add_(x).argmax(dim=1, keepdim=True)
            out[:, s.start : s.stop].scatter_(1, idx, 1.0)
    return out.cpu().numpy()


def module_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A module's state dict as detached CPU tensors."""
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
