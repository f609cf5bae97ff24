"""Render the HJ 1276-2022 container label (危险废物标签) as PNG, SVG, PDF and ZPL.

One layout, computed in millimetres by :func:`_layout`, drives every format; each renderer
only translates it. The layout (docs/labels.md draws it)::

    ┌──────────────────────────────────────┐   orange-yellow ground, 1 mm black border
    │               危险废物                │   title, bold
    │──────────────────────────────────────│
    │ 废物名称：…                ┌────────┐ │
    │ 废物类别：…                │   QR   │ │   QR on a white square (quiet zone included)
    │ …                          └────────┘ │
    │ 注意事项：…                  ◇毒性 ◇… │   one diamond per hazard characteristic
    │ 产生/收集单位：…  (full width below)  │
    │ ▌▌▌▌▌▌▌▌▌▌▌▌▌ Code 128 ▌▌▌▌▌▌▌▌▌▌▌▌ │
    │      数字识别码：9151…              │   the barcode's human-readable line
    └──────────────────────────────────────┘

Text never leaves the label: field labels and short values keep the minimum text height of
``label_size_mm``; long values wrap, shrink together down to two thirds of it, and are cut
with "…" only if they still do not fit.
"""

from __future__ import annotations

import functools
import io
import math
import re
import unicodedata
import zlib
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont

from custody.errors import InputError
from labels._barcode import CODE128_QUIET_ZONE, code128_modules
from labels._qr import QR_QUIET_ZONE, QrSymbol, qr_code, qr_version
from labels.printed import FORMS, HAZARD_NAMES, PrintedLabel, label_size_mm

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date

__all__ = [
    "QrSymbol",
    "qr_code",
    "qr_png",
    "render_pdf",
    "render_pdf_sheet",
    "render_png",
    "render_svg",
    "render_zpl",
]

# The SVG font stack: the font the raster formats use, then its web name, then any sans.
_FONT_FAMILY = "Noto Sans CJK SC, Noto Sans SC, sans-serif"

# Colours as palette indices: one palette serves PNG, PDF and the cached backgrounds.
_ORANGE, _BLACK, _WHITE = 0, 1, 2
# Run-length deflate: labels are long runs of three colours; 20 % faster and 25 % smaller
# than zlib's default strategy at level 1.
_Z_RLE = zlib.Z_RLE
_PALETTE = (255, 150, 0, 0, 0, 0, 255, 255, 255)  # HJ 1276 orange-yellow (docs/standards.md 1.6)
_SVG_COLOUR = {_ORANGE: "#FF9600", _BLACK: "#000", _WHITE: "#FFF"}

_MM_PER_INCH = 25.4
_PT_PER_MM = 72 / _MM_PER_INCH
_DPI_RANGE = (150, 600)  # below 150 dpi the barcode modules vanish; above 600 images get huge
_ZPL_DPMM = (6, 8, 12, 24)  # Zebra printheads: 152, 203, 300 and 600 dpi
_A4_MM = (210.0, 297.0)
_SHEET_MARGIN_MM, _SHEET_GAP_MM = 10.0, 5.0

# Geometry of a 100 mm label in mm; larger labels scale it by side / 100.
_MARGIN_MM = 3.0  # blank outside the border, absolute (HJ 1276 explainers: at least 3 mm)
_BORDER_MM = 1.0  # at least 1 mm
_GAP_MM = 1.5
_TITLE_MM = 6.5
_RULE_MM = 0.3
# Whole pixels per module waste up to a module's worth of each side; 36 mm keeps a version 11
# symbol (61 modules + 8 of quiet zone) at 25 mm or more at 150-186 and 195-600 dpi, including
# 6, 8, 12 and 24 dots/mm: 31 mm at 300 dpi, 30.5 mm at 8 dots/mm.
_QR_BOX_MM = 36.0
_BAR_MM = 7.0
_MIN_BAR_MODULE_MM = 0.19  # narrowest Code 128 module that prints reliably

_LINE_PITCH = 1.2  # line height in text heights
_BASELINE = 0.95  # baseline below a line's top, in text heights
_FLOOR = 2 / 3  # long values may shrink to this share of the minimum text height
_SHRINK_STEPS = 8
_ELLIPSIS = "…"
_NO_CAP = 1 << 30

_FONT_FILE = "NotoSansCJK-VF.otf.ttc"
_SC_FACE = 2  # Noto Sans CJK SC in the collection


# --- fonts and text metrics ---------------------------------------------------------------------


@functools.cache
def _font_path() -> str:
    return str(resources.files("manimgx_fonts_cjk") / _FONT_FILE)


@functools.lru_cache(maxsize=64)
def _font(size_px: float, *, bold: bool) -> ImageFont.FreeTypeFont:
    font = ImageFont.truetype(_font_path(), size_px, index=_SC_FACE)
    font.set_variation_by_name(b"Bold" if bold else b"Regular")
    return font


@functools.lru_cache(maxsize=8192)
def _advance(char: str, *, bold: bool) -> float:
    """Advance of ``char`` in ems."""
    noto = _font(1000.0, bold=bold).getlength(char) / 1000
    # ZPL printers draw text with their own font (SimSun-like: full-width characters 1 em, the
    # rest 0.5 em). Measuring with the wider of the two keeps one layout safe for both.
    cell = 1.0 if unicodedata.east_asian_width(char) in {"W", "F"} else 0.5
    return max(noto, cell)


