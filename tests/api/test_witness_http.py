"""The witness over HTTP (C2SP tlog-witness status codes), its state file, key file and commands."""

from __future__ import annotations

import json
import os
import stat
import tempfile
import threading
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.witness import (
    SIZE_MEDIA_TYPE,
    JsonFileWitnessStore,
    create_witness_app,
    load_witness_key,
    parse_log,
    status_of,
    witness_app,
    write_witness_key,
)
from custody import errors
from custody.checkpoint import Checkpoint, open_note, sign_note, verify_cosignature
from custody.events import Step
from custody.keys import KeyRole
from custody.ledger import Ledger
from custody.witness import (
    MAX_REQUEST_BYTES,
    AddCheckpointRequest,
    InMemoryWitnessStore,
    Witness,
    WitnessedCheckpoint,
    WitnessStore,
)
from tests.conftest import GENERATOR_CODE
from tests.fakes.ledger_store import InMemoryLedgerStore
from tests.ledger_fixtures import LOG_KEY, ORIGIN, Scanner, drum, key

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

WITNESS_KEY = key(9, "witness.test/w1", "witness.test", KeyRole.WITNESS)
LOG_VERIFIER = LOG_KEY.record.verifier_key
NOW = 1_772_697_600
PASSPHRASE = "tests-only witness passphrase"  # noqa: S105  # a test fixture, not a secret
TEXT = "text/plain; charset=utf-8"


class Log:
    """A real ledger over the in-memory store; ``seed`` gives a second log with other entries."""

    def __init__(self, seed: int = 0) -> None:
        self.store = InMemoryLedgerStore()
        self.ledger = Ledger(self.store, LOG_KEY, ORIGIN)
        self.scanner = Scanner(GENERATOR_CODE)
        self.seed = seed

    def grow_to(self, size: int) -> Log:
        start = self.store.state().size
        self.ledger.append(
            [
                self.scanner.scan(Step.COMMISSIONING, drum(n + 1), seed=self.seed)
                for n in range(start, size)
            ]
        )
        return self

    @property
    def note(self) -> bytes:
        note = self.store.state().checkpoint
        assert note is not None
        return note

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint.parse_body(open_note(self.note, [LOG_VERIFIER])[0])

    def request(self, old: int, proof: list[bytes] | None = None) -> bytes:
        size = self.store.state().size
        chosen = self.ledger.consistency(old, size) if proof is None else proof
        return AddCheckpointRequest(old, tuple(chosen), self.note).to_bytes()


def _client(store: WitnessStore) -> TestClient:
    witness = Witness(WITNESS_KEY, {ORIGIN: LOG_VERIFIER}, store, lambda: NOW)
    return TestClient(create_witness_app(witness), raise_server_exceptions=False)


@pytest.fixture
def store(tmp_path: Path) -> JsonFileWitnessStore:
    return JsonFileWitnessStore(tmp_path / "witness.json")


@pytest.fixture
def http(store: JsonFileWitnessStore) -> Iterator[TestClient]:
    with _client(store) as client:
        yield client


def _post(http: TestClient, body: bytes) -> tuple[int, str, bytes]:
    response = http.post("/add-checkpoint", content=body)
    return response.status_code, response.headers.get("content-type", ""), response.content


# -- status codes -------------------------------------------------------------------------------


def test_200_returns_the_cosignature_line(http: TestClient, store: JsonFileWitnessStore) -> None:
    log = Log().grow_to(3)
    status, content_type, body = _post(http, log.request(0))
    assert (status, content_type) == (200, TEXT)
    assert body.startswith("\u2014 witness.test/w1 ".encode())
    assert body.endswith(b"\n")
    assert body.count(b"\n") == 1
    cosignature = verify_cosignature(log.checkpoint, body, WITNESS_KEY.record.verifier_key)
    assert cosignature.timestamp == NOW
    assert store.latest(ORIGIN) == WitnessedCheckpoint(log.checkpoint, log.note)


def test_200_for_growth_with_a_consistency_proof(http: TestClient) -> None:
    log = Log().grow_to(3)
    assert _post(http, log.request(0))[0] == 200
    log.grow_to(11)
    status, _, body = _post(http, log.request(3))
    assert status == 200
    verify_cosignature(log.checkpoint, body, WITNESS_KEY.record.verifier_key)


def test_409_for_a_stale_old_size_carries_the_witness_size(http: TestClient) -> None:
    log = Log().grow_to(3)
    _post(http, log.request(0))
    log.grow_to(5)
    status, content_type, body = _post(http, log.request(0, proof=[]))
    assert (status, content_type, body) == (409, SIZE_MEDIA_TYPE, b"3\n")


