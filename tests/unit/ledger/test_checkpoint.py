"""Checkpoints, signed notes and witness cosignatures against C2SP and Go's sumdb/note.

The Go reference vectors (golang.org/x/mod/sumdb/note) are reproduced byte for byte; every
malformation is a one-field change of a valid note or checkpoint, named for the attack it is.
"""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from custody._merkle import EMPTY_ROOT, leaf_hash
from custody.checkpoint import (
    MAX_SIGNATURES,
    Checkpoint,
    Cosignature,
    _cosigned_message,
    _index,
    _lookup,
    _SignatureLine,
    _split_note,
    cosign,
    cosignature_key_id,
    open_cosignatures,
    open_note,
    sign_note,
    verify_cosignature,
)
from custody.errors import (
    CheckpointMalformed,
    ConfigurationError,
    CustodyError,
    EvidenceError,
    InputError,
    KeyUnknown,
    NoteMalformed,
    SignatureInvalid,
)
from custody.keys import KeyRole, SigningKey, VerifierKey, key_id

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
GO = json.loads((VECTORS / "signed_note_go_sumdb.json").read_text(encoding="utf-8"))
C2SP = json.loads((VECTORS / "signed_note_c2sp_cosignature.json").read_text(encoding="utf-8"))

ORIGIN = "wastetrack.example.gov/log/2026"
ROOT = leaf_hash(b"custody")
EM_DASH = "\u2014".encode()
T0, T1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)


def _key(name: str, seed: bytes, role: KeyRole = KeyRole.LOG) -> SigningKey:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    return SigningKey.from_private(
        private, name=name, owner="custody", role=role, valid_from=T0, valid_until=T1
    )


LOG = _key(ORIGIN, bytes(32))
LOG_V = LOG.record.verifier_key
WITNESSES = [_key(f"witness.example.org/w{i}", bytes([i]) * 32, KeyRole.WITNESS) for i in (1, 2, 3)]
W1, W2, W3 = (w.record.verifier_key for w in WITNESSES)
CP = Checkpoint(ORIGIN, 1234, ROOT)


def _go_key(skey: str) -> SigningKey:
    """A Go ``PRIVATE+KEY+<name>+<id>+base64(0x01 || seed)`` signer key as ours."""
    _, _, name, _, encoded = skey.split("+", 4)
    raw = base64.b64decode(encoded)
    assert raw[0] == 1
    return _key(name, raw[1:])


def _vkey(text: str) -> tuple[str, bytes, int, bytes]:
    """``name+hex id+base64(type || key)`` split at the first two '+' only, as Go does."""
    name, kid, encoded = text.split("+", 2)
    raw = base64.b64decode(encoded)
    return name, bytes.fromhex(kid), raw[0], raw[1:]


def _go_verifier(text: str) -> VerifierKey:
    name, _, _, public = _vkey(text)
    return VerifierKey(name, public)


PETER, ENOCH = _go_verifier(GO["peter_vkey"]), _go_verifier(GO["enoch_vkey"])
TEXT = GO["text"].encode()
PETER_SIG, ENOCH_SIG = GO["peter_sig"].encode(), GO["enoch_sig"].encode()


def _insert_abcd(line: bytes) -> bytes:
    """TestOpen's sig[:60] + "ABCD" + sig[60:] (Go slices bytes): still base64, wrong bytes."""
    return line[:60] + b"ABCD" + line[60:]


# -- checkpoint bodies ------------------------------------------------------------------------


def test_checkpoint_body_round_trips() -> None:
    body = CP.body()
    assert body == f"{ORIGIN}\n1234\n{base64.b64encode(ROOT).decode()}\n".encode()
    assert Checkpoint.parse_body(body) == CP


def test_empty_tree_checkpoint_round_trips() -> None:
    empty = Checkpoint(ORIGIN, 0, EMPTY_ROOT)
    assert empty.body().split(b"\n")[1] == b"0"
    assert Checkpoint.parse_body(empty.body()) == empty