def _ems(text: str, *, bold: bool = False) -> float:
    return sum(_advance(char, bold=bold) for char in text)


def _clean(text: str, limit: int) -> str:
    """One line of printable text: controls become spaces, invisible characters go."""
    chars: list[str] = []
    for char in unicodedata.normalize("NFC", text[: limit * 2]):
        category = unicodedata.category(char)
        if char.isspace() or category == "Cc":
            chars.append(" ")
        elif category not in {"Cf", "Cs", "Cn", "Co"}:  # bidi overrides, lone surrogates, ...
            chars.append(char)
    return " ".join("".join(chars).split())[:limit]


# A line may break between CJK characters and at spaces, never inside a run of Latin letters
# and digits (a phone number or waste code stays whole). Closing punctuation stays with the
# character before it and opening punctuation with the one after it, as Chinese typesetting asks.
_TOKEN = re.compile(r" |[（《「『【“‘]*(?:[!-~]+|\S)[，。、；：！？）》」』】”’…]*")


# --- layout -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass(frozen=True, slots=True)
class _Run:
    """Text on one baseline, in one size (the em, in mm) and weight."""

    x: float
    baseline: float
    size: float
    text: str
    bold: bool = False


@dataclass(frozen=True, slots=True)
class _Pictogram:
    box: _Box  # the square the diamond is inscribed in
    stroke: float
    name: _Run


@dataclass(frozen=True, slots=True)
class _Frame:
    """What every label of one size shares."""

    side: int
    text_h: float
    border: _Box  # outer edge of the border
    border_w: float
    content: _Box
    title: _Run
    rule: _Box
    body: _Box
    qr_box: _Box
    barcode_box: _Box
    hri_top: float
    gap: float


@dataclass(frozen=True, slots=True)
class _Layout:
    frame: _Frame
    runs: tuple[_Run, ...]
    pictograms: tuple[_Pictogram, ...]
    qr_content: str  # what the symbol holds: the link or the bare signed text
    qr_modules: int  # per side, without quiet zone
    bars: tuple[bool, ...]


