"""Checkpoint camera feeds: plate reads pushed over HTTP and imported from files."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings
from tests.support.access import sign_in

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

CHECKPOINT = {
    "checkpoint_id": "SC-G5-K1234",
    "name": "京昆高速成都北收费站",
    "kind": "toll",
    "lat": 30.7291,
    "lon": 104.0833,
}
READ = {"checkpoint": "SC-G5-K1234", "plate": "川A12345", "seen_at": "2026-11-20T09:15:00+08:00",
        "confidence": 0.97}  # fmt: skip


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'reads.sqlite3'}"


@pytest.fixture
def client(tmp_path: Path, database: str) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=database,
                        key_encryption_key=SecretStr("tests-only key-encryption key"))  # fmt: skip
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        sign_in(client)
        response = client.post("/checkpoints", json=CHECKPOINT)
        assert response.status_code == 201, response.text
        yield client


def test_a_read_is_stored_once_in_utc_and_found_by_plate(client: TestClient) -> None:
    first = client.post("/plate-reads", json={"reads": [READ]})
    assert (first.status_code, first.json()) == (201, {"new": 1, "duplicate": 0})
    again = client.post("/plate-reads", json={"reads": [READ]})
    assert (again.status_code, again.json()) == (200, {"new": 0, "duplicate": 1})
    (found,) = client.get("/plate-reads", params={"plate": "川a 12345"}).json()["items"]
    assert found["seen_at"].startswith("2026-11-20T01:15:00")
    assert found["source"] == "api"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"checkpoint": "NOWHERE"}, "record-invalid"),
        ({"plate": "川O1234"}, "plate-invalid"),
        ({"seen_at": "2026-11-20T09:15:00"}, "record-invalid"),
        ({"seen_at": "2099-01-01T00:00:00+08:00"}, "record-invalid"),
        ({"seen_at": "0001-01-01T00:00:00+08:00"}, "record-invalid"),  # was a 500 (fuzz)
    ],
)
def test_a_bad_read_refuses_the_batch_and_is_named(
    client: TestClient, change: dict[str, str], code: str
) -> None:
    response = client.post("/plate-reads", json={"reads": [READ, READ | change]})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "reads-refused"
    assert [(r["position"], r["code"]) for r in body["context"]["reads"]] == [(1, code)]
    assert client.get("/plate-reads").json()["items"] == []


def test_reads_are_filtered_by_time_window(client: TestClient) -> None:
    later = READ | {"seen_at": "2026-11-20T11:00:00+08:00"}
    assert client.post("/plate-reads", json={"reads": [READ, later]}).status_code == 201
    window = {"since": "2026-11-20T02:00:00Z", "until": "2026-11-20T04:00:00Z"}
    (found,) = client.get("/plate-reads", params=window).json()["items"]
    assert found["seen_at"].startswith("2026-11-20T03:00:00")


def test_a_file_import_is_all_or_none_with_bad_lines_named(
    client: TestClient, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUSTODY_DATABASE_URL", database)
    good = tmp_path / "reads.csv"
    header = "checkpoint,plate,seen_at,confidence\n"
    good.write_text(header + "SC-G5-K1234,川A12345,2026-11-20T09:15:00+08:00,0.97\n"
                    "SC-G5-K1234,川B67890,2026-11-20T09:16:00+08:00,0.88\n")  # fmt: skip
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "SC-G5-K1234,川A12345,2026-11-20T09:20:00+08:00,0.97\n"
                   "SC-G5-K1234,XXXX,2026-11-20T09:21:00+08:00,0.5\n")  # fmt: skip
    runner = CliRunner()
    refused = runner.invoke(cli, ["plates", "import", str(bad)])
    assert refused.exit_code != 0
    assert "第 3 行" in refused.output
    imported = runner.invoke(cli, ["plates", "import", str(good)])
    assert imported.exit_code == 0, imported.output
    assert "新增 2 条" in imported.output
    reads = client.get("/plate-reads").json()["items"]
    assert [(r["plate"], r["source"]) for r in reads] == [
        ("川A12345", "file"),
        ("川B67890", "file"),
    ]


def test_reads_come_in_cursor_pages_at_the_same_instant_too(client: TestClient) -> None:
    plates = ["川A12345", "川A12346", "川A12347", "川A12348", "川A12349"]
    reads = [READ | {"plate": p} for p in plates]  # one instant: ids break the tie
    assert client.post("/plate-reads", json={"reads": reads}).status_code == 201
    seen, cursor = [], None
    while True:
        page = client.get(
            "/plate-reads", params={"limit": 2} | ({"cursor": cursor} if cursor else {})
        )
        assert page.status_code == 200, page.text
        seen += [r["plate"] for r in page.json()["items"]]
        cursor = page.json()["next"]
        if cursor is None:
            break
    assert sorted(seen) == plates
    assert len(seen) == len(plates)
    assert client.get("/plate-reads", params={"cursor": "999999"}).status_code == 422
