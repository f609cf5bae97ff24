"""The HJ 1276-2022 label in every format: scannable, the right size and colour, never overflowing.

Every check reads the output back the way a reader would: barcodes through zxing-cpp, the SVG
through ElementTree, the PDF through a small parser written here, the ZPL as text.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import re
from datetime import date
from importlib import resources
from typing import TYPE_CHECKING

import pytest
import qrcode
import qrcode.constants
import qrcode.util
import zxingcpp
from PIL import Image, ImageDraw, ImageFont, PdfParser

from custody.errors import InputError
from labels import render
from labels.printed import FORMS, HAZARD_NAMES, PrintedLabel, label_size_mm
from tests.support.label_readers import (
    SVG,
    decoded,
    group,
    pdf_objects,
    pdf_pages,
    svg_qr_image,
    svg_root,
)

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
DIGITAL_ID = "91510100MA61R8XQ0290024908202311050 01".replace(" ", "")
ORANGE = (255, 150, 0)
CAPACITIES = [(20.0, 100), (200.0, 150), (1000.0, 200)]


def alphanumeric(length: int, seed: int = 0) -> str:
    return "".join(ALPHANUMERIC[(7 * i + 3 + seed) % 45] for i in range(length))


QR_TEXT = "WL1:" + alphanumeric(200)

BASE = PrintedLabel(
    qr_text=QR_TEXT,
    digital_id=DIGITAL_ID,
    waste_name="废矿物油",
    category="HW08",
    category_name="废矿物油与含矿物油废物",
    waste_code="900-249-08",
    form="L",
    hazards=("T", "I"),
    main_components="矿物油、水",
    harmful_components="多环芳烃、重金属",
    precautions="远离火源，禁止吸烟，防止泄漏，佩戴防护手套",
    generator_name="成都市某某环保科技有限公司",
    generator_contact="张三 13800138000",
    generated_on=date(2023, 11, 5),
    net_mass_kg=180.5,
    capacity_l=20.0,
    remarks="",
)

VERY_LONG = {
    "main_components": "矿物油（基础油与添加剂）、水、Mineral oil with additives; " * 60,
    "harmful_components": "多环芳烃" * 400,
    "precautions": "远离火源，禁止吸烟，防止泄漏，佩戴防护手套。" * 200,
    "generator_name": "成都市某某环保科技有限公司第一分公司" * 30,
    "remarks": "X" * 5000,
}


def make_label(**changes: object) -> PrintedLabel:
    return dataclasses.replace(BASE, **changes)  # type: ignore[arg-type]  # test overrides


def png_image(label: PrintedLabel, dpi: int = 300) -> Image.Image:
    image = Image.open(io.BytesIO(render.render_png(label, dpi=dpi)))
    image.load()
    return image


def qr_side_mm(image: Image.Image, *, dpi: int) -> float:
    """The decoded QR symbol's side (without quiet zone) in mm."""
    (qr,) = (b for b in zxingcpp.read_barcodes(image) if b.format == zxingcpp.BarcodeFormat.QRCode)
    return (qr.position.top_right.x - qr.position.top_left.x + 1) / dpi * 25.4


# --- QR symbol ----------------------------------------------------------------------------------


def test_238_character_payload_fits_version_11_at_ecc_q() -> None:
    symbol = render.qr_code("WL1:" + alphanumeric(234))
    assert symbol.version <= 11
    assert symbol.ecc == "Q"
    assert symbol.size == 4 * symbol.version + 17
    assert all(len(row) == symbol.size for row in symbol.modules)


def test_qr_uses_alphanumeric_mode_not_bytes() -> None:
    text = "WL1:" + alphanumeric(234)
    as_bytes = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q)
    as_bytes.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_8BIT_BYTE))
    as_bytes.make(fit=True)
    assert render.qr_code(text).version < as_bytes.version


def test_qr_matrix_decodes_at_ecc_q() -> None:
    symbol = render.qr_code(QR_TEXT)
    image = rasterise_modules(symbol.modules)
    (barcode,) = zxingcpp.read_barcodes(image)
    assert barcode.text == QR_TEXT
    assert barcode.ec_level == "Q"


@pytest.mark.parametrize("text", ["wl1:lower", "WL1:ÄÖ", "WL1:A_B", "WL1:#"])
def test_qr_rejects_characters_outside_alphanumeric_mode(text: str) -> None:
    with pytest.raises(InputError) as caught:
        render.qr_code(text)
    assert caught.value.zh != caught.value.message


