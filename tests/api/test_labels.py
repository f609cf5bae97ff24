"""Containers, labels, keys and the trust bundle over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from custody.keys import VerifierKey
from custody.trust import TrustBundle
from tests.conftest import GENERATOR_CODE, TRANSPORTER_CODE

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

DRUM = {
    "generator": GENERATOR_CODE,
    "waste_code": "900-249-08",
    "generated_on": "2026-03-05",
    "form": "L",
    "container_type": "DR",
    "capacity_l": 200,
    "declared_net_mass_kg": 182.5,
    "seal_no": "S-000981",
    "waste_name": "废机油",
    "main_components": "矿物油",
    "harmful_components": "多环芳烃",
    "precautions": "远离火源",
    "contact": "张工 028-12345678",
}


@pytest.fixture
def generator_with_key(client: TestClient) -> str:
    party = {"credit_code": GENERATOR_CODE, "name": "成都蓉新化工有限公司", "roles": ["generator"]}
    assert client.post("/parties", json=party).status_code == 201
    key = client.post("/keys", json={"owner": GENERATOR_CODE})
    assert key.status_code == 201, key.text
    return str(key.json()["name"])


def _container(client: TestClient) -> str:
    response = client.post("/containers", json=DRUM)
    assert response.status_code == 201, response.text
    return str(response.json()["digital_id"])


def test_container_gets_its_digital_id(client: TestClient, generator_with_key: str) -> None:
    first, second = _container(client), _container(client)
    assert first == f"{GENERATOR_CODE}9002490820260305001"
    assert second.endswith("002")
    body = client.get(f"/containers/{first}").json()
    assert body["category"] == "HW08"
    assert body["declared_net_mass_kg"] == 182.5
    assert generator_with_key.startswith(GENERATOR_CODE)


def test_mint_then_verify_over_http(client: TestClient, generator_with_key: str) -> None:
    digital_id = _container(client)
    minted = client.post(f"/containers/{digital_id}/labels")
    assert minted.status_code == 201
    label = minted.json()
    assert label["key"] == generator_with_key
    assert label["text"].startswith("WL1:")

    verified = client.post("/labels/verifications", json={"text": label["text"]})
    assert verified.status_code == 200
    assert verified.json()["digital_id"] == digital_id
    assert verified.json()["hazards"] == ["I", "T"]


@pytest.mark.usefixtures("generator_with_key")
def test_tampered_label_is_a_problem_with_its_reason(client: TestClient) -> None:
    text = client.post(f"/containers/{_container(client)}/labels").json()["text"]
    tampered = text[:-6] + ("0" if text[-6] != "0" else "1") + text[-5:]
    response = client.post("/labels/verifications", json={"text": tampered})
    assert response.status_code == 422
    assert response.json()["code"] in {"signature-invalid", "label-malformed"}
    assert (
        client.post("/labels/verifications", json={"text": "hello"}).json()["code"] == "not-a-label"
    )


def test_revoked_key_fails_verification_of_its_labels(
    client: TestClient, generator_with_key: str
) -> None:
    text = client.post(f"/containers/{_container(client)}/labels").json()["text"]
    revoked = client.post(f"/keys/{generator_with_key}/revocation", json={"reason": "丢失"})
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    response = client.post("/labels/verifications", json={"text": text})
    assert response.json()["code"] == "key-revoked"
    assert (
        client.post(f"/containers/{_container(client)}/labels").json()["code"]
        == "signing-key-missing"
    )


def test_batch_mint(client: TestClient, generator_with_key: str) -> None:
    ids = [_container(client) for _ in range(3)]
    response = client.post("/labels", json={"containers": ids})
    assert response.status_code == 201
    assert [label["digital_id"] for label in response.json()] == ids
    assert generator_with_key


def test_trust_bundle_is_signed_by_the_published_root(
    client: TestClient, generator_with_key: str
) -> None:
    root = client.get("/trust-bundle/root").json()
    response = client.get("/trust-bundle")
    assert response.headers["content-type"].startswith("application/cose")
    bundle = TrustBundle.from_signed(response.content, VerifierKey.parse(root["public_key"]))
    assert bundle.version == int(response.headers["x-bundle-version"])
    assert bundle.by_name(generator_with_key) is not None


def test_keys_never_show_a_private_half(client: TestClient, generator_with_key: str) -> None:
    listing = client.get("/keys").text
    assert "PRIVATE" not in listing
    assert generator_with_key in listing


def test_container_of_unregistered_generator_is_refused(client: TestClient) -> None:
    response = client.post("/containers", json={**DRUM, "generator": TRANSPORTER_CODE})
    assert response.status_code == 404
    assert response.json()["code"] == "party-not-found"


def test_label_of_a_container_never_minted_is_404(
    client: TestClient, generator_with_key: str
) -> None:
    response = client.get(f"/containers/{_container(client)}/label")
    assert response.status_code == 404
    assert generator_with_key


@pytest.mark.parametrize(
    ("fmt", "media", "magic"),
    [
        ("png", "image/png", b"\x89PNG"),
        ("svg", "image/svg+xml", b"<svg"),
        ("pdf", "application/pdf", b"%PDF"),
        ("zpl", "text/plain", b"^XA"),
        ("txt", "text/plain", b"WL1:"),
    ],
)
def test_label_in_every_format(
    client: TestClient, generator_with_key: str, fmt: str, media: str, magic: bytes
) -> None:
    digital_id = _container(client)
    text = client.post(f"/containers/{digital_id}/labels").json()["text"]
    response = client.get(f"/containers/{digital_id}/label", params={"format": fmt})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert magic in response.content[:200]
    if fmt == "png":
        from scanners.decode import label_text_from_image  # noqa: PLC0415

        assert label_text_from_image(response.content) == text
    assert generator_with_key


@pytest.mark.usefixtures("generator_with_key")
def test_a4_sheet_holds_every_label(client: TestClient) -> None:
    from labels.payload import link  # noqa: PLC0415
    from tests.support.label_readers import decoded, pdf_pages  # noqa: PLC0415

    ids = [_container(client) for _ in range(3)]
    texts = [label["text"] for label in client.post("/labels", json={"containers": ids}).json()]
    sheet = client.post("/labels/sheets", json={"containers": ids})
    assert sheet.headers["content-type"] == "application/pdf"
    found = [
        t for _, images in pdf_pages(sheet.content) for i in images for t in decoded(i)["QRCode"]
    ]
    # Each QR links to the check page (default public URL) with the signed text in its path.
    assert sorted(found) == sorted(link(text, "http://127.0.0.1:8000") for text in texts)


@pytest.mark.usefixtures("generator_with_key")
def test_rotation_new_key_signs_old_labels_still_verify(client: TestClient) -> None:
    old_label = client.post(f"/containers/{_container(client)}/labels").json()
    newer = client.post("/keys", json={"owner": GENERATOR_CODE}).json()
    new_label = client.post(f"/containers/{_container(client)}/labels").json()
    assert new_label["key"] == newer["name"] != old_label["key"]
    for label in (old_label, new_label):
        assert client.post("/labels/verifications", json={"text": label["text"]}).status_code == 200


def test_unknown_format_is_a_problem(client: TestClient, generator_with_key: str) -> None:
    digital_id = _container(client)
    response = client.get(f"/containers/{digital_id}/label", params={"format": "bmp"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert generator_with_key
