"""``custody scan``: enrol, verify offline, queue scans from a keyboard wedge, sync, status.

One real service for the module (``custody serve`` on loopback); each test enrols its own
device in its own state directory. Bad input gets a plain message and a non-zero exit code,
never a traceback.
"""

from __future__ import annotations

import json
import stat
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from api.scan_cli import scan_app
from custody.events import NO_PREVIOUS, read_event
from scanners.device import ScannerState
from scanners.outbox import EventState
from tests.conftest import GENERATOR_CODE, TRANSPORTER_CODE
from tests.support.live_service import (
    TOKEN,
    Service,
    free_port,
    ledger_event_ids,
    registry,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from click.testing import Result

runner = CliRunner()
PASSPHRASE = "tests-only scanner passphrase"  # noqa: S105  # a tests-only secret
ENV = {"CUSTODY_SCANNER_PASSPHRASE": PASSPHRASE, "CUSTODY_TOKEN": TOKEN}


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Service, list[str], list[str]]]:
    service = Service(tmp_path_factory.mktemp("service") / "service.sqlite3").start()
    try:
        ids, labels = registry(service.url, 8)
        yield service, ids, labels
    finally:
        service.stop()


def scan(
    *args: str, state: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> Result:
    result = runner.invoke(
        scan_app, [*args, "--state-dir", str(state)], env=env or ENV, input=stdin
    )
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture
def truck(world: tuple[Service, list[str], list[str]], tmp_path: Path) -> Path:
    service, _, _ = world
    state = tmp_path / "truck"
    enrolled = scan(
        "enroll",
        "--server",
        service.url,
        "--owner",
        TRANSPORTER_CODE,
        "--kind",
        "handheld",
        state=state,
    )
    assert enrolled.exit_code == 0, enrolled.output
    return state


def test_a_days_work_enrol_verify_scan_offline_then_sync(
    world: tuple[Service, list[str], list[str]], truck: Path
) -> None:
    service, ids, labels = world
    info = json.loads((truck / "device.json").read_text(encoding="utf-8"))
    assert info["name"].startswith(f"{TRANSPORTER_CODE}/device/")
    assert "PRIVATE" not in (truck / "device.json").read_text(encoding="utf-8")
    assert stat.S_IMODE((truck / "device-key.pem").stat().st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in (truck / "device-key.pem").read_bytes()

    verified = scan("verify", labels[0], state=truck)
    assert verified.exit_code == 0, verified.output
    assert verified.output.index("真实有效") < verified.output.index("Genuine")
    assert ids[0][:18] in verified.output

    event = scan(
        "event",
        "loading",
        labels[1],
        "--vehicle",
        "川A12345",
        "--lat",
        "30.74",
        "--lon",
        "104.07",
        "--mass-kg",
        "182.5",
        state=truck,
    )
    assert event.exit_code == 0, event.output
    assert "装车" in event.output
    assert "标签真实" in event.output

    lines = f"{labels[2]}\n{labels[2]}\n{ids[3]}\n\n"
    wedge = scan("wedge", "--step", "装车", "--vehicle", "川A12345", state=truck, stdin=lines)
    assert wedge.exit_code == 0, wedge.output
    out = wedge.stdout.splitlines()
    assert len(out) == 3  # one line per read
    assert out[0].startswith("✓ 装车")
    assert "标签真实" in out[0]
    assert "重复扫描" in out[1]
    assert "人工录入" in out[2]

    status = scan("status", state=truck)
    assert status.exit_code == 0, status.output
    assert "待发送 Pending" in status.output
    with ScannerState(truck).outbox() as outbox:
        assert outbox.counts()[EventState.PENDING] == 3
        queued = [e.event_id for e in outbox.events()]

    synced = scan("sync", state=truck)
    assert synced.exit_code == 0, synced.output
    assert "已入账 3 个事件" in synced.output
    with ScannerState(truck).outbox() as outbox:
        assert outbox.counts()[EventState.SENT] == 3
    in_ledger = ledger_event_ids(service.url, ids)
    assert set(queued) <= set(in_ledger)


def test_wedge_reports_a_forged_label_and_queues_the_good_scans(
    world: tuple[Service, list[str], list[str]], truck: Path
) -> None:
    _, ids, labels = world
    forged = labels[4][:-6] + ("0" if labels[4][-6] != "0" else "1") + labels[4][-5:]
    lines = f"{forged}\nhello\n{labels[5]}\n"
    wedge = scan("wedge", "--step", "loading", state=truck, stdin=lines)
    assert wedge.exit_code in {12, 17}  # malformed or bad signature: the first failure's code
    out = wedge.stdout.splitlines()
    assert out[0].startswith("✗")
    assert "既不是电子标签" in out[1]
    assert out[2].startswith("✓")
    with ScannerState(truck).outbox() as outbox:
        assert [e.containers for e in outbox.events()] == [(ids[5],)]


def test_sync_without_signal_keeps_the_scans_and_says_so(
    world: tuple[Service, list[str], list[str]], truck: Path
) -> None:
    _, ids, _ = world
    assert scan("event", "departing", ids[0], state=truck).exit_code == 0
    nowhere = f"http://127.0.0.1:{free_port()}"
    synced = scan("sync", "--server", nowhere, "--attempts", "1", "--timeout", "2", state=truck)
    assert synced.exit_code == 8
    assert "仍保留在本机" in synced.output
    assert "server-unreachable" in synced.output


def test_status_after_a_split_view_exits_loudly(truck: Path) -> None:
    with ScannerState(truck).outbox() as outbox:
        outbox.record_split_view(b"old\n", b"new\n", [], "two roots", "两个根哈希")
    status = scan("status", state=truck)
    assert status.exit_code == 26
    assert "分叉视图" in status.output
    assert "两个根哈希" in status.output
    synced = scan("sync", state=truck)
    assert synced.exit_code == 26


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["event", "flying", "x"], 3, "业务步骤"),
        (["event", "loading", "x", "--lat", "30.1"], 3, "--lat"),
        (["event", "loading"], 3, "至少"),
        (["verify"], 3, "标签"),
        (["wedge", "--step", "nonsense"], 3, "业务步骤"),
        (["event", "loading", "91510100MA61R8XQ029002490820260305001"], 4, "登记"),
        (["status"], 4, "登记"),
        (["sync"], 4, "登记"),
        (
            ["enroll", "--server", "ftp://x", "--owner", TRANSPORTER_CODE, "--kind", "phone"],
            3,
            "http",
        ),
        (
            [
                "enroll",
                "--server",
                "http://127.0.0.1:9",
                "--owner",
                "91510112MA62M3K99X",
                "--kind",
                "phone",
            ],
            3,
            "校验码",
        ),
        (
            [
                "enroll",
                "--server",
                "http://127.0.0.1:9",
                "--owner",
                TRANSPORTER_CODE,
                "--kind",
                "drone",
            ],
            3,
            "设备类型",
        ),
    ],
)
def test_bad_input_is_a_plain_message_and_a_non_zero_exit(
    tmp_path: Path, args: list[str], code: int, words: str
) -> None:
    result = scan(*args, state=tmp_path / "nothing-here")
    assert result.exit_code == code, result.output
    assert words in result.output


