"""`custody devices`: enrol, list, revoke, and read the anomalies ingest recorded."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from api.cli import app
from custody.errors import EventsRefused
from custody.events import Step
from custody.ingest import Ingest
from custody.keyring import Keyring
from custody.ledger import Ledger
from storage.container_store import SqlContainerStore
from storage.device_store import SqlDeviceStore
from storage.engine import make_engine
from storage.key_store import SqlKeyStore
from storage.ledger_store import SqlLedgerStore
from storage.migrate import upgrade
from tests.conftest import GENERATOR_CODE
from tests.ledger_fixtures import DEVICES, Scanner, drum, enroll_scanners

if TYPE_CHECKING:
    from pathlib import Path

runner = CliRunner()
KEK = "tests-only key-encryption key"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'devices.sqlite3'}"
    monkeypatch.setenv("CUSTODY_DATABASE_URL", url)
    monkeypatch.setenv("CUSTODY_KEY_ENCRYPTION_KEY", KEK)
    upgrade(url)
    return url


def test_enrol_then_list_then_revoke(db: str) -> None:
    engine = make_engine(db)
    enroll_scanners(engine, KEK.encode(), drums=0, register_parties=True)
    engine.dispose()
    raw = base64.b64encode(bytes(range(32))).decode()
    enrolled = runner.invoke(app, ["devices", "enroll", "--owner", GENERATOR_CODE,
                                   "--kind", "weighbridge", "--public-key", raw])  # fmt: skip
    assert enrolled.exit_code == 0, enrolled.output
    assert f"{GENERATOR_CODE}/device/2" in enrolled.output  # device/1 is the fixture's
    listed = runner.invoke(app, ["devices", "list", "--owner", GENERATOR_CODE])
    assert "地磅/weighbridge" in listed.output
    revoked = runner.invoke(app, ["devices", "revoke", f"{GENERATOR_CODE}/device/2",
                                  "--reason", "scale replaced"])  # fmt: skip
    assert revoked.exit_code == 0, revoked.output
    assert "已吊销" in runner.invoke(app, ["devices", "list", "--owner", GENERATOR_CODE]).output


def test_bad_input_is_a_plain_message_and_a_non_zero_exit(db: str) -> None:
    del db
    result = runner.invoke(app, ["devices", "enroll", "--owner", GENERATOR_CODE,
                                 "--kind", "phone", "--public-key", "%%%"])  # fmt: skip
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    chinese = runner.invoke(app, ["devices", "enroll", "--owner", GENERATOR_CODE,
                                  "--kind", "phone", "--public-key", "公钥"])  # fmt: skip
    assert chinese.exit_code == 3  # not base64: bad input, not a crash
    assert "公钥不是 base64 编码" in chinese.output
    unknown = runner.invoke(app, ["devices", "revoke", "nobody/device/1", "--reason", "x"])
    assert unknown.exit_code != 0
    assert "未登记" in unknown.output


def test_anomalies_show_a_cloned_device(db: str) -> None:
    engine = make_engine(db)
    enroll_scanners(engine, KEK.encode(), drums=3, register_parties=True)
    ingest = Ingest(
        Ledger(SqlLedgerStore(engine), Keyring(SqlKeyStore(engine), KEK.encode()).log_key(), "o"),
        SqlDeviceStore(engine),
        SqlContainerStore(engine),
        lambda: Keyring(SqlKeyStore(engine), KEK.encode()).bundle()[0],
    )
    ingest.submit([Scanner(GENERATOR_CODE).scan(Step.COMMISSIONING, drum(1)).message])
    with pytest.raises(EventsRefused):
        ingest.submit([Scanner(GENERATOR_CODE).scan(Step.COMMISSIONING, drum(2), seed=3).message])
    engine.dispose()
    result = runner.invoke(app, ["devices", "anomalies"])
    assert result.exit_code == 0, result.output
    assert "cloned-device" in result.output
    assert DEVICES[GENERATOR_CODE].record.name in result.output
