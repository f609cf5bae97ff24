"""Our encodings and signatures checked against published vectors, not only against themselves."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custody import _base45, _cose
from custody.keys import key_id

VECTORS = Path(__file__).resolve().parents[2] / "vectors"


def _load(name: str) -> dict[str, object]:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize(("plain", "encoded"), _load("base45_rfc9285.json")["encode"])  # type: ignore[arg-type]
def test_base45_matches_rfc9285(plain: str, encoded: str) -> None:
    assert _base45.b45encode(plain.encode()) == encoded
    assert _base45.b45decode(encoded) == plain.encode()


@pytest.mark.parametrize("bad", _load("base45_rfc9285.json")["invalid"])  # type: ignore[arg-type]
def test_base45_rejects_what_rfc9285_calls_invalid(bad: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  # the module's documented contract
        _base45.b45decode(bad)


def test_cose_sign1_reproduces_cose_wg_eddsa_sig_01_byte_for_byte() -> None:
    v = _load("cose_eddsa_sig_01.json")
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(str(v["d_hex"])))
    message = _cose.sign1(
        str(v["payload_ascii"]).encode(),
        key,
        str(v["kid_ascii"]).encode(),
        protected=bytes.fromhex(str(v["protected_hex"])),
    )
    assert message.hex().upper() == v["cbor_hex"]


def test_cose_wg_eddsa_sig_01_verifies_and_one_bit_flip_does_not() -> None:
    v = _load("cose_eddsa_sig_01.json")
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(str(v["x_hex"])))
    blob = bytes.fromhex(str(v["cbor_hex"]))
    parsed = _cose.parse_sign1(blob)
    assert parsed.kid == b"11"
    assert parsed.verify(public)
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    assert not _cose.parse_sign1(flipped).verify(public)


def test_key_id_follows_the_signed_note_convention() -> None:
    # golang.org/x/mod/sumdb/note documents this verifier key for "PeterNeumann".
    verifier = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    name, kid_hex, encoded = verifier.split("+")
    raw = base64.b64decode(encoded)
    assert raw[0] == 0x01  # Ed25519
    assert key_id(name, raw[1:]).hex() == kid_hex


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        (b"\xff\xff", "not valid CBOR"),
        (bytes.fromhex("8440a0f6f6"), "tag 18"),
        (bytes.fromhex("d28340a0f6"), "four items"),
    ],
)
def test_malformed_cose_is_named(blob: bytes, reason: str) -> None:
    with pytest.raises(_cose.CoseStructureError, match=reason):
        _cose.parse_sign1(blob)


def test_non_eddsa_algorithm_is_refused() -> None:
    import cbor2  # noqa: PLC0415

    es256 = cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps({1: -7}), {4: b"k"}, b"p", b"\0" * 64]))
    with pytest.raises(_cose.CoseStructureError, match="EdDSA"):
        _cose.parse_sign1(es256)


def test_signatures_are_deterministic() -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert start + timedelta(0) == start
    assert _cose.sign1(b"x", key, b"k") == _cose.sign1(b"x", key, b"k")


def test_verifier_key_reads_and_writes_the_signed_note_format() -> None:
    from custody.keys import VerifierKey  # noqa: PLC0415

    text = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    key = VerifierKey.parse(text)
    assert key.name == "PeterNeumann"
    assert str(key) == text


@pytest.mark.parametrize(
    "text",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong id
        "PeterNeumann+c74f20a3+AhpjZAcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not Ed25519
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a3+!!!",
    ],
)
def test_bad_verifier_keys_are_refused(text: str) -> None:
    from custody.errors import RecordInvalid  # noqa: PLC0415
    from custody.keys import VerifierKey  # noqa: PLC0415

    with pytest.raises(RecordInvalid):
        VerifierKey.parse(text)


def test_verifier_key_whose_base64_holds_a_plus_sign() -> None:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    from custody.keys import VerifierKey  # noqa: PLC0415

    # Find a key whose base64 contains "+", then check it survives a round trip.
    for seed in range(256):
        public = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32).public_key()
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        key = VerifierKey("example.org/log", raw)
        if "+" in str(key).split("+", 2)[2]:
            assert VerifierKey.parse(str(key)) == key
            return
    pytest.fail("no seed gave a '+' in base64")  # pragma: no cover