def test_409_for_a_second_root_at_the_same_size_has_no_size_body(http: TestClient) -> None:
    seen, fork = Log(seed=1).grow_to(3), Log(seed=2).grow_to(3)
    _post(http, seen.request(0))
    status, content_type, body = _post(http, fork.request(3))
    assert (status, content_type) == (409, TEXT)
    assert b"split view" in body


def test_422_when_the_consistency_proof_fails(http: TestClient) -> None:
    log = Log().grow_to(3)
    _post(http, log.request(0))
    log.grow_to(6)
    proof = log.ledger.consistency(3, 6)
    proof[-1] = bytes(32)
    status, content_type, body = _post(http, log.request(3, proof))
    assert (status, content_type) == (422, TEXT)
    assert "一致性证明不成立".encode() in body


def test_404_for_an_unknown_origin(http: TestClient) -> None:
    note = sign_note(Checkpoint("elsewhere.test/log", 1, bytes(32)).body(), LOG_KEY)
    assert _post(http, AddCheckpointRequest(0, (), note).to_bytes())[0] == 404


def test_403_for_a_note_signed_by_an_unknown_key(http: TestClient) -> None:
    impostor = key(11, LOG_KEY.record.name, "custody", KeyRole.LOG)
    note = sign_note(Log().grow_to(3).checkpoint.body(), impostor)
    assert _post(http, AddCheckpointRequest(0, (), note).to_bytes())[0] == 403


def test_403_for_a_tampered_note(http: TestClient, store: JsonFileWitnessStore) -> None:
    log = Log().grow_to(3)
    tampered = log.note.replace(b"\n3\n", b"\n4\n", 1)
    assert _post(http, AddCheckpointRequest(0, (), tampered).to_bytes())[0] == 403
    assert store.latest(ORIGIN) is None


@pytest.mark.parametrize(
    "body",
    [b"", b"old 0\n", b"old 01\n\nx\n", b"old 0\nnot a hash\n\nx\n", b"old 0\n\nno newline"],
    ids=["empty", "no-note", "leading-zero", "bad-proof-line", "no-origin-line"],
)
def test_400_for_a_malformed_request(http: TestClient, body: bytes) -> None:
    status, content_type, _ = _post(http, body)
    assert (status, content_type) == (400, TEXT)


def test_400_when_old_is_larger_than_the_checkpoint(http: TestClient) -> None:
    log = Log().grow_to(3)
    assert _post(http, log.request(4, proof=[]))[0] == 400


def test_400_for_a_checkpoint_with_extension_lines(http: TestClient) -> None:
    note = sign_note(Log().grow_to(2).checkpoint.body() + b"extra\n", LOG_KEY)
    assert _post(http, AddCheckpointRequest(0, (), note).to_bytes())[0] == 400


def test_400_for_a_request_larger_than_any_valid_one(http: TestClient) -> None:
    status, _, body = _post(http, b"old 0\n\n" + b"x" * MAX_REQUEST_BYTES)
    assert status == 400
    assert b"larger than" in body


def test_add_checkpoint_is_post_only(http: TestClient) -> None:
    assert http.get("/add-checkpoint").status_code == 405


def test_500_when_the_state_cannot_be_saved_and_nothing_is_cosigned(tmp_path: Path) -> None:
    store = JsonFileWitnessStore(tmp_path / "missing-folder" / "witness.json")
    with _client(store) as http:
        status, _, body = _post(http, Log().grow_to(2).request(0))
    assert (status, body) == (500, b"internal error\n")


@pytest.mark.parametrize("name", sorted(name for name in errors.__all__ if name != "CustodyError"))
def test_every_error_class_has_a_witness_status(name: str) -> None:
    cls = getattr(errors, name)
    expected = {
        errors.ConflictError: 409,
        errors.NotFoundError: 404,
        errors.KeyUnknown: 403,
        errors.SignatureInvalid: 403,
        errors.ProofInvalid: 422,
        errors.InputError: 400,
        errors.EvidenceError: 400,
    }
    status = next((code for kind, code in expected.items() if issubclass(cls, kind)), 500)
    assert status_of(cls("x")) == status


# -- the state file -----------------------------------------------------------------------------


