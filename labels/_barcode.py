"""The Code 128 barcode of the digital identification code, as a row of modules."""

from __future__ import annotations

import functools
import re

from barcode.codex import Code128
from barcode.errors import BarcodeError

from custody.errors import InputError

__all__ = ["CODE128_QUIET_ZONE", "code128_modules"]

#: Light modules on each side of the bars (ISO/IEC 15417 asks for at least 10).
CODE128_QUIET_ZONE = 10

# HJ 1276 digital identification codes are digits and upper-case letters. Holding the barcode
# to that set keeps it printable in every format without escaping (ZPL treats ^ and ~ as
# commands even inside field data).
_PRINTABLE_ID = re.compile(r"[0-9A-Z]{1,48}")


@functools.lru_cache(maxsize=64)
def code128_modules(text: str) -> tuple[bool, ...]:
    """Return the bars (``True``) and spaces of ``text`` in Code 128, without quiet zones.

    Raises:
        InputError: ``text`` is not 1 to 48 digits and upper-case letters.
    """
    if not _PRINTABLE_ID.fullmatch(text):
        raise InputError(
            f"digital identification code {text!r} is not 1-48 digits and capital letters",
            zh=f"数字识别码 {text!r} 应为 1-48 位数字或大写字母",
            digital_id=text,
        )
    try:
        (pattern,) = Code128(text).build()
    except BarcodeError as exc:  # unreachable for the characters allowed above; kept as a guard
        raise InputError(
            f"cannot encode {text!r} as Code 128", zh=f"无法将 {text!r} 编码为 Code 128 条码"
        ) from exc
    return tuple(bit == "1" for bit in pattern)