def test_qr_rejects_text_beyond_version_40() -> None:
    with pytest.raises(InputError, match="version 40"):
        render.qr_code("A" * 2421)  # version 40-Q holds 2420 alphanumeric characters


def test_qr_rejects_empty_text() -> None:
    with pytest.raises(InputError):
        render.qr_code("")


def rasterise_modules(modules: tuple[tuple[bool, ...], ...], scale: int = 8) -> Image.Image:
    n = len(modules) + 8
    image = Image.new("L", (n * scale, n * scale), 255)
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(modules):
        for x, dark in enumerate(row):
            if dark:
                box = ((x + 4) * scale, (y + 4) * scale, (x + 5) * scale - 1, (y + 5) * scale - 1)
                draw.rectangle(box, fill=0)
    return image


# --- PNG ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("capacity", "side_mm"), CAPACITIES)
def test_png_is_the_label_size_and_scans(capacity: float, side_mm: int) -> None:
    image = png_image(make_label(capacity_l=capacity))
    expected = side_mm / 25.4 * 300
    assert abs(image.width - expected) <= 1
    assert abs(image.height - expected) <= 1
    found = decoded(image)
    assert found["QRCode"] == [QR_TEXT]
    assert found["Code128"] == [DIGITAL_ID]


@pytest.mark.parametrize(("capacity", "side_mm"), CAPACITIES)
def test_png_ground_is_orange_yellow_inside_and_outside_the_border(
    capacity: float, side_mm: int
) -> None:
    image = png_image(make_label(capacity_l=capacity)).convert("RGB")
    px = 300 / 25.4
    outside = (round(1.5 * px), round(1.5 * px))  # the blank margin outside the border
    border_inner = 3 + side_mm / 100  # margin + border width
    inside = (round((border_inner + 0.4) * px), round(side_mm / 2 * px))  # left padding
    assert image.getpixel(outside) == ORANGE
    assert image.getpixel(inside) == ORANGE
    assert image.getpixel((round(3.5 * px), round(side_mm / 2 * px))) == (0, 0, 0)  # border


def test_png_has_only_the_three_label_colours() -> None:
    # No anti-aliasing greys: QR modules and bars stay crisp, and the palette stays 2-bit.
    colours = png_image(BASE).convert("RGB").getcolors()
    assert colours is not None
    assert {colour for _, colour in colours} == {ORANGE, (0, 0, 0), (255, 255, 255)}


@pytest.mark.parametrize(("capacity", "side_mm"), CAPACITIES)
def test_png_qr_symbol_is_at_least_25_mm_per_100_mm_of_label(capacity: float, side_mm: int) -> None:
    image = png_image(make_label(qr_text="WL1:" + alphanumeric(234), capacity_l=capacity))
    assert qr_side_mm(image, dpi=300) >= 25 * side_mm / 100


def test_png_is_the_same_for_the_same_label() -> None:
    assert render.render_png(BASE) == render.render_png(BASE)


@pytest.mark.parametrize("dpi", [150, 203, 300, 600])
def test_png_scans_with_a_25_mm_qr_at_common_printer_resolutions(dpi: int) -> None:
    label = make_label(qr_text="WL1:" + alphanumeric(234))
    image = png_image(label, dpi=dpi)
    assert abs(image.width - 100 / 25.4 * dpi) <= 1
    found = decoded(image)
    assert found == {"QRCode": [label.qr_text], "Code128": [DIGITAL_ID]}
    assert qr_side_mm(image, dpi=dpi) >= 25


@pytest.mark.parametrize("dpi", [72, 149, 601])
def test_png_refuses_resolutions_that_cannot_hold_the_barcode_or_are_too_big(dpi: int) -> None:
    with pytest.raises(InputError):
        render.render_png(BASE, dpi=dpi)


@pytest.mark.parametrize(("capacity", "side_mm"), CAPACITIES)
def test_png_with_very_long_texts_renders_and_still_scans(capacity: float, side_mm: int) -> None:
    del side_mm
    found = decoded(png_image(make_label(capacity_l=capacity, **VERY_LONG)))
    assert found["QRCode"] == [QR_TEXT]
    assert found["Code128"] == [DIGITAL_ID]


# --- SVG ----------------------------------------------------------------------------------------


def svg_texts(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}text"))


