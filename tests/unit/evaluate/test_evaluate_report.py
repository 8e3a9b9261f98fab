"""EvaluationReport: plain JSON that round-trips, a readable summary, an HTML page."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from relsynth.errors import ArtifactError
from relsynth.evaluate import EvaluationReport, evaluate, split_holdout


@pytest.fixture(scope="module")
def report(shop_meta, shop, shop_other) -> EvaluationReport:
    train, holdout = split_holdout(shop_meta, shop, seed=0)
    return evaluate(
        shop_meta, train, shop_other, holdout=holdout, target_columns={"orders": "status"}
    )


def _no_nan(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_no_nan(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_nan(v) for v in value)
    return value is None or isinstance(value, (str, int, bool))


def test_json_is_plain_and_round_trips(report, tmp_path: Path) -> None:
    data = report.to_dict()
    assert _no_nan(data)
    text = report.to_json(tmp_path / "report.json")
    assert json.loads(text) == data
    again = EvaluationReport.from_json(tmp_path / "report.json")
    assert again.to_dict() == data
    assert EvaluationReport.from_json(text).to_dict() == data
    assert data["summary"]["column_shapes"]["score"] == pytest.approx(report.column_shapes)
    assert data["summary"]["c2st_auc"]["ceiling"] is not None


def test_from_dict_refuses_unknown_versions() -> None:
    with pytest.raises(ArtifactError, match="format version"):
        EvaluationReport.from_dict({"format_version": 99})


def test_every_score_has_its_ceiling(report) -> None:
    assert report.has_ceiling
    for frame in (report.columns, report.cardinality, report.c2st):
        assert frame["ceiling"].notna().all()
    assert report.summary.set_index("key").loc["c2st_auc", "best"] == 0.5


def test_summary_text(report) -> None:
    text = str(report)
    assert "ceiling: real train vs holdout" in text
    for needle in ("Column shapes", "C2ST AUC", "orders(customer_id) -> customers(id)", "f1_macro"):
        assert needle in text
    assert "nan" not in text


def test_html_page_structure(report, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = report.to_html(tmp_path / "report.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for anchor in ("summary", "tables", "columns", "pairs", "fks", "efficacy", "privacy"):
        assert f"id='{anchor}'" in page
    assert page.count("data:image/png;base64,") >= 6  # C2ST, 4 tables' columns, heatmaps, FKs
    assert "http://" not in page and "https://" not in page  # standalone


def test_importing_evaluate_stays_light() -> None:
    code = (
        "import sys, relsynth.evaluate; "
        "heavy = {'sklearn', 'matplotlib', 'scipy', 'torch', 'sqlalchemy'} & "
        "{m.split('.')[0] for m in sys.modules}; assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_html_page_renders_in_a_browser(report, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed")
    path = report.to_html(tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            path.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.stat().st_size > 20_000