@functools.lru_cache(maxsize=8)
def _frame(side: int, text_h: float) -> _Frame:
    scale = side / 100
    gap, border_w = _GAP_MM * scale, _BORDER_MM * scale
    border = _Box(_MARGIN_MM, _MARGIN_MM, side - 2 * _MARGIN_MM, side - 2 * _MARGIN_MM)
    inset = _MARGIN_MM + border_w + gap
    content = _Box(inset, inset, side - 2 * inset, side - 2 * inset)

    title_size = _TITLE_MM * scale
    title_w = _ems("危险废物", bold=True) * title_size
    title = _Run(
        x=content.x + (content.w - title_w) / 2,
        baseline=content.y + _BASELINE * title_size,
        size=title_size,
        text="危险废物",
        bold=True,
    )
    rule = _Box(content.x, content.y + _LINE_PITCH * title_size, content.w, _RULE_MM * scale)

    hri_top = content.bottom - _LINE_PITCH * text_h
    bar_h = _BAR_MM * scale
    barcode_box = _Box(content.x, hri_top - bar_h, content.w, bar_h)
    body_top = rule.bottom + gap
    body = _Box(content.x, body_top, content.w, barcode_box.y - gap - body_top)
    qr_side = _QR_BOX_MM * scale
    qr_box = _Box(content.right - qr_side, body.y, qr_side, qr_side)
    return _Frame(
        side, text_h, border, border_w, content, title, rule, body, qr_box, barcode_box,
        hri_top, gap,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Field:
    label: str  # with its full-width colon
    label_ems: float
    tokens: tuple[tuple[str, float], ...]  # (text, ems) in regular weight


@dataclass(frozen=True, slots=True)
class _Region:
    """Where field text may go: narrower beside the QR column, full width below it."""

    x: float
    top: float
    bottom: float
    narrow: float
    wide: float
    narrow_until: float
    label_size: float  # field labels keep the minimum text height

    def width_at(self, line_top: float) -> float:
        return self.narrow if line_top < self.narrow_until else self.wide


def _field(label: str, value: str) -> _Field:
    tokens = tuple((token, _ems(token)) for token in _TOKEN.findall(value))
    return _Field(label + "：", _ems(label + "：", bold=True), tokens)


def _take_line(
    tokens: list[tuple[str, float]], room: float, full: float
) -> tuple[str, list[tuple[str, float]]]:
    """Fill ``room`` ems from ``tokens``; return the line and the tokens left over.

    ``full`` is the width of a line without a field label. A token too wide for ``room`` moves
    to the next line when the room is shorter than that, and is cut between characters otherwise.
    """
    while tokens and tokens[0][0] == " ":
        tokens = tokens[1:]
    used, taken = 0.0, 0
    for _, ems in tokens:
        if used + ems > room:
            break
        used, taken = used + ems, taken + 1
    if taken or not tokens:
        return "".join(text for text, _ in tokens[:taken]).rstrip(), tokens[taken:]
    first, first_ems = tokens[0]
    if room < full and first_ems <= full:
        return "", tokens
    head, rest = _split_token(first, room)
    if not head and room < full:  # not even one character fits beside the label
        return "", tokens
    if not head:  # cannot happen on a full line (>= 17 ems), but every line must make progress
        head, rest = first[0], first[1:]
    return head, [(rest, _ems(rest)), *tokens[1:]] if rest else tokens[1:]


def _split_token(text: str, room: float) -> tuple[str, str]:
    """Cut ``text``, which is wider than ``room`` ems, after the characters that fit."""
    used, index = 0.0, 0
    while used + _advance(text[index], bold=False) <= room:
        used, index = used + _advance(text[index], bold=False), index + 1
    return text[:index], text[index:]


def _paragraph(
    field: _Field, size: float, top: float, region: _Region, max_lines: int
) -> tuple[list[_Run], float, int]:
    """Lay out one field from ``top``; return its runs, the next line's top and its line count."""
    label_size = region.label_size
    label_w = field.label_ems * label_size
    label = _Run(region.x, top + _BASELINE * label_size, label_size, field.label, bold=True)
    runs, tokens = [label], list(field.tokens)
    lines, indent, pitch_size = 0, label_w, max(label_size, size)
    while True:
        full = region.width_at(top) / size
        room = full - indent / size
        last = lines + 1 >= max_lines
        text, rest = _take_line(tokens, room, full)
        if rest and last:
            text, rest = _take_line(tokens, room - _ems(_ELLIPSIS), full)
            text += _ELLIPSIS
        if text:
            baseline = top + _BASELINE * pitch_size
            runs.append(_Run(region.x + indent, baseline, size, text))
        lines, top, tokens = lines + 1, top + _LINE_PITCH * pitch_size, rest
        if not tokens or last:
            return runs, top, lines
        indent, pitch_size = 0.0, size


def _flow(
    fields: Sequence[_Field], sizes: Sequence[float], caps: Sequence[int], region: _Region
) -> tuple[list[_Run], float, list[int]]:
    """Lay the fields out one below the other; return the runs, the bottom and each line count."""
    runs: list[_Run] = []
    top, counts = region.top, []
    for field, size, cap in zip(fields, sizes, caps, strict=True):
        more, top, lines = _paragraph(field, size, top, region, cap)
        runs.extend(more)
        counts.append(lines)
    return runs, top, counts


def _fit_fields(fields: Sequence[_Field], region: _Region) -> list[_Run]:
    """Flow the fields at the minimum text height; shrink, then cut, long values until they fit.

    Field labels, and values that fit on their label's line, keep the minimum height.
    """
    h = region.label_size
    uncapped = [_NO_CAP] * len(fields)
    runs, bottom, counts = _flow(fields, [h] * len(fields), uncapped, region)
    if bottom <= region.bottom:
        return runs
    long = [count > 1 for count in counts]
    sizes: list[float] = []
    for step in range(1, _SHRINK_STEPS + 1):
        small = h * (1 - (1 - _FLOOR) * step / _SHRINK_STEPS)
        sizes = [small if is_long else h for is_long in long]
        runs, bottom, counts = _flow(fields, sizes, uncapped, region)
        if bottom <= region.bottom:
            return runs
    # Still too long at the floor: give every long value the same number of lines, the most
    # that fit. One line each always fits: the frame leaves room for every field label.
    best, low, high = runs, 1, max(counts)
    while low <= high:
        cap = (low + high) // 2
        caps = [cap if is_long else _NO_CAP for is_long in long]
        attempt, bottom, _ = _flow(fields, sizes, caps, region)
        if bottom <= region.bottom:
            best, low = attempt, cap + 1
        else:
            high = cap - 1
    return best


def _pictograms(frame: _Frame, names: Sequence[str]) -> tuple[tuple[_Pictogram, ...], float]:
    """Place one diamond per hazard under the QR code; return them and the column's bottom."""
    if not names:
        return (), frame.qr_box.bottom
    column, gap = frame.qr_box, frame.gap
    top = column.bottom + gap
    room = frame.body.bottom - top

    def side(per_row: int) -> float:
        rows = math.ceil(len(names) / per_row)
        return min((column.w - (per_row - 1) * gap) / per_row, (room - (rows - 1) * gap) / rows)

    per_row = max(range(1, len(names) + 1), key=side)
    d = side(per_row)
    stroke = d / 20
    inner = d / 2 - 1.2 * stroke * math.sqrt(2)  # half-diagonal left inside the stroke
    # A text box of half-width a and half-height b fits the diamond when a + b <= inner; one
    # size for all names, set by the longest.
    longest = max(_ems(name) for name in names)
    size = min(frame.text_h, inner / (longest / 2 + 0.5))
    pictograms = []
    for index, name in enumerate(names):
        row, col = divmod(index, per_row)
        in_row = min(per_row, len(names) - row * per_row)
        x = column.x + (column.w - in_row * d - (in_row - 1) * gap) / 2 + col * (d + gap)
        box = _Box(x, top + row * (d + gap), d, d)
        ems = _ems(name)
        cx, cy = x + d / 2, box.y + d / 2
        # CJK ink spans 0.88 em above the baseline to 0.12 below: centre that span.
        run = _Run(cx - ems * size / 2, cy + 0.38 * size, size, name)
        pictograms.append(_Pictogram(box, stroke, run))
    return tuple(pictograms), pictograms[-1].box.bottom


def _hri(frame: _Frame, digital_id: str) -> list[_Run]:
    """The barcode's human-readable line, ``数字识别码：`` + the code, centred under the bars."""
    label = "数字识别码："
    label_ems, id_ems = _ems(label, bold=True), _ems(digital_id)
    size = min(frame.text_h, frame.content.w / (label_ems + id_ems))
    x = frame.content.x + (frame.content.w - (label_ems + id_ems) * size) / 2
    baseline = frame.hri_top + _BASELINE * size
    return [
        _Run(x, baseline, size, label, bold=True),
        _Run(x + label_ems * size, baseline, size, digital_id),
    ]


def _check(label: PrintedLabel) -> None:
    if label.form not in FORMS:
        raise InputError(
            f"unknown waste form {label.form!r}; expected one of {', '.join(FORMS)}",
            zh=f"未知的废物形态 {label.form!r}，应为 {'、'.join(FORMS)} 之一",
            form=label.form,
        )
    unknown = [h for h in label.hazards if h not in HAZARD_NAMES]
    if unknown:
        raise InputError(
            f"unknown hazard characteristics {unknown}; expected {', '.join(HAZARD_NAMES)}",
            zh=f"未知的危险特性 {unknown}，应为 {'、'.join(HAZARD_NAMES)}",
            hazards=unknown,
        )
    if not (math.isfinite(label.net_mass_kg) and label.net_mass_kg >= 0):
        raise InputError(
            f"net mass {label.net_mass_kg} kg is not a finite, non-negative number",
            zh=f"废物重量 {label.net_mass_kg} kg 无效",
            net_mass_kg=label.net_mass_kg,
        )
    if not (math.isfinite(label.capacity_l) and label.capacity_l > 0):
        raise InputError(
            f"container capacity {label.capacity_l} L is not a positive number",
            zh=f"容器容积 {label.capacity_l} L 无效",
            capacity_l=label.capacity_l,
        )


def _day(day: date) -> str:
    return f"{day.year:04d}年{day.month:02d}月{day.day:02d}日"


def _kg(mass: float) -> str:
    text = f"{mass:.2f}".rstrip("0").rstrip(".")
    return f"{text} kg"


def _values(label: PrintedLabel) -> list[tuple[str, str]]:
    """The fields in the order HJ 1276 lists them; 数字识别码 goes under the barcode."""
    hazards = "、".join(HAZARD_NAMES[h] for h in dict.fromkeys(label.hazards))
    return [
        ("废物名称", label.waste_name),
        ("废物类别", f"{label.category} {label.category_name}"),
        ("废物代码", label.waste_code),
        ("废物形态", FORMS[label.form]),
        ("危险特性", hazards),
        ("主要成分", label.main_components),
        ("有害成分", label.harmful_components),
        ("注意事项", label.precautions),
        ("产生/收集单位", label.generator_name),
        ("联系人和联系方式", label.generator_contact),
        ("产生日期", _day(label.generated_on)),
        ("废物重量", _kg(label.net_mass_kg)),
        ("备注", label.remarks),
    ]


def _layout(label: PrintedLabel) -> _Layout:
    """Place everything one label shows, in millimetres from the top-left corner."""
    _check(label)
    frame = _frame(*label_size_mm(label.capacity_l))
    qr_modules, bars = 17 + 4 * qr_version(label.qr_content), code128_modules(label.digital_id)
    total = len(bars) + 2 * CODE128_QUIET_ZONE
    if frame.barcode_box.w / total < _MIN_BAR_MODULE_MM:
        raise InputError(
            f"digital identification code {label.digital_id!r} is too long for the barcode",
            zh=f"数字识别码 {label.digital_id!r} 过长，条码无法印在标签上",
            digital_id=label.digital_id,
        )
    names = [HAZARD_NAMES[h] for h in dict.fromkeys(label.hazards)]
    pictograms, column_bottom = _pictograms(frame, names)
    body, h = frame.body, frame.text_h
    region = _Region(
        x=body.x,
        top=body.y,
        bottom=body.bottom,
        narrow=frame.qr_box.x - frame.gap - body.x,
        wide=body.w,
        narrow_until=column_bottom,
        label_size=h,
    )
    # No value can show more characters than fit the body at the floor size, 0.5 em each.
    limit = int(body.w / (0.5 * _FLOOR * h)) * int(body.h / (_LINE_PITCH * _FLOOR * h))
    fields = [_field(name, _clean(value, limit)) for name, value in _values(label)]
    runs = _fit_fields(fields, region)
    runs += _hri(frame, label.digital_id)
    runs += [p.name for p in pictograms]
    return _Layout(frame, tuple(runs), pictograms, label.qr_content, qr_modules, bars)


# --- raster: PNG and PDF ------------------------------------------------------------------------


def _check_dpi(dpi: int) -> int:
    low, high = _DPI_RANGE
    if not low <= dpi <= high:
        raise InputError(
            f"resolution {dpi} dpi is outside {low}-{high} dpi",
            zh=f"分辨率 {dpi} dpi 超出 {low}-{high} dpi 的范围",
            dpi=dpi,
        )
    return dpi


def _px(mm: float, dpi: int) -> int:
    return round(mm * dpi / _MM_PER_INCH)


def _px_box(box: _Box, dpi: int) -> tuple[int, int, int, int]:
    return _px(box.x, dpi), _px(box.y, dpi), _px(box.right, dpi), _px(box.bottom, dpi)


@functools.lru_cache(maxsize=2048)
def _glyphs(text: str, size_px: float, *, bold: bool) -> tuple[Image.Image, int, int]:
    """``text`` as a 1-bit mask and the mask's offset from the baseline origin.

    Cached: field labels repeat on every label, and a print run repeats most values.
    """
    font = _font(size_px, bold=bold)
    box = font.getbbox(text, mode="1", anchor="ls")
    left, top = math.floor(box[0]), math.floor(box[1])
    mask = Image.new("1", (max(math.ceil(box[2]) - left, 1), max(math.ceil(box[3]) - top, 1)))
    ImageDraw.Draw(mask).text((-left, -top), text, font=font, fill=1, anchor="ls")
    return mask, left, top


def _stamp(image: Image.Image, run: _Run, dpi: int) -> None:
    size_px = round(run.size * dpi / _MM_PER_INCH, 2)
    mask, left, top = _glyphs(run.text, size_px, bold=run.bold)
    image.paste(_BLACK, (_px(run.x, dpi) + left, _px(run.baseline, dpi) + top), mask)


def _new_image(width: int, height: int, colour: int) -> Image.Image:
    image = Image.new("P", (width, height), colour)
    image.putpalette(_PALETTE)
    return image


@functools.lru_cache(maxsize=16)
def _background(frame: _Frame, dpi: int) -> Image.Image:
    """The ground, border, title and rule every label of this size shares."""
    side = _px(frame.side, dpi)
    image = _new_image(side, side, _ORANGE)
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = _px_box(frame.border, dpi)
    draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=_BLACK, width=_px(frame.border_w, dpi))
    x0, y0, x1, y1 = _px_box(frame.rule, dpi)
    draw.rectangle((x0, y0, x1 - 1, max(y1 - 1, y0)), fill=_BLACK)
    _stamp(image, frame.title, dpi)
    return image


