"""The evidence report of an alert: a PDF for people, beside the bundles a machine verifies.

The PDF holds, Chinese first: the alert, each container's custody timeline, the checkpoint
sightings of the alert's vehicle in its window, the map of the alert's layers, and how to
verify it all: the ledger origin, the signed checkpoint, the log key and the SHA-256 of each
container's evidence bundle. The bundles themselves are attached to the PDF as files, so the
hashes it cites always name bytes the reader has.

The project has no PDF library: like the labels (``labels/render.py``), pages are rasters drawn
with Pillow in the labels' font, Noto Sans CJK SC, so Chinese renders in any viewer. An
invisible text layer (text render mode 3, Adobe's predefined ``UniGB-UCS2-H`` encoding) lies
over the raster so the text can be searched and copied.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw, ImageFont
from sqlmodel import Session

from api.wiring import open_ledger
from custody.alerts import Alerts
from custody.evidence import export_container
from custody.history import record_of
from storage.alert_store import SqlAlertStore
from storage.registry_store import SqlRegistryStore
from storage.sighting_store import SqlSightingStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from sqlalchemy.engine import Engine

    from custody.alerts import Alert
    from custody.history import Record
    from custody.keyring import Keyring
    from custody.sightings import PlateRead

__all__ = ["AlertEvidence", "alert_evidence", "alert_report", "bundle_name"]

_CHINA = timezone(timedelta(hours=8))
# The labels' font (labels/render.py): Noto Sans CJK SC, face 2 of the collection.
_FONT_FILE = "NotoSansCJK-VF.otf.ttc"
_SC_FACE = 2

_DPI = 150
_PAGE_PT = (595.28, 841.89)  # A4
_MARGIN_PT = 42.0
_BODY_PT, _SMALL_PT, _HEAD_PT, _TITLE_PT = 9.0, 7.5, 12.0, 16.0
_PITCH = 1.35  # line height in text heights
_MAP_PT = 300.0
_INK, _GREY, _RULE = (0, 0, 0), (90, 90, 90), (170, 170, 170)
_LAYER_COLOURS = ((200, 30, 30), (30, 90, 200), (20, 140, 60), (200, 120, 0), (120, 40, 160))
_FACT_CHARS = 400  # a fact's value is shown up to this many characters


@functools.cache
def _font_path() -> str:
    return str(resources.files("manimgx_fonts_cjk") / _FONT_FILE)


@functools.lru_cache(maxsize=16)
def _font(size_pt: float, *, bold: bool) -> ImageFont.FreeTypeFont:
    font = ImageFont.truetype(_font_path(), size_pt * _DPI / 72, index=_SC_FACE)
    font.set_variation_by_name(b"Bold" if bold else b"Regular")
    return font


def _px(pt: float) -> float:
    return pt * _DPI / 72


def _width(text: str, size: float, *, bold: bool = False) -> float:
    """Width of ``text`` in points."""
    return _font(size, bold=bold).getlength(text) * 72 / _DPI


def _wrap(text: str, size: float, width: float, *, bold: bool = False) -> list[str]:
    """Lines of ``text`` no wider than ``width`` points; breaks at spaces, else anywhere."""
    lines: list[str] = []
    for paragraph in text.split("\n") or [""]:
        line = ""
        for char in paragraph:
            if _width(line + char, size, bold=bold) <= width or not line:
                line += char
                continue
            cut = line.rfind(" ")
            if char != " " and cut > len(line) // 2:  # keep a Latin word whole when it is short
                lines.append(line[:cut])
                line = line[cut + 1 :] + char
            else:
                lines.append(line)
                line = "" if char == " " else char
        lines.append(line)
    return lines


@dataclass(slots=True)
class _Page:
    image: Image.Image
    texts: list[tuple[float, float, float, str]] = field(default_factory=list)  # x, y, size


class _Document:
    """Flows text, tables and a map down A4 pages, top to bottom, in points."""

    def __init__(self) -> None:
        self.pages: list[_Page] = []
        self.y = 0.0
        self._new_page()

    @property
    def _width(self) -> float:
        return _PAGE_PT[0] - 2 * _MARGIN_PT

    def _new_page(self) -> None:
        size = (round(_px(_PAGE_PT[0])), round(_px(_PAGE_PT[1])))
        self.pages.append(_Page(Image.new("RGB", size, (255, 255, 255))))
        self.y = _MARGIN_PT

    def _room(self, height: float) -> None:
        if self.y + height > _PAGE_PT[1] - _MARGIN_PT:
            self._new_page()

    @property
    def _draw(self) -> ImageDraw.ImageDraw:
        return ImageDraw.Draw(self.pages[-1].image)

    def _run(self, x: float, top: float, text: str, size: float, *, bold: bool = False,  # noqa: PLR0913  # a run's place, text and style
             colour: tuple[int, int, int] = _INK) -> None:  # fmt: skip
        baseline = top + 0.95 * size
        self._draw.text((_px(x), _px(baseline)), text, font=_font(size, bold=bold), fill=colour,
                        anchor="ls")  # fmt: skip
        self.pages[-1].texts.append((x, baseline, size, text))

    def text(self, text: str, size: float = _BODY_PT, *, bold: bool = False, indent: float = 0,
             colour: tuple[int, int, int] = _INK) -> None:  # fmt: skip
        for line in _wrap(text, size, self._width - indent, bold=bold):
            self._room(_PITCH * size)
            self._run(_MARGIN_PT + indent, self.y, line, size, bold=bold, colour=colour)
            self.y += _PITCH * size

    def space(self, pt: float) -> None:
        self.y += pt

    def heading(self, text: str, keep: float = 3 * _HEAD_PT) -> None:
        """A section title, on a new page unless ``keep`` points fit below it."""
        self._room(2 * _HEAD_PT + keep)
        self.space(0.6 * _HEAD_PT)
        self.text(text, _HEAD_PT, bold=True)
        right = _MARGIN_PT + self._width
        self._draw.line([(_px(_MARGIN_PT), _px(self.y)), (_px(right), _px(self.y))], fill=_RULE,
                        width=2)  # fmt: skip
        self.space(0.4 * _HEAD_PT)

    def table(self, head: Sequence[str], rows: Sequence[Sequence[str]],
              widths: Sequence[float]) -> None:  # fmt: skip
        """Columns of ``widths`` shares of the text width; the head repeats on every page."""
        total = sum(widths)
        columns = [self._width * w / total for w in widths]
        size, pad = _SMALL_PT, 3.0

        def row(cells: Sequence[str], *, bold: bool) -> None:
            wrapped = [
                _wrap(c, size, w - pad, bold=bold) for c, w in zip(cells, columns, strict=True)
            ]
            height = max(len(lines) for lines in wrapped) * _PITCH * size
            if self.y + height > _PAGE_PT[1] - _MARGIN_PT:
                self._new_page()
                if not bold:
                    row(head, bold=True)
            x = _MARGIN_PT
            for lines, width in zip(wrapped, columns, strict=True):
                for n, line in enumerate(lines):
                    self._run(x, self.y + n * _PITCH * size, line, size, bold=bold)
                x += width
            self.y += height
            self._draw.line([(_px(_MARGIN_PT), _px(self.y)), (_px(_MARGIN_PT + self._width),
                             _px(self.y))], fill=_RULE, width=1)  # fmt: skip
            self.y += 1.5

        row(head, bold=True)
        for cells in rows:
            row(cells, bold=False)

    def map(self, layers: dict[str, Any]) -> None:
        """The layers' geometries in an equirectangular projection, with a legend."""
        shapes = {name: list(_shapes(value)) for name, value in layers.items()}
        points = [p for found in shapes.values() for _, line in found for p in line]
        if not points:
            self.text("（图层中没有坐标 · The layers hold no coordinates）")
            return
        self._room(_MAP_PT + 2 * _PITCH * _SMALL_PT * (1 + len(shapes)))
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        scale_x = math.cos(math.radians((min(lats) + max(lats)) / 2))
        span_x = max((max(lons) - min(lons)) * scale_x, 1e-6)
        span_y = max(max(lats) - min(lats), 1e-6)
        inner = self._width - 20, _MAP_PT - 20
        unit = min(inner[0] / span_x, inner[1] / span_y)
        left = _MARGIN_PT + 10 + (inner[0] - span_x * unit) / 2
        top = self.y + 10 + (inner[1] - span_y * unit) / 2

        def at(lon: float, lat: float) -> tuple[float, float]:
            return (_px(left + (lon - min(lons)) * scale_x * unit),
                    _px(top + (max(lats) - lat) * unit))  # fmt: skip

        draw = self._draw
        frame = [_px(_MARGIN_PT), _px(self.y), _px(_MARGIN_PT + self._width), _px(self.y + _MAP_PT)]
        draw.rectangle(frame, outline=_RULE, width=2)
        for n, found in enumerate(shapes.values()):
            colour = _LAYER_COLOURS[n % len(_LAYER_COLOURS)]
            for kind, line in found:
                xy = [at(*p) for p in line]
                if kind == "point":
                    x, y = xy[0]
                    draw.ellipse([x - 6, y - 6, x + 6, y + 6], outline=colour, width=3)
                elif kind == "ring" and len(xy) > 2:
                    draw.polygon(xy, outline=colour, width=3)
                elif len(xy) > 1:
                    draw.line(xy, fill=colour, width=4, joint="curve")
        self.y += _MAP_PT + 4
        north = (
            f"经度 Lon {min(lons):.5f}–{max(lons):.5f}，纬度 Lat {min(lats):.5f}–{max(lats):.5f}"
        )
        self.text(f"WGS-84，等距圆柱投影 · equirectangular projection；{north}", _SMALL_PT,
                  colour=_GREY)  # fmt: skip
        for n, name in enumerate(shapes):
            colour = _LAYER_COLOURS[n % len(_LAYER_COLOURS)]
            self._room(_PITCH * _SMALL_PT)
            box = [_px(_MARGIN_PT), _px(self.y + 2), _px(_MARGIN_PT + 14), _px(self.y + 7)]
            self._draw.rectangle(box, fill=colour)
            self._run(_MARGIN_PT + 20, self.y, name, _SMALL_PT)
            self.y += _PITCH * _SMALL_PT

    def pdf(self, attachments: dict[str, bytes]) -> bytes:
        total = len(self.pages)
        for number, page in enumerate(self.pages, 1):
            footer = f"第 {number} 页，共 {total} 页 · Page {number} of {total}"
            x = _PAGE_PT[0] - _MARGIN_PT - _width(footer, _SMALL_PT)
            ImageDraw.Draw(page.image).text(
                (_px(x), _px(_PAGE_PT[1] - _MARGIN_PT / 2)), footer,
                font=_font(_SMALL_PT, bold=False), fill=_GREY, anchor="ls",
            )  # fmt: skip
        return _write_pdf(self.pages, attachments)


