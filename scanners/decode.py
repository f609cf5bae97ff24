"""Reading label QR codes from pictures: a phone photo, a scan, a PNG we rendered.

Decoding is zxing-cpp's job (a maintained decoder that copes with blur, tilt and glare);
this module only picks our label out of what it finds and names the failure. A label's QR
holds a link to the public check page with the signed text in it, or, on labels printed
before links, the bare signed text; both give the signed text (``WL1:…``), and the link's
host is ignored: the signature, verified offline, is what proves a label genuine.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import zxingcpp
from PIL import Image, UnidentifiedImageError

from custody.errors import InputError, NotALabel
from labels.payload import find_signed_text

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["label_text_from_image", "label_texts_from_image"]


def _open(source: Path | bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(
            f"cannot read the picture: {exc}", zh="无法读取图片（格式不支持或文件损坏）"
        ) from exc
    return image


_QR_ONLY = zxingcpp.BarcodeFormats((zxingcpp.BarcodeFormat.QRCode,))


def _qr_texts(source: Path | bytes) -> list[str]:
    return [code.text for code in zxingcpp.read_barcodes(_open(source), formats=_QR_ONLY)]


def _signed_texts(codes: list[str]) -> list[str]:
    return [text for code in codes if (text := find_signed_text(code)) is not None]


def label_texts_from_image(source: Path | bytes) -> list[str]:
    """Every label's signed text (``WL1:…``) in a picture, in the order the decoder found them.

    A QR holding a link to the check page gives the signed text inside it.
    """
    return _signed_texts(_qr_texts(source))


def label_text_from_image(source: Path | bytes) -> str:
    """The one label's signed text in a picture; ``NotALabel`` when there is none."""
    codes = _qr_texts(source)
    labels = _signed_texts(codes)
    if labels:
        return labels[0]
    if codes:
        raise NotALabel(
            "the picture holds a QR code, but not a hazardous waste label of ours",
            zh="图片中的二维码不是本系统的危险废物电子标签",
        )
    raise NotALabel(
        "no QR code found in the picture (too blurred, too small, or cut off?)",
        zh="图片中未识别到二维码（是否模糊、过小或不完整？）",
    )