def test_short_passphrase_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    result = scan(
        "enroll",
        "--server",
        "http://127.0.0.1:9",
        "--owner",
        TRANSPORTER_CODE,
        "--kind",
        "phone",
        state=tmp_path / "s",
        env={"CUSTODY_SCANNER_PASSPHRASE": "short"},
    )
    assert result.exit_code == 3
    assert "口令" in result.output
    assert not (tmp_path / "s" / "device-key.pem").exists()


def test_wrong_passphrase_cannot_sign(
    world: tuple[Service, list[str], list[str]], truck: Path
) -> None:
    _, ids, _ = world
    wrong = {"CUSTODY_SCANNER_PASSPHRASE": "not the passphrase at all"}
    result = scan("event", "loading", ids[0], state=truck, env=wrong)
    assert result.exit_code == 7
    assert "口令" in result.output
    with ScannerState(truck).outbox() as outbox:
        assert outbox.events() == []


def test_enrolling_twice_in_one_state_directory_is_refused(
    world: tuple[Service, list[str], list[str]], truck: Path
) -> None:
    service, _, _ = world
    again = scan(
        "enroll",
        "--server",
        service.url,
        "--owner",
        TRANSPORTER_CODE,
        "--kind",
        "handheld",
        state=truck,
    )
    assert again.exit_code == 5
    assert "已有设备" in again.output


def test_verify_a_typed_code_says_there_is_nothing_to_verify(
    world: tuple[Service, list[str], list[str]], truck: Path
) -> None:
    _, ids, _ = world
    result = scan("verify", ids[0], state=truck)
    assert result.exit_code == 11
    assert "没有签名可核验" in result.output


def test_online_scan_links_to_the_ledgers_latest_event_of_the_drum(
    world: tuple[Service, list[str], list[str]], truck: Path, tmp_path: Path
) -> None:
    service, ids, _ = world
    yard = tmp_path / "yard"
    enrolled = scan(
        "enroll",
        "--server",
        service.url,
        "--owner",
        GENERATOR_CODE,
        "--kind",
        "station",
        state=yard,
    )
    assert enrolled.exit_code == 0, enrolled.output
    assert scan("event", "commissioning", ids[6], state=yard).exit_code == 0
    assert scan("sync", state=yard).exit_code == 0
    with ScannerState(yard).outbox() as outbox:
        (commissioned,) = outbox.events()

    online = scan("event", "loading", ids[6], "--server", service.url, state=truck)
    offline = scan("event", "loading", ids[7], state=truck)
    assert online.exit_code == offline.exit_code == 0
    with ScannerState(truck).outbox() as outbox:
        loaded, unknown = outbox.events()
    assert read_event(loaded.message)[1].event.prev == (commissioned.event_hash,)
    assert read_event(unknown.message)[1].event.prev == (NO_PREVIOUS,)
