"""From a scan to a signed event in the outbox, with no network.

A scan is one of three things:

* a label's QR text, as a keyboard-wedge scanner types it followed by Enter: the link to the
  check page (``HTTPS://…/V/WL1:…``) or, on labels printed before links, the bare ``WL1:…``;
* a picture (a file or a camera frame's encoded bytes), decoded by zxing-cpp;
* a digital identification code typed by hand (37 characters, HJ 1276-2022).

A label is verified offline against the trust bundle kept on the device (``labels.payload.
verify``); a forged, altered or revoked label is refused and no event is made for it. A typed
code has no signature to check: the event says so in its note (``manual-entry``), so a reader
of the ledger knows the drum's label was not read.

:class:`Scanner` then signs the event with the device key and stores it in the outbox in one
transaction (:meth:`scanners.outbox.Outbox.record`).
"""

from __future__ import annotations

import enum
import math
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from custody.credit_code import parse_credit_code
from custody.digital_id import DIGITAL_ID_LENGTH, parse_digital_id
from custody.errors import CoordinateInvalid, InputError, NotALabel
from custody.events import CustodyEvent, Mass, MassSource, Step, sign_event
from custody.plates import parse_plate
from labels.payload import find_signed_text, verify

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path
    from typing import TextIO

    from custody.keys import SigningKey
    from custody.trust import TrustBundle
    from labels.payload import VerifiedLabel
    from scanners.outbox import Outbox, QueuedEvent

__all__ = [
    "MANUAL_ENTRY",
    "STEP_ZH",
    "EventDetails",
    "ImageFiles",
    "KeyboardWedge",
    "RepeatFilter",
    "Scan",
    "ScanKind",
    "ScanSource",
    "Scanner",
    "parse_step",
    "read_scan",
    "scan_image",
]

MANUAL_ENTRY = "manual-entry"

STEP_ZH: dict[Step, str] = {step: step.zh for step in Step}


def _now() -> datetime:
    return datetime.now(UTC)


class ScanKind(enum.StrEnum):
    """How the container was identified."""

    LABEL = "label"  # a signed label, verified offline
    TYPED = "typed"  # a digital id typed by hand: nothing verified


@dataclass(frozen=True, slots=True)
class Scan:
    """One identified container."""

    digital_id: str
    kind: ScanKind
    label: VerifiedLabel | None = None


def read_scan(text: str, bundle: TrustBundle) -> Scan:
    """Identify a container from a scanned or typed line; verify a label against ``bundle``.

    Raises the label's precise ``EvidenceError`` (forged, altered, revoked …),
    ``DigitalIdInvalid`` for a mistyped code, ``NotALabel`` for anything else.
    """
    line = unicodedata.normalize("NFKC", text).strip()
    # The link's host is ignored: only the signature, checked offline, says a label is genuine.
    label = find_signed_text(line)
    if label is not None:
        verified = verify(label, bundle)
        return Scan(verified.payload.digital_id.text, ScanKind.LABEL, verified)
    compact = line.replace(" ", "")
    if abs(len(compact) - DIGITAL_ID_LENGTH) > 3 or not compact.isalnum():
        raise NotALabel(
            "neither a label (WL1:… or a link to one) nor a 37-character digital "
            "identification code",
            zh="既不是电子标签（WL1:… 或指向标签的链接），也不是 37 位数字识别码",
            length=len(line),
        )
    return Scan(parse_digital_id(compact).text, ScanKind.TYPED)


def scan_image(source: Path | bytes, bundle: TrustBundle) -> Scan:
    """Identify a container from a photo or an encoded camera frame of its label."""
    from scanners.decode import label_text_from_image  # noqa: PLC0415  # zxing loads on demand

    return read_scan(label_text_from_image(source), bundle)


# -- where scans come from ----------------------------------------------------------------------


class ScanSource(Protocol):
    """Anything that yields scans as text, one per read."""

    def __iter__(self) -> Iterator[str]:
        """Yield each read as the scanner produced it."""
        ...


class KeyboardWedge:
    """A USB scanner in keyboard mode: each read is a line on a text stream (standard input)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[str]:
        """Yield each non-blank line without its line end, as soon as it arrives."""
        for line in iter(self._stream.readline, ""):
            text = line.strip("\r\n")
            if text.strip():
                yield text


class ImageFiles:
    """Pictures on disk: each yields the label text found in it."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = paths

    def __iter__(self) -> Iterator[str]:
        """Yield the label text of each picture; ``NotALabel`` if one holds none."""
        from scanners.decode import label_text_from_image  # noqa: PLC0415  # zxing on demand

        for path in self._paths:
            yield label_text_from_image(path)


