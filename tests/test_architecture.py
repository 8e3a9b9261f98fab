"""Layering: pure layers import neither torch nor SQLAlchemy (checked in a fresh process)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE = [
    "relsynth",
    "relsynth.metadata",
    "relsynth.metadata.schema",
    "relsynth.metadata.graph",
    "relsynth.metadata.serialize",
    "relsynth.check",
    "relsynth.keys",
    "relsynth.rules",
    "relsynth.evaluate",
]


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_do_not_import_heavy_deps(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "bad = sorted({'torch', 'sqlalchemy'} & set(sys.modules)); "
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_library_never_prints() -> None:
    """No print() calls in library code (the CLI formats output)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "relsynth"
    offenders = []
    for path in root.rglob("*.py"):
        if path.name == "cli.py":
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("print(") or "sys.stdout.write" in stripped:
                offenders.append(f"{path.relative_to(root)}:{lineno}")
    assert not offenders, offenders
