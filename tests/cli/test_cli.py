"""The command line: help for newcomers, bilingual output, one exit code per kind of failure."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from api.cli import app
from storage.migrate import head_revision
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE

if TYPE_CHECKING:
    from pathlib import Path

runner = CliRunner()


@pytest.fixture
def db_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("CUSTODY_DATABASE_URL", url)
    return url


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in (
        "serve",
        "db",
        "waste",
        "id",
        "registry",
        "devices",
        "plates",
        "scan",
        "gateway",
        "route",
    ):
        assert command in result.output


@pytest.mark.parametrize(
    "group", ["db", "waste", "id", "registry", "devices", "plates", "scan", "route"]
)
def test_every_group_has_help(group: str) -> None:
    result = runner.invoke(app, [group, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


@pytest.mark.usefixtures("db_env")
def test_db_upgrade_then_current() -> None:
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    current = runner.invoke(app, ["db", "current"]).output.splitlines()
    database, newest = (line.split()[-1] for line in current)
    assert database == newest == head_revision()


def test_waste_show_prints_chinese_and_english_labels() -> None:
    result = runner.invoke(app, ["waste", "show", "900-041-49"])
    assert result.exit_code == 0
    assert "废物类别 Category" in result.output
    assert "HW49 其他废物" in result.output
    assert "T(毒性) In(感染性)" in result.output


def test_waste_show_unknown_code_exits_4_with_chinese_first() -> None:
    result = runner.invoke(app, ["waste", "show", "900-998-49"])
    assert result.exit_code == 4
    lines = result.output.splitlines()
    assert "waste-code-unknown" in lines[0]
    assert "名录" in lines[1]
    assert "in no edition of the list" in lines[2]


def test_bad_waste_code_exits_3() -> None:
    assert runner.invoke(app, ["waste", "show", "900-041-42"]).exit_code == 3


def test_credit_code_check_names_the_failing_position() -> None:
    assert runner.invoke(app, ["id", "credit-code", GENERATOR_CODE]).exit_code == 0
    bad = runner.invoke(app, ["id", "credit-code", GENERATOR_CODE[:4] + "I" + GENERATOR_CODE[5:]])
    assert bad.exit_code == 3
    assert "5" in bad.output
    assert "I" in bad.output


def test_plate_check() -> None:
    ok = runner.invoke(app, ["id", "plate", "川a12345"])
    assert ok.exit_code == 0
    assert "川A·12345" in ok.output
    assert runner.invoke(app, ["id", "plate", "XA12345"]).exit_code == 3


def _document() -> dict[str, list[dict[str, object]]]:
    return {
        "parties": [
            {"credit_code": GENERATOR_CODE, "name": "成都蓉新化工有限公司", "roles": ["generator"]},
            {
                "credit_code": TRANSPORTER_CODE,
                "name": "四川危运物流有限公司",
                "roles": ["transporter"],
            },
            {"credit_code": DISPOSER_CODE, "name": "遂宁环保处置有限公司", "roles": ["disposer"]},
        ],
        "vehicles": [{"plate": "川A·12345", "operator": TRANSPORTER_CODE}],
        "checkpoints": [
            {
                "checkpoint_id": "CP1",
                "name": "卡口一",
                "kind": "anpr_gate",
                "lat": 30.7,
                "lon": 104.1,
            }
        ],
    }


@pytest.mark.usefixtures("db_env")
def test_registry_import_twice_is_harmless(tmp_path: Path) -> None:
    runner.invoke(app, ["db", "upgrade"])
    file = tmp_path / "registry.json"
    file.write_text(json.dumps(_document(), ensure_ascii=False), encoding="utf-8")

    first = runner.invoke(app, ["registry", "import", str(file)])
    assert first.exit_code == 0, first.output
    assert "5 registered, 0 already on file" in first.output
    second = runner.invoke(app, ["registry", "import", str(file)])
    assert "0 registered, 5 already on file" in second.output


@pytest.mark.usefixtures("db_env")
def test_registry_import_stops_at_the_bad_record_and_keeps_the_good_ones(tmp_path: Path) -> None:
    runner.invoke(app, ["db", "upgrade"])
    document = _document()
    document["vehicles"] = [{"plate": "川O·12345", "operator": TRANSPORTER_CODE}]
    file = tmp_path / "registry.json"
    file.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    result = runner.invoke(app, ["registry", "import", str(file)])
    assert result.exit_code == 3
    assert "vehicles[0]" in result.output

    document.pop("vehicles")
    file.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    again = runner.invoke(app, ["registry", "import", str(file)])
    assert "1 registered, 3 already on file" in again.output  # the checkpoint after the bad vehicle


@pytest.mark.usefixtures("db_env")
def test_registry_import_refuses_non_json(tmp_path: Path) -> None:
    file = tmp_path / "bad.json"
    file.write_text("{not json", encoding="utf-8")
    result = runner.invoke(app, ["registry", "import", str(file)])
    assert result.exit_code == 3
    assert "JSON" in result.output


def test_digital_id_check_shows_the_parts() -> None:
    ok = runner.invoke(app, ["id", "digital-id", f"{GENERATOR_CODE}9000414920230701001"])
    assert ok.exit_code == 0
    assert "900-041-49" in ok.output
    assert "2023-07-01" in ok.output
    bad = runner.invoke(app, ["id", "digital-id", "123"])
    assert bad.exit_code == 3
    assert "37" in bad.output
