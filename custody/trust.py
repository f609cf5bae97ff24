"""The trust bundle: the signed list of keys a verifier may trust, used offline.

A bundle has a version that only grows, the time it was issued, and every key with its owner,
role, validity and revocation state. The system's root key signs it as a COSE_Sign1 over
deterministic CBOR. Verifiers pin the root public key (printed by ``custody keys root``) and
accept only bundles it signed; a scanner keeps the newest bundle it has verified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import cbor2

from custody import _cose
from custody.errors import KeyUnknown, RecordInvalid, SignatureInvalid, TrustBundleInvalid
from custody.keys import KeyRole, PublicKeyRecord, VerifierKey

if TYPE_CHECKING:
    from custody.keys import SigningKey

__all__ = ["TrustBundle"]

_SCHEMA = 1


def _epoch(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp())


def _time(value: object) -> datetime:
    if not isinstance(value, int):
        raise TypeError("time must be an integer")
    return datetime.fromtimestamp(value, UTC)


@dataclass(frozen=True, slots=True)
class TrustBundle:
    """A version of the trusted keys. Build with :meth:`issue`, read with :meth:`from_signed`."""

    version: int
    issued_at: datetime
    keys: tuple[PublicKeyRecord, ...]
    #: Key ids are short, so more than one key may share one: every key of an id and role.
    _candidates: dict[tuple[bytes, KeyRole], list[PublicKeyRecord]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        index: dict[tuple[bytes, KeyRole], list[PublicKeyRecord]] = {}
        for record in self.keys:
            index.setdefault((record.kid, record.role), []).append(record)
        object.__setattr__(self, "_candidates", index)

    @classmethod
    def issue(
        cls, version: int, keys: list[PublicKeyRecord], issued_at: datetime | None = None
    ) -> TrustBundle:
        """A new bundle of ``keys``, ordered by name so that equal bundles encode equally."""
        when = (issued_at or datetime.now(UTC)).replace(microsecond=0)
        return cls(version, when, tuple(sorted(keys, key=lambda k: k.name)))

    # -- encoding --------------------------------------------------------------------------

    def to_cbor(self) -> bytes:
        """Deterministic CBOR of the bundle (the signed payload)."""
        keys = [
            [
                k.name,
                k.owner,
                k.role.value,
                k.public_key,
                _epoch(k.valid_from),
                _epoch(k.valid_until),
                _epoch(k.revoked_at),
                k.revocation_reason,
            ]
            for k in self.keys
        ]
        return cbor2.dumps([_SCHEMA, self.version, _epoch(self.issued_at), keys], canonical=True)

    def sign(self, root: SigningKey) -> bytes:
        """The bundle signed by the root key, ready to publish."""
        if root.record.role is not KeyRole.ROOT:
            raise RecordInvalid("only a root key signs trust bundles", zh="信任列表须由根密钥签名")
        return _cose.sign1(self.to_cbor(), root.private_key, root.kid)

    @classmethod
    def from_signed(cls, blob: bytes, root: VerifierKey) -> TrustBundle:
        """Read a bundle, accepting it only if the pinned ``root`` key signed it."""
        try:
            message = _cose.parse_sign1(blob)
        except _cose.CoseStructureError as exc:
            raise TrustBundleInvalid(
                f"not a signed trust bundle: {exc}", zh="不是经签名的信任列表"
            ) from exc
        if message.kid != root.kid or not message.verify(root.verifier()):
            raise TrustBundleInvalid(
                f"the trust bundle is not signed by the pinned root key {root.name}",
                zh=f"信任列表并非由预置根密钥 {root.name} 签名",
            )
        try:
            schema, version, issued_at, keys = cbor2.loads(message.payload)
            if schema != _SCHEMA:
                raise ValueError(f"bundle schema {schema}")  # noqa: TRY301  # reported below
            records = [
                PublicKeyRecord(
                    name=name,
                    owner=owner,
                    role=KeyRole(role),
                    public_key=public,
                    valid_from=_time(start),
                    valid_until=_time(end),
                    revoked_at=None if revoked is None else _time(revoked),
                    revocation_reason=reason,
                )
                for name, owner, role, public, start, end, revoked, reason in keys
            ]
            return cls(int(version), _time(issued_at), tuple(records))
        except (ValueError, TypeError, RecordInvalid, cbor2.CBORDecodeError) as exc:
            raise TrustBundleInvalid(
                f"the trust bundle's contents are malformed: {exc}", zh="信任列表内容格式错误"
            ) from exc

    # -- use -------------------------------------------------------------------------------

    def by_name(self, name: str) -> PublicKeyRecord | None:
        """The key with this name, if the bundle has it."""
        return next((k for k in self.keys if k.name == name), None)

    def verify(
        self,
        message: _cose.Sign1,
        signed_at: datetime,
        role: KeyRole,
        received_at: datetime | None = None,
    ) -> PublicKeyRecord:
        """Find the key that made ``message`` and check it may be trusted at ``signed_at``.

        Every key with the message's key id and the expected role is tried. The signature is
        checked first, so a forgery is reported as such even under a revoked key id.
        """
        candidates = self._candidates.get((message.kid, role))
        if not candidates:
            raise KeyUnknown(
                f"no {role.value} key with id {message.kid.hex()} is in trust bundle "
                f"version {self.version}",
                zh=f"信任列表（第 {self.version} 版）中没有编号为 {message.kid.hex()} 的密钥",
                kid=message.kid.hex(),
            )
        for record in candidates:
            if message.verify(record.verifier()):
                record.check_usable_at(signed_at, received_at)
                return record
        raise SignatureInvalid(
            f"the signature does not match key {candidates[0].name}: forged or altered",
            zh=f"签名与密钥 {candidates[0].name} 不符：伪造或被篡改",
            kid=message.kid.hex(),
        )