def svg_barcode_image(root: ET.Element, scale: int = 3) -> Image.Image:
    element, _, _, _ = group(root, "barcode")
    background, *bars = element.iter(f"{SVG}rect")
    quiet = -int(background.get("x", "0"))
    width = int(background.get("width", "0"))
    image = Image.new("L", (width * scale, 60), 255)
    draw = ImageDraw.Draw(image)
    for rect in bars:
        x, w = int(rect.get("x", "")) + quiet, int(rect.get("width", ""))
        draw.rectangle((x * scale, 0, (x + w) * scale - 1, 59), fill=0)
    return image


@pytest.mark.parametrize(("capacity", "side_mm"), CAPACITIES)
def test_svg_is_sized_in_millimetres(capacity: float, side_mm: int) -> None:
    root = svg_root(make_label(capacity_l=capacity))
    assert root.get("width") == f"{side_mm}mm"
    assert root.get("height") == f"{side_mm}mm"
    assert root.get("viewBox") == f"0 0 {side_mm} {side_mm}"


def test_svg_qr_rects_decode_to_the_signed_text() -> None:
    image, n = svg_qr_image(svg_root(BASE))
    assert n == render.qr_code(QR_TEXT).size
    assert decoded(image)["QRCode"] == [QR_TEXT]


def test_svg_barcode_rects_decode_to_the_digital_id() -> None:
    assert decoded(svg_barcode_image(svg_root(BASE)))["Code128"] == [DIGITAL_ID]


def test_svg_qr_is_at_least_25_mm() -> None:
    root = svg_root(BASE)
    _, _, module, _ = group(root, "qr")
    assert module * render.qr_code(QR_TEXT).size >= 25


def test_svg_shows_title_fields_and_digital_id_as_text() -> None:
    root = svg_root(BASE)
    texts = [t.text or "" for t in svg_texts(root)]
    assert "危险废物" in texts
    assert DIGITAL_ID in texts
    labels = "废物名称 废物类别 废物代码 废物形态 危险特性 主要成分 有害成分 注意事项 数字识别码 "
    labels += "产生/收集单位 联系人和联系方式 产生日期 废物重量 备注"
    for label in labels.split():
        assert f"{label}：" in texts, label
    for value in ["废矿物油", "900-249-08", "液态", "毒性、易燃性", "2023年11月05日", "180.5 kg"]:
        assert value in texts, value
    (group_element,) = (g for g in root.iter(f"{SVG}g") if g.get("font-family"))
    assert group_element.get("font-family") == "Noto Sans CJK SC, Noto Sans SC, sans-serif"


def test_svg_draws_one_pictogram_per_hazard_with_its_name() -> None:
    label = make_label(hazards=("T", "C", "I", "R", "In"))
    root = svg_root(label)
    assert len(list(root.iter(f"{SVG}path"))) == 5
    texts = [t.text for t in svg_texts(root)]
    for name in HAZARD_NAMES.values():
        assert name in texts


@pytest.mark.parametrize(("mass", "printed"), [(180.5, "180.5 kg"), (200.0, "200 kg"),
                                               (12.345, "12.35 kg"), (0.004, "0 kg")])  # fmt: skip
def test_weight_prints_in_kg_with_at_most_two_decimals(mass: float, printed: str) -> None:
    texts = [t.text for t in svg_texts(svg_root(make_label(net_mass_kg=mass)))]
    assert printed in texts


def test_every_form_prints_its_chinese_name() -> None:
    for code, name in FORMS.items():
        texts = [t.text for t in svg_texts(svg_root(make_label(form=code)))]
        assert name in texts


def test_very_long_values_shrink_then_end_in_an_ellipsis() -> None:
    texts = svg_texts(svg_root(make_label(**VERY_LONG)))
    assert any((t.text or "").endswith("…") for t in texts)


@functools.cache
def noto(*, bold: bool) -> ImageFont.FreeTypeFont:
    path = resources.files("manimgx_fonts_cjk") / "NotoSansCJK-VF.otf.ttc"
    font = ImageFont.truetype(str(path), 1000, index=2)
    font.set_variation_by_name(b"Bold" if bold else b"Regular")
    return font


Box = tuple[float, float, float, float]


def text_box(text: ET.Element) -> Box:
    """Where the glyphs of a <text> can reach, measured with the font the SVG names first."""
    size = float(text.get("font-size", ""))
    width = noto(bold=text.get("font-weight") == "bold").getlength(text.text or "") * size / 1000
    x, y = float(text.get("x", "")), float(text.get("y", ""))
    return x, y - 0.9 * size, x + width, y + 0.25 * size


