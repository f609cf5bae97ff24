"""Ed25519 signing keys: who holds them, when they may sign, and how they are kept.

A key has a name (``<owner>/<purpose>``), an owner (a credit code, or ``custody`` for the
system's own keys), a role, and a validity window. Its key id is the C2SP signed-note
convention, ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``, so one key registry serves
labels and log checkpoints alike.

Expiry and revocation mean different things. A key whose window has closed (rotation) still
vouches for what it signed inside the window. A revoked key was compromised: nothing it
signed is trusted any more, whatever time the signature claims, because a thief can claim any
time. Private keys leave this module only encrypted (PKCS #8, scrypt + AES-256) and never
appear in ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
import hashlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custody.errors import (
    ConfigurationError,
    KeyNotValidAtIssue,
    KeyRevoked,
    RecordInvalid,
)

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["KeyRole", "PublicKeyRecord", "SigningKey", "VerifierKey", "key_id"]

SYSTEM_OWNER = "custody"


class KeyRole(enum.StrEnum):
    """What a key may sign."""

    ROOT = "root"  # the trust bundle
    LABEL_ISSUER = "label-issuer"  # container labels, at a generator site
    DEVICE = "device"  # scan events, on a scanner
    LOG = "log"  # ledger checkpoints
    WITNESS = "witness"  # cosignatures on checkpoints


@functools.lru_cache(maxsize=4096)
def _load_public(public_key: bytes) -> Ed25519PublicKey:
    # Loading a key costs as much as a verification; an audit verifies millions with a few keys.
    return Ed25519PublicKey.from_public_bytes(public_key)


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key id of the signed-note convention (type 0x01 = Ed25519)."""
    return hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]


def _check_name(name: str) -> None:
    # Signed-note key names may not contain spaces or '+'; we also keep them printable.
    if not name or len(name) > 100 or not name.isprintable() or " " in name or "+" in name:
        raise RecordInvalid(
            f"key name {name!r} must be 1-100 printable characters without spaces or '+'",
            zh=f"密钥名称“{name}”须为 1-100 个可打印字符，不含空格和“+”",
            field="name",
        )


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A public key to pin, written as a C2SP signed-note verifier key: ``name+kid+base64``."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.public_key) != 32:
            raise RecordInvalid("an Ed25519 public key has 32 bytes", zh="Ed25519 公钥应为 32 字节")

    @property
    def kid(self) -> bytes:
        """The 4-byte key id."""
        return key_id(self.name, self.public_key)

    def verifier(self) -> Ed25519PublicKey:
        """The public key as a verifier object."""
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    def __str__(self) -> str:
        encoded = base64.b64encode(b"\x01" + self.public_key).decode()
        return f"{self.name}+{self.kid.hex()}+{encoded}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Read ``name+kid+base64``; the key id must match the name and key."""
        try:
            name, kid_hex, encoded = text.strip().split("+", 2)  # base64 may hold "+"
            raw = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error):
            raise RecordInvalid(
                "a verifier key reads name+keyid+base64", zh="验证公钥格式应为 名称+编号+base64"
            ) from None
        if len(raw) != 33 or raw[0] != 0x01:
            raise RecordInvalid("not an Ed25519 verifier key", zh="不是 Ed25519 验证公钥")
        key = cls(name, raw[1:])
        if key.kid.hex() != kid_hex.lower():
            raise RecordInvalid(
                f"key id {kid_hex} does not match the name and key (expected {key.kid.hex()})",
                zh=f"密钥编号 {kid_hex} 与名称和公钥不符",
            )
        return key