# Palette indices for a row of modules: light -> white, dark -> black.
_MODULE_INDEX = bytes([_WHITE, _BLACK]) + bytes(254)


def _qr_image(symbol: QrSymbol, module_px: int) -> Image.Image:
    """The symbol on its white quiet zone, ``module_px`` whole pixels per module."""
    n = symbol.size + 2 * QR_QUIET_ZONE
    quiet = bytes([_WHITE]) * QR_QUIET_ZONE
    rows = [bytes(row).translate(_MODULE_INDEX) for row in symbol.modules]
    blank = bytes([_WHITE]) * n
    cells = blank * QR_QUIET_ZONE + b"".join(quiet + row + quiet for row in rows)
    cells += blank * QR_QUIET_ZONE
    small = Image.frombytes("P", (n, n), cells)
    small.putpalette(_PALETTE)
    return small.resize((n * module_px, n * module_px), Image.Resampling.NEAREST)


def _paste_qr(image: Image.Image, symbol: QrSymbol, box: _Box, dpi: int) -> None:
    """The symbol with its quiet zone in ``box``'s top-right corner."""
    x0, y0, x1, y1 = _px_box(box, dpi)
    module = min(x1 - x0, y1 - y0) // (symbol.size + 2 * QR_QUIET_ZONE)
    big = _qr_image(symbol, module)
    image.paste(big, (x1 - big.width, y0))


