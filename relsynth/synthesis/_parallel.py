"""Running independent table fits: in this process, in worker processes, or on Ray.

At fit time every table learns from its *real* parents, so the table fits are
independent tasks. :func:`run_tasks` runs them

* in this process, one after another (``n_jobs=1``);
* in ``n_jobs`` worker processes on this machine (:class:`concurrent.futures.
  ProcessPoolExecutor` with the ``spawn`` start method: no forked torch or thread
  state; each worker imports relsynth afresh);
* as Ray tasks (``executor="ray"``), on a running cluster (``address`` or the
  ``RAY_ADDRESS`` variable) or a local Ray started for the fit.

Every task runs under the same pinned thread counts (torch intra-op threads and the
BLAS/OpenMP pools that numpy and scikit-learn use): floating-point sums depend on
how a reduction is split among threads, so a fixed count per task is what makes a
table's result the same wherever and alongside whatever it runs. A task receives
its own seed from the caller, derived from the one seed by the table's name, so
the order in which tasks start or finish changes nothing.

The parent process keeps at most ``n_jobs`` tasks submitted at a time: a submitted
task is a started one, which lets the caller report the tables in progress and
decide each task's arguments (its share of a time budget) when it starts. With
``on_step``, a task also reports its progress inside (a table's training steps):
``fn`` gets an ``on_step(step, total)`` keyword, which in worker processes puts the
report on a queue that this process reads while it waits (a pipe the workers get as
they start: no manager process; for Ray tasks, a Ray queue actor).

A local pool costs each worker seconds of imports: the fit's scheduler
(:mod:`._schedule`) passes ``n_jobs=1`` where the expected work is too small to pay.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any, Literal, TypeVar

from relsynth.errors import ParameterError

__all__ = ["EXECUTORS", "iter_tasks", "pinned_threads", "resolve_jobs", "run_tasks"]

logger = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")
Executor = Literal["local", "ray"]
K = TypeVar("K", bound=Hashable)


def usable_cores() -> int:
    """Number of CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return max(1, os.cpu_count() or 1)


def resolve_jobs(n_jobs: int | None) -> int:
    """``None`` -> 1, ``-1`` -> the usable cores, ``k >= 1`` -> ``k`` (scikit-learn's rule)."""
    if n_jobs is None:
        return 1
    if n_jobs == -1:
        return usable_cores()
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ParameterError(
            f"The 'n_jobs' parameter must be an int >= 1, -1 (all cores) or None. Got {n_jobs!r}."
        )
    return n_jobs


@contextlib.contextmanager
def pinned_threads(n: int) -> Iterator[None]:
    """Torch intra-op threads and the BLAS/OpenMP pools set to ``n`` inside the block."""
    from threadpoolctl import threadpool_limits

    from relsynth.models._torch import torch_threads

    with threadpool_limits(limits=n), torch_threads(n):
        yield


def _init_worker(
    threads: int, log_level: int, log_to_stderr: bool, warm: bool = True, steps: Any = None
) -> None:
    """Worker process set-up: thread pools pinned once, relsynth's logging mirrored.

    A spawned process starts with no logging configuration: when the parent's
    ``relsynth`` logger writes somewhere (the CLI's stderr), the worker's records go
    to stderr too, marked with the worker's name. ``steps``: the queue of the tasks'
    step reports (:class:`_StepSink`), which a worker gets as it starts.
    """
    _STEPS["queue"] = steps
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    root = logging.getLogger("relsynth")
    root.setLevel(log_level)
    if log_to_stderr:
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter("%(levelname)s %(name)s [%(processName)s]: %(message)s")
        )
        root.addHandler(handler)
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # already set in this process
        torch.set_num_interop_threads(1)
    if warm:
        from relsynth.models._torch import warm_up

        warm_up()


#: a fit worker's queue of step reports (set by :func:`_init_worker`)
_STEPS: dict[str, Any] = {}


class _StepSink:
    """A task's ``on_step`` in a fit worker: ``(key, step, total)`` onto the worker's
    queue, a :class:`multiprocessing.SimpleQueue` (a pipe, no manager process to start:
    a put is written before the task's result is sent, so the parent, which drains the
    queue as each task ends, hears every step of a task before its end)."""

    def __init__(self, key: Any) -> None:
        self.key = key

    def __call__(self, step: int, total: int) -> None:
        _STEPS["queue"].put((self.key, step, total))


