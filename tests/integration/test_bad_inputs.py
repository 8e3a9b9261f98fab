"""A fast, representative part of benchmarks/bad_inputs.py: 0 tracebacks, leaks, losses.

Every class of the harness is represented (the source under another name in each
dialect, passwords, reads that would create or guess, schemas, errors the
arguments decide, SQL text in model and metadata files, tampered model files, real
column types across dialects); the full table runs with
``python benchmarks/bad_inputs.py``.
"""

from __future__ import annotations

import pytest

from benchmarks import bad_inputs
from tests.conftest import unavailable

RUNS = [
    ("hosts alias / hard link", "sqlite"),
    ("hosts alias / hard link", "postgresql"),
    ("hosts alias / hard link", "mariadb"),
    ("password with @", "postgresql"),
    ("URL without a scheme", "mariadb"),
    ("reflect a missing SQLite file", "sqlite"),
    ("server URL without a database", "mariadb"),
    ("reflect names the schemas found", "postgresql"),
    ("reflect -o into a missing folder", "sqlite"),
    ("model file: check injection", "postgresql"),
    ("--metadata file: default injection", "mariadb"),
    ("model file: not a zip", "sqlite"),
    ("GENERATED column, PostgreSQL to SQLite", "postgresql"),
    ("BIGINT UNSIGNED to PostgreSQL", "mariadb"),
]


def test_case_names_are_unique_and_every_class_is_covered() -> None:
    names = [c.name for c in bad_inputs.CASES]
    by_name = {c.name: c for c in bad_inputs.CASES}
    assert len(names) == len(set(names))
    classes = {"identity", "redaction", "read", "schema", "cli", "baseline"}
    classes |= {"sql from file", "model file", "types"}
    assert classes <= {c.klass for c in bad_inputs.CASES}
    assert classes - {"baseline"} <= {by_name[name].klass for name, _ in RUNS}
    assert len(bad_inputs.CASES) >= 60


def test_every_case_names_a_source_hook_and_dialect_that_exist() -> None:
    for case in bad_inputs.CASES:
        assert not case.prepare or case.prepare in bad_inputs.PREPARES, case.name
        assert not case.target or case.target in bad_inputs.DIALECTS, case.name
        if case.source:
            sql = bad_inputs.SOURCES[case.source]
            assert all(d in sql or "*" in sql for d in case.dialects), case.name
        if case.expect == "ok":
            assert case.target_check or case.argv[0] == "check", case.name


def test_fast_cases_have_no_traceback_leak_loss_or_wrong_output() -> None:
    for dialect in ("postgresql", "mariadb"):
        if not bad_inputs.server_available(dialect):
            unavailable(f"{dialect} server not reachable", require_var="RELSYNTH_REQUIRE_SERVERS")
    by_name = {c.name: c for c in bad_inputs.CASES}
    results = [bad_inputs.run_case(by_name[name], dialect) for name, dialect in RUNS]
    counts = bad_inputs.tally(results)
    problems = [
        f"{r.case.name} [{r.dialect}]: {r.outcome}: {r.reason}"
        for r in results
        if r.outcome not in ("clear error", "ok")
    ]
    assert not problems, problems
    assert counts["clear error"] + counts["ok"] == len(RUNS)
    assert counts["ok"] == sum(by_name[name].expect == "ok" for name, _ in RUNS)


@pytest.mark.parametrize("outcome", ["leak", "traceback"])
def test_the_classifier_catches_what_it_counts(outcome: str) -> None:
    import subprocess

    case = bad_inputs.Case("probe", ("x",), "probe")
    text = bad_inputs.SECRETS["slash"] if outcome == "leak" else "Traceback (most recent call last)"
    proc = subprocess.CompletedProcess(["x"], 1, stdout="", stderr=f"error: {text}\n")
    assert bad_inputs.classify(case, {}, proc, lost=False)[0] == outcome
    clean = subprocess.CompletedProcess(["x"], 1, stdout="", stderr="error: fine\n")
    assert bad_inputs.classify(case, {}, clean, lost=True)[0] == "data loss"
