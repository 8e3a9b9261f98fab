"""evaluate's Rules section: every rule with its real and synthetic share, worst first."""

from __future__ import annotations

import numpy as np

from relsynth import evaluate
from relsynth.evaluate.report import EvaluationReport
from tests.unit.rules.shop import shop_metadata, shop_tables


def test_rules_section_lists_broken_rules_first(tmp_path):
    meta, real = shop_metadata(), shop_tables()
    fake = {k: v.copy() for k, v in real.items()}
    fake["invoice"]["total"] = fake["invoice"]["total"].to_numpy()[
        np.random.default_rng(0).permutation(len(fake["invoice"]))
    ]
    report = evaluate(meta, real, fake, max_rows=2000)
    rules = report.rules
    assert "invoice.total = sum(line.price * line.qty)" == rules.iloc[0]["rule"]
    assert not rules.iloc[0]["kept"] and rules.iloc[0]["synthetic"] < 0.2
    assert rules.iloc[1:]["kept"].all()
    assert (rules["real"] == 1.0).all()
    assert report.rules_kept == (len(rules) - 1) / len(rules)
    again = EvaluationReport.from_json(report.to_json())
    assert list(again.rules["rule"]) == list(rules["rule"])
    assert "Cross-table rules" in str(report)
    html = report.to_html(tmp_path / "report.html").read_text()
    assert "id='rules'" in html and "invoice.total = sum(line.price * line.qty)" in html