def test_c2sp_example_checkpoint_parses_and_reproduces() -> None:
    body = C2SP["spec_checkpoint_body"].encode()
    parsed = Checkpoint.parse_body(body)
    assert (parsed.origin, parsed.size) == ("example.com/behind-the-sofa", 20852163)
    assert parsed.body() == body


GOOD_ROOT = base64.b64encode(ROOT).decode()
# The same root with its last base64 character changed so that the unused bits are not zero:
# it decodes to the same bytes, which would give one checkpoint two spellings.
NON_CANONICAL_ROOT = GOOD_ROOT[:-2] + chr(ord(GOOD_ROOT[-2]) + 1) + "="
URLSAFE_ROOT = base64.urlsafe_b64encode(bytes([0xFB]) * 32).decode()  # '-' and '_'


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(f"{ORIGIN}\n1234\n{GOOD_ROOT}".encode(), id="no-final-newline"),
        pytest.param(f"{ORIGIN}\n1234\n{GOOD_ROOT}\nextension\n".encode(), id="extension-line"),
        pytest.param(f"{ORIGIN}\n1234\n".encode(), id="two-lines"),
        pytest.param(f"{ORIGIN}\r\n1234\r\n{GOOD_ROOT}\r\n".encode(), id="crlf"),
        pytest.param(f"\n1234\n{GOOD_ROOT}\n".encode(), id="empty-origin"),
        pytest.param(f"{ORIGIN} \n1234\n{GOOD_ROOT}\n".encode(), id="origin-trailing-space"),
        pytest.param(f" {ORIGIN}\n1234\n{GOOD_ROOT}\n".encode(), id="origin-leading-space"),
        pytest.param(f"{ORIGIN}\t\n1234\n{GOOD_ROOT}\n".encode(), id="origin-tab"),
        pytest.param(
            f"{ORIGIN}\u3000\n1234\n{GOOD_ROOT}\n".encode(), id="origin-ideographic-space"
        ),
        pytest.param(b"\xff\n1234\n" + GOOD_ROOT.encode() + b"\n", id="origin-not-utf8"),
        pytest.param(f"{ORIGIN}\n01234\n{GOOD_ROOT}\n".encode(), id="size-leading-zero"),
        pytest.param(f"{ORIGIN}\n00\n{GOOD_ROOT}\n".encode(), id="size-double-zero"),
        pytest.param(f"{ORIGIN}\n-1\n{GOOD_ROOT}\n".encode(), id="size-negative"),
        pytest.param(f"{ORIGIN}\n+1\n{GOOD_ROOT}\n".encode(), id="size-plus"),
        pytest.param(f"{ORIGIN}\n 1\n{GOOD_ROOT}\n".encode(), id="size-space"),
        pytest.param(f"{ORIGIN}\n1_000\n{GOOD_ROOT}\n".encode(), id="size-underscore"),
        pytest.param(f"{ORIGIN}\n1.0\n{GOOD_ROOT}\n".encode(), id="size-decimal-point"),
        pytest.param(f"{ORIGIN}\n\u0661\n{GOOD_ROOT}\n".encode(), id="size-arabic-indic-digit"),
        pytest.param(f"{ORIGIN}\n\n{GOOD_ROOT}\n".encode(), id="size-empty"),
        pytest.param(f"{ORIGIN}\n{2**63}\n{GOOD_ROOT}\n".encode(), id="size-2^63"),
        pytest.param(f"{ORIGIN}\n{'9' * 40}\n{GOOD_ROOT}\n".encode(), id="size-40-digits"),
        pytest.param(
            f"{ORIGIN}\n1\n{base64.b64encode(ROOT[:31]).decode()}\n".encode(), id="root-31-bytes"
        ),
        pytest.param(
            f"{ORIGIN}\n1\n{base64.b64encode(ROOT + b'x').decode()}\n".encode(), id="root-33-bytes"
        ),
        pytest.param(f"{ORIGIN}\n1\n{GOOD_ROOT[:-1]}\n".encode(), id="root-missing-padding"),
        pytest.param(f"{ORIGIN}\n1\n{NON_CANONICAL_ROOT}\n".encode(), id="root-non-canonical"),
        pytest.param(
            f"{ORIGIN}\n1\n{URLSAFE_ROOT}\n".encode(),
            id="root-base64url",
        ),
        pytest.param(f"{ORIGIN}\n1\n{GOOD_ROOT[:20]} {GOOD_ROOT[20:]}\n".encode(), id="root-space"),
        pytest.param(f"{ORIGIN}\n1\n{ROOT.hex()}\n".encode(), id="root-hex"),
    ],
)
def test_malformed_checkpoint_rejected(body: bytes) -> None:
    with pytest.raises(EvidenceError, match="malformed checkpoint") as caught:
        Checkpoint.parse_body(body)
    assert type(caught.value) is CheckpointMalformed
    assert caught.value.zh.startswith("日志检查点格式错误")