def _xy(point: Sequence[float]) -> tuple[float, float]:
    return float(point[0]), float(point[1])


# GeoJSON geometries made of coordinates: how each becomes points, lines and rings.
_GEOMETRIES: dict[str, Callable[[Any], list[tuple[str, list[tuple[float, float]]]]]] = {
    "Point": lambda c: [("point", [_xy(c)])],
    "MultiPoint": lambda c: [("point", [_xy(p)]) for p in c],
    "LineString": lambda c: [("line", [_xy(p) for p in c])],
    "MultiLineString": lambda c: [("line", [_xy(p) for p in line]) for line in c],
    "Polygon": lambda c: [("ring", [_xy(p) for p in ring]) for ring in c],
    "MultiPolygon": lambda c: [("ring", [_xy(p) for p in ring]) for poly in c for ring in poly],
}


def _shapes(value: object) -> Iterator[tuple[str, list[tuple[float, float]]]]:
    """The points, lines and rings of a GeoJSON geometry, Feature or FeatureCollection."""
    if not isinstance(value, dict):
        return
    kind = value.get("type")
    if kind == "FeatureCollection":
        for feature in value.get("features") or []:
            yield from _shapes(feature)
    elif kind == "Feature":
        yield from _shapes(value.get("geometry"))
    elif kind == "GeometryCollection":
        for geometry in value.get("geometries") or []:
            yield from _shapes(geometry)
    elif kind in _GEOMETRIES:
        yield from _GEOMETRIES[kind](value.get("coordinates"))