def _drain(steps: Any, on_step: Callable[[Any, int, int], None] | None) -> None:
    """Pass the step reports in ``steps`` (a ``SimpleQueue``) to ``on_step``, without waiting."""
    while steps is not None and on_step is not None and not steps.empty():
        key, step, total = steps.get()
        on_step(key, step, total)


def _call_pinned(
    fn: Callable[..., Any],
    threads: int,
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None = None,
) -> Any:
    with pinned_threads(threads):
        return fn(*args, **(kwargs or {}))


def run_tasks(
    fn: Callable[..., Any],
    keys: Sequence[K],
    make_args: Callable[[K], tuple[Any, ...]],
    *,
    n_jobs: int = 1,
    threads: int = 1,
    executor: Executor = "local",
    address: str | None = None,
    on_start: Callable[[K], None] | None = None,
    on_done: Callable[[K, Any], None] | None = None,
    on_step: Callable[[K, int, int], None] | None = None,
) -> dict[K, Any]:
    """Run ``fn(*make_args(key))`` for every key; return ``{key: result}``.

    ``make_args`` is called in this process just before a task starts, ``on_start``
    right after, ``on_done`` as each result arrives (in completion order). With
    ``on_step``, ``fn`` is called with ``on_step=`` a ``(step, total)`` callable too,
    whose reports reach ``on_step(key, step, total)`` here, from Ray tasks too. ``fn``
    and its arguments must be picklable for worker processes and Ray. An exception in
    a task is raised here, after the tasks already running have been cancelled.
    """
    if executor not in EXECUTORS:
        raise ParameterError(
            f"The 'executor' parameter must be one of {', '.join(map(repr, EXECUTORS))}. "
            f"Got {executor!r}."
        )
    if executor == "ray":
        from relsynth.synthesis._ray import run_ray

        return run_ray(
            _call_pinned, fn, keys, make_args, n_jobs=n_jobs, threads=threads,
            address=address, on_start=on_start, on_done=on_done, on_step=on_step,
        )  # fmt: skip
    if n_jobs <= 1 or len(keys) <= 1:
        return _run_here(fn, keys, make_args, threads, on_start, on_done, on_step)
    return _run_pool(fn, keys, make_args, n_jobs, threads, on_start, on_done, on_step)


def _run_here(fn, keys, make_args, threads, on_start, on_done, on_step):  # noqa: ANN001, ANN202
    import functools

    results = {}
    for key in keys:
        args = make_args(key)
        if on_start is not None:
            on_start(key)
        kwargs = None if on_step is None else {"on_step": functools.partial(on_step, key)}
        results[key] = _call_pinned(fn, threads, args, kwargs)
        if on_done is not None:
            on_done(key, results[key])
    return results


def _run_pool(fn, keys, make_args, n_jobs, threads, on_start, on_done, on_step):  # noqa: ANN001, ANN202
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    context = multiprocessing.get_context("spawn")
    workers = min(n_jobs, len(keys))
    root = logging.getLogger("relsynth")
    level = root.getEffectiveLevel()
    mirrored = any(not isinstance(h, logging.NullHandler) for h in root.handlers)
    results: dict[Any, Any] = {}
    queue = list(keys)
    running: dict[Future[Any], Any] = {}
    steps = None if on_step is None else context.SimpleQueue()
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(
            ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(threads, level, mirrored, True, steps),
            )
        )
        try:
            while queue or running:
                while queue and len(running) < workers:
                    key = queue.pop(0)
                    kwargs = None if steps is None else {"on_step": _StepSink(key)}
                    future = pool.submit(_call_pinned, fn, threads, make_args(key), kwargs)
                    running[future] = key
                    if on_start is not None:
                        on_start(key)
                timeout = None if steps is None else 0.25
                finished, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                _drain(steps, on_step)
                for future in finished:
                    key = running.pop(future)
                    results[key] = _result(future, key)
                    if on_done is not None:
                        on_done(key, results[key])
        except BaseException:
            for future in running:
                future.cancel()
            raise
    return results


