"""Table fits as Ray tasks (``executor="ray"``; the optional extra ``relsynth[ray]``).

Each table fit is one Ray task reserving ``threads`` CPUs; the task runs the same
function with the same arguments and pinned thread counts as a local worker, so a
fit on Ray gives the same models as a fit on this machine with the same seed.

The cluster is the one at ``address``, else at ``RAY_ADDRESS``; without either, a
local Ray is started for the fit with ``n_jobs`` CPUs and no dashboard, and shut
down afterwards. A Ray already initialised in this process is used as it is. Remote
workers need relsynth (the same version) installed: table fits return models, which
Ray moves back as pickles.
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any, TypeVar

from relsynth.errors import ParameterError
from relsynth.synthesis._progress import QueueSink, drain_steps

__all__ = ["iter_ray", "run_ray"]

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ParameterError(
            "executor='ray' needs Ray, which is not installed: pip install 'relsynth[ray]' "
            "(or pip install ray), or use executor='local'."
        ) from exc
    return ray


def _pickled(
    call: Callable[..., Any],
    fn: Callable[..., Any],
    threads: int,
    args: Any,
    kwargs: dict[str, Any] | None = None,
) -> bytes:
    """Run a task and pickle its result: Ray's own transfer hands numpy arrays back
    read-only (zero-copy), which torch then warns about on sampling."""
    return pickle.dumps(call(fn, threads, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)


def _init(ray: Any, n_jobs: int, threads: int, address: str | None) -> bool:
    """Connect to (or start) Ray unless it is up; True when this call started it."""
    if ray.is_initialized():
        return False
    target = address or os.environ.get("RAY_ADDRESS")
    # Workers import relsynth from where this process does (a source checkout too).
    env = {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}}
    if target:
        ray.init(address=target, runtime_env=env, log_to_driver=False)
    else:
        ray.init(
            num_cpus=max(n_jobs, threads),
            include_dashboard=False,
            runtime_env=env,
            log_to_driver=False,
        )
    return True


def _shared_task(
    call: Callable[..., Any], fn: Callable[..., Any], threads: int, shared: Any, i: int
) -> bytes:
    """One task of a stream: ``shared`` arrives resolved from the object store."""
    return pickle.dumps(call(fn, threads, (shared, i)), protocol=pickle.HIGHEST_PROTOCOL)


def iter_ray(
    call: Callable[..., Any],
    fn: Callable[[Any, int], Any],
    n: int,
    shared: Any,
    *,
    n_jobs: int,
    threads: int,
    address: str | None,
) -> Iterator[Any]:
    """``call(fn, threads, (shared, i))`` for ``i`` in ``0 .. n-1`` as Ray tasks, yielded
    in order; while the consumer holds result ``i``, tasks ``i + 1 .. i + n_jobs`` run
    and none further is submitted, as with local workers (``shared`` goes to the
    object store once)."""
    ray = _import_ray()
    started_here = _init(ray, n_jobs, threads, address)
    pending: dict[int, Any] = {}
    try:
        ref = ray.put(shared)
        remote = ray.remote(num_cpus=threads, max_retries=0)(_shared_task)
        window = max(1, n_jobs)
        submitted = 0
        for i in range(n):
            while submitted < n and submitted <= i + window:
                pending[submitted] = remote.remote(call, fn, threads, ref, submitted)
                submitted += 1
            yield pickle.loads(ray.get(pending.pop(i)))  # our own task's output
    finally:
        for task in pending.values():
            ray.cancel(task, force=True)
        if started_here:
            ray.shutdown()


def run_ray(
    call: Callable[..., Any],
    fn: Callable[..., Any],
    keys: Sequence[K],
    make_args: Callable[[K], tuple[Any, ...]],
    *,
    n_jobs: int,
    threads: int,
    address: str | None,
    on_start: Callable[[K], None] | None,
    on_done: Callable[[K, Any], None] | None,
    on_step: Callable[[K, int, int], None] | None = None,
) -> dict[K, Any]:
    """Run ``call(fn, threads, make_args(key))`` as Ray tasks, at most ``n_jobs`` at a time.

    With ``on_step``, each task gets an ``on_step`` keyword that puts its step reports
    on a Ray queue (an actor, which needs no CPU reservation); this process passes them
    on while it waits for results.
    """
    ray = _import_ray()
    started_here = _init(ray, n_jobs, threads, address)
    steps = None
    try:
        if on_step is not None:
            from ray.util.queue import Queue

            steps = Queue(actor_options={"num_cpus": 0})
        remote = ray.remote(num_cpus=threads, max_retries=0)(_pickled)
        results: dict[K, Any] = {}
        queue = list(keys)
        running: dict[Any, K] = {}
        while queue or running:
            while queue and len(running) < max(1, n_jobs):
                key = queue.pop(0)
                kwargs = None if steps is None else {"on_step": QueueSink(steps, key)}
                running[remote.remote(call, fn, threads, make_args(key), kwargs)] = key
                if on_start is not None:
                    on_start(key)
            timeout = None if steps is None else 0.25
            ready, _ = ray.wait(list(running), num_returns=1, timeout=timeout)
            drain_steps(steps, on_step)
            for ref in ready:
                key = running.pop(ref)
                results[key] = pickle.loads(ray.get(ref))  # our own task's output
                if on_done is not None:
                    on_done(key, results[key])
        return results
    finally:
        if steps is not None:
            steps.shutdown()
        if started_here:
            ray.shutdown()
