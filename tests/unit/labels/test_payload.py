"""Signed labels: mint, read, verify offline, and every way a forgery or a stale key fails."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from custody import _base45, _cose
from custody.containers import ContainerType, PhysicalForm
from custody.digital_id import DigitalId
from custody.errors import (
    EvidenceError,
    KeyNotValidAtIssue,
    KeyOwnerMismatch,
    KeyRevoked,
    KeyUnknown,
    LabelMalformed,
    LabelSchemaUnsupported,
    NotALabel,
    SignatureInvalid,
)
from custody.keys import KeyRole, SigningKey
from custody.trust import TrustBundle
from custody.wastes import Hazard
from labels._qr import qr_version
from labels.payload import PREFIX, LabelPayload, mint, read, verify
from tests.conftest import GENERATOR_CODE, TRANSPORTER_CODE

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ISSUED = datetime(2026, 3, 5, 8, 30, tzinfo=UTC)


def _key(
    seed: int,
    owner: str = GENERATOR_CODE,
    role: KeyRole = KeyRole.LABEL_ISSUER,
    name: str | None = None,
) -> SigningKey:
    private = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    return SigningKey.from_private(
        private,
        name=name or f"{owner}/{role.value}/{seed}",
        owner=owner,
        role=role,
        valid_from=T0,
        valid_until=T0 + timedelta(days=365),
    )


ISSUER = _key(1)


def _payload(**changes: object) -> LabelPayload:
    base = LabelPayload(
        digital_id=DigitalId(GENERATOR_CODE, "900-249-08", date(2026, 3, 5), 7),
        edition="2021",
        hazards=frozenset({Hazard.TOXICITY, Hazard.IGNITABILITY}),
        form=PhysicalForm.LIQUID,
        issued_at=ISSUED,
        net_mass_g=182_500,
        container_type=ContainerType.DRUM,
        seal_no="S-000981",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _bundle(*keys: SigningKey) -> TrustBundle:
    return TrustBundle.issue(1, [k.record for k in keys], T0)


def test_genuine_label_verifies_and_gives_back_every_fact() -> None:
    text = mint(_payload(), ISSUER)
    verified = verify(text, _bundle(ISSUER))
    assert verified.payload == _payload()
    assert verified.key.name == ISSUER.record.name


def test_label_text_is_qr_alphanumeric_and_small() -> None:
    text = mint(_payload(), ISSUER)
    assert text.startswith(PREFIX)
    assert set(text) <= set(_base45.ALPHABET)
    assert len(text) <= 259  # QR version 11 at ECC Q holds 259 alphanumeric characters


def test_mint_is_deterministic() -> None:
    assert mint(_payload(), ISSUER) == mint(_payload(), ISSUER)


def _cose_bytes(text: str) -> bytes:
    return _base45.b45decode(text[len(PREFIX) :])


def test_every_single_byte_change_is_rejected() -> None:
    blob = _cose_bytes(mint(_payload(), ISSUER))
    bundle = _bundle(ISSUER)
    for i in range(len(blob)):
        for flip in (0x01, 0x80):
            forged = PREFIX + _base45.b45encode(blob[:i] + bytes([blob[i] ^ flip]) + blob[i + 1 :])
            with pytest.raises(EvidenceError):
                verify(forged, bundle)


def test_label_cloned_with_another_mass_is_rejected() -> None:
    message, _ = read(mint(_payload(), ISSUER))
    heavier = _payload(net_mass_g=1_000).to_cbor()
    forged = cbor2.dumps(
        cbor2.CBORTag(18, [message.protected, {4: message.kid}, heavier, message.signature])
    )
    with pytest.raises(SignatureInvalid):
        verify(PREFIX + _base45.b45encode(forged), _bundle(ISSUER))


def test_label_signed_by_a_stranger_key_is_unknown() -> None:
    with pytest.raises(KeyUnknown):
        verify(mint(_payload(), _key(9)), _bundle(ISSUER))


def test_forgery_under_a_real_key_id_is_a_bad_signature() -> None:
    impostor = Ed25519PrivateKey.from_private_bytes(bytes([9]) * 32)
    forged = _cose.sign1(_payload().to_cbor(), impostor, ISSUER.kid)
    with pytest.raises(SignatureInvalid):
        verify(PREFIX + _base45.b45encode(forged), _bundle(ISSUER))


def test_label_of_revoked_key_is_rejected_even_if_issued_before_revocation() -> None:
    revoked = replace(
        ISSUER.record, revoked_at=ISSUED + timedelta(days=30), revocation_reason="stolen"
    )
    bundle = TrustBundle.issue(2, [revoked], T0)
    with pytest.raises(KeyRevoked) as caught:
        verify(mint(_payload(), ISSUER), bundle)
    assert "stolen" in caught.value.message


@pytest.mark.parametrize("issued", [T0 - timedelta(days=1), T0 + timedelta(days=366)])
def test_label_issued_outside_key_validity_is_rejected(issued: datetime) -> None:
    with pytest.raises(KeyNotValidAtIssue):
        verify(mint(_payload(issued_at=issued), ISSUER), _bundle(ISSUER))


def test_label_of_expired_key_issued_inside_its_window_still_verifies() -> None:
    # Rotation is not compromise: what a key signed in its window keeps counting.
    assert verify(mint(_payload(issued_at=T0 + timedelta(days=1)), ISSUER), _bundle(ISSUER))


def test_label_signed_by_another_generators_key_is_rejected() -> None:
    other = _key(3, owner=TRANSPORTER_CODE)
    with pytest.raises(KeyOwnerMismatch):
        verify(mint(_payload(), other), _bundle(other))


def test_device_key_cannot_issue_labels() -> None:
    device = _key(4, role=KeyRole.DEVICE)
    with pytest.raises(KeyUnknown):
        verify(mint(_payload(), device), _bundle(device))


@pytest.mark.parametrize("text", ["", "hello", "HC1:6BFOXN", "https://example.com/?q=1"])
def test_text_that_is_no_label_says_so(text: str) -> None:
    with pytest.raises(NotALabel):
        read(text)


@pytest.mark.parametrize("body", ["", "A", "::::", "ZZZZZZ"])
def test_garbage_after_the_prefix_is_malformed(body: str) -> None:
    with pytest.raises(LabelMalformed):
        read(PREFIX + body)


def test_future_schema_version_is_named() -> None:
    fields = cbor2.loads(_payload().to_cbor())
    fields[0] = 2
    signed = _cose.sign1(cbor2.dumps(fields), ISSUER.private_key, ISSUER.kid)
    with pytest.raises(LabelSchemaUnsupported) as caught:
        verify(PREFIX + _base45.b45encode(signed), _bundle(ISSUER))
    assert caught.value.context["schema"] == "2"


@pytest.mark.parametrize(
    "fields",
    [
        [1, "short", 2021, 5, "L", 0, 1, "DR", ""],  # bad digital id
        [1, "91510100MA61R8XQ029002490820260305007", 2021, 99, "L", 0, 1, "DR", ""],
        [1, "91510100MA61R8XQ029002490820260305007", 2021, 5, "X", 0, 1, "DR", ""],
        [1, "91510100MA61R8XQ029002490820260305007", 2021, 5, "L", "t", 1, "DR", ""],
        [1, "91510100MA61R8XQ029002490820260305007", 2021, 5, "L", 0, 1, "DR"],
    ],
)
def test_signed_but_ill_formed_payload_is_malformed(fields: list[object]) -> None:
    signed = _cose.sign1(cbor2.dumps(fields), ISSUER.private_key, ISSUER.kid)
    with pytest.raises(LabelMalformed):
        read(PREFIX + _base45.b45encode(signed))


#: Any label a generator could mint: every field across its whole range.
ANY_PAYLOAD = st.builds(
    lambda day, sequence, hazards, form, kind, mass, seal, offset: _payload(
        digital_id=DigitalId(GENERATOR_CODE, "900-041-49", day, sequence),
        hazards=hazards,
        form=form,
        container_type=kind,
        net_mass_g=mass,
        seal_no=seal,
        issued_at=T0 + timedelta(seconds=offset),
    ),
    day=st.dates(min_value=date(2021, 1, 1), max_value=date(2026, 12, 31)),
    sequence=st.integers(1, 999),
    hazards=st.frozensets(st.sampled_from(list(Hazard))),
    form=st.sampled_from(list(PhysicalForm)),
    kind=st.sampled_from(list(ContainerType)),
    mass=st.integers(1, 100_000_000),
    seal=st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", max_size=32),
    offset=st.integers(0, 364 * 86400),
)


@settings(max_examples=80, database=None, derandomize=True)
@given(payload=ANY_PAYLOAD)
def test_any_payload_round_trips_and_verifies(payload: LabelPayload) -> None:
    text = mint(payload, ISSUER)
    # Every label fits QR version 12 at ECC Q; most fit 11 (259 characters), but a 32-character
    # seal number with every hazard and a 100 t mass reaches 268 characters (docs/labels.md).
    assert qr_version(text) <= 12
    assert verify(text, _bundle(ISSUER)).payload == payload


def test_the_largest_possible_label_still_fits_version_12() -> None:
    payload = _payload(
        digital_id=DigitalId(GENERATOR_CODE, "900-041-49", date(2026, 12, 31), 999),
        hazards=frozenset(Hazard),
        net_mass_g=100_000_000,
        seal_no="S" * 32,
        issued_at=T0 + timedelta(days=364),
    )
    assert qr_version(mint(payload, ISSUER)) == 12
