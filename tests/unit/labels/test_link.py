"""The label's QR as a link to the public check page: its form, what readers take out of it,
and what it costs in QR size at every print resolution (docs/labels.md gives the figures)."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from custody import _base45
from custody.digital_id import DigitalId
from custody.errors import InputError, NotALabel, SignatureInvalid
from custody.wastes import Hazard
from labels import render
from labels._qr import QR_ALPHANUMERIC, qr_version
from labels.payload import PREFIX, link, link_base, mint, read, signed_text, verify
from tests.conftest import GENERATOR_CODE
from tests.support.label_readers import decoded, pdf_pages, svg_qr_image, svg_root
from tests.unit.labels.test_payload import ANY_PAYLOAD, ISSUER, T0, _bundle, _payload
from tests.unit.labels.test_render import make_label

if TYPE_CHECKING:
    from labels.payload import LabelPayload
    from labels.printed import PrintedLabel

SITE = "https://hjj.sc.gov.cn/CUSTODY"  # 29 characters as the QR writes it
LONGEST_BASE = "https://sthjt.sichuan.gov.cn/HWT"  # 32 characters: the bound in docs/labels.md
TYPICAL = mint(_payload(), ISSUER)
LARGEST = mint(
    _payload(
        digital_id=DigitalId(GENERATOR_CODE, "900-041-49", date(2026, 12, 31), 999),
        hazards=frozenset(Hazard),
        net_mass_g=100_000_000,
        seal_no="S" * 32,
        issued_at=T0 + timedelta(days=364),
    ),
    ISSUER,
)
BASE45 = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", max_size=300)


# --- the link's form ----------------------------------------------------------------------------


def test_link_is_the_upper_case_base_then_v_then_the_escaped_signed_text() -> None:
    assert link("WL1:A B%C/D+$*.:", f"{SITE}/") == (
        "HTTPS://HJJ.SC.GOV.CN/CUSTODY/V/WL1:A%20B%25C%2FD+$*.:"
    )
    assert link("WL1:X", "http://127.0.0.1:8000") == "HTTP://127.0.0.1:8000/V/WL1:X"


@given(tail=BASE45)
def test_every_link_stays_in_qr_alphanumeric_mode_and_gives_back_the_text(tail: str) -> None:
    text = PREFIX + tail.strip()
    made = link(text, SITE)
    assert set(made) <= QR_ALPHANUMERIC
    # One path segment: no raw space, slash or stray escape after /V/.
    segment = made.removeprefix("HTTPS://HJJ.SC.GOV.CN/CUSTODY/V/")
    assert " " not in segment
    assert "/" not in segment
    assert re.fullmatch(r"(?:[^%]|%(?:20|25|2F))*", segment)
    assert signed_text(made) == text


@pytest.mark.parametrize(
    "base",
    [
        "ftp://hjj.sc.gov.cn",  # not http(s)
        "https://hjj.sc.gov.cn/custody",  # a path keeps its case: lower case is byte mode
        "https://user@hjj.sc.gov.cn",  # credentials have no place on a label
        "https://hjj.sc.gov.cn/?a=1",
        "https://hjj.sc.gov.cn/#top",
        "https:///CUSTODY",
        "hjj.sc.gov.cn",
        "https://环保.中国",  # not in QR alphanumeric mode: give the punycode name
    ],
)
def test_a_base_url_the_qr_cannot_carry_is_refused(base: str) -> None:
    with pytest.raises(InputError) as caught:
        link_base(base)
    assert "公开网址" in caught.value.zh


@pytest.mark.parametrize(
    "host",
    ["https://hjj.sc.gov.cn", "HTTP://LOOK-ALIKE.EXAMPLE:8080/ANY/PATH", "http://10.0.0.7"],
)
def test_a_link_on_any_host_reads_and_verifies_as_the_signed_text(host: str) -> None:
    made = link(TYPICAL, host)
    assert signed_text(made) == TYPICAL
    assert verify(made, _bundle(ISSUER)).payload == _payload()
    assert read(made)[1] == _payload()


def test_the_bare_signed_text_still_reads() -> None:
    assert signed_text(f"  {TYPICAL}\n") == TYPICAL
    assert verify(TYPICAL, _bundle(ISSUER)).payload == _payload()


@pytest.mark.parametrize(
    "content",
    [
        "https://hjj.sc.gov.cn/",
        "https://hjj.sc.gov.cn/V/",
        "https://hjj.sc.gov.cn/V/hello",
        "https://hjj.sc.gov.cn/v/WL1:ABC",  # the route is /V/, paths keep their case
        "https://hjj.sc.gov.cn/X/WL1:ABC",
        "https://hjj.sc.gov.cn/V/WL1:ABC/MORE",  # an unescaped slash: not one of our links
        "https://hjj.sc.gov.cn/V/WL1:ABC?x=1",
        "ftp://hjj.sc.gov.cn/V/WL1:ABC",
        "WL2:ABC",
    ],
)
def test_what_is_no_label_or_link_to_one_is_not_a_label(content: str) -> None:
    with pytest.raises(NotALabel):
        signed_text(content)


def test_a_link_whose_signed_text_was_altered_fails_verification() -> None:
    made = link(TYPICAL, SITE)
    message = bytearray(_base45.b45decode(TYPICAL.removeprefix(PREFIX)))
    message[-1] ^= 1  # a bit of the signature
    forged = link(PREFIX + _base45.b45encode(bytes(message)), SITE)
    assert forged != made
    with pytest.raises(SignatureInvalid):
        verify(forged, _bundle(ISSUER))


# --- QR size ------------------------------------------------------------------------------------


def test_typical_label_grows_one_version_as_a_link() -> None:
    assert (len(TYPICAL), qr_version(TYPICAL)) == (229, 11)
    assert qr_version(link(TYPICAL, SITE)) == 12


def test_largest_label_grows_one_version_as_a_link() -> None:
    assert qr_version(LARGEST) == 12
    assert qr_version(link(LARGEST, SITE)) == 13
    assert qr_version(link(LARGEST, LONGEST_BASE)) == 13


@settings(max_examples=80, database=None, derandomize=True)
@given(payload=ANY_PAYLOAD)
def test_every_label_as_a_link_on_a_32_character_base_fits_version_13(
    payload: LabelPayload,
) -> None:
    assert len(link_base(LONGEST_BASE)) == 32
    assert qr_version(link(mint(payload, ISSUER), LONGEST_BASE)) <= 13


# --- printed: every format carries the link and scans ----------------------------------------


def _linked(**changes: object) -> PrintedLabel:
    return make_label(qr_text=LARGEST, public_url=LONGEST_BASE, **changes)


def _qr_side_px(image: Image.Image) -> int:
    """The decoded QR symbol's side in pixels, without its quiet zone."""
    (qr,) = [b for b in zxingcpp.read_barcodes(image) if b.format == zxingcpp.BarcodeFormat.QRCode]
    return int(qr.position.top_right.x - qr.position.top_left.x + 1)