def qr_png(text: str, *, module_px: int = 4) -> bytes:
    """The QR symbol alone as a PNG (quiet zone included): for screens and small stickers."""
    image = _qr_image(qr_code(text), module_px)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1, compress_type=_Z_RLE)
    return buffer.getvalue()


def _paste_bars(image: Image.Image, bars: tuple[bool, ...], box: _Box, dpi: int) -> None:
    """Code 128 bars with their quiet zones on white, whole pixels per module, centred."""
    quiet = bytes([_WHITE]) * CODE128_QUIET_ZONE
    cells = quiet + bytes(bars).translate(_MODULE_INDEX) + quiet
    x0, y0, x1, y1 = _px_box(box, dpi)
    module = max((x1 - x0) // len(cells), 1)
    width = len(cells) * module
    small = Image.frombytes("P", (len(cells), 1), cells)
    image.paste(
        small.resize((width, y1 - y0), Image.Resampling.NEAREST), (x0 + (x1 - x0 - width) // 2, y0)
    )


def _draw_pictogram(draw: ImageDraw.ImageDraw, pictogram: _Pictogram, dpi: int) -> None:
    x0, y0, x1, y1 = _px_box(pictogram.box, dpi)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    diamond = [(cx, y0), (x1 - 1, cy), (cx, y1 - 1), (x0, cy)]
    draw.polygon(diamond, fill=_WHITE, outline=_BLACK, width=max(_px(pictogram.stroke, dpi), 1))


def _raster(layout: _Layout, dpi: int) -> Image.Image:
    image = _background(layout.frame, dpi).copy()
    draw = ImageDraw.Draw(image)
    for pictogram in layout.pictograms:
        _draw_pictogram(draw, pictogram, dpi)
    for run in layout.runs:
        _stamp(image, run, dpi)
    _paste_qr(image, qr_code(layout.qr_content), layout.frame.qr_box, dpi)
    _paste_bars(image, layout.bars, layout.frame.barcode_box, dpi)
    return image


def render_png(label: PrintedLabel, *, dpi: int = 300) -> bytes:
    """Render ``label`` as a PNG of the label's size at ``dpi`` (a 3-colour palette image).

    Raises:
        InputError: the label holds something that cannot be printed (see :func:`qr_code`,
            unknown form or hazard codes, a bad digital identification code), or ``dpi`` is
            outside 150-600.
    """
    image = _raster(_layout(label), _check_dpi(dpi))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1, compress_type=_Z_RLE, dpi=(dpi, dpi))
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class _Placed:
    """A label's image object (see :func:`_pdf_image`) on a page; mm from the top-left."""

    image: bytes
    x: float
    y: float
    side: float


def _pdf_image(image: Image.Image) -> bytes:
    # Pillow writes palette images to PDF as uncompressed hex (2.8 MB for a 100 mm label at
    # 300 dpi) and RGB as JPEG, which blurs the QR code; 2-bit indexed Flate is small and exact.
    # Level 1 is four times faster than 6 for a third more bytes (about 30 kB a label).
    data = zlib.compress(image.tobytes("raw", "P;2"), 1)
    palette = bytes(_PALETTE).hex().upper()
    head = (
        f"<< /Type /XObject /Subtype /Image /Width {image.width} /Height {image.height} "
        f"/ColorSpace [/Indexed /DeviceRGB {len(_PALETTE) // 3 - 1} <{palette}>] "
        f"/BitsPerComponent 2 /Filter /FlateDecode /Length {len(data)} >>"
    )
    return head.encode() + b"\nstream\n" + data + b"\nendstream"


def _pt(mm: float) -> str:
    return f"{mm * _PT_PER_MM:.3f}"


def _pdf(pages: Sequence[tuple[tuple[float, float], Sequence[_Placed]]]) -> bytes:
    """A PDF whose pages (width and height in mm) show the placed images."""
    objects: dict[int, bytes] = {}
    kids: list[int] = []
    number = 3  # 1 is the catalog, 2 the page tree
    for (width, height), placed in pages:
        page, content, first_image = number, number + 1, number + 2
        number += 2 + len(placed)
        kids.append(page)
        names = " ".join(f"/Im{i} {first_image + i} 0 R" for i in range(len(placed)))
        objects[page] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {_pt(width)} {_pt(height)}] "
            f"/Resources << /XObject << {names} >> >> /Contents {content} 0 R >>"
        ).encode()
        draw = "".join(
            f"q {_pt(p.side)} 0 0 {_pt(p.side)} {_pt(p.x)} {_pt(height - p.y - p.side)} cm "
            f"/Im{i} Do Q\n"
            for i, p in enumerate(placed)
        ).encode()
        objects[content] = f"<< /Length {len(draw)} >>\nstream\n".encode() + draw + b"\nendstream"
        for i, p in enumerate(placed):
            objects[first_image + i] = p.image
    objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    refs = " ".join(f"{kid} 0 R" for kid in kids)
    objects[2] = f"<< /Type /Pages /Kids [{refs}] /Count {len(kids)} >>".encode()

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for key in range(1, number):
        offsets.append(len(out))
        out += f"{key} 0 obj\n".encode() + objects[key] + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {number}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {number} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def render_pdf(label: PrintedLabel, *, dpi: int = 300) -> bytes:
    """Render ``label`` as a one-page PDF the size of the label, holding a raster at ``dpi``.

    Raises:
        InputError: as :func:`render_png`.
    """
    layout = _layout(label)
    image = _raster(layout, _check_dpi(dpi))
    side = float(layout.frame.side)
    return _pdf([((side, side), [_Placed(_pdf_image(image), 0.0, 0.0, side)])])