def overlaps(a: Box, b: Box) -> bool:
    epsilon = 1e-6
    return (
        a[0] < b[2] - epsilon
        and b[0] < a[2] - epsilon
        and a[1] < b[3] - epsilon
        and b[1] < a[3] - epsilon
    )


def inside(a: Box, b: Box) -> bool:
    return b[0] <= a[0] and b[1] <= a[1] and a[2] <= b[2] and a[3] <= b[3]


def obstacles(root: ET.Element) -> tuple[Box, Box, list[Box]]:
    """The QR's white square, the barcode's white box, and each pictogram's bounding box."""
    qr, (tx, ty), module, _ = group(root, "qr")
    background = next(qr.iter(f"{SVG}rect"))
    n, quiet = int(background.get("width", "")), -int(background.get("x", ""))
    qr_box = (
        tx - quiet * module,
        ty - quiet * module,
        tx + (n - quiet) * module,
        ty + (n - quiet) * module,
    )
    bars, (bx, by), sx, _ = group(root, "barcode")
    background = next(bars.iter(f"{SVG}rect"))
    total, quiet = int(background.get("width", "")), -int(background.get("x", ""))
    height = float(background.get("height", ""))
    bar_box = (bx - quiet * sx, by, bx + (total - quiet) * sx, by + height)
    pictograms = []
    for path in root.iter(f"{SVG}path"):
        numbers = [float(v) for v in re.findall(r"[\d.]+", path.get("d", ""))]
        xs, ys = numbers[0::2], numbers[1::2]
        pictograms.append((min(xs), min(ys), max(xs), max(ys)))
    return qr_box, bar_box, pictograms


@pytest.mark.parametrize("hazards", [(), ("T", "I"), ("T", "C", "I", "R", "In")])
@pytest.mark.parametrize("changes", [{}, VERY_LONG], ids=["short", "very-long"])
@pytest.mark.parametrize(("capacity", "side_mm"), CAPACITIES)
def test_text_stays_inside_the_border_and_clear_of_codes_and_other_text(
    capacity: float,
    side_mm: int,
    changes: dict[str, str],
    hazards: tuple[str, ...],
) -> None:
    root = svg_root(make_label(capacity_l=capacity, hazards=hazards, **changes))
    edge = 3 + side_mm / 100  # margin + border
    inner = (edge, edge, side_mm - edge, side_mm - edge)
    qr_box, bar_box, pictograms = obstacles(root)
    names = set(HAZARD_NAMES.values())
    boxes = []
    for text in svg_texts(root):
        box = text_box(text)
        assert inside(box, inner), (text.text, box)
        assert not overlaps(box, qr_box), text.text
        assert not overlaps(box, bar_box), text.text
        if text.text in names and any(inside(box, p) for p in pictograms):
            continue
        assert not any(overlaps(box, p) for p in pictograms), text.text
        boxes.append((text.text, box))
    for i, (a_text, a) in enumerate(boxes):
        for b_text, b in boxes[i + 1 :]:
            assert not overlaps(a, b), (a_text, b_text)
    assert inside(qr_box, inner)
    assert inside(bar_box, inner)


@pytest.mark.parametrize(("capacity", "side_mm"), CAPACITIES)
def test_text_keeps_the_minimum_height_for_labels_and_short_values(
    capacity: float, side_mm: int
) -> None:
    side, minimum = label_size_mm(capacity)
    assert side == side_mm
    sizes = [
        float(t.get("font-size", "")) for t in svg_texts(svg_root(make_label(capacity_l=capacity)))
    ]
    assert min(sizes) >= minimum


@pytest.mark.parametrize(("capacity", "side_mm"), CAPACITIES)
def test_long_values_shrink_no_further_than_two_thirds_and_labels_not_at_all(
    capacity: float, side_mm: int
) -> None:
    del side_mm
    _, minimum = label_size_mm(capacity)
    for text in svg_texts(svg_root(make_label(capacity_l=capacity, **VERY_LONG))):
        size = float(text.get("font-size", ""))
        assert size >= minimum * 2 / 3 - 1e-3, text.text  # the SVG keeps 3 decimals
        if (text.text or "").endswith("："):
            assert size >= minimum, text.text


