"""The signed label payload: a container's birth certificate in a QR code.

Text form: ``WL1:`` + Base45(COSE_Sign1(EdDSA, payload)), all characters of the QR
alphanumeric set. The payload is a positional, deterministic CBOR array, schema 1:

====  ====================  ========  ===========================================
 #    field                 type      example
====  ====================  ========  ===========================================
 0    schema version        uint      1
 1    digital id (HJ 1276)  tstr(37)  91510100MA61R8XQ029002490820231105001
 2    list edition          uint      2021
 3    hazards               uint      bit mask: T=1 C=2 I=4 R=8 In=16
 4    physical form         tstr      L
 5    issued at             uint      seconds since 1970 (UTC)
 6    declared net mass     uint      grams
 7    container type        tstr      DR
 8    seal number           tstr      S-000981 (empty when unsealed)
====  ====================  ========  ===========================================

Only facts fixed when the drum is sealed go in; holder and status live in the ledger. The
generator, waste code and date are inside the digital id, so they are signed too.

The printed QR holds a link to the public check page, ``<BASE>/V/<signed text>`` (see
:func:`link`), so a phone camera opens it; the signed text rides in the last path segment with
space, ``%`` and ``/`` percent-escaped, which keeps every character in QR alphanumeric mode.
The base URL is not signed: readers take the signed text out of the link with
:func:`signed_text` and ignore the host. :func:`read` and :func:`verify` accept either form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import cbor2

from custody import _base45, _cose
from custody.containers import ContainerType, PhysicalForm
from custody.digital_id import parse_digital_id
from custody.errors import (
    CustodyError,
    InputError,
    KeyOwnerMismatch,
    LabelMalformed,
    LabelSchemaUnsupported,
    NotALabel,
)
from custody.keys import KeyRole
from custody.wastes import Hazard

if TYPE_CHECKING:
    from custody.containers import Container
    from custody.digital_id import DigitalId
    from custody.keys import PublicKeyRecord, SigningKey
    from custody.trust import TrustBundle

__all__ = [
    "LINK_PATH",
    "PREFIX",
    "SCHEMA_VERSION",
    "LabelPayload",
    "VerifiedLabel",
    "find_signed_text",
    "link",
    "link_base",
    "mint",
    "read",
    "signed_text",
    "verify",
]

PREFIX = "WL1:"
#: The path, under the public base URL, of the check page a label's QR links to.
LINK_PATH = "/V/"
SCHEMA_VERSION = 1
_HAZARD_BITS = {
    Hazard.TOXICITY: 1,
    Hazard.CORROSIVITY: 2,
    Hazard.IGNITABILITY: 4,
    Hazard.REACTIVITY: 8,
    Hazard.INFECTIVITY: 16,
}


@dataclass(frozen=True, slots=True)
class LabelPayload:
    """The immutable facts a label signs."""

    digital_id: DigitalId
    edition: str
    hazards: frozenset[Hazard]
    form: PhysicalForm
    issued_at: datetime
    net_mass_g: int
    container_type: ContainerType
    seal_no: str

    @classmethod
    def of(cls, container: Container, issued_at: datetime) -> LabelPayload:
        """The payload for a registered container, issued now."""
        facts = container.facts
        return cls(
            digital_id=container.digital_id,
            edition=container.edition,
            hazards=frozenset(container.waste.hazards),
            form=facts.form,
            issued_at=issued_at.astimezone(UTC).replace(microsecond=0),
            net_mass_g=facts.declared_net_mass_g,
            container_type=facts.container_type,
            seal_no=facts.seal_no,
        )

    def to_cbor(self) -> bytes:
        """The deterministic CBOR array that is signed."""
        mask = sum(_HAZARD_BITS[h] for h in self.hazards)
        return cbor2.dumps(
            [
                SCHEMA_VERSION,
                self.digital_id.text,
                int(self.edition),
                mask,
                self.form.value,
                int(self.issued_at.timestamp()),
                self.net_mass_g,
                self.container_type.value,
                self.seal_no,
            ],
            canonical=True,
        )

    @classmethod
    def from_cbor(cls, data: bytes) -> LabelPayload:
        """Read a payload, or raise ``LabelSchemaUnsupported`` / ``LabelMalformed``."""
        try:
            fields = cbor2.loads(data)
        except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as exc:
            raise _malformed(f"payload is not CBOR: {exc}") from None
        if not isinstance(fields, list | tuple) or not fields:
            raise _malformed("payload is not a CBOR array")
        if fields[0] != SCHEMA_VERSION:
            raise LabelSchemaUnsupported(
                f"label schema {fields[0]!r}; this software reads schema {SCHEMA_VERSION}",
                zh=f"标签版本为 {fields[0]!r}，本软件只能读取第 {SCHEMA_VERSION} 版",
                schema=str(fields[0]),
            )
        if len(fields) != 9:
            raise _malformed(f"schema 1 has 9 fields, this payload {len(fields)}")
        _, ident, edition, mask, form, issued, mass, kind, seal = fields
        try:
            if not (isinstance(mask, int) and 0 <= mask < 32):
                raise ValueError(f"hazard mask {mask!r}")  # noqa: TRY301  # wrapped below
            if not all(isinstance(v, int) for v in (edition, issued, mass)):
                raise TypeError("edition, time and mass must be integers")  # noqa: TRY301
            if not all(isinstance(v, str) for v in (ident, form, kind, seal)):
                raise TypeError("id, form, container type and seal must be text")  # noqa: TRY301
            return cls(
                digital_id=parse_digital_id(ident),
                edition=str(edition),
                hazards=frozenset(h for h, bit in _HAZARD_BITS.items() if mask & bit),
                form=PhysicalForm(form),
                issued_at=datetime.fromtimestamp(issued, UTC),
                net_mass_g=mass,
                container_type=ContainerType(kind),
                seal_no=seal,
            )
        except (ValueError, TypeError, OverflowError, OSError, CustodyError) as exc:
            raise _malformed(f"payload field out of shape: {exc}") from None


def _malformed(reason: str) -> LabelMalformed:
    return LabelMalformed(
        f"the label is damaged or altered: {reason}",
        zh="标签数据损坏或被篡改",
        reason=reason,
    )


@dataclass(frozen=True, slots=True)
class VerifiedLabel:
    """A label whose signature checked out, with the key that made it."""

    payload: LabelPayload
    key: PublicKeyRecord
    bundle_version: int


def mint(payload: LabelPayload, key: SigningKey) -> str:
    """Sign a payload with a label-issuer key and return the QR text."""
    message = _cose.sign1(payload.to_cbor(), key.private_key, key.kid)
    return PREFIX + _base45.b45encode(message)


# QR alphanumeric mode holds these and nothing else (ISO/IEC 18004, table 5; the set
# labels._qr enforces): a base URL written with them, scheme and host in capitals (hosts
# ignore case, paths do not).
_QR_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
# Base45 characters that a URL path cannot carry as they are: a space, the escape character,
# and the slash (proxies merge "//", browsers resolve "/./" and "/../").
_PATH_ESCAPES = str.maketrans({" ": "%20", "%": "%25", "/": "%2F"})
# Any http(s) host, any base path, then /V/ and one segment: the signed text, escaped.
_LINK = re.compile(r"(?i:https?)://[^/?#]+(?:/[^?#]*)?/V/([^/?#]+)")


def link_base(public_url: str) -> str:
    """The public base URL as a label's QR writes it: scheme and host upper-cased, no final /.

    Raises:
        InputError: not an ``http(s)://host[:port][/PATH]`` URL, or a path (which keeps its
            case) with characters outside QR alphanumeric mode, such as lower-case letters.
    """
    parts = urlsplit(public_url.strip())
    base = f"{parts.scheme}://{parts.netloc}".upper() + parts.path.rstrip("/")
    if (
        parts.scheme.lower() not in {"http", "https"}
        or not parts.hostname
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
        or not set(base) <= _QR_CHARS
    ):
        raise InputError(
            f"public URL {public_url!r} must be http(s)://host[:port][/PATH], its path in "
            "capitals, digits and $%*+-./: only (QR alphanumeric mode)",
            zh=f"公开网址 {public_url!r} 应为 http(s)://主机[:端口][/路径]，路径只能含大写字母、"
            "数字和 $%*+-./:（二维码字母数字模式）",
            public_url=public_url,
        )
    return base


def link(text: str, public_url: str) -> str:
    """What a label's QR holds: the public check page ``<BASE>/V/<signed text>``.

    Every character stays in QR alphanumeric mode. The link is longer than the bare text by
    the base, ``/V/``, and 2 characters for each space, ``%`` and ``/`` of the Base45 text
    (written ``%20``, ``%25``, ``%2F``): 40 to 65 characters, one QR version (docs/labels.md).
    """
    return link_base(public_url) + LINK_PATH + text.strip().translate(_PATH_ESCAPES)


def find_signed_text(content: str) -> str | None:
    """The signed text (``WL1:…``) in what a QR holds, the bare text or a :func:`link`; or None.

    A link may name any host: the signature, not the address, proves a label genuine, and
    labels printed before links stay valid.
    """
    stripped = content.strip()
    if stripped.startswith(PREFIX):
        return stripped
    found = _LINK.fullmatch(stripped)
    if found is not None and (text := unquote(found[1])).startswith(PREFIX):
        return text
    return None


def signed_text(content: str) -> str:
    """:func:`find_signed_text`, or ``NotALabel`` when ``content`` holds no label."""
    text = find_signed_text(content)
    if text is not None:
        return text
    raise NotALabel(
        f"the text neither starts with {PREFIX!r} nor links to one: not a hazardous waste "
        "label of ours",
        zh=f"内容既不以“{PREFIX}”开头，也不是指向标签的链接，不是本系统的危险废物电子标签",
    )


def read(text: str) -> tuple[_cose.Sign1, LabelPayload]:
    """Decode a label's structure without trusting it (for display, never for decisions).

    ``text`` is the signed text or a link carrying it (see :func:`signed_text`).
    """
    stripped = signed_text(text)
    try:
        message = _cose.parse_sign1(_base45.b45decode(stripped[len(PREFIX) :]))
    except (ValueError, _cose.CoseStructureError) as exc:
        raise _malformed(str(exc)) from None
    return message, LabelPayload.from_cbor(message.payload)


def verify(text: str, bundle: TrustBundle) -> VerifiedLabel:
    """Check a label offline against a trust bundle; raise the precise reason it fails."""
    message, payload = read(text)
    record = bundle.verify(message, payload.issued_at, KeyRole.LABEL_ISSUER)
    issuer = payload.digital_id.unit_code
    if record.owner != issuer:
        raise KeyOwnerMismatch(
            f"the label names {issuer} as its generator but is signed by {record.owner}'s key "
            f"{record.name}",
            zh=f"标签所载产生单位为 {issuer}，签名密钥 {record.name} 却属于 {record.owner}",
            key=record.name,
        )
    return VerifiedLabel(payload, record, bundle.version)