def test_non_canonical_root_really_decodes_to_the_same_hash() -> None:
    assert base64.b64decode(NON_CANONICAL_ROOT) == ROOT


@pytest.mark.parametrize(
    ("origin", "size", "root"),
    [
        ("", 1, ROOT),
        (" padded ", 1, ROOT),
        ("line\nbreak", 1, ROOT),
        (ORIGIN, -1, ROOT),
        (ORIGIN, 2**63, ROOT),
        (ORIGIN, True, ROOT),
        (ORIGIN, 1, ROOT[:31]),
    ],
)
def test_checkpoint_cannot_be_built_from_bad_parts(origin: str, size: int, root: bytes) -> None:
    with pytest.raises(EvidenceError, match="malformed checkpoint"):
        Checkpoint(origin, size, root)


def test_largest_tree_size_round_trips() -> None:
    big = Checkpoint(ORIGIN, 2**63 - 1, ROOT)
    assert Checkpoint.parse_body(big.body()) == big


@settings(max_examples=200, database=None, derandomize=True)
@given(body=st.binary(max_size=120))
def test_checkpoint_parser_raises_only_evidence_errors(body: bytes) -> None:
    with contextlib.suppress(EvidenceError):
        Checkpoint.parse_body(body)


# -- signed notes: the Go reference vectors -------------------------------------------------


def test_go_verifier_key_and_key_id() -> None:
    name, kid, kind, public = _vkey(GO["peter_vkey"])
    assert (name, kind, kid.hex()) == ("PeterNeumann", 1, "c74f20a3")
    assert key_id(name, public) == kid
    assert str(PETER) == GO["peter_vkey"]


def test_sign_note_reproduces_go_sumdb_note_byte_for_byte() -> None:
    assert sign_note(TEXT, _go_key(GO["peter_skey"])) == GO["signed_note"].encode()


def test_go_signed_note_opens() -> None:
    assert open_note(GO["signed_note"].encode(), [PETER]) == (TEXT, [PETER])


def test_signature_by_an_untrusted_key_is_ignored() -> None:
    note = TEXT + b"\n" + PETER_SIG + ENOCH_SIG
    assert open_note(note, [PETER]) == (TEXT, [PETER])
    assert open_note(note, [PETER, ENOCH]) == (TEXT, [PETER, ENOCH])
    assert open_note(note, [ENOCH]) == (TEXT, [ENOCH])


def test_note_without_a_trusted_signature_rejected() -> None:
    note = TEXT + b"\n" + PETER_SIG + ENOCH_SIG
    with pytest.raises(KeyUnknown, match="no signature by a trusted key"):
        open_note(note, [])


def test_repeated_signatures_count_once() -> None:
    note = TEXT + b"\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + _insert_abcd(ENOCH_SIG)
    assert open_note(note, [PETER]) == (TEXT, [PETER])