def test_a_word_too_long_for_the_label_line_moves_whole_to_the_next_line() -> None:
    contact = "13800138000/028-12345678"  # wider than the room after 联系人和联系方式：
    texts = [t.text for t in svg_texts(svg_root(make_label(generator_contact=contact)))]
    assert contact in texts


def test_a_word_too_long_for_any_line_is_cut_between_characters() -> None:
    word = "9" * 80
    texts = [t.text or "" for t in svg_texts(svg_root(make_label(remarks=word)))]
    pieces = [t for t in texts if t and set(t) == {"9"}]
    assert len(pieces) > 1
    assert "".join(pieces) == word


def test_control_and_invisible_characters_do_not_reach_the_svg() -> None:
    svg = render.render_svg(make_label(waste_name="废\x00矿\u202e物\n油\ud800", remarks="a\tb"))
    assert "废 矿物 油" in svg
    assert "a b" in svg
    assert "\x00" not in svg
    assert "\u202e" not in svg


def test_svg_escapes_markup_in_values() -> None:
    root = svg_root(make_label(remarks="<script>&</script>"))
    assert "<script>&</script>" in [t.text for t in svg_texts(root)]


# --- PDF ----------------------------------------------------------------------------------------
# Pillow would write our palette image as an uncompressed ASCIIHex stream (and RGB as lossy
# DCT/JPEG), so the renderer writes its own PDF: one 2-bit indexed FlateDecode image per label.


@pytest.mark.parametrize(("capacity", "side_mm"), CAPACITIES)
def test_pdf_page_is_the_label_and_its_image_scans(capacity: float, side_mm: int) -> None:
    pdf = render.render_pdf(make_label(capacity_l=capacity))
    assert pdf.startswith(b"%PDF-")
    ((media, (image,)),) = pdf_pages(pdf)
    points = side_mm / 25.4 * 72
    assert media[:2] == [0, 0]
    assert abs(media[2] - points) <= 1
    assert abs(media[3] - points) <= 1
    assert image.convert("RGB").getpixel((5, 5)) == ORANGE
    found = decoded(image)
    assert found["QRCode"] == [QR_TEXT]
    assert found["Code128"] == [DIGITAL_ID]


def test_pdf_is_readable_by_an_independent_parser() -> None:
    parser = PdfParser.PdfParser(buf=render.render_pdf_sheet([BASE] * 3))
    assert len(parser.pages) == 2


def test_sheet_of_nine_100_mm_labels_fills_five_a4_pages_two_by_page() -> None:
    # (210 - 20 + 5) // 105 = 1 column, (297 - 20 + 5) // 105 = 2 rows.
    labels = [make_label(qr_text="WL1:" + alphanumeric(200, seed=i)) for i in range(9)]
    pages = pdf_pages(render.render_pdf_sheet(labels))
    assert [len(images) for _, images in pages] == [2, 2, 2, 2, 1]
    for media, _ in pages:
        assert media == pytest.approx([0, 0, 210 / 25.4 * 72, 297 / 25.4 * 72], abs=0.01)
    texts = [decoded(image)["QRCode"] for _, images in pages for image in images]
    assert texts == [[label.qr_text] for label in labels]


def test_sheet_places_labels_inside_the_margins_without_touching() -> None:
    pdf = render.render_pdf_sheet([BASE] * 2)
    objects = pdf_objects(pdf)
    content = next(o.stream for o in objects.values() if o.stream and b" cm /Im" in o.stream)
    assert content is not None
    placements = [
        [float(v) for v in m.groups()]
        for m in re.finditer(rb"q ([\d.]+) 0 0 ([\d.]+) ([\d.]+) ([\d.]+) cm", content)
    ]
    mm = 72 / 25.4
    (w0, _, x0, y0), (_, _, x1, y1) = placements
    assert w0 == pytest.approx(100 * mm, abs=0.01)
    assert x0 >= 10 * mm
    assert x0 == x1
    assert y0 - (y1 + w0) == pytest.approx(5 * mm, abs=0.01)  # 5 mm gap; PDF y grows upwards
    assert y1 >= 10 * mm


def test_sheet_prints_a_200_mm_label_one_to_a_page() -> None:
    labels = [make_label(capacity_l=1000.0)] * 2
    pages = pdf_pages(render.render_pdf_sheet(labels))
    assert [len(images) for _, images in pages] == [1, 1]
    assert decoded(pages[0][1][0])["QRCode"] == [QR_TEXT]


