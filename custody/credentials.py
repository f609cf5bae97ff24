"""Bearer tokens and passwords: what is handed out once and what is kept (only digests).

A token reads ``cst_<id>_<secret>``: the id (12 hex digits) finds the stored row, the secret
(32 random bytes, base64url) is never stored, only its SHA-256. A fast hash is right for a
secret of 256 random bits (nothing to guess); passwords, which people choose, get scrypt
(RFC 7914, memory-hard) from the standard library with a per-password salt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from custody.errors import NotAuthenticated, RecordInvalid

__all__ = [
    "IssuedToken",
    "check_password",
    "hash_password",
    "issue_token",
    "parse_token",
    "secret_digest",
]

_TOKEN = re.compile(r"^cst_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
# RFC 7914 parameters; 16 MiB and about 50 ms a check: slow to guess, quick enough to log in.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_MIN_PASSWORD = 12


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token as handed out (``text``, shown once) and what is stored of it."""

    token_id: str
    text: str
    digest: str  # hex SHA-256 of the secret


def secret_digest(secret: str) -> str:
    """What is stored of a token's secret."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def issue_token() -> IssuedToken:
    """A fresh random token."""
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return IssuedToken(token_id, f"cst_{token_id}_{secret}", secret_digest(secret))


def parse_token(text: str) -> tuple[str, str]:
    """The id and the secret's digest of a presented token; malformed is not authenticated."""
    found = _TOKEN.fullmatch(text.strip())
    if found is None:
        raise NotAuthenticated("the token is malformed", zh="令牌格式不正确")
    return found.group(1), secret_digest(found.group(2))


def digests_match(presented: str, stored: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(presented.encode(), stored.encode())


def hash_password(password: str) -> str:
    """A salted scrypt hash in a self-describing text form."""
    if len(password) < _MIN_PASSWORD:
        raise RecordInvalid(
            f"a password needs at least {_MIN_PASSWORD} characters",
            zh=f"密码至少需要 {_MIN_PASSWORD} 个字符",
            field="password",
        )
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return "$".join(
        ["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(key)]
    )


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the stored hash."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(key + "==")
        got = _scrypt(password, base64.urlsafe_b64decode(salt + "=="), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 2**20, dklen=32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