def test_same_trusted_key_given_twice_is_not_ambiguous() -> None:
    assert open_note(TEXT + b"\n" + PETER_SIG, [ENOCH, PETER, ENOCH]) == (TEXT, [PETER])


def test_two_trusted_keys_with_one_name_and_id_are_a_configuration_error() -> None:
    line = _SignatureLine("PeterNeumann", PETER.kid, b"")
    other = VerifierKey("PeterNeumann", bytes(32))
    index = _index([PETER, other], lambda _: PETER.kid)  # a key id collision, forced
    with pytest.raises(ConfigurationError, match="share the name and key id"):
        _lookup(index, line)


def test_forged_signature_by_a_trusted_key_rejected() -> None:
    with pytest.raises(SignatureInvalid, match="PeterNeumann"):
        open_note(TEXT + b"\n" + _insert_abcd(PETER_SIG), [PETER])


def test_forged_signature_rejects_the_note_even_beside_a_good_one() -> None:
    note = TEXT + b"\n" + ENOCH_SIG + _insert_abcd(PETER_SIG)
    with pytest.raises(SignatureInvalid):
        open_note(note, [PETER, ENOCH])


def test_tampered_text_rejected() -> None:
    note = GO["signed_note"].replace("cryptography", "cryptographY").encode()
    with pytest.raises(SignatureInvalid):
        open_note(note, [PETER])


def test_more_than_100_signatures_is_malformed() -> None:
    note = TEXT + b"\n" + PETER_SIG * (MAX_SIGNATURES + 1)
    for verifiers in ([PETER], []):
        with pytest.raises(EvidenceError, match="more than the 100") as caught:
            open_note(note, verifiers)
        assert type(caught.value) is NoteMalformed
    assert open_note(TEXT + b"\n" + PETER_SIG * MAX_SIGNATURES, [PETER]) == (TEXT, [PETER])


@pytest.mark.parametrize(
    "note",
    [
        *(pytest.param(m.encode(), id=f"go-bad-msg-{i}") for i, m in enumerate(GO["malformed"])),
        pytest.param(b"\xff" + TEXT + b"\n" + PETER_SIG, id="go-bad-msg-invalid-utf8"),
        pytest.param(TEXT + b"\n" + PETER_SIG.replace(EM_DASH, b"--"), id="hyphens-for-em-dash"),
        pytest.param(TEXT + b"\n" + PETER_SIG.replace(EM_DASH, "\u2013".encode()), id="en-dash"),
        pytest.param(TEXT + b"\n" + PETER_SIG.replace(b"Peter", b"Pe+er"), id="plus-in-name"),
        pytest.param(TEXT + b"\n" + PETER_SIG.replace(b"PeterNeumann", b""), id="empty-name"),
        pytest.param(
            TEXT + b"\n" + PETER_SIG.replace(b"Peter", "Peter\u3000".encode()), id="unicode-space"
        ),
        pytest.param(TEXT + b"\n" + PETER_SIG.replace(b" x08", b" "), id="no-key-id"),
        pytest.param(TEXT + b"\n" + PETER_SIG.replace(b"AM=", b"AN="), id="non-canonical-base64"),
        pytest.param(TEXT + b"\n" + PETER_SIG.replace(b"AM=", b"AM"), id="missing-padding"),
        pytest.param(TEXT + b"\n" + PETER_SIG.replace(b"\n", b"\r\n"), id="carriage-return"),
        pytest.param(TEXT.replace(b"If", b"If\x00") + b"\n" + PETER_SIG, id="nul-in-text"),
        pytest.param(TEXT + b"\n" + PETER_SIG + b"\n", id="trailing-blank-line"),
        pytest.param("\ufffd".encode() + TEXT + b"\n" + PETER_SIG, id="replacement-character"),
    ],
)
def test_malformed_note_rejected(note: bytes) -> None:
    with pytest.raises(EvidenceError, match="malformed signed note") as caught:
        open_note(note, [PETER])
    assert type(caught.value) is NoteMalformed


