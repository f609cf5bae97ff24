"""The scanner reads both QR forms, offline: the link to the check page printed today and the
bare signed text on labels printed before. The link's host is never trusted."""

from __future__ import annotations

import dataclasses
import io

import pytest

from custody import _base45
from custody.errors import LabelMalformed, NotALabel, SignatureInvalid
from labels import render
from labels.payload import PREFIX, link, mint
from scanners.decode import label_text_from_image, label_texts_from_image
from scanners.scanning import ScanKind, read_scan, scan_image
from tests.support.label_readers import pdf_pages
from tests.unit.labels.test_payload import ISSUER, _bundle, _payload
from tests.unit.labels.test_render import make_label

SITE = "https://hjj.sc.gov.cn"
TEXT = mint(_payload(), ISSUER)
BUNDLE = _bundle(ISSUER)


def _forged(text: str) -> str:
    """The same label with one bit of its signature flipped."""
    message = bytearray(_base45.b45decode(text.removeprefix(PREFIX)))
    message[-1] ^= 1
    return PREFIX + _base45.b45encode(bytes(message))


def test_a_printed_label_scans_as_its_link_and_gives_the_signed_text() -> None:
    png = render.render_png(make_label(qr_text=TEXT, public_url=SITE))
    assert label_text_from_image(png) == TEXT
    assert label_texts_from_image(png) == [TEXT]
    scan = scan_image(png, BUNDLE)
    assert scan.kind is ScanKind.LABEL
    assert scan.label is not None
    assert scan.label.payload == _payload()


def test_a_label_printed_before_links_still_scans() -> None:
    png = render.render_png(make_label(qr_text=TEXT))
    assert label_text_from_image(png) == TEXT
    assert scan_image(png, BUNDLE).digital_id == _payload().digital_id.text


@pytest.mark.parametrize(
    "typed",
    [
        TEXT,
        link(TEXT, SITE),
        link(TEXT, "http://look-alike.example:8080/COPY") + "\r\n",  # any host: it is ignored
    ],
)
def test_a_wedge_scanner_line_in_either_form_verifies(typed: str) -> None:
    scan = read_scan(typed, BUNDLE)
    assert scan.kind is ScanKind.LABEL
    assert scan.label is not None
    assert scan.label.payload == _payload()


def test_a_link_with_an_altered_signed_text_is_refused() -> None:
    forged = link(_forged(TEXT), SITE)
    with pytest.raises(SignatureInvalid):
        read_scan(forged, BUNDLE)
    png = render.qr_png(forged)
    assert label_text_from_image(png) == _forged(TEXT)  # read, then refused on verification
    with pytest.raises(SignatureInvalid):
        scan_image(png, BUNDLE)


def test_a_link_cut_short_is_malformed() -> None:
    cut = link(TEXT, SITE)[:-20]
    with pytest.raises(LabelMalformed):
        read_scan(cut, BUNDLE)


def test_a_qr_linking_elsewhere_is_not_a_label() -> None:
    for other in ("HTTPS://HJJ.SC.GOV.CN/", "HTTPS://HJJ.SC.GOV.CN/V/HELLO"):
        png = render.qr_png(other)
        assert label_texts_from_image(png) == []
        with pytest.raises(NotALabel, match="not a hazardous waste label"):
            label_text_from_image(png)
        with pytest.raises(NotALabel):
            read_scan(other, BUNDLE)


def test_a_sheet_of_both_forms_reads_every_label() -> None:
    old = make_label(qr_text=TEXT)
    new = dataclasses.replace(old, qr_text=mint(_payload(net_mass_g=1), ISSUER), public_url=SITE)
    ((_, images),) = pdf_pages(render.render_pdf_sheet([old, new]))
    found = []
    for image in images:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        found += label_texts_from_image(buffer.getvalue())
    assert found == [old.qr_text, new.qr_text]