# --- the PDF file -------------------------------------------------------------------------------


def _pdf_text(text: str) -> str:
    """``text`` as a hex string in UCS-2 (UniGB-UCS2-H); outside the BMP becomes U+FFFD."""
    return "<" + "".join(f"{min(ord(c), 0xFFFD):04X}" for c in text) + ">"


def _pdf_name(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def _write_pdf(pages: Sequence[_Page], attachments: dict[str, bytes]) -> bytes:
    """Pages as images under an invisible text layer; ``attachments`` as embedded files."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(head: str, data: bytes) -> bytes:
        return f"<< {head} /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream"

    catalog, tree = add(b""), add(b"")  # filled in below, once the pages are known
    cid = add(b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
              b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> "
              b"/DW 1000 >>")  # fmt: skip
    font = add(f"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
               f"/DescendantFonts [{cid} 0 R] >>".encode())  # fmt: skip
    width, height = _PAGE_PT
    kids = []
    for page in pages:
        image = page.image
        pixels = add(stream(f"/Type /XObject /Subtype /Image /Width {image.width} "
                            f"/Height {image.height} /ColorSpace /DeviceRGB /BitsPerComponent 8 "
                            "/Filter /FlateDecode", zlib.compress(image.tobytes(), 6)))  # fmt: skip
        ops = [f"q {width:.2f} 0 0 {height:.2f} 0 0 cm /Im0 Do Q", "BT 3 Tr"]
        for x, baseline, size, text in page.texts:
            ops.append(f"/F1 {size:g} Tf 1 0 0 1 {x:.2f} {height - baseline:.2f} Tm "
                       f"{_pdf_text(text)} Tj")  # fmt: skip
        ops.append("ET")
        content = add(stream("", "\n".join(ops).encode()))
        resources = f"<< /XObject << /Im0 {pixels} 0 R >> /Font << /F1 {font} 0 R >> >>"
        kids.append(add(f"<< /Type /Page /Parent {tree} 0 R /MediaBox [0 0 {width:.2f} "
                        f"{height:.2f}] /Resources {resources} /Contents {content} 0 R >>"
                        .encode()))  # fmt: skip
    objects[tree - 1] = (f"<< /Type /Pages /Count {len(kids)} /Kids ["
                         + " ".join(f"{k} 0 R" for k in kids) + "] >>").encode()  # fmt: skip
    names = []
    for name, data in sorted(attachments.items()):
        embedded = add(stream("/Type /EmbeddedFile /Subtype /application#2Fjson", data))
        spec = add(f"<< /Type /Filespec /F {_pdf_name(name)} /UF {_pdf_name(name)} "
                   f"/EF << /F {embedded} 0 R >> >>".encode())  # fmt: skip
        names.append(f"{_pdf_name(name)} {spec} 0 R")
    files = f" /Names << /EmbeddedFiles << /Names [{' '.join(names)}] >> >>" if names else ""
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {tree} 0 R{files} >>".encode()

    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()  # fmt: skip
    return bytes(out)


# --- the report ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertEvidence:
    """The report of an alert and the evidence bundle files it cites, by file name."""

    alert_id: str
    pdf: bytes
    bundles: dict[str, bytes]


def bundle_name(container: str) -> str:
    """The file name the report gives a container's evidence bundle."""
    return f"evidence-{container}.json"


def _china(when: datetime) -> str:
    return f"{when.astimezone(_CHINA):%Y-%m-%d %H:%M:%S}"


def _fact(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _FACT_CHARS else text[:_FACT_CHARS] + "…"


def _alert_section(doc: _Document, alert: Alert) -> None:
    doc.heading("告警 · Alert")
    rows = [
        ("编号 Id", alert.alert_id),
        ("规则 Rule", alert.rule),
        ("对象 Subject", alert.subject),
        ("严重程度 Severity", f"{alert.severity.zh} {alert.severity.value}"),
        ("状态 State", f"{alert.state.zh} {alert.state.value}"),
        ("时段 Window (UTC+8)", f"{_china(alert.start)} – {_china(alert.end)}"),
        ("摘要", alert.summary_zh),
        ("Summary", alert.summary),
        ("容器 Containers", "、".join(alert.containers) or "—"),
        ("车辆 Vehicle", alert.vehicle or "—"),
        ("单位 Parties", "、".join(alert.parties) or "—"),
        ("账本序号 Ledger entries", ", ".join(map(str, alert.entries)) or "—"),
    ]
    doc.table(["项目 Field", "内容 Value"], rows, [1, 3])
    facts = {k: v for k, v in alert.facts.items() if k != "layers"}
    if facts:
        doc.space(6)
        doc.text("事实 · Facts", bold=True)
        doc.table(["名称 Name", "值 Value"], [(k, _fact(v)) for k, v in facts.items()], [1, 3])


def _timeline_rows(records: Sequence[Record], names: dict[str, str]) -> list[list[str]]:
    rows = []
    for r in sorted(records, key=lambda r: (r.event.event_time, r.index)):
        e = r.event
        party = f"{names.get(e.party, '')} {e.party}".strip()
        mass = f"{e.mass.grams / 1000:g} ({e.mass.source.value})" if e.mass else "—"
        rows.append([_china(e.event_time), f"{e.step.zh} {e.step.value}", party,
                     e.vehicle or "—", e.read_point or "—", mass, str(r.index)])  # fmt: skip
    return rows


def _sighting_rows(reads: Sequence[PlateRead]) -> list[list[str]]:
    return [[_china(r.seen_at), r.checkpoint, r.plate, f"{r.confidence:.2f}", r.source.value]
            for r in reads]  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Gathered:
    """What the report shows, read from the stores."""

    alert: Alert
    names: dict[str, str]  # registered party names by credit code
    timelines: dict[str, list[Record]]
    bundles: dict[str, bytes]
    notes: list[bytes]  # the signed checkpoints the bundles prove against
    reads: list[PlateRead]
    log_key: str
    root: str


def _gather(engine: Engine, alert_id: str, origin: str, keyring: Keyring) -> _Gathered:
    alert = Alerts(SqlAlertStore(engine)).get(alert_id)
    ledger = open_ledger(engine, keyring, origin)
    _, signed_trust = keyring.bundle()
    root = keyring.root().record.verifier_key
    with Session(engine) as session:
        names = {p.credit_code: p.name for p in SqlRegistryStore(session).list_parties()}
    timelines: dict[str, list[Record]] = {}
    bundles: dict[str, bytes] = {}
    notes: list[bytes] = []
    for container in alert.containers:
        entries = ledger.store.container_entries(container)
        timelines[container] = [record_of(e) for e in entries]
        if entries:
            bundle = export_container(ledger.store, ledger, container, signed_trust, root)
            bundles[bundle_name(container)] = bundle.to_json().encode()
            if bundle.checkpoint not in notes:
                notes.append(bundle.checkpoint)
    if not notes and ledger.store.state().checkpoint is not None:
        notes.append(ledger.latest_checkpoint())
    reads = []
    if alert.vehicle:  # the window is closed at both ends: an instant alert has one instant
        until = alert.end + timedelta(microseconds=1)
        reads = SqlSightingStore(engine).reads(plate=alert.vehicle, since=alert.start, until=until)
    return _Gathered(alert, names, timelines, bundles, notes, reads, str(ledger.verifier),
                     str(root))  # fmt: skip


def alert_evidence(
    engine: Engine, alert_id: str, *, origin: str, keyring: Keyring
) -> AlertEvidence:
    """The report of ``alert_id`` and its containers' evidence bundles, exported now.

    Raises:
        AlertNotFound: no alert has that id.
    """
    found = _gather(engine, alert_id, origin, keyring)
    alert = found.alert
    doc = _Document()
    doc.text("危险废物转移异常证据报告", _TITLE_PT, bold=True)
    doc.text("Evidence report", _HEAD_PT, bold=True)
    generated = datetime.now(UTC).replace(microsecond=0)
    doc.text(f"生成时间 Generated {_china(generated)} (UTC+8) · 告警 Alert {alert.alert_id}",
             _SMALL_PT, colour=_GREY)  # fmt: skip
    _alert_section(doc, alert)

    head = ["时间 Time (UTC+8)", "环节 Step", "单位 Party", "车辆 Vehicle", "读取点 Read point",
            "质量 Mass (kg)", "序号 Index"]  # fmt: skip
    for container in alert.containers:
        doc.heading(f"交接时间线 · Custody timeline: {container}")
        if found.timelines[container]:
            doc.text("按设备时间排序 · In device-time order", _SMALL_PT, colour=_GREY)
            rows = _timeline_rows(found.timelines[container], found.names)
            doc.table(head, rows, [2.1, 2.4, 2.6, 1.3, 1.5, 1.4, 1])
        else:
            doc.text("账本中没有该容器的记录 · The ledger holds no entry for this container.")

    doc.heading("卡口识别记录 · Checkpoint sightings")
    if not alert.vehicle:
        doc.text("告警未涉及车辆 · The alert names no vehicle.")
    elif not found.reads:
        doc.text(
            f"时段内无 {alert.vehicle} 的识别记录 · No reads of {alert.vehicle} in the window."
        )
    else:
        doc.table(["时间 Time (UTC+8)", "卡口 Checkpoint", "号牌 Plate", "置信度 Confidence",
                   "来源 Source"], _sighting_rows(found.reads), [2, 3, 1.5, 1.2, 1])  # fmt: skip

    layers = alert.facts.get("layers")
    if isinstance(layers, dict) and layers:
        legend = 2 * _PITCH * _SMALL_PT * (1 + len(layers))
        doc.heading("行程地图 · Map of the trip", keep=_MAP_PT + legend)
        doc.map(layers)

    _verify_section(doc, origin, found)
    return AlertEvidence(alert.alert_id, doc.pdf(found.bundles), found.bundles)


def _verify_section(doc: _Document, origin: str, found: _Gathered) -> None:
    bundles = found.bundles
    doc.heading("如何核验 · How to verify")
    doc.text("本报告供阅读；证据是随附的证据包文件。核验证据包无需服务器或数据库，"
             "根公钥与日志公钥须从可信渠道（法院、主管部门网站）取得后固定使用。")  # fmt: skip
    doc.text("This report is for reading; the evidence is the bundle files that go with it (also "
             "attached to this PDF). They verify offline, with no server or database; pin the root "
             "and log keys obtained from a trusted channel.", colour=_GREY)  # fmt: skip
    doc.space(4)
    doc.text("账本来源 Ledger origin", bold=True)
    doc.text(origin, indent=12)
    doc.text("日志公钥 Log public key (log.pub)", bold=True)
    doc.text(found.log_key, indent=12)
    doc.text("根公钥 Root public key (root.pub)", bold=True)
    doc.text(found.root, indent=12)
    doc.text("最新签名检查点 Latest signed checkpoint", bold=True)
    for note in found.notes or [b"(none)"]:
        doc.text(note.decode(errors="replace").rstrip("\n"), _SMALL_PT, indent=12)
        doc.space(3)
    doc.text("证据包 Evidence bundles (SHA-256)", bold=True)
    if not bundles:
        doc.text("无：账本中没有告警所涉容器的记录 · None: the ledger holds no entry of the "
                 "alert's containers.", indent=12)  # fmt: skip
    for name, data in sorted(bundles.items()):
        doc.text(name, indent=12)
        doc.text(f"SHA-256 {hashlib.sha256(data).hexdigest()}", indent=24)
    doc.space(4)
    doc.text("核验命令 Commands", bold=True)
    for name in sorted(bundles):
        doc.text(f"sha256sum {name}", indent=12)
        doc.text(f"custody verify {name} --root root.pub --log log.pub", indent=12)
    doc.text("哈希须与上表一致；custody verify 逐条核验签名、包含证明与检查点签名，"
             "失败时指出失败的步骤与条目。", _SMALL_PT)  # fmt: skip
    doc.text("The hash must match the one above; custody verify checks every signature, inclusion "
             "proof and the checkpoint's signature, and names the step and entry that fail.",
             _SMALL_PT, colour=_GREY)  # fmt: skip


def alert_report(engine: Engine, alert_id: str, *, origin: str, keyring: Keyring) -> bytes:
    """The PDF report of ``alert_id``, its bundles attached; see :func:`alert_evidence`."""
    return alert_evidence(engine, alert_id, origin=origin, keyring=keyring).pdf