def test_misnamed_signature_is_just_unknown() -> None:
    note = TEXT + b"\n" + PETER_SIG.replace(b"PeterNeumann", b"CarmenSandiego")
    with pytest.raises(KeyUnknown):
        open_note(note, [PETER])


def test_c2sp_example_note_splits_at_its_last_blank_line() -> None:
    note = C2SP["spec_signed_note"].encode()
    text, lines = _split_note(note)
    assert text == C2SP["spec_signed_note_text"].encode()
    assert [(line.name, len(line.signature)) for line in lines] == [
        ("quasimodo.example/salvatore", 64)
    ]
    with pytest.raises(KeyUnknown):  # well formed; the spec publishes no key for it
        open_note(note, [PETER])


# -- signed notes: our own log key ------------------------------------------------------------


def test_log_checkpoint_sign_open_round_trip() -> None:
    note = sign_note(CP.body(), LOG)
    expected_line = (
        EM_DASH
        + f" {ORIGIN} ".encode()
        + base64.b64encode(key_id(ORIGIN, LOG.record.public_key) + LOG.sign(CP.body()))
        + b"\n"
    )
    assert note == CP.body() + b"\n" + expected_line
    body, signers = open_note(note, [LOG_V])
    assert signers == [LOG_V]
    assert Checkpoint.parse_body(body) == CP


def test_checkpoint_signed_by_an_unknown_key_only_rejected() -> None:
    stranger = _key("stranger.example.net/log", bytes([9]) * 32)
    with pytest.raises(KeyUnknown):
        open_note(sign_note(CP.body(), stranger), [LOG_V])


def test_checkpoint_signed_by_an_impostor_using_the_log_name_rejected() -> None:
    # Same name, other key: a different key id, so the line is unknown, not a bad signature.
    impostor = _key(ORIGIN, bytes([7]) * 32)
    with pytest.raises(KeyUnknown):
        open_note(sign_note(CP.body(), impostor), [LOG_V])


def test_checkpoint_with_a_changed_root_rejected() -> None:
    note = sign_note(CP.body(), LOG)
    forged = note.replace(CP.body(), Checkpoint(ORIGIN, CP.size, leaf_hash(b"other")).body())
    with pytest.raises(SignatureInvalid):
        open_note(forged, [LOG_V])


