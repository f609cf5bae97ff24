"""The label's QR symbol: error correction Q, alphanumeric mode, smallest version that fits.

The signed text (``WL1:`` + Base45), and the check-page link that carries it
(``HTTPS://HOST/V/WL1:…``, see ``labels.payload.link``), use only the 45 characters of the QR
alphanumeric mode, which packs 2 characters in 11 bits instead of 16 in byte mode. We force
that mode so a stray lower-case letter is an error here rather than a silently larger,
byte-mode symbol.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import qrcode
import qrcode.constants
import qrcode.exceptions
import qrcode.util

from custody.errors import InputError

__all__ = ["QR_ALPHANUMERIC", "QR_QUIET_ZONE", "QrSymbol", "qr_code", "qr_version"]

#: The characters QR alphanumeric mode encodes (ISO/IEC 18004, table 5).
QR_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")

#: Light modules around the symbol that ISO/IEC 18004 asks for.
QR_QUIET_ZONE = 4


@dataclass(frozen=True, slots=True)
class QrSymbol:
    """A QR symbol as a matrix of dark (``True``) and light modules, without quiet zone."""

    version: int
    ecc: str
    modules: tuple[tuple[bool, ...], ...]

    @property
    def size(self) -> int:
        """Modules per side: ``4 * version + 17``."""
        return len(self.modules)


def _encoder(text: str) -> qrcode.QRCode:
    """A QR encoder holding ``text``, or ``InputError`` saying why the text cannot be one."""
    if not text:
        raise InputError("nothing to encode in the QR code", zh="二维码内容为空")
    bad = sorted(set(text) - QR_ALPHANUMERIC)
    if bad:
        raise InputError(
            f"QR text has characters outside QR alphanumeric mode: {''.join(bad)!r}",
            zh=f"二维码内容含有字母数字模式以外的字符：{''.join(bad)!r}",
            characters=bad,
        )
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, border=0)
    code.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM))
    try:
        code.best_fit()
    # qrcode raises DataOverflowError, or ValueError when its version search passes 40.
    except (qrcode.exceptions.DataOverflowError, ValueError) as exc:
        raise InputError(
            f"QR text of {len(text)} characters does not fit a version 40 symbol at ECC Q",
            zh=f"二维码内容过长（{len(text)} 个字符），超出 40 版 Q 级容量",
            length=len(text),
        ) from exc
    return code


@functools.lru_cache(maxsize=256)
def qr_version(text: str) -> int:
    """The version :func:`qr_code` gives ``text``, without its costly mask search.

    Layout needs only the symbol's size; a ZPL printer encodes the symbol itself.
    """
    return int(_encoder(text).version)


# Rendering one label in several formats encodes the same text several times; the mask
# search makes each encoding cost tens of milliseconds.
@functools.lru_cache(maxsize=64)
def qr_code(text: str) -> QrSymbol:
    """Encode ``text`` at error correction Q in alphanumeric mode, smallest version first.

    Raises:
        InputError: ``text`` is empty, has a character outside the 45 of alphanumeric mode,
            or does not fit a version 40 symbol.
    """
    code = _encoder(text)
    code.make(fit=False)
    modules = tuple(tuple(bool(dark) for dark in row) for row in code.modules)
    return QrSymbol(version=int(code.version), ecc="Q", modules=modules)
