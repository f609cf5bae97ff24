"""`custody ledger`, `custody evidence export` and `custody verify` on a real database file."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text
from sqlmodel import Session
from typer.testing import CliRunner

from api.cli import app
from custody import audit as audit_module
from custody.events import Step
from custody.keyring import Keyring
from custody.ledger import Ledger
from storage.engine import make_engine
from storage.key_store import SqlKeyStore
from storage.ledger_store import SqlLedgerStore
from storage.migrate import upgrade
from tests.conftest import GENERATOR_CODE, TRANSPORTER_CODE
from tests.ledger_fixtures import DEVICES, Scanner, drum

if TYPE_CHECKING:
    from pathlib import Path

runner = CliRunner()
KEK = "tests-only key-encryption key"


@pytest.fixture
def ledger_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("CUSTODY_DATABASE_URL", url)
    monkeypatch.setenv("CUSTODY_KEY_ENCRYPTION_KEY", KEK)
    monkeypatch.setenv("CUSTODY_LOG_ORIGIN", "custody.test/log")
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        keys = SqlKeyStore(session)
        for device in DEVICES.values():
            keys.insert_key(device.record, None)
        keyring = Keyring(keys, KEK.encode())
        keyring.publish()
        ledger = Ledger(SqlLedgerStore(engine), keyring.log_key(), "custody.test/log")
        gen, truck = Scanner(GENERATOR_CODE), Scanner(TRANSPORTER_CODE)
        ledger.append(
            [gen.scan(Step.COMMISSIONING, drum(1)), gen.scan(Step.COMMISSIONING, drum(2))]
        )
        truck.follow(gen)
        ledger.append([truck.scan(Step.LOADING, drum(1), drum(2), minutes=30, vehicle="川A12345")])
        (tmp_path / "log.pub").write_text(str(ledger.verifier))
        (tmp_path / "root.pub").write_text(str(keyring.root().record.verifier_key))
    engine.dispose()
    return url


@pytest.mark.usefixtures("ledger_db")
def test_status_and_clean_audit() -> None:
    status = runner.invoke(app, ["ledger", "status"])
    assert status.exit_code == 0, status.output
    assert "custody.test/log\n3\n" in status.output
    audited = runner.invoke(app, ["ledger", "audit", "--workers", "1"])
    assert audited.exit_code == 0, audited.output
    assert "账本完好 Ledger intact" in audited.output
    assert "/s, 1 process)" in audited.output


@pytest.mark.usefixtures("ledger_db")
def test_audit_uses_every_core_unless_told() -> None:
    audited = runner.invoke(app, ["ledger", "audit"])
    assert audited.exit_code == 0, audited.output
    cores = os.cpu_count() or 1
    assert f"/s, {cores} process{'es' if cores > 1 else ''})" in audited.output


def test_audit_exits_24_on_tampering(ledger_db: str) -> None:
    engine = make_engine(ledger_db)
    with engine.begin() as conn:
        conn.execute(text("UPDATE ledger_entry SET entry = :e WHERE idx = 1"), {"e": b"\xa0"})
    engine.dispose()
    result = runner.invoke(app, ["ledger", "audit", "--workers", "1"])
    assert result.exit_code == 24
    assert "first at index 0" in result.output or "first at index 1" in result.output


@pytest.mark.skipif(
    audit_module._START.get_start_method() != "fork", reason="the helper must inherit the patch"
)
@pytest.mark.usefixtures("ledger_db")
def test_audit_exits_8_when_a_verifying_process_dies(monkeypatch: pytest.MonkeyPatch) -> None:
    auditor, check = os.getpid(), audit_module._check_chunk

    def dies_in_a_helper(rows: list[tuple[int, bytes, bytes]], bundle: object) -> object:
        if os.getpid() != auditor:
            os._exit(9)
        return check(rows, bundle)  # type: ignore[arg-type]

    monkeypatch.setattr(audit_module, "_check_chunk", dies_in_a_helper)
    monkeypatch.setattr(audit_module, "_CHUNK", 1)
    result = runner.invoke(app, ["ledger", "audit", "--workers", "2"])
    assert result.exit_code == 8, result.output
    assert "审计进程意外终止" in result.output
    assert "audit-interrupted" in result.output
    assert "Ledger intact" not in result.output


@pytest.mark.usefixtures("ledger_db")
def test_export_then_verify_offline_with_pinned_keys(tmp_path: Path) -> None:
    out = tmp_path / "evidence.json"
    assert runner.invoke(app, ["evidence", "export", drum(1), "--out", str(out)]).exit_code == 0
    result = runner.invoke(app, ["verify", str(out), "--root", str(tmp_path / "root.pub"),
                                 "--log", str(tmp_path / "log.pub")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "证据包核验通过" in result.output
    assert "loading" in result.output
    assert "Warning" not in result.output


@pytest.mark.usefixtures("ledger_db")
def test_verify_warns_without_pins_and_fails_on_a_dropped_event(tmp_path: Path) -> None:
    out = tmp_path / "evidence.json"
    runner.invoke(app, ["evidence", "export", drum(1), "--out", str(out)])
    assert "Warning" in runner.invoke(app, ["verify", str(out)]).output
    doc = json.loads(out.read_text(encoding="utf-8"))
    doc["entries"] = doc["entries"][1:]
    out.write_text(json.dumps(doc), encoding="utf-8")
    result = runner.invoke(app, ["verify", str(out)])
    assert result.exit_code == 25
    assert "chain" in result.output or "链" in result.output


@pytest.mark.usefixtures("ledger_db")
def test_epcis_export_of_the_ledger_and_of_one_container(tmp_path: Path) -> None:
    out = tmp_path / "epcis.json"
    assert runner.invoke(app, ["ledger", "epcis", "--out", str(out)]).exit_code == 0
    events = json.loads(out.read_text(encoding="utf-8"))["epcisBody"]["eventList"]
    assert [e["bizStep"] for e in events] == ["commissioning", "commissioning", "loading"]
    assert [e["wt:ledger"]["index"] for e in events] == [0, 1, 2]
    runner.invoke(app, ["ledger", "epcis", "--container", drum(2), "--out", str(out)])
    only = json.loads(out.read_text(encoding="utf-8"))["epcisBody"]["eventList"]
    assert [e["wt:ledger"]["index"] for e in only] == [1, 2]


@pytest.mark.usefixtures("ledger_db")
def test_cosign_through_a_real_witness_over_http(tmp_path: Path) -> None:
    import socket  # noqa: PLC0415
    import threading  # noqa: PLC0415
    import time  # noqa: PLC0415

    import uvicorn  # noqa: PLC0415

    from api.witness import create_witness_app  # noqa: PLC0415
    from custody.checkpoint import open_cosignatures  # noqa: PLC0415
    from custody.keys import KeyRole, VerifierKey  # noqa: PLC0415
    from custody.witness import InMemoryWitnessStore, Witness  # noqa: PLC0415
    from tests.ledger_fixtures import key  # noqa: PLC0415

    log = VerifierKey.parse((tmp_path / "log.pub").read_text())
    witness_key = key(31, "police.sc.example/witness", "police", KeyRole.WITNESS)
    witness = Witness(
        witness_key, {"custody.test/log": log}, InMemoryWitnessStore(), clock=lambda: 1_780_000_000
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_witness_app(witness), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        result = runner.invoke(app, ["ledger", "cosign", "--witness", f"http://127.0.0.1:{port}"])
        assert result.exit_code == 0, result.output
        note = result.output.split("Cosigned\n", 1)[1].encode()
        assert open_cosignatures(note, [witness.verifier])[1]
        again = runner.invoke(app, ["ledger", "cosign", "--witness", f"http://127.0.0.1:{port}"])
        assert again.exit_code == 0, again.output
    finally:
        server.should_exit = True
        thread.join(timeout=5)
