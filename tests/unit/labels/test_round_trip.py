"""Mint -> render -> read back with the real decoder -> verify, for many different containers,
in every format that carries the QR: what a scanner sees is what the generator signed."""

from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from custody.containers import ContainerType, PhysicalForm
from custody.digital_id import DigitalId
from custody.keys import KeyRole, SigningKey
from custody.trust import TrustBundle
from custody.wastes import WasteList
from labels import render
from labels.payload import LabelPayload, mint, verify
from labels.printed import PrintedLabel
from scanners.decode import label_text_from_image
from tests.conftest import GENERATOR_CODE
from tests.support.label_readers import decoded, pdf_pages, svg_qr_image, svg_root

START = datetime(2026, 1, 1, tzinfo=UTC)
ISSUER = SigningKey.from_private(
    Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))),
    name=f"{GENERATOR_CODE}/label-issuer/1",
    owner=GENERATOR_CODE,
    role=KeyRole.LABEL_ISSUER,
    valid_from=START,
    valid_until=START + timedelta(days=365),
)
BUNDLE = TrustBundle.issue(1, [ISSUER.record], START)
CODES = [entry.code for entry in WasteList.edition("2021")]


def _containers(n: int, seed: int) -> list[tuple[LabelPayload, PrintedLabel]]:
    rng = random.Random(seed)  # noqa: S311  # reproducible test data, not secrets
    out = []
    for i in range(n):
        code = rng.choice(CODES)
        entry = WasteList.edition("2021").lookup(code)
        payload = LabelPayload(
            digital_id=DigitalId(
                GENERATOR_CODE, code, date(2026, 1, 1) + timedelta(days=rng.randrange(300)), i + 1
            ),
            edition="2021",
            hazards=frozenset(entry.hazards),
            form=rng.choice(list(PhysicalForm)),
            issued_at=START + timedelta(seconds=rng.randrange(300 * 86400)),
            net_mass_g=rng.randrange(1_000, 1_200_000),
            container_type=rng.choice(list(ContainerType)),
            seal_no=f"S-{rng.randrange(10**6):06d}",
        )
        text = mint(payload, ISSUER)
        printed = PrintedLabel(
            qr_text=text,
            digital_id=payload.digital_id.text,
            waste_name=entry.description[:20],
            category=entry.category,
            category_name=entry.category_name,
            waste_code=code,
            form=payload.form.value,
            hazards=tuple(h.value for h in entry.hazards),
            main_components="矿物油",
            harmful_components="重金属",
            precautions="防火防泄漏",
            generator_name="成都蓉新化工有限公司",
            generator_contact="张工 028-12345678",
            generated_on=payload.digital_id.day,
            net_mass_kg=payload.net_mass_g / 1000,
            capacity_l=rng.choice([20, 200, 1000]),
        )
        out.append((payload, printed))
    return out


@pytest.mark.parametrize(("payload", "printed"), _containers(24, seed=7))
def test_png_label_decodes_and_verifies(payload: LabelPayload, printed: PrintedLabel) -> None:
    png = render.render_png(printed)
    text = label_text_from_image(png)
    assert verify(text, BUNDLE).payload == payload
    assert decoded(Image.open(io.BytesIO(png)))["Code128"] == [payload.digital_id.text]


@pytest.mark.parametrize(("payload", "printed"), _containers(6, seed=11))
def test_pdf_and_svg_carry_the_same_signed_payload(
    payload: LabelPayload, printed: PrintedLabel
) -> None:
    ((_, (pdf_image,)),) = pdf_pages(render.render_pdf(printed))
    from_pdf = decoded(pdf_image)["QRCode"]
    svg_image, _ = svg_qr_image(svg_root(printed))
    from_svg = decoded(svg_image)["QRCode"]
    assert from_pdf == from_svg == [printed.qr_text]
    assert verify(from_pdf[0], BUNDLE).payload == payload


def test_sheet_of_labels_decodes_every_label() -> None:
    labels = _containers(5, seed=3)
    pages = pdf_pages(render.render_pdf_sheet([printed for _, printed in labels]))
    found = [text for _, images in pages for image in images for text in decoded(image)["QRCode"]]
    assert sorted(found) == sorted(printed.qr_text for _, printed in labels)


def test_photo_like_degradation_still_verifies() -> None:
    # A phone photo: smaller, slightly rotated, blurred and grey.
    from PIL import ImageFilter  # noqa: PLC0415

    payload, printed = _containers(1, seed=5)[0]
    image = Image.open(io.BytesIO(render.render_png(printed, dpi=200))).convert("L")
    image = (
        image.rotate(7, expand=True, fillcolor=255)
        .resize((700, 700))
        .filter(ImageFilter.GaussianBlur(1.2))
    )
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=60)
    assert verify(label_text_from_image(buffer.getvalue()), BUNDLE).payload == payload