def _result(future: Any, key: Any) -> Any:
    """A worker's result; a task that cannot travel to a worker gets a clear error."""
    import pickle

    try:
        return future.result()
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        if "pickle" not in str(exc).lower():
            raise
        raise ParameterError(
            f"The fit of {key!r} cannot be sent to a worker process ({exc}); a model given "
            "in 'table_models' must be picklable (no lambda callbacks). Use n_jobs=1 "
            "(CLI --jobs 1) to fit in this process."
        ) from exc


# -- ordered streams of tasks (chunked sampling) -------------------------------------------

_SHARED: dict[str, Any] = {}  # a stream worker's shared argument, sent once per process


def iter_tasks(
    fn: Callable[[Any, int], Any],
    n: int,
    shared: Any,
    *,
    n_jobs: int = 1,
    threads: int = 1,
    executor: Executor = "local",
    address: str | None = None,
) -> Iterator[Any]:
    """Yield ``fn(shared, i)`` for ``i`` in ``0 .. n-1``, in that order.

    Locally, more than one task runs in ``n_jobs`` worker processes (one worker for
    ``n_jobs=1``), so that the consumer's work on result ``i`` (the writer's) overlaps
    the making of the next ones: while the consumer holds result ``i``, the workers
    make ``i + 1 .. i + n_jobs``, and no further task is submitted until the consumer
    takes the next result. So a slow consumer holds the workers back and memory stays
    bounded by ``n_jobs + 1`` results (``n_jobs`` made or in the making, one held).
    ``shared`` (the fitted synthesizer) travels once per worker process (once per Ray
    task, from Ray's object store). Every task runs under ``threads`` pinned threads
    wherever it runs, so the results do not depend on ``n_jobs`` or the executor.
    """
    if executor not in EXECUTORS:
        raise ParameterError(
            f"The 'executor' parameter must be one of {', '.join(map(repr, EXECUTORS))}. "
            f"Got {executor!r}."
        )
    if executor == "ray":
        from relsynth.synthesis._ray import iter_ray

        yield from iter_ray(
            _call_pinned, fn, n, shared, n_jobs=n_jobs, threads=threads, address=address
        )
        return
    if n <= 1:  # nothing to overlap with: no worker to start
        for i in range(n):
            with pinned_threads(threads):
                result = fn(shared, i)
            yield result
        return
    yield from _iter_pool(fn, n, shared, n_jobs, threads)


def _init_stream_worker(
    threads: int, log_level: int, log_to_stderr: bool, fn: Any, shared: bytes
) -> None:
    """A stream worker: pinned and logging as a fit worker, without the optimizer
    warm-up (a stream task never trains; importing ``torch._dynamo`` costs seconds of
    each worker's start).

    ``shared`` comes pickled (bytes, see :func:`_iter_pool`) and is unpickled here.
    """
    import pickle

    _init_worker(threads, log_level, log_to_stderr, warm=False)
    _SHARED["fn"], _SHARED["shared"] = fn, pickle.loads(shared)


def _call_shared(threads: int, i: int) -> Any:
    with pinned_threads(threads):
        return _SHARED["fn"](_SHARED["shared"], i)


def _iter_pool(fn, n, shared, n_jobs, threads):  # noqa: ANN001, ANN202
    import multiprocessing
    import pickle
    from concurrent.futures import Future, ProcessPoolExecutor

    root = logging.getLogger("relsynth")
    mirrored = any(not isinstance(h, logging.NullHandler) for h in root.handlers)
    workers = min(n_jobs, n)
    # ``shared`` travels pickled in advance, as bytes: a spawned process is started by
    # writing its pickled arguments into a pipe, and this process waits until the new
    # one has read them. Unpickling the synthesizer itself needs torch and the models
    # imported (seconds), which held up the start of the next worker by as much; bytes
    # are read at once, and every worker imports and unpickles in its initializer, at
    # the same time as the others.
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_stream_worker,
        initargs=(threads, root.getEffectiveLevel(), mirrored, fn, pickle.dumps(shared, 5)),
    )
    pending: dict[int, Future[Any]] = {}
    submitted = 0
    try:
        for i in range(n):
            # tasks i .. i + workers: every worker busy while the consumer holds result i
            while submitted < n and submitted <= i + workers:
                pending[submitted] = pool.submit(_call_shared, threads, submitted)
                submitted += 1
            result = pending.pop(i).result()
            yield result
            del result  # let it go before the next wait: one result held at a time
    finally:
        for future in pending.values():
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