@pytest.fixture(params=["memory", "json-file"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> WitnessStore:
    if request.param == "memory":
        return InMemoryWitnessStore()
    return JsonFileWitnessStore(tmp_path / "state.json")


def _entry(size: int, seed: int = 0) -> WitnessedCheckpoint:
    log = Log(seed).grow_to(size)
    return WitnessedCheckpoint(log.checkpoint, log.note)


def test_store_contract_compare_and_swap(any_store: WitnessStore) -> None:
    first, second = _entry(2), _entry(5)
    assert any_store.latest(ORIGIN) is None
    assert any_store.compare_and_swap(ORIGIN, None, first)
    assert not any_store.compare_and_swap(ORIGIN, None, second)  # someone else got there first
    assert any_store.latest(ORIGIN) == first
    assert not any_store.compare_and_swap(ORIGIN, _entry(2, seed=7), second)  # other root
    assert any_store.compare_and_swap(ORIGIN, first, second)
    assert any_store.latest(ORIGIN) == second
    assert any_store.latest("other.test/log") is None


def test_store_contract_one_winner_among_racing_writers(any_store: WitnessStore) -> None:
    candidates = [_entry(n + 1) for n in range(8)]
    start = threading.Barrier(len(candidates))
    won: list[WitnessedCheckpoint] = []

    def race(entry: WitnessedCheckpoint) -> None:
        start.wait()
        if any_store.compare_and_swap(ORIGIN, None, entry):
            won.append(entry)

    threads = [threading.Thread(target=race, args=(entry,)) for entry in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert any_store.latest(ORIGIN) == won[0]


def test_state_file_survives_a_restart_and_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    entry = _entry(3)
    JsonFileWitnessStore(path).compare_and_swap(ORIGIN, None, entry)
    assert JsonFileWitnessStore(path).latest(ORIGIN) == entry
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "custody-witness-state/1"
    assert document["logs"][ORIGIN]["size"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]


def _state(entry: object) -> bytes:
    return json.dumps({"format": "custody-witness-state/1", "logs": {"o": entry}}).encode()


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[]",
        b'{"format": "other/1", "logs": {}}',
        b'{"format": "custody-witness-state/1"}',
        _state({"size": "1", "root": "", "note": ""}),
        _state({"size": 1, "root": "!", "note": ""}),
        _state({"size": 1, "root": "AA==", "note": ""}),
        _state({"size": 1, "root": "", "note": 1}),
        _state([]),
    ],
    ids=[
        "not-json",
        "list",
        "format",
        "no-logs",
        "size-type",
        "root-b64",
        "root-size",
        "note-type",
        "entry-type",
    ],
)
def test_damaged_state_file_stops_the_witness_at_start(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(errors.StorageError) as caught:
        JsonFileWitnessStore(path)
    assert "restore it from a backup" in caught.value.message


def test_unreadable_state_file_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(errors.StorageError):
        JsonFileWitnessStore(tmp_path)  # a folder


@pytest.mark.parametrize("broken", ["mkstemp", "fsync"])
def test_failed_write_keeps_the_old_state_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    path = tmp_path / "state.json"
    store = JsonFileWitnessStore(path)
    first = _entry(2)
    store.compare_and_swap(ORIGIN, None, first)

    def failing(*_args: object, **_kwargs: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(tempfile if broken == "mkstemp" else os, broken, failing)
    with pytest.raises(errors.StorageError):
        store.compare_and_swap(ORIGIN, first, _entry(4))
    monkeypatch.undo()
    assert JsonFileWitnessStore(path).latest(ORIGIN) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]


# -- key file, --log, and the commands ----------------------------------------------------------

runner = CliRunner()


def test_key_file_round_trips_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "witness.key"
    made = write_witness_key(path, "witness.test/w2", PASSPHRASE.encode())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    loaded = load_witness_key(path, PASSPHRASE.encode())
    assert loaded.record.verifier_key == made.record.verifier_key
    assert loaded.record.role is KeyRole.WITNESS


def test_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "witness.key"
    write_witness_key(path, "witness.test/w2", PASSPHRASE.encode())
    with pytest.raises(errors.ConflictError):
        write_witness_key(path, "witness.test/w2", PASSPHRASE.encode())


def test_key_file_with_the_wrong_passphrase_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "witness.key"
    write_witness_key(path, "witness.test/w2", PASSPHRASE.encode())
    with pytest.raises(errors.ConfigurationError):
        load_witness_key(path, b"another passphrase, not the one")


@pytest.mark.parametrize(
    "content",
    [
        b"-----BEGIN PRIVATE KEY-----\n",  # no name line
        b"name: a\nname: b\n-----BEGIN PRIVATE KEY-----\n",
        b"name: a\n",  # no key
        b"name: a\n-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n",
    ],
    ids=["no-name", "two-names", "no-pem", "bad-pem"],
)
def test_malformed_key_file_is_a_configuration_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "witness.key"
    path.write_bytes(content)
    with pytest.raises(errors.ConfigurationError):
        load_witness_key(path, PASSPHRASE.encode())


def test_key_file_that_is_not_ed25519_is_a_configuration_error(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    )
    path = tmp_path / "witness.key"
    path.write_bytes(b"name: witness.test/ec\n" + pem)
    with pytest.raises(errors.ConfigurationError):
        load_witness_key(path, PASSPHRASE.encode())


def test_key_file_in_a_missing_folder_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(errors.StorageError):
        write_witness_key(tmp_path / "absent" / "witness.key", "w", PASSPHRASE.encode())


def test_missing_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigurationError):
        load_witness_key(tmp_path / "absent.key", PASSPHRASE.encode())


def test_parse_log_with_and_without_an_origin() -> None:
    assert parse_log(f"{ORIGIN} {LOG_VERIFIER}") == (ORIGIN, LOG_VERIFIER)
    assert parse_log(f"  {LOG_VERIFIER} ") == (LOG_VERIFIER.name, LOG_VERIFIER)
    assert parse_log(f"an origin with spaces {LOG_VERIFIER}") == (
        "an origin with spaces",
        LOG_VERIFIER,
    )


@pytest.mark.parametrize(
    "text",
    [f"{ORIGIN} not-a-key", f"bad\x01origin {LOG_VERIFIER}", ""],
    ids=["key", "origin", "empty"],
)
def test_parse_log_rejects_bad_input(text: str) -> None:
    with pytest.raises(errors.InputError):
        parse_log(text)


def test_new_key_needs_a_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUSTODY_WITNESS_PASSPHRASE", raising=False)
    result = runner.invoke(witness_app, ["new-key", "--name", "w", "--out", str(tmp_path / "k")])
    assert result.exit_code == 7
    assert "CUSTODY_WITNESS_PASSPHRASE" in result.output
    assert not (tmp_path / "k").exists()


def test_new_key_refuses_a_short_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUSTODY_WITNESS_PASSPHRASE", "short")
    result = runner.invoke(witness_app, ["new-key", "--name", "w", "--out", str(tmp_path / "k")])
    assert result.exit_code == 7


def test_new_key_prints_the_verifier_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTODY_WITNESS_PASSPHRASE", PASSPHRASE)
    out = tmp_path / "witness.key"
    result = runner.invoke(witness_app, ["new-key", "--name", "witness.test/w3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    printed = result.output.strip()
    assert printed == str(load_witness_key(out, PASSPHRASE.encode()).record.verifier_key)
    again = runner.invoke(witness_app, ["new-key", "--name", "witness.test/w3", "--out", str(out)])
    assert again.exit_code == 5  # ConflictError: never overwritten


def test_new_key_refuses_a_bad_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTODY_WITNESS_PASSPHRASE", PASSPHRASE)
    result = runner.invoke(witness_app, ["new-key", "--name", "a b", "--out", str(tmp_path / "k")])
    assert result.exit_code == 3


def test_serve_runs_a_witness_that_cosigns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn  # noqa: PLC0415  # patched for this test only

    monkeypatch.setenv("CUSTODY_WITNESS_PASSPHRASE", PASSPHRASE)
    key_file, state = tmp_path / "witness.key", tmp_path / "state.json"
    witness_key = write_witness_key(key_file, "witness.test/w4", PASSPHRASE.encode())
    served: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    args = ["serve", "--key-file", str(key_file), "--state", str(state), "--port", "7381"]
    result = runner.invoke(witness_app, [*args, "--log", f"{ORIGIN} {LOG_VERIFIER}"])
    assert result.exit_code == 0, result.output
    assert str(witness_key.record.verifier_key) in result.output
    assert (served["host"], served["port"]) == ("127.0.0.1", 7381)
    log = Log().grow_to(2)
    with TestClient(served["app"]) as http:  # type: ignore[arg-type]
        response = http.post("/add-checkpoint", content=log.request(0))
    assert response.status_code == 200
    verify_cosignature(log.checkpoint, response.content, witness_key.record.verifier_key)
    assert json.loads(state.read_text(encoding="utf-8"))["logs"][ORIGIN]["size"] == 2


def test_serve_refuses_an_origin_given_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUSTODY_WITNESS_PASSPHRASE", PASSPHRASE)
    key_file = tmp_path / "witness.key"
    write_witness_key(key_file, "witness.test/w5", PASSPHRASE.encode())
    args = ["serve", "--key-file", str(key_file), "--state", str(tmp_path / "s.json")]
    log = ["--log", f"{ORIGIN} {LOG_VERIFIER}"]
    result = runner.invoke(witness_app, [*args, *log, *log])
    assert result.exit_code == 3
    assert "given twice" in result.output
