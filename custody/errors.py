"""Every failure a user can act on, one class each.

The tree, grouped by whose fault it is::

    CustodyError                      base; stable ``code``; ``diagnostics()`` for people
    ├── InputError                    the caller sent something malformed
    │   ├── WasteCodeInvalid          not a well-formed ``NNN-NNN-NN`` waste code
    │   ├── CreditCodeInvalid         unified social credit code fails GB 32100 / GB 11714
    │   ├── DigitalIdInvalid          HJ 1276-2022 digital identification code malformed
    │   ├── PlateInvalid              not a Chinese motor vehicle plate
    │   ├── CoordinateInvalid         latitude/longitude out of range
    │   └── RecordInvalid             a registry record breaks a field rule
    ├── NotFoundError                 something named does not exist
    │   ├── WasteCodeUnknown          well-formed, but not in the given list edition
    │   └── PartyNotFound             no such party, vehicle or checkpoint
    ├── ConflictError                 the request contradicts what is already accepted
    │   └── AlreadyRegistered         a record with that identity exists with other content
    └── StorageError                  the store failed; nothing was accepted

Codes are stable: clients and the problem-details table in ``api/problems.py`` rely on them.
HTTP status codes stay out of the core.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AlreadyRegistered",
    "ConflictError",
    "CoordinateInvalid",
    "CreditCodeInvalid",
    "CustodyError",
    "DigitalIdInvalid",
    "InputError",
    "NotFoundError",
    "PartyNotFound",
    "PlateInvalid",
    "RecordInvalid",
    "StorageError",
    "WasteCodeInvalid",
    "WasteCodeUnknown",
]


class CustodyError(Exception):
    """Base of every error this project raises on purpose.

    ``message`` is English, ``zh`` the Simplified Chinese text shown first to officials and
    drivers; ``context`` holds the facts behind the message (which character, which rule) so
    a client can point at the exact spot.
    """

    code: ClassVar[str] = "custody-error"
    title: ClassVar[str] = "Custody error"
    title_zh: ClassVar[str] = "系统错误"

    def __init__(self, message: str, *, zh: str | None = None, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.zh = zh or message
        self.context: dict[str, object] = context

    def diagnostics(self) -> str:
        """Return the human rendering: Chinese first, then English."""
        if self.zh == self.message:
            return self.message
        return f"{self.zh}\n{self.message}"


class InputError(CustodyError):
    """The input is malformed; sending it again unchanged will fail again."""

    code = "input-invalid"
    title = "Invalid input"
    title_zh = "输入无效"


class WasteCodeInvalid(InputError):
    """A waste code is not of the form ``NNN-NNN-NN`` with a real category."""

    code = "waste-code-invalid"
    title = "Invalid waste code"
    title_zh = "危险废物代码无效"


class CreditCodeInvalid(InputError):
    """A unified social credit code fails its format or one of its two check characters."""

    code = "credit-code-invalid"
    title = "Invalid unified social credit code"
    title_zh = "统一社会信用代码无效"


class DigitalIdInvalid(InputError):
    """An HJ 1276-2022 digital identification code is malformed."""

    code = "digital-id-invalid"
    title = "Invalid digital identification code"
    title_zh = "数字识别码无效"


class PlateInvalid(InputError):
    """A vehicle plate is not a valid Chinese motor vehicle plate."""

    code = "plate-invalid"
    title = "Invalid vehicle plate"
    title_zh = "车牌号无效"


class CoordinateInvalid(InputError):
    """A coordinate is outside the valid range or in an unknown reference system."""

    code = "coordinate-invalid"
    title = "Invalid coordinate"
    title_zh = "坐标无效"


class RecordInvalid(InputError):
    """A registry record (permit, licence, vehicle) breaks one of its field rules."""

    code = "record-invalid"
    title = "Invalid record"
    title_zh = "记录无效"


class NotFoundError(CustodyError):
    """Something the request names does not exist."""

    code = "not-found"
    title = "Not found"
    title_zh = "未找到"


class WasteCodeUnknown(NotFoundError):
    """A well-formed waste code that the named list edition does not contain."""

    code = "waste-code-unknown"
    title = "Unknown waste code"
    title_zh = "名录中无此危险废物代码"


class PartyNotFound(NotFoundError):
    """No party, vehicle or checkpoint with that identifier is registered."""

    code = "party-not-found"
    title = "Party not found"
    title_zh = "未找到该单位"


class ConflictError(CustodyError):
    """The request contradicts data already accepted, which is never silently changed."""

    code = "conflict"
    title = "Conflict"
    title_zh = "与已有数据冲突"


class AlreadyRegistered(ConflictError):
    """A record with the same identity already exists with different content."""

    code = "already-registered"
    title = "Already registered"
    title_zh = "已登记"


class StorageError(CustodyError):
    """The store failed; nothing from the request was accepted."""

    code = "storage-error"
    title = "Storage failure"
    title_zh = "存储故障"
