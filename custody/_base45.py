"""Base45 (RFC 9285): bytes as the 45 characters a QR code stores in alphanumeric mode.

Written here rather than imported: the encoding is twenty lines, the one PyPI package for it
has had no release since 2022, and RFC 9285's own examples test it (tests/vectors).
"""

from __future__ import annotations

__all__ = ["ALPHABET", "b45decode", "b45encode"]

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def b45encode(data: bytes) -> str:
    """Encode bytes: each pair becomes three characters, a last single byte two."""
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        e, n = divmod(n, 45 * 45)
        d, c = divmod(n, 45)
        out += (ALPHABET[c], ALPHABET[d], ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += (ALPHABET[c], ALPHABET[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode Base45 text; raise ``ValueError`` on a character or value outside the encoding."""
    try:
        values = [_VALUE[c] for c in text]
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not a Base45 character") from None
    if len(values) % 3 == 1:
        raise ValueError("Base45 text cannot have a length of 3n+1")
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i : i + 3]
        n = sum(v * 45**k for k, v in enumerate(chunk))
        if len(chunk) == 3:
            if n > 0xFFFF:
                raise ValueError("Base45 triplet encodes more than two bytes")
            out += n.to_bytes(2, "big")
        else:
            if n > 0xFF:
                raise ValueError("Base45 pair encodes more than one byte")
            out.append(n)
    return bytes(out)
