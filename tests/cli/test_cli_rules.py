"""Rules on the command line: `reflect --rules` lists and saves them, `fit` shows them."""

from __future__ import annotations

import json

import relsynth
from relsynth.cli import main
from tests.unit.rules.shop import shop_metadata, shop_tables

FAST = ["--steps", "20", "--threads", "1", "--jobs", "1", "--seed", "0"]


def _shop(tmp_path) -> str:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    relsynth.write_tables(url, shop_metadata(), shop_tables(n_customers=40))
    return url


def test_reflect_lists_and_saves_rules(tmp_path, capsys):
    url = _shop(tmp_path)
    assert main(["reflect", url]) == 0
    assert "payment.rental_id -> rental.customer_id" not in capsys.readouterr().out
    out_file = tmp_path / "meta.json"
    assert main(["reflect", url, "--rules", "-o", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert "invoice.total = sum(line.price * line.qty)" in out
    saved = json.loads(out_file.read_text())
    texts = [r["rule"] for r in saved["rules"]]
    assert "payment.customer_id = payment.rental_id -> rental.customer_id" in texts
    assert all(r["share"] == 1.0 for r in saved["rules"])


def test_fit_shows_kept_rules_and_honours_a_dropped_one(tmp_path, capsys):
    url = _shop(tmp_path)
    meta_file = tmp_path / "meta.json"
    assert main(["reflect", url, "--rules", "-o", str(meta_file)]) == 0
    data = json.loads(meta_file.read_text())
    for entry in data["rules"]:
        if entry["rule"] == "invoice.n_lines = count(line)":
            entry["enforce"] = False
    meta_file.write_text(json.dumps(data))
    capsys.readouterr()
    model = tmp_path / "model.relsynth"
    rc = main(["fit", url, "-o", str(model), "--metadata", str(meta_file), *FAST])
    out = capsys.readouterr().out
    assert rc == 0
    assert "rules kept" in out and "invoice.total = sum(line.price * line.qty)" in out
    assert "invoice.n_lines = count(line)" not in out
    loaded = relsynth.Synthesizer.load(model)
    kept = [str(r) for r in loaded.metadata.rules if r.enforce]
    assert "invoice.total = sum(line.price * line.qty)" in kept
    assert "invoice.n_lines = count(line)" not in kept


def test_bad_rule_in_metadata_is_one_line(tmp_path, capsys):
    url = _shop(tmp_path)
    meta_file = tmp_path / "meta.json"
    assert main(["reflect", url, "-o", str(meta_file)]) == 0
    data = json.loads(meta_file.read_text())
    data["rules"] = ["payment.payment_date >= payment.rental_id -> rental.nope"]
    meta_file.write_text(json.dumps(data))
    capsys.readouterr()
    rc = main(["fit", url, "-o", str(tmp_path / "m"), "--metadata", str(meta_file), *FAST])
    err = capsys.readouterr().err
    assert rc == 1
    assert "payment.payment_date >= payment.rental_id -> rental.nope" in err
    assert "Traceback" not in err


def test_reflect_lists_reference_tables_with_the_reason(tmp_path, capsys):
    from tests.unit.rules.test_lookup import _codes_and_people

    meta, tables = _codes_and_people()
    url = f"sqlite:///{tmp_path / 'trips.db'}"
    relsynth.write_tables(url, meta, tables)
    assert main(["reflect", url, "--rules"]) == 0
    out = capsys.readouterr().out
    assert "station (reference: 300 rows of codes (code) with their names (name)" in out
    assert "member (" not in out and "plane (" not in out
