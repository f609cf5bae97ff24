"""`custody check` and `custody demo` from the command line."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from api.cli import app
from custody.epcis import document
from tests.checker_fixtures import START, Story

if TYPE_CHECKING:
    from pathlib import Path

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh embedded database per test (the demo needs an empty one)."""
    monkeypatch.setenv("CUSTODY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CUSTODY_DATABASE_URL", raising=False)
    monkeypatch.setenv("CUSTODY_KEY_ENCRYPTION_KEY", "tests-only key-encryption key")
    return tmp_path / "data"


def invoke(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _outside_events(tmp_path: Path) -> Path:
    """Another system's events: a drum received that no carrier loaded, as EPCIS JSON-LD."""
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).at(5).receive(drum, mass_kg=200)
    events = [(r.event, r.event_hash, None) for r in story.records]
    path = tmp_path / "events.jsonld"
    doc = document(events, created=START + timedelta(days=1))
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_outside_events_are_checked_from_a_file_with_no_database(tmp_path: Path) -> None:
    events = _outside_events(tmp_path)
    out = tmp_path / "alerts.json"
    code, output = invoke("check", "--events", events, "--no-routes", "--json", out,
                          "--as-of", "2026-03-03T00:00+08:00")  # fmt: skip
    assert code == 0, output
    alerts = json.loads(out.read_text(encoding="utf-8"))
    assert [a["rule"] for a in alerts] == ["missing-handoff"]
    assert "missing-handoff" in output  # the table
    assert "高 high" in output


def test_a_time_without_zone_is_refused_in_both_languages(tmp_path: Path) -> None:
    code, output = invoke("check", "--events", _outside_events(tmp_path), "--no-routes",
                          "--as-of", "2026-03-03T00:00")  # fmt: skip
    assert code == 3
    assert "须带时区" in output
    assert "needs a time zone" in output


def test_an_unreadable_events_file_exits_with_a_plain_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonld"
    bad.write_text("{not json", encoding="utf-8")
    code, output = invoke("check", "--events", bad, "--no-routes")
    assert code == 3
    assert "无法读取" in output


def test_check_on_an_empty_ledger_finds_nothing_and_stores_nothing() -> None:
    assert invoke("db", "upgrade")[0] == 0
    code, output = invoke("check", "--no-routes")
    assert code == 0, output
    assert "未发现告警" in output
    assert "新告警 New alerts stored" in output


def test_the_demo_seeds_once_then_check_finds_its_violations() -> None:
    code, output = invoke("demo", "--days", "10", "--generators", "6")
    assert code == 0, output
    assert "事件 Events" in output
    code, output = invoke("demo", "--days", "10", "--generators", "6")
    assert code == 5  # a second demo into the same ledger is refused ...
    assert "空数据库" in output
    code, output = invoke("demo", "--if-empty")
    assert code == 0  # ... unless asked to leave a seeded database alone
    assert "跳过" in output
    code, output = invoke("check", "--as-of", "2026-10-11T00:00+08:00")
    assert code == 0, output
    for rule in ("missing-handoff", "vanished", "cloned-label", "mass-discrepancy"):
        assert rule in output
    code, listed = invoke("alerts", "list", "--json")
    assert code == 0
    assert len(json.loads(listed)) > 10


def test_outside_manifests_are_compared_with_outside_events(tmp_path: Path) -> None:
    story = Story()
    drum = story.drum()
    number = "20260351010001"
    story.at(0).commission(drum).at(1).load(drum, manifest=number, vehicle="川A12345")
    story.at(3).receive(drum, manifest=number)
    events = tmp_path / "events.jsonld"
    records = [(r.event, r.event_hash, None) for r in story.records]
    events.write_text(json.dumps(document(records, created=START)), encoding="utf-8")
    declared = {
        "number": number, "generator": story.records[0].event.party,
        "transporter": "91510112MA62M3K99H", "receiver": "91510900MA6232LL7N",
        "vehicles": ["川B54321"], "waste_codes": ["900-041-49"], "containers": [drum],
        "declared_mass_g": 200_000, "created_at": "2026-03-01T08:00:00+08:00",
    }  # fmt: skip
    manifests = tmp_path / "manifests.json"
    manifests.write_text(json.dumps([declared], ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "alerts.json"
    code, output = invoke("check", "--events", events, "--manifests", manifests, "--no-routes",
                          "--json", out)  # fmt: skip
    assert code == 0, output
    (alert,) = [a for a in json.loads(out.read_text(encoding="utf-8"))
                if a["rule"] == "manifest-mismatch"]  # fmt: skip
    assert alert["subject"] == number
    assert {m["field"] for m in alert["facts"]["mismatches"]} == {"vehicle"}


def test_a_manifest_file_with_a_bad_field_names_it(tmp_path: Path) -> None:
    manifests = tmp_path / "manifests.json"
    manifests.write_text(json.dumps([{"number": "x"}]), encoding="utf-8")
    code, output = invoke("check", "--events", _outside_events(tmp_path), "--manifests",
                          manifests, "--no-routes")  # fmt: skip
    assert code == 3
    assert "联单" in output
