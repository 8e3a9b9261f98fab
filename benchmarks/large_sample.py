"""Large samples written in chunks: rows/s and peak memory of ``relsynth sample --scale N``.

Fits a nycflights13 model (or loads ``--model``), then runs the CLI
``relsynth sample MODEL DST --scale N --jobs W`` as a child process for every target
dialect and worker count, and prints per run: rows written, seconds (end to end:
load, sample, write, check), rows/s, and the peak resident memory of the whole
process tree (the CLI and its worker processes, summed, polled every 0.1 s from
``/proc``) and the CPU seconds the tree spent (comparable on a loaded machine, where
the seconds are not). A script, not a test::

    .venv/bin/python benchmarks/large_sample.py --scale 2
    .venv/bin/python benchmarks/large_sample.py --scale 30 --workers 1 2
    .venv/bin/python benchmarks/large_sample.py --model nyc.relsynth --scale 30 --chunk-rows 200000

The nycflights13 SQLite file is built with ``datasets/nycflights13.py`` unless
``--source`` names one. PostgreSQL is the test server (``RELSYNTH_TEST_POSTGRES_URL``);
a database ``relsynth_bench_<random>`` is created and dropped per run. The target
(issue 15): ``--scale 30`` (about 10 million rows) at >= 50,000 rows/s with a peak
<= 2 GB, integrity clean (the CLI exits 0 only then).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.io_throughput import fresh_database  # noqa: E402
from datasets import nycflights13  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


TICK = os.sysconf("SC_CLK_TCK")


def _tree(root: int) -> dict[int, tuple[int, float]]:
    """``{pid: (resident bytes, CPU seconds)}`` of ``root`` and every process below it."""
    parents: dict[int, int] = {}
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
        stats[int(entry)] = (int(fields[21]) * PAGE, cpu)
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            out[pid] = stats[pid]
        todo += [p for p, parent in parents.items() if parent == pid]
    return out


#: The resident memory at the tree's peak: (total, the CLI's, each worker's), bytes.
Peak = tuple[int, int, tuple[int, ...]]


def run_measured(cmd: list[str]) -> tuple[int, float, Peak, tuple[float, float], str]:
    """Run ``cmd``; return its exit code, seconds, peak tree RSS (bytes; with the CLI's
    and each worker's share at that moment), CPU seconds of the CLI process and of its
    workers (each process's last reading, the workers' summed: comparable under load,
    unlike the seconds) and output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        peak: Peak = (0, 0, ())
        cpu: dict[int, float] = {}
        while proc.poll() is None:
            tree = _tree(proc.pid)
            total = sum(rss for rss, _ in tree.values())
            if total > peak[0]:
                main_rss = tree.get(proc.pid, (0, 0.0))[0]
                others = tuple(
                    sorted((r for p, (r, _) in tree.items() if p != proc.pid), reverse=True)
                )
                peak = (total, main_rss, others)
            cpu.update({pid: seconds for pid, (_, seconds) in tree.items()})
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        log.seek(0)
        main = cpu.pop(proc.pid, 0.0)
        return proc.returncode, seconds, peak, (main, sum(cpu.values())), log.read()


def fit_model(source: Path, model: Path, steps: int) -> None:
    cmd = [sys.executable, "-m", "relsynth", "fit", f"sqlite:///{source}", "-o", str(model)]
    cmd += ["--seed", "0", "--steps", str(steps), "--overwrite"]
    code, seconds, _, _, out = run_measured(cmd)
    if code:
        raise SystemExit(f"fit failed:\n{out}")
    print(f"fitted {model} in {seconds:.0f}s (--steps {steps})")


def count_rows(url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return sum(
                int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar() or 0)
                for t in ("airlines", "airports", "planes", "weather", "flights")
            )
    finally:
        engine.dispose()  # no session left: the database is dropped next


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="an existing nycflights13 SQLite file")
    parser.add_argument("--model", type=Path, help="a model file (fitted when missing)")
    parser.add_argument("--steps", type=int, default=100, help="training steps when fitting")
    parser.add_argument("--scale", type=float, default=2.0)
    parser.add_argument("--chunk-rows", type=int, default=None)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--dialects", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = args.source
        if source is None:
            source = work / "nycflights13.db"
            nycflights13.build(source)
        model = args.model or work / "nyc.relsynth"
        if not model.exists():
            fit_model(source, model, args.steps)
        print(f"scale {args.scale}, chunk rows {args.chunk_rows or 'default'}")
        head = ("dialect", "workers", "rows", "seconds", "rows/s", "peak MB", "CPU s")
        head += (
            "CPU main",
            "CPU wrk",
            "CPU s/1M main",
            "CPU s/1M wrk",
            "MB at peak: main / workers",
        )
        print(
            "{:<11} {:>7} {:>11} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>13} {:>12}  {}".format(
                *head
            )
        )
        for dialect in args.dialects:
            for workers in args.workers:
                with fresh_database(dialect, work) as url:
                    cmd = [sys.executable, "-m", "relsynth", "sample", str(model), url]
                    cmd += ["--scale", str(args.scale), "--seed", "0", "--jobs", str(workers)]
                    if args.chunk_rows:
                        cmd += ["--chunk-rows", str(args.chunk_rows)]
                    code, seconds, peak, (main, workers_cpu), out = run_measured(cmd)
                    if code:
                        print(out)
                        print(f"{dialect} workers={workers}: exit {code}")
                        return 1
                    rows = count_rows(url)
                    per = 1e6 / max(rows, 1)
                    print(
                        f"{dialect:<11} {workers:>7} {rows:>11,} {seconds:>8.1f} "
                        f"{rows / seconds:>8,.0f} {peak[0] / 2**20:>8,.0f} "
                        f"{main + workers_cpu:>8.1f} {main:>8.1f} {workers_cpu:>8.1f} "
                        f"{main * per:>13.1f} {workers_cpu * per:>12.1f}  "
                        f"{peak[1] / 2**20:,.0f} / "
                        f"{' + '.join(f'{r / 2**20:,.0f}' for r in peak[2]) or '-'}",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
