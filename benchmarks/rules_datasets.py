"""Cross-table rules on the shared datasets: found in the real data, kept in a synthetic copy.

For each dataset: reflect, read, fit with few epochs (rules discovered at fit),
sample, then the share of rows where each rule holds, real against synthetic
(``relsynth.evaluate``'s Rules section). Prints a Markdown table per dataset and the
time discovery took beside the fit's.

    nice -n 10 .venv/bin/python benchmarks/rules_datasets.py --epochs 2 northwind berka gtfs_cairns
    nice -n 10 .venv/bin/python benchmarks/rules_datasets.py --epochs 0 --nycflights13 \
        benchmarks/_out/nyc_full.db      # datasets.nycflights13.build(...) writes it
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import relsynth
from relsynth.evaluate._rules import rule_scores

DATASETS = Path("/work/shared/datasets")


def _url(name: str) -> str:
    folder = DATASETS / name
    path = next(p for p in folder.iterdir() if p.suffix in (".sqlite", ".db"))
    return f"sqlite:///{path}"


def run(label: str, url: str, epochs: int, threads: int, seed: int, baseline: bool) -> None:
    meta = relsynth.reflect(url)
    tables = relsynth.read_tables(url, meta)
    before = {}
    if baseline:  # as before rules: none enforced, lookup tables modelled
        plain = relsynth.Synthesizer(
            meta, seed=seed, epochs=epochs or None, n_threads=threads, rules="none",
            copy_reference_tables=False,
        ).fit(tables)  # fmt: skip
        before = {
            r["rule"]: r["synthetic"]
            for r in rule_scores(meta, tables, plain.sample(seed=seed + 1), seed=seed)
        }
    t0 = time.perf_counter()
    synth = relsynth.Synthesizer(meta, seed=seed, epochs=epochs or None, n_threads=threads).fit(
        tables
    )
    fit_s = time.perf_counter() - t0
    fake = synth.sample(seed=seed + 1)
    rows = rule_scores(meta, tables, fake, seed=seed)
    rules_s = synth.fit_info_.seconds.get("rules", float("nan"))
    print(f"\n### {label}\n")
    print(
        f"{len(rows)} rules; discovery {rules_s:.2f} s of a {fit_s:.1f} s fit "
        f"({100 * rules_s / fit_s:.1f} %), epochs={epochs}, seed={seed}\n"
    )
    copied = [n for n, m in synth.fit_info_.models.items() if m == "copy"]
    print(f"copied verbatim: {', '.join(copied) or 'none'}\n")
    extra = " without rules |" if baseline else ""
    print(f"| rule | kind | real | synthetic | kept |{extra}")
    print("|---|---|---:|---:|:---:|" + ("---:|" if baseline else ""))
    for r in rows:
        old = f" {before.get(r['rule'], float('nan')):.4f} |" if baseline else ""
        print(
            f"| `{r['rule']}` | {r['kind']} | {r['real']:.4f} | {r['synthetic']:.4f} | "
            f"{'yes' if r['kept'] else '**no**'} |{old}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("datasets", nargs="*", help="default: northwind berka gtfs_cairns")
    parser.add_argument("--epochs", type=int, default=2, help="0: each model's default budget")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nycflights13", type=Path, help="an nycflights13 SQLite file")
    parser.add_argument(
        "--baseline", action="store_true", help="also fit without rules (rules='none')"
    )
    args = parser.parse_args()
    names = args.datasets or ([] if args.nycflights13 else ["northwind", "berka", "gtfs_cairns"])
    for name in names:
        run(name, _url(name), args.epochs, args.threads, args.seed, args.baseline)
    if args.nycflights13 is not None:
        url = f"sqlite:///{args.nycflights13}"
        run("nycflights13", url, args.epochs, args.threads, args.seed, args.baseline)


if __name__ == "__main__":
    main()
