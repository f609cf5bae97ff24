"""`custody manifests` and `custody alerts`: record, look, decide; bad input is a plain message."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.console import display_width
from custody.alerts import Alert, Alerts, Severity
from storage.alert_store import SqlAlertStore
from storage.engine import make_engine
from storage.migrate import upgrade
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE
from tests.facts_fixtures import drum_id

if TYPE_CHECKING:
    from pathlib import Path

runner = CliRunner()
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MANIFEST: dict[str, Any] = {
    "number": "20260351010000123",
    "generator": GENERATOR_CODE,
    "transporter": TRANSPORTER_CODE,
    "receiver": DISPOSER_CODE,
    "vehicles": ["川A·12345"],
    "waste_codes": ["900-249-08"],
    "containers": [drum_id(0), drum_id(1)],
    "declared_mass_g": 300000,
    "created_at": "2026-03-02T09:30:00+08:00",
}


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'checker.sqlite3'}"
    monkeypatch.setenv("CUSTODY_DATABASE_URL", url)
    upgrade(url)
    return url


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def write(tmp_path: Path, document: object, name: str = "manifest.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return str(path)


def alert(n: int, **changes: object) -> Alert:
    values: dict[str, object] = {
        "rule": "missing-handoff",
        "subject": drum_id(n),
        "severity": Severity.HIGH,
        "summary_zh": f"容器 {n} 未经交接即易手",
        "summary": f"container {n} changed hands without a hand-off",
        "start": T0,
        "end": T0 + timedelta(hours=n),
        "containers": (drum_id(n),),
        "vehicle": "川A12345",
        "parties": (GENERATOR_CODE, TRANSPORTER_CODE),
    }
    values.update(changes)
    return Alert(**values)  # type: ignore[arg-type]


def seed(url: str, *alerts: Alert) -> list[str]:
    engine = make_engine(url)
    Alerts(SqlAlertStore(engine)).raise_all(alerts, T0)
    engine.dispose()
    return [a.alert_id for a in alerts]


# -- manifests ---------------------------------------------------------------------------------


def test_a_manifest_is_added_once_then_shown_and_listed(db: str, tmp_path: Path) -> None:
    del db
    file = write(tmp_path, MANIFEST)
    code, output = run("manifests", "add", file)
    assert code == 0, output
    assert output.splitlines() == [
        "已登记 Recorded 20260351010000123",
        "新登记 1 份，已存在 0 份 · 1 recorded, 0 already on file",
    ]
    code, output = run("manifests", "add", file)
    assert (code, "已存在 Already on file 20260351010000123" in output) == (0, True)
    code, output = run("manifests", "show", "20260351010000123")
    assert code == 0
    assert "川A12345" in output
    assert "2026-03-02 01:30 UTC" in output
    assert drum_id(1) in output
    code, output = run("manifests", "list")
    assert code == 0
    assert output.splitlines()[0].startswith("联单编号 Number")
    assert "共 1 份 · 1 manifests" in output
    code, output = run("manifests", "list", "--since", "2026-03-02T10:00:00+08:00")
    assert "共 0 份" in output


def test_a_list_of_manifests_is_added(db: str, tmp_path: Path) -> None:
    del db
    second = MANIFEST | {"number": "20260351010000124"}
    code, output = run("manifests", "add", write(tmp_path, [MANIFEST, second]))
    assert code == 0, output
    assert "新登记 2 份" in output


def test_a_changed_manifest_is_refused_with_exit_5(db: str, tmp_path: Path) -> None:
    del db
    run("manifests", "add", write(tmp_path, MANIFEST))
    code, output = run("manifests", "add", write(tmp_path, MANIFEST | {"declared_mass_g": 1}))
    assert code == 5
    assert "不可更改" in output
    assert "300 kg" in run("manifests", "show", "20260351010000123")[1]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (MANIFEST | {"number": "12"}, "联单编号"),
        (MANIFEST | {"generator": "91510100MA61R8XQ03"}, "record-invalid"),
        (MANIFEST | {"created_at": "2026-03-02T09:30:00"}, "联单字段缺失或无效"),
        ({"number": "20260351010000123"}, "联单字段缺失或无效"),
        ([MANIFEST, {"number": "1"}], "[1] 联单字段缺失或无效"),
    ],
)
def test_a_bad_manifest_is_a_plain_message_and_exit_3(
    db: str, tmp_path: Path, document: object, message: str
) -> None:
    del db
    code, output = run("manifests", "add", write(tmp_path, document))
    assert code == 3
    assert message in output
    assert "共 0 份" in run("manifests", "list")[1]


def test_an_unreadable_file_is_exit_3(db: str, tmp_path: Path) -> None:
    del db
    code, output = run("manifests", "add", str(tmp_path / "missing.json"))
    assert (code, "无法读取文件" in output) == (3, True)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    code, output = run("manifests", "add", str(broken))
    assert (code, "不是有效的 JSON" in output) == (3, True)


def test_unknown_manifest_is_exit_4_and_a_bad_time_exit_3(db: str) -> None:
    del db
    code, output = run("manifests", "show", "99999999999")
    assert (code, "未登记编号为 99999999999 的转移联单" in output) == (4, True)
    code, output = run("manifests", "list", "--until", "2026-03-02 10:00")
    assert (code, "须带时区" in output) == (3, True)
    assert run("manifests", "list", "--until", "yesterday")[0] == 3


# -- alerts ------------------------------------------------------------------------------------


def test_alerts_are_listed_as_a_table_most_severe_first(db: str) -> None:
    low, high, medium = seed(db, alert(1, severity=Severity.LOW), alert(2),
                             alert(3, severity=Severity.MEDIUM, summary_zh="重量不符"))  # fmt: skip
    code, output = run("alerts", "list")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].split() == ["严重度", "Severity", "状态", "State", "规则", "Rule", "时间",
                                "End", "(UTC)", "编号", "ID", "摘要", "Summary"]  # fmt: skip
    assert [next(k for k in (low, high, medium) if k in row) for row in lines[1:4]] == [
        high, medium, low,
    ]  # fmt: skip
    columns = {display_width(row[: row.index("AL-")]) for row in lines[1:4]}
    assert len(columns) == 1  # the id column lines up, wide characters counted twice
    assert display_width(lines[0][: lines[0].index("编号")]) in columns
    assert "高 high" in lines[1]
    assert "共 3 条 · 3 alerts" in output


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--rule", "vanished"], [4]),
        (["--severity", "medium"], [4, 3, 2]),
        (["--state", "acknowledged"], [2]),
        (["--container", drum_id(3)], [3]),
        (["--vehicle", "川b 54321"], [4]),
        (["--party", DISPOSER_CODE], [1]),
        (["--limit", "2"], [4, 3]),
    ],
)
def test_alerts_are_filtered(db: str, options: list[str], expected: list[int]) -> None:
    made = [alert(1, severity=Severity.LOW, parties=(DISPOSER_CODE,)), alert(2), alert(3),
            alert(4, rule="vanished", vehicle="川B54321")]  # fmt: skip
    seed(db, *made)
    assert run("alerts", "ack", made[1].alert_id, "--by", "王科长")[0] == 0
    code, output = run("alerts", "list", "--json", *options)
    assert code == 0, output
    assert [a["id"] for a in json.loads(output)] == [made[n - 1].alert_id for n in expected]


def test_bad_alert_filters_are_a_plain_message_and_a_non_zero_exit(db: str) -> None:
    del db
    code, output = run("alerts", "list", "--container", "NOT-A-DRUM")
    assert (code, "数字识别码" in output) == (3, True)
    assert run("alerts", "list", "--vehicle", "XX12345")[0] == 3
    assert run("alerts", "list", "--party", "123")[0] == 3
    assert run("alerts", "list", "--state", "closed")[0] == 2  # a usage error
    assert run("alerts", "list", "--limit", "0")[0] == 2


def test_an_alert_is_acknowledged_dismissed_and_reopened(db: str) -> None:
    (key,) = seed(db, alert(1))
    code, output = run("alerts", "ack", key, "--by", "王科长")
    assert (code, "已确认 acknowledged" in output) == (0, True)
    code, output = run("alerts", "dismiss", key, "--by", "王科长")
    assert code == 5
    assert "排除或重新打开告警须填写理由" in output
    assert run("alerts", "dismiss", key, "--by", "王科长", "--reason", "补录交接")[0] == 0
    code, output = run("alerts", "escalate", key, "--by", "李工")
    assert code == 5  # a dismissed alert can only be reopened
    assert "当前为“已排除”" in output
    code, output = run("alerts", "show", key)
    assert code == 0
    assert "补录交接" in output


def test_decisions_follow_the_lifecycle(db: str) -> None:
    (key,) = seed(db, alert(1))
    assert run("alerts", "dismiss", key, "--by", "王科长", "--reason", "误报")[0] == 0
    code, output = run("alerts", "ack", key, "--by", "李工")
    assert code == 5
    assert "不能变更为“已确认”" in output
    assert run("alerts", "reopen", key, "--by", "李工")[0] == 5  # needs a reason
    code, output = run("alerts", "reopen", key, "--by", "李工", "--reason", "处置单位称未收到")
    assert (code, "待处理 open" in output) == (0, True)
    assert run("alerts", "escalate", key, "--by", "李工")[0] == 0
    code, output = run("alerts", "show", key, "--json")
    body = json.loads(output)
    assert body["state"] == "escalated"
    assert [(c["state"], c["by"]) for c in body["changes"]] == [
        ("dismissed", "王科长"), ("open", "李工"), ("escalated", "李工"),
    ]  # fmt: skip


def test_an_unknown_alert_is_exit_4_and_a_missing_by_a_usage_error(db: str) -> None:
    del db
    code, output = run("alerts", "show", "AL-0000000000000000")
    assert (code, "未找到告警" in output) == (4, True)
    assert run("alerts", "ack", "AL-0000000000000000", "--by", "王科长")[0] == 4
    assert run("alerts", "ack", "AL-0000000000000000")[0] == 2