def test_sheet_refuses_no_labels() -> None:
    with pytest.raises(InputError):
        render.render_pdf_sheet([])


# --- ZPL ----------------------------------------------------------------------------------------


def zpl_data(zpl: str) -> list[str]:
    return re.findall(r"\^FD(.*?)\^FS", zpl)


def unhex(data: str) -> str:
    raw = re.sub(rb"_([0-9A-F]{2})", lambda m: bytes([int(m[1], 16)]), data.encode())
    return raw.decode()


@pytest.mark.parametrize(("capacity", "side_mm"), CAPACITIES)
def test_zpl_frames_the_label_size(capacity: float, side_mm: int) -> None:
    zpl = render.render_zpl(make_label(capacity_l=capacity), dpmm=8)
    assert zpl.startswith("^XA\n")
    assert zpl.rstrip().endswith("^XZ")
    assert "^CI28" in zpl
    assert f"^PW{side_mm * 8}" in zpl
    assert f"^LL{side_mm * 8}" in zpl


def test_zpl_qr_and_barcode_carry_the_label_data() -> None:
    zpl = render.render_zpl(BASE)
    qr = re.search(r"\^BQN,2,(\d+)\^FD(.*?)\^FS", zpl)
    assert qr is not None
    assert qr[2] == f"QA,{QR_TEXT}"
    assert int(qr[1]) * render.qr_code(QR_TEXT).size / 8 >= 25  # symbol side in mm
    bars = re.search(r"\^BCN,\d+,N,N,N,A\^FD(.*?)\^FS", zpl)
    assert bars is not None
    assert bars[1] == DIGITAL_ID


def test_zpl_prints_every_chinese_value_in_the_printer_font() -> None:
    zpl = render.render_zpl(BASE, font="E:SIMSUN.TTF")
    assert "^A@N,24,24,E:SIMSUN.TTF^FH^FD废物名称：^FS" in zpl  # 3 mm at 8 dots/mm
    printed = "".join(unhex(d) for d in zpl_data(zpl)).replace(" ", "")
    for value in ["危险废物", "废矿物油", "HW08废矿物油与含矿物油废物", "液态", "毒性、易燃性",
                  "矿物油、水", "多环芳烃、重金属", "远离火源，禁止吸烟，防止泄漏，佩戴防护手套",
                  "成都市某某环保科技有限公司", "张三13800138000", "2023年11月05日", "180.5kg",
                  DIGITAL_ID]:  # fmt: skip
        assert value in printed, value


def test_zpl_control_characters_in_values_are_hex_escaped_not_obeyed() -> None:
    zpl = render.render_zpl(make_label(waste_name="废油^XZ~JA_1", remarks="^FS^XA"))
    assert "~" not in zpl
    assert zpl.count("^XA") == 1
    assert zpl.count("^XZ") == 1
    assert "^FH^FD废油_5EXZ_7EJA_5F1^FS" in zpl
    assert "废油^XZ~JA_1" in [unhex(d) for d in zpl_data(zpl)]


@pytest.mark.parametrize("dpmm", [6, 12, 24])
def test_zpl_scales_with_the_printhead(dpmm: int) -> None:
    assert f"^PW{100 * dpmm}" in render.render_zpl(BASE, dpmm=dpmm)


def test_zpl_refuses_unknown_printheads_and_font_paths() -> None:
    with pytest.raises(InputError):
        render.render_zpl(BASE, dpmm=7)
    with pytest.raises(InputError):
        render.render_zpl(BASE, font="E:X^XZ")


# --- input the renderer refuses -----------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"form": "X"},
        {"hazards": ("T", "toxic")},
        {"digital_id": DIGITAL_ID.lower()},
        {"digital_id": "9151 0100"},
        {"digital_id": "9" * 60},
        {"digital_id": "A" * 48},  # printable as Code 128, but its modules would be too thin
        {"qr_text": QR_TEXT.lower()},
        {"net_mass_kg": -1.0},
        {"net_mass_kg": float("nan")},
        {"capacity_l": 0.0},
    ],
)
def test_unprintable_label_is_refused_in_every_format(changes: dict[str, object]) -> None:
    label = make_label(**changes)
    for renderer in (render.render_png, render.render_svg, render.render_pdf, render.render_zpl):
        with pytest.raises(InputError):
            renderer(label)