def test_checkpoint_with_a_changed_size_rejected() -> None:
    note = sign_note(CP.body(), LOG)
    with pytest.raises(SignatureInvalid):
        open_note(note.replace(b"\n1234\n", b"\n1235\n"), [LOG_V])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"no final newline", "end in a newline"),
        (b"tab\there\n", "control characters"),
        (b"\xff\n", "not UTF-8"),
    ],
)
def test_sign_note_refuses_text_that_cannot_be_a_note(body: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        sign_note(body, LOG)


def _open_checkpoint(note: bytes) -> Checkpoint:
    body, _ = open_note(note, [LOG_V])
    return Checkpoint.parse_body(body)


@settings(max_examples=150, database=None, derandomize=True)
@given(position=st.integers(0, 10**6), value=st.integers(0, 255))
def test_any_changed_byte_of_a_signed_checkpoint_fails_cleanly(position: int, value: int) -> None:
    note = bytearray(sign_note(CP.body(), LOG))
    position %= len(note)
    if note[position] == value:
        return
    note[position] = value
    with pytest.raises(CustodyError):
        _open_checkpoint(bytes(note))


@settings(max_examples=200, database=None, derandomize=True)
@given(note=st.binary(max_size=200))
def test_note_parser_raises_only_custody_errors(note: bytes) -> None:
    with contextlib.suppress(CustodyError):
        open_note(note, [PETER])


# -- witness cosignatures ---------------------------------------------------------------------


def test_cosignature_key_id_uses_type_0x04_per_published_vkey() -> None:
    name, kid, kind, public = _vkey(C2SP["vkeys"][0]["vkey"])
    assert kind == 4
    assert cosignature_key_id(name, public) == kid
    assert key_id(name, public) != kid


def test_note_key_id_uses_type_0x01_per_published_vkey() -> None:
    name, kid, kind, public = _vkey(C2SP["vkeys"][1]["vkey"])
    assert kind == 1
    assert key_id(name, public) == kid
    assert cosignature_key_id(name, public) != kid


def test_cosigned_message_matches_the_c2sp_example() -> None:
    checkpoint = Checkpoint.parse_body(C2SP["spec_checkpoint_body"].encode())
    message = _cosigned_message(checkpoint, C2SP["spec_cosignature"]["timestamp"])
    assert message == C2SP["spec_signed_message"].encode()


def test_c2sp_example_cosignature_line_frames_key_id_and_timestamp() -> None:
    _, lines = _split_note(C2SP["spec_cosigned_note"].encode())
    witness = lines[1]
    spec = C2SP["spec_cosignature"]
    assert (witness.name, witness.kid.hex()) == (spec["name"], spec["kid_hex"])
    assert len(witness.signature) == 8 + 64
    assert int.from_bytes(witness.signature[:8], "big") == spec["timestamp"]


def test_c2sp_example_cosigned_note_has_no_cosignature_by_our_witnesses() -> None:
    stand_in = VerifierKey(C2SP["spec_cosignature"]["name"], W1.public_key)
    checkpoint, cosignatures = open_cosignatures(C2SP["spec_cosigned_note"].encode(), [stand_in])
    assert checkpoint.size == 20852163
    assert cosignatures == []


@pytest.mark.parametrize("case", C2SP["timestamps"], ids=lambda c: c["desc"])
def test_transparency_dev_formats_cosignature_timestamps(case: dict[str, Any]) -> None:
    blob = base64.b64decode(case["base64"])
    if case["timestamp"] is None:
        assert len(blob) == 4 + 64  # a plain note signature: no room for a timestamp
    else:
        assert len(blob) == 4 + 8 + 64
        assert int.from_bytes(blob[4:12], "big") == case["timestamp"]


def test_cosignature_round_trip() -> None:
    line = cosign(CP, WITNESSES[0], 1_767_225_600)
    assert line.startswith(EM_DASH + b" witness.example.org/w1 ")
    blob = base64.b64decode(line.rsplit(b" ", 1)[1])
    assert blob[:4] == cosignature_key_id(W1.name, W1.public_key)
    assert int.from_bytes(blob[4:12], "big") == 1_767_225_600
    message = b"cosignature/v1\ntime 1767225600\n" + CP.body()
    W1.verifier().verify(blob[12:], message)  # independently of verify_cosignature
    assert verify_cosignature(CP, line, W1) == Cosignature(W1, 1_767_225_600)


@pytest.mark.parametrize("timestamp", [0, 2**63 - 1])
def test_cosignature_timestamp_bounds_accepted(timestamp: int) -> None:
    line = cosign(CP, WITNESSES[0], timestamp)
    assert verify_cosignature(CP, line, W1).timestamp == timestamp


@pytest.mark.parametrize("timestamp", [-1, 2**63, True])
def test_cosign_refuses_timestamps_outside_the_spec(timestamp: int) -> None:
    with pytest.raises(InputError, match="timestamp"):
        cosign(CP, WITNESSES[0], timestamp)


def test_cosigned_checkpoint_opens_for_log_and_witnesses() -> None:
    note = sign_note(CP.body(), LOG)
    for witness in WITNESSES[:2]:
        note += cosign(CP, witness, 1_767_225_600)
    assert open_note(note, [LOG_V]) == (CP.body(), [LOG_V])  # cosignatures are not note sigs
    checkpoint, cosignatures = open_cosignatures(note, [W1, W2, W3])
    assert checkpoint == CP
    assert cosignatures == [Cosignature(W1, 1_767_225_600), Cosignature(W2, 1_767_225_600)]


def test_witness_key_does_not_count_as_a_note_signer() -> None:
    note = CP.body() + b"\n" + cosign(CP, WITNESSES[0], 1)
    with pytest.raises(KeyUnknown):
        open_note(note, [W1])


def test_log_signature_does_not_count_as_a_cosignature() -> None:
    note = sign_note(CP.body(), _key("witness.example.org/w1", bytes([1]) * 32))
    assert open_cosignatures(note, [W1]) == (CP, [])


def test_repeated_cosignature_counts_once() -> None:
    line = cosign(CP, WITNESSES[0], 5)
    note = sign_note(CP.body(), LOG) + line + line + cosign(CP, WITNESSES[0], 6)
    assert open_cosignatures(note, [W1])[1] == [Cosignature(W1, 5)]


def test_cosignature_replayed_on_another_checkpoint_rejected() -> None:
    line = cosign(CP, WITNESSES[0], 5)
    later = Checkpoint(ORIGIN, CP.size + 1, leaf_hash(b"next"))
    with pytest.raises(SignatureInvalid, match=r"witness\.example\.org/w1"):
        verify_cosignature(later, line, W1)
    forged_note = sign_note(later.body(), LOG) + line
    with pytest.raises(SignatureInvalid):
        open_cosignatures(forged_note, [W1])


def test_cosignature_with_a_moved_timestamp_rejected() -> None:
    line = cosign(CP, WITNESSES[0], 5)
    prefix, encoded = line[:-1].rsplit(b" ", 1)
    blob = base64.b64decode(encoded)
    moved = blob[:4] + (6).to_bytes(8, "big") + blob[12:]
    with pytest.raises(SignatureInvalid):
        verify_cosignature(CP, prefix + b" " + base64.b64encode(moved) + b"\n", W1)


def test_cosignature_by_another_witness_rejected() -> None:
    line = cosign(CP, WITNESSES[1], 5)
    with pytest.raises(KeyUnknown, match="not by witness"):
        verify_cosignature(CP, line, W1)


def test_cosignature_timestamp_beyond_2_63_rejected() -> None:
    kid = cosignature_key_id(W1.name, W1.public_key)
    blob = kid + (2**63).to_bytes(8, "big") + bytes(64)
    line = EM_DASH + b" " + W1.name.encode() + b" " + base64.b64encode(blob) + b"\n"
    with pytest.raises(EvidenceError, match="exceeds"):
        verify_cosignature(CP, line, W1)


def test_plain_note_signature_under_a_witness_id_is_not_a_cosignature() -> None:
    # transparency-dev/formats' "wrong type of signature": key id and signature, no timestamp.
    kid = cosignature_key_id(W1.name, W1.public_key)
    line = EM_DASH + b" " + W1.name.encode() + b" " + base64.b64encode(kid + bytes(64)) + b"\n"
    with pytest.raises(EvidenceError, match="76 bytes"):
        verify_cosignature(CP, line, W1)


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"no newline", id="no-newline"),
        pytest.param(b"two\nlines\n", id="two-lines"),
        pytest.param(b"- witness.example.org/w1 AAAA\n", id="hyphen"),
        pytest.param("\u2014 w1 AAAA\x01\n".encode(), id="control-character"),
    ],
)
def test_malformed_cosignature_line_rejected(line: bytes) -> None:
    with pytest.raises(EvidenceError, match="malformed signed note"):
        verify_cosignature(CP, line, W1)


def test_cosignatures_of_a_note_that_is_not_a_checkpoint_rejected() -> None:
    note = sign_note(TEXT, LOG) + cosign(CP, WITNESSES[0], 5)
    with pytest.raises(EvidenceError, match="malformed checkpoint"):
        open_cosignatures(note, [W1])