class RepeatFilter:
    """Drops a read identical to one made less than ``window`` seconds before.

    Handheld scanners often read one code twice in a row; a second event for the same drum a
    second later would only be noise in the ledger.
    """

    def __init__(self, window: float, clock: Callable[[], float]) -> None:
        self._window = window
        self._clock = clock
        self._seen: dict[str, float] = {}

    def repeated(self, key: str) -> bool:
        """Whether ``key`` was read within the window (and note this read)."""
        now = self._clock()
        last = self._seen.get(key)
        self._seen[key] = now
        return last is not None and now - last < self._window


# -- events -----------------------------------------------------------------------------------


def parse_step(text: str) -> Step:
    """A business step by its CBV name (``loading``) or Chinese name (``装车``)."""
    by_zh = {zh: step for step, zh in STEP_ZH.items()}
    try:
        return by_zh.get(text.strip()) or Step(text.strip().lower())
    except ValueError:
        choices = ", ".join(s.value for s in Step)
        raise InputError(
            f"step {text!r} is not one of {choices}",
            zh=f"业务步骤“{text}”无效，应为 {choices} 之一",
            field="step",
        ) from None


@dataclass(frozen=True, slots=True)
class EventDetails:
    """What the operator says about an event besides its containers, checked on entry."""

    step: Step
    vehicle: str | None = None
    read_point: str | None = None
    location: tuple[float, float] | None = None  # WGS-84 (lat, lon)
    mass: Mass | None = None
    counterparty: str | None = None
    manifest: str | None = None
    parent: str | None = None
    photos: tuple[bytes, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "step", parse_step(self.step))
        if self.vehicle is not None:
            object.__setattr__(self, "vehicle", parse_plate(self.vehicle).text)
        if self.counterparty is not None:
            object.__setattr__(self, "counterparty", parse_credit_code(self.counterparty).text)
        if self.parent is not None:
            object.__setattr__(self, "parent", parse_digital_id(self.parent).text)
        if self.location is not None:
            lat, lon = self.location
            if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90
                    and abs(lon) <= 180):  # fmt: skip
                raise CoordinateInvalid(
                    f"({lat}, {lon}) is not a WGS-84 latitude and longitude",
                    zh=f"（{lat}，{lon}）不是有效的 WGS-84 纬度和经度",
                    field="location",
                )
        for name in ("read_point", "manifest", "note"):
            value = getattr(self, name)
            if value is not None and (len(value) > 200 or not value.isprintable()):
                raise InputError(
                    f"{name} must be up to 200 printable characters",
                    zh=f"{name} 须为不超过 200 个的可打印字符",
                    field=name,
                )

    @classmethod
    def mass_kg(cls, kilograms: float, source: MassSource | str) -> Mass:
        """A mass from kilograms as an operator types it."""
        if not math.isfinite(kilograms) or not 0 <= kilograms <= 100_000:
            raise InputError(
                f"mass {kilograms} kg is outside 0-100 t", zh=f"重量 {kilograms} kg 超出 0-100 吨"
            )
        try:
            return Mass(round(kilograms * 1000), MassSource(source))
        except ValueError:
            raise InputError(
                f"mass source {source!r} is not declared, weighbridge or scale",
                zh=f"重量来源“{source}”无效，应为 declared、weighbridge 或 scale",
            ) from None


class Scanner:
    """Signs events with the device key and queues them in the outbox."""

    def __init__(
        self, outbox: Outbox, key: SigningKey, clock: Callable[[], datetime] = _now
    ) -> None:
        self._outbox = outbox
        self._key = key
        self._clock = clock

    def record(
        self, containers: Sequence[str], details: EventDetails, *, manual: bool = False
    ) -> QueuedEvent:
        """Sign an event about ``containers`` and keep it in the outbox; return it as queued.

        ``manual`` marks an event whose containers were typed, not read from a label.
        Refuses to sign with a key the kept trust bundle shows revoked or out of its window.
        """
        ids = [parse_digital_id(c).text for c in containers]
        if not ids:
            raise InputError("name at least one container", zh="至少须指定一个容器")
        if len(set(ids)) != len(ids):
            raise InputError("a container is named twice", zh="同一容器被重复指定")
        when = self._clock()
        self._key.record.check_usable_at(when)
        note = details.note
        if manual:
            note = f"{note} [{MANUAL_ENTRY}]".strip() if note else MANUAL_ENTRY
        record = self._key.record

        def sign(counter: int, prev: tuple[bytes, ...]) -> bytes:
            event = CustodyEvent(
                event_id=str(uuid.uuid4()),
                step=details.step,
                containers=tuple(ids),
                party=record.owner,
                device=record.name,
                counter=counter,
                event_time=when,
                prev=prev,
                parent=details.parent,
                counterparty=details.counterparty,
                read_point=details.read_point,
                location=details.location,
                vehicle=details.vehicle,
                manifest=details.manifest,
                mass=details.mass,
                photos=details.photos,
                note=note,
            )
            return sign_event(event, self._key)

        return self._outbox.record(record.name, ids, sign)