def _sheet_grid(side: float) -> tuple[int, int, float, float]:
    """Columns, rows and the grid's top-left corner for labels of ``side`` mm on A4."""
    width, height = _A4_MM
    pitch = side + _SHEET_GAP_MM
    columns = int((width - 2 * _SHEET_MARGIN_MM + _SHEET_GAP_MM) // pitch)
    rows = int((height - 2 * _SHEET_MARGIN_MM + _SHEET_GAP_MM) // pitch)
    # A label too big for the margins (200 mm) still prints, one per page, centred.
    columns, rows = max(columns, 1), max(rows, 1)
    x = (width - (columns * pitch - _SHEET_GAP_MM)) / 2
    y = (height - (rows * pitch - _SHEET_GAP_MM)) / 2
    return columns, rows, x, y


def render_pdf_sheet(labels: Sequence[PrintedLabel], *, dpi: int = 300) -> bytes:
    """Render ``labels`` on A4 pages, as many per page as fit a grid (10 mm margins, 5 mm gaps).

    Mixed sizes share the grid of the largest label; each label sits in its cell's corner.

    Raises:
        InputError: ``labels`` is empty, or as :func:`render_png`.
    """
    if not labels:
        raise InputError("no labels to put on the sheet", zh="没有要打印的标签")
    _check_dpi(dpi)
    layouts = [_layout(label) for label in labels]
    side = float(max(layout.frame.side for layout in layouts))
    columns, rows, x0, y0 = _sheet_grid(side)
    per_page = columns * rows
    pages = []
    for start in range(0, len(layouts), per_page):
        placed = []
        for index, layout in enumerate(layouts[start : start + per_page]):
            row, column = divmod(index, columns)
            x = x0 + column * (side + _SHEET_GAP_MM)
            y = y0 + row * (side + _SHEET_GAP_MM)
            image = _pdf_image(_raster(layout, dpi))  # compressed at once: sheets can be long
            placed.append(_Placed(image, x, y, float(layout.frame.side)))
        pages.append((_A4_MM, placed))
    return _pdf(pages)


# --- SVG ----------------------------------------------------------------------------------------


def _n(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _svg_text(run: _Run) -> str:
    weight = ' font-weight="bold"' if run.bold else ""
    return (
        f'<text x="{_n(run.x)}" y="{_n(run.baseline)}" font-size="{_n(run.size)}"{weight}>'
        f"{escape(run.text)}</text>"
    )


def _dark_runs(row: Sequence[bool]) -> list[tuple[int, int]]:
    """(start, length) of each run of dark modules."""
    runs, start = [], None
    for index, dark in enumerate((*row, False)):
        if dark and start is None:
            start = index
        elif not dark and start is not None:
            runs.append((start, index - start))
            start = None
    return runs


def _svg_qr(symbol: QrSymbol, box: _Box) -> str:
    # Coordinates in modules, so the rects stay whole numbers; the transform sizes them.
    n = symbol.size + 2 * QR_QUIET_ZONE
    module = min(box.w, box.h) / n
    q = QR_QUIET_ZONE
    rects = "".join(
        f'<rect x="{start}" y="{y}" width="{length}" height="1"/>'
        for y, row in enumerate(symbol.modules)
        for start, length in _dark_runs(row)
    )
    return (
        f'<g id="qr" transform="translate({_n(box.x + q * module)} {_n(box.y + q * module)}) '
        f'scale({_n(module)})" shape-rendering="crispEdges">'
        f'<rect x="{-q}" y="{-q}" width="{n}" height="{n}" fill="{_SVG_COLOUR[_WHITE]}"/>'
        f'<g fill="{_SVG_COLOUR[_BLACK]}">{rects}</g></g>'
    )


def _svg_bars(bars: tuple[bool, ...], box: _Box) -> str:
    total = len(bars) + 2 * CODE128_QUIET_ZONE
    module = box.w / total
    rects = "".join(
        f'<rect x="{start}" y="0" width="{length}" height="{_n(box.h)}"/>'
        for start, length in _dark_runs(bars)
    )
    return (
        f'<g id="barcode" transform="translate({_n(box.x + CODE128_QUIET_ZONE * module)} '
        f'{_n(box.y)}) scale({_n(module)} 1)" shape-rendering="crispEdges">'
        f'<rect x="{-CODE128_QUIET_ZONE}" y="0" width="{total}" height="{_n(box.h)}" '
        f'fill="{_SVG_COLOUR[_WHITE]}"/><g fill="{_SVG_COLOUR[_BLACK]}">{rects}</g></g>'
    )


def _svg_pictogram(pictogram: _Pictogram) -> str:
    box, stroke = pictogram.box, pictogram.stroke
    inset = stroke / math.sqrt(2)  # keeps the stroke inside the box, as the raster does
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    points = (
        (cx, box.y + inset),
        (box.right - inset, cy),
        (cx, box.bottom - inset),
        (box.x + inset, cy),
    )
    path = "M" + " L".join(f"{_n(x)} {_n(y)}" for x, y in points) + "Z"
    return (
        f'<path d="{path}" fill="{_SVG_COLOUR[_WHITE]}" stroke="{_SVG_COLOUR[_BLACK]}" '
        f'stroke-width="{_n(stroke)}"/>'
    )


def _svg_frame(frame: _Frame) -> str:
    """The opening tag, the ground, the border and the rule under the title."""
    side, border, rule, black = _n(frame.side), frame.border, frame.rule, _SVG_COLOUR[_BLACK]
    half = frame.border_w / 2  # SVG strokes straddle the path
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{side}mm" height="{side}mm" '
        f'viewBox="0 0 {side} {side}">\n'
        f'<rect width="{side}" height="{side}" fill="{_SVG_COLOUR[_ORANGE]}"/>\n'
        f'<rect x="{_n(border.x + half)}" y="{_n(border.y + half)}" '
        f'width="{_n(border.w - 2 * half)}" height="{_n(border.h - 2 * half)}" fill="none" '
        f'stroke="{black}" stroke-width="{_n(frame.border_w)}"/>\n'
        f'<rect x="{_n(rule.x)}" y="{_n(rule.y)}" width="{_n(rule.w)}" height="{_n(rule.h)}" '
        f'fill="{black}"/>'
    )


def render_svg(label: PrintedLabel) -> str:
    """Render ``label`` as SVG: sizes in mm, text as ``<text>``, QR modules and bars as rects.

    Text names Noto Sans CJK SC first; a viewer without a CJK font will substitute one.

    Raises:
        InputError: as :func:`render_png`.
    """
    layout = _layout(label)
    frame = layout.frame
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        _svg_frame(frame),
        *(_svg_pictogram(p) for p in layout.pictograms),
        _svg_qr(qr_code(layout.qr_content), frame.qr_box),
        _svg_bars(layout.bars, frame.barcode_box),
        f'<g font-family="{_FONT_FAMILY}" fill="{_SVG_COLOUR[_BLACK]}">',
        *(_svg_text(run) for run in (frame.title, *layout.runs)),
        "</g>",
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


# --- ZPL ----------------------------------------------------------------------------------------

_ZPL_FONT = re.compile(r"[A-Z]:[A-Za-z0-9_.-]{1,32}")


def _zpl_data(text: str) -> str:
    # ^FH makes _XX the byte XX. Every field uses it, so ^ and ~ (which the printer would take
    # as commands even inside field data) print as themselves, and so does _.
    escaped = text.replace("_", "_5F").replace("^", "_5E").replace("~", "_7E")
    return f"^FH^FD{escaped}^FS"


def _zpl_pictogram(pictogram: _Pictogram, dpmm: int) -> list[str]:
    box = pictogram.box
    x0, y0 = round(box.x * dpmm), round(box.y * dpmm)
    half = round(box.w * dpmm / 2)
    t = max(round(pictogram.stroke * dpmm), 1)
    # ^GD draws one diagonal of a box: R leans like "/", L like "\".
    edges = ((x0, y0, "R"), (x0 + half, y0, "L"), (x0, y0 + half, "L"), (x0 + half, y0 + half, "R"))
    return [f"^FO{x},{y}^GD{half},{half},{t},B,{lean}^FS" for x, y, lean in edges]


def render_zpl(label: PrintedLabel, *, dpmm: int = 8, font: str = "E:SIMSUN.TTF") -> str:
    """Render ``label`` as ZPL II for a thermal printer with ``dpmm`` dots per mm.

    Text prints in ``font``, a scalable font stored on the printer that covers Chinese; the
    data is UTF-8 (``^CI28``), so send the result encoded as UTF-8. The printer prints black
    only: load orange-yellow label stock.

    Raises:
        InputError: as :func:`render_png`; ``dpmm`` is not 6, 8, 12 or 24; or ``font`` is not
            a printer font path such as ``E:SIMSUN.TTF``.
    """
    if dpmm not in _ZPL_DPMM:
        raise InputError(
            f"{dpmm} dots/mm is not a printhead resolution; use one of {_ZPL_DPMM}",
            zh=f"打印头分辨率 {dpmm} 点/毫米无效，应为 {_ZPL_DPMM} 之一",
            dpmm=dpmm,
        )
    if not _ZPL_FONT.fullmatch(font):
        raise InputError(
            f"{font!r} is not a printer font path like E:SIMSUN.TTF",
            zh=f"{font!r} 不是打印机字体路径（如 E:SIMSUN.TTF）",
            font=font,
        )
    layout = _layout(label)
    frame = layout.frame

    def dots(mm: float) -> int:
        return round(mm * dpmm)

    side, border = dots(frame.side), frame.border
    lines = ["^XA", "^CI28", f"^PW{side}", f"^LL{side}", "^LH0,0"]
    lines.append(
        f"^FO{dots(border.x)},{dots(border.y)}"
        f"^GB{dots(border.w)},{dots(border.h)},{max(dots(frame.border_w), 1)},B,0^FS"
    )
    rule, rule_h = frame.rule, max(dots(frame.rule.h), 1)
    lines.append(f"^FO{dots(rule.x)},{dots(rule.y)}^GB{dots(rule.w)},{rule_h},{rule_h},B,0^FS")
    for pictogram in layout.pictograms:
        lines += _zpl_pictogram(pictogram, dpmm)
    for run in (frame.title, *layout.runs):
        h = max(dots(run.size), 1)
        lines.append(
            f"^FT{dots(run.x)},{dots(run.baseline)}^A@N,{h},{h},{font}{_zpl_data(run.text)}"
        )

    qr_box = frame.qr_box
    n = layout.qr_modules + 2 * QR_QUIET_ZONE
    magnification = min(max(dots(qr_box.w) // n, 1), 10)
    quiet = QR_QUIET_ZONE * magnification
    lines.append(
        f"^FO{dots(qr_box.right) - n * magnification + quiet},{dots(qr_box.y) + quiet}"
        f"^BQN,2,{magnification}^FDQA,{layout.qr_content}^FS"
    )
    bar_box = frame.barcode_box
    total = len(layout.bars) + 2 * CODE128_QUIET_ZONE
    module = min(max(dots(bar_box.w) // total, 1), 10)
    x = dots(bar_box.x) + (dots(bar_box.w) - total * module) // 2 + CODE128_QUIET_ZONE * module
    lines.append(
        f"^FO{x},{dots(bar_box.y)}^BY{module}^BCN,{dots(bar_box.h)},N,N,N,A^FD{label.digital_id}^FS"
    )
    lines.append("^XZ")
    return "\n".join(lines) + "\n"