def test_printed_label_without_public_url_keeps_the_bare_text() -> None:
    assert make_label(qr_text=TYPICAL).qr_content == TYPICAL
    assert _linked().qr_content == link(LARGEST, LONGEST_BASE)


@pytest.mark.parametrize("dpi", [150, 203, 300, 600])
def test_png_of_the_largest_label_scans_as_the_link_with_modules_of_a_third_of_a_mm(
    dpi: int,
) -> None:
    label = _linked()
    image = Image.open(io.BytesIO(render.render_png(label, dpi=dpi)))
    found = decoded(image)
    assert found["QRCode"] == [link(LARGEST, LONGEST_BASE)]
    assert signed_text(found["QRCode"][0]) == LARGEST
    side_px = _qr_side_px(image)
    modules = 4 * qr_version(label.qr_content) + 17
    module_mm = side_px / modules / dpi * 25.4
    assert module_mm >= 0.33
    assert side_px / dpi * 25.4 >= 21.5  # 100 mm label: 23.4 mm at 150 dpi, 25.9 at 203


@pytest.mark.parametrize(("dpmm", "least"), [(6, 2), (8, 3), (12, 5), (24, 10)])
def test_zpl_sends_the_link_with_whole_dots_per_module(dpmm: int, least: int) -> None:
    zpl = render.render_zpl(_linked(), dpmm=dpmm)
    qr = re.search(r"\^BQN,2,(\d+)\^FDQA,([^^]*)\^FS", zpl)
    assert qr is not None
    assert qr[2] == link(LARGEST, LONGEST_BASE)
    assert int(qr[1]) >= least  # dots per module
    assert int(qr[1]) / dpmm >= 0.33


def test_svg_and_pdf_carry_the_link() -> None:
    label = _linked()
    svg_image, _ = svg_qr_image(svg_root(label))
    ((_, (pdf_image,)),) = pdf_pages(render.render_pdf(label))
    assert decoded(svg_image)["QRCode"] == decoded(pdf_image)["QRCode"] == [label.qr_content]


def test_a4_sheet_of_linked_labels_scans_every_link() -> None:
    labels = [
        dataclasses.replace(_linked(), qr_text=mint(_payload(net_mass_g=1000 + i), ISSUER))
        for i in range(3)
    ]
    pages = pdf_pages(render.render_pdf_sheet(labels))
    found = [text for _, images in pages for image in images for text in decoded(image)["QRCode"]]
    assert sorted(found) == sorted(label.qr_content for label in labels)
    assert all(text.startswith("HTTPS://STHJT.SICHUAN.GOV.CN/HWT/V/WL1:") for text in found)