@dataclass(frozen=True, slots=True)
class PublicKeyRecord:
    """The public half of a key with everything a verifier needs to judge a signature."""

    name: str
    owner: str
    role: KeyRole
    public_key: bytes
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime | None = None
    revocation_reason: str = ""

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "role", KeyRole(self.role))
        if len(self.public_key) != 32:
            raise RecordInvalid("an Ed25519 public key has 32 bytes", zh="Ed25519 公钥应为 32 字节")
        if self.valid_from.tzinfo is None or self.valid_until.tzinfo is None:
            raise RecordInvalid("key validity times need a time zone", zh="密钥有效期须带时区")
        if self.valid_until <= self.valid_from:
            raise RecordInvalid(
                "a key's validity must end after it starts", zh="密钥有效期截止时间须晚于起始时间"
            )

    @property
    def kid(self) -> bytes:
        """The 4-byte key id."""
        return key_id(self.name, self.public_key)

    def verifier(self) -> Ed25519PublicKey:
        """The public key as a verifier object (loaded once per key and process)."""
        return _load_public(self.public_key)

    @property
    def verifier_key(self) -> VerifierKey:
        """The key to pin, without validity or owner."""
        return VerifierKey(self.name, self.public_key)

    def revoke(self, at: datetime, reason: str) -> PublicKeyRecord:
        """This record, revoked at ``at`` (the first revocation stands)."""
        if self.revoked_at is not None:
            return self
        return replace(self, revoked_at=at, revocation_reason=reason)

    def check_usable_at(self, when: datetime, received_at: datetime | None = None) -> None:
        """Raise unless a signature claiming time ``when`` by this key can be trusted.

        A revoked key's signatures are judged by when the server received them, never by
        the time they claim (a thief sets the clock back): what reached us before the
        revocation stays trusted, and with no receive time nothing is.
        """
        if self.revoked_at is not None and (received_at is None or received_at >= self.revoked_at):
            raise KeyRevoked(
                f"key {self.name} was revoked on {self.revoked_at:%Y-%m-%d %H:%M} UTC "
                f"({self.revocation_reason or 'no reason given'}); nothing it signed is trusted",
                zh=f"密钥 {self.name} 已于 {self.revoked_at:%Y-%m-%d %H:%M} UTC 吊销"
                f"（{self.revocation_reason or '未说明原因'}），其签名一律不予信任",
                key=self.name,
            )
        if not self.valid_from <= when <= self.valid_until:
            raise KeyNotValidAtIssue(
                f"key {self.name} is valid from {self.valid_from:%Y-%m-%d} to "
                f"{self.valid_until:%Y-%m-%d}, but the signature claims {when:%Y-%m-%d %H:%M} UTC",
                zh=f"密钥 {self.name} 的有效期为 {self.valid_from:%Y-%m-%d} 至 "
                f"{self.valid_until:%Y-%m-%d}，签名时间却为 {when:%Y-%m-%d %H:%M} UTC",
                key=self.name,
            )


class SigningKey:
    """A private Ed25519 key with its public record. Never printed, never serialised in clear."""

    __slots__ = ("_private", "record")

    def __init__(self, record: PublicKeyRecord, private: Ed25519PrivateKey) -> None:
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        if raw != record.public_key:
            raise RecordInvalid(
                "private key does not match its public record", zh="私钥与公钥记录不匹配"
            )
        self.record = record
        self._private = private

    @classmethod
    def generate(
        cls,
        name: str,
        owner: str,
        role: KeyRole,
        valid_from: datetime,
        valid_until: datetime,
    ) -> SigningKey:
        """Make a fresh key."""
        private = Ed25519PrivateKey.generate()
        return cls.from_private(
            private,
            name=name,
            owner=owner,
            role=role,
            valid_from=valid_from,
            valid_until=valid_until,
        )

    @classmethod
    def from_private(  # noqa: PLR0913  # the record's fields, spelled out
        cls,
        private: Ed25519PrivateKey,
        *,
        name: str,
        owner: str,
        role: KeyRole,
        valid_from: datetime,
        valid_until: datetime,
    ) -> SigningKey:
        """Wrap an existing private key (test vectors, imports)."""
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return cls(PublicKeyRecord(name, owner, role, public, valid_from, valid_until), private)

    @property
    def kid(self) -> bytes:
        """The 4-byte key id."""
        return self.record.kid

    @property
    def private_key(self) -> Ed25519PrivateKey:
        """The key object, for signing code in this package."""
        return self._private

    def sign(self, data: bytes) -> bytes:
        """A raw Ed25519 signature over ``data``."""
        return self._private.sign(data)

    def encrypted(self, kek: bytes) -> bytes:
        """The private key as encrypted PKCS #8 PEM, for storage."""
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(kek),
        )

    @classmethod
    def decrypt(cls, record: PublicKeyRecord, encrypted: bytes, kek: bytes) -> SigningKey:
        """Open a stored key; a wrong key-encryption key is a configuration error."""
        try:
            private = serialization.load_pem_private_key(encrypted, password=kek)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"cannot open signing key {record.name}: wrong key-encryption key?",
                zh=f"无法解密签名密钥 {record.name}：密钥加密密钥是否正确？",
                key=record.name,
            ) from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise ConfigurationError(
                f"stored key {record.name} is not Ed25519",
                zh=f"存储的密钥 {record.name} 不是 Ed25519",
            )
        return cls(record, private)

    def __repr__(self) -> str:
        return f"SigningKey(name={self.record.name!r}, kid={self.kid.hex()}, private=<hidden>)"
