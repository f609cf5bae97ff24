"""Reading rendered labels back as a reader would: zxing-cpp for barcodes in pictures, an
SVG's QR rects redrawn, a PDF's images unpacked by a small parser written for these tests."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
import zlib
from typing import TYPE_CHECKING

import zxingcpp
from PIL import Image, ImageDraw

from labels import render

if TYPE_CHECKING:
    from labels.printed import PrintedLabel

SVG = "{http://www.w3.org/2000/svg}"


def decoded(image: Image.Image) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for barcode in zxingcpp.read_barcodes(image):
        found.setdefault(barcode.format.name, []).append(barcode.text)
    return found


def svg_root(label: PrintedLabel) -> ET.Element:
    return ET.fromstring(render.render_svg(label))  # noqa: S314  # our own output, not untrusted


def group(root: ET.Element, name: str) -> tuple[ET.Element, tuple[float, float], float, float]:
    """The group, its translation, and its x and y scale."""
    (element,) = (g for g in root.iter(f"{SVG}g") if g.get("id") == name)
    match = re.fullmatch(
        r"translate\(([\d.]+) ([\d.]+)\) scale\(([\d.]+)(?: ([\d.]+))?\)",
        element.get("transform", ""),
    )
    assert match is not None
    sx = float(match[3])
    sy = float(match[4]) if match[4] else sx
    return element, (float(match[1]), float(match[2])), sx, sy


def svg_qr_image(root: ET.Element, scale: int = 8) -> tuple[Image.Image, int]:
    """Draw the QR group's rects (module units) into an image; return it and the module count."""
    element, _, _, _ = group(root, "qr")
    background, *_ = element.iter(f"{SVG}rect")
    quiet = -int(background.get("x", "0"))
    n = int(background.get("width", "0"))
    image = Image.new("L", (n * scale, n * scale), 255)
    draw = ImageDraw.Draw(image)
    for rect in list(element.iter(f"{SVG}rect"))[1:]:
        x, y = int(rect.get("x", "")) + quiet, int(rect.get("y", "")) + quiet
        w, h = int(rect.get("width", "")), int(rect.get("height", ""))
        draw.rectangle((x * scale, y * scale, (x + w) * scale - 1, (y + h) * scale - 1), fill=0)
    return image, n - 2 * quiet


@dataclasses.dataclass(frozen=True)
class PdfObject:
    header: bytes
    stream: bytes | None


def pdf_objects(pdf: bytes) -> dict[int, PdfObject]:
    """Every object, found through the cross-reference table (which this also checks)."""
    found = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", pdf)
    assert found is not None
    table = re.compile(rb"xref\s+0 (\d+)\s+").match(pdf, int(found[1]))
    assert table is not None
    count, entries = int(table[1]), table.end()
    objects = {}
    for number in range(1, count):
        offset = int(pdf[entries + 20 * number : entries + 20 * number + 10])
        assert pdf.startswith(f"{number} 0 obj\n".encode(), offset), number
        end = pdf.index(b"\nendobj", offset)
        body = pdf[offset:end]
        if b"\nstream\n" in body:
            header, _, rest = body.partition(b"\nstream\n")
            length = re.search(rb"/Length (\d+)", header)
            assert length is not None
            objects[number] = PdfObject(header, rest[: int(length[1])])
        else:
            objects[number] = PdfObject(body, None)
    return objects


def pdf_pages(pdf: bytes) -> list[tuple[list[float], list[Image.Image]]]:
    """Each page's MediaBox and its images, in page order."""
    objects = pdf_objects(pdf)
    tree = next(o for o in objects.values() if b"/Type /Pages" in o.header)
    pages = []
    for kid in re.findall(rb"(\d+) 0 R", tree.header):
        page = objects[int(kid)].header
        media = re.search(rb"/MediaBox \[([\d. ]+)\]", page)
        assert media is not None
        images = [pdf_image(objects[int(ref)]) for ref in re.findall(rb"/Im\d+ (\d+) 0 R", page)]
        pages.append(([float(v) for v in media[1].split()], images))
    return pages


def pdf_image(obj: PdfObject) -> Image.Image:
    header = obj.header
    assert b"/Filter /FlateDecode" in header
    assert obj.stream is not None

    def number(key: bytes) -> int:
        found = re.search(rb"/" + key + rb" (\d+)", header)
        assert found is not None
        return int(found[1])

    palette = re.search(rb"/Indexed /DeviceRGB \d+ <([0-9A-F]+)>", header)
    assert palette is not None
    size = (number(b"Width"), number(b"Height"))
    bits = number(b"BitsPerComponent")
    image = Image.frombytes("P", size, zlib.decompress(obj.stream), "raw", f"P;{bits}")
    image.putpalette(bytes.fromhex(palette[1].decode()))
    return image
