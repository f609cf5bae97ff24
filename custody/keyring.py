"""The keyring: making, finding, revoking keys, and publishing the trust bundle after each change.

The system's root key (``custody/root``) signs every bundle. Bundle versions only grow, and a
new one is published whenever a key is added or revoked, so a verifier that fetches the newest
bundle learns of revocations.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from custody.errors import AlreadyRegistered, PartyNotFound, SigningKeyMissing
from custody.keys import SYSTEM_OWNER, KeyRole, PublicKeyRecord, SigningKey
from custody.trust import TrustBundle

if TYPE_CHECKING:
    from custody.ports import KeyStore

__all__ = ["ROOT_KEY_NAME", "Keyring"]

ROOT_KEY_NAME = f"{SYSTEM_OWNER}/root"
ROOT_VALIDITY = timedelta(days=3653)
DEFAULT_VALIDITY = timedelta(days=366)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _serial(name: str) -> int:
    """The ``n`` of ``owner/role/n`` (so key 10 is newer than key 9)."""
    tail = name.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class Keyring:
    """Keys over a :class:`~custody.ports.KeyStore`, private halves sealed with ``kek``."""

    def __init__(self, store: KeyStore, kek: bytes) -> None:
        self._store = store
        self._kek = kek

    # -- keys ------------------------------------------------------------------------------

    def root(self) -> SigningKey:
        """The root key, made on first use."""
        found = self._store.get_key(ROOT_KEY_NAME)
        if found is None:
            now = _now()
            key = SigningKey.generate(
                ROOT_KEY_NAME, SYSTEM_OWNER, KeyRole.ROOT, now, now + ROOT_VALIDITY
            )
            try:
                self._store.insert_key(key.record, key.encrypted(self._kek))
            except AlreadyRegistered:
                return self.root()  # another process made it first
            self.publish()
            return key
        record, sealed = found
        return self._open(record, sealed)

    def log_key(self) -> SigningKey:
        """The ledger's checkpoint key (``custody/log/1``), made on first use."""
        try:
            return self.active(SYSTEM_OWNER, KeyRole.LOG)
        except SigningKeyMissing:
            self.root()
            try:
                return self.create(SYSTEM_OWNER, KeyRole.LOG, validity=ROOT_VALIDITY)
            except AlreadyRegistered:
                return self.active(SYSTEM_OWNER, KeyRole.LOG)  # made by another process

    def create(
        self,
        owner: str,
        role: KeyRole,
        *,
        valid_from: datetime | None = None,
        validity: timedelta = DEFAULT_VALIDITY,
    ) -> SigningKey:
        """A new key for ``owner`` in ``role``, published in a new trust bundle."""
        start = (valid_from or _now()).replace(microsecond=0)
        taken = {k.name for k in self._store.list_keys()}
        serial = 1 + sum(1 for name in taken if name.startswith(f"{owner}/{role.value}/"))
        name = f"{owner}/{role.value}/{serial}"
        key = SigningKey.generate(name, owner, role, start, start + validity)
        self._store.insert_key(key.record, key.encrypted(self._kek))
        self.publish()
        return key

    def enroll(
        self, owner: str, role: KeyRole, public_key: bytes, validity: timedelta = DEFAULT_VALIDITY
    ) -> PublicKeyRecord:
        """Publish a key whose private half is held elsewhere (a device made it itself)."""
        start = _now().replace(microsecond=0)
        while True:
            taken = {k.name for k in self._store.list_keys()}
            serial = 1 + sum(1 for name in taken if name.startswith(f"{owner}/{role.value}/"))
            name = f"{owner}/{role.value}/{serial}"
            record = PublicKeyRecord(name, owner, role, public_key, start, start + validity)
            try:
                self._store.insert_key(record, None)
            except AlreadyRegistered:
                continue  # another enrolment took this serial: take the next
            self.publish()
            return record

    def active(self, owner: str, role: KeyRole, at: datetime | None = None) -> SigningKey:
        """The newest key of ``owner`` and ``role`` that may sign at ``at`` (default: now)."""
        when = at or _now()
        usable = [
            k
            for k in self._store.list_keys()
            if k.owner == owner
            and k.role is role
            and k.revoked_at is None
            and k.valid_from <= when <= k.valid_until
        ]
        if not usable:
            raise SigningKeyMissing(
                f"{owner} has no usable {role.value} key; create one with "
                f"`custody keys new --owner {owner} --role {role.value}`",
                zh=f"{owner} 没有可用的{role.value}签名密钥，请先创建",
                owner=owner,
                role=role.value,
            )
        newest = max(usable, key=lambda k: (k.valid_from, _serial(k.name)))
        found = self._store.get_key(newest.name)
        if found is None:  # pragma: no cover  # listed a moment ago
            raise SigningKeyMissing(f"key {newest.name} vanished", zh=f"密钥 {newest.name} 不存在")
        return self._open(*found)

    def record(self, name: str) -> PublicKeyRecord:
        """The public record of the key with this name."""
        found = self._store.get_key(name)
        if found is None:
            raise PartyNotFound(f"no key named {name}", zh=f"没有名为 {name} 的密钥", key=name)
        return found[0]

    def revoke(self, name: str, reason: str, at: datetime | None = None) -> PublicKeyRecord:
        """Revoke a compromised key and publish the bundle that says so."""
        record = self.record(name)
        if record.revoked_at is not None:
            return record
        revoked = record.revoke(at or _now(), reason)
        self._store.mark_revoked(revoked)
        self.publish()
        return revoked

    def keys(self) -> list[PublicKeyRecord]:
        """Every key's public record."""
        return self._store.list_keys()

    # -- trust bundles ---------------------------------------------------------------------

    def publish(self) -> bytes:
        """Sign and store a new bundle of every key; return its signed bytes."""
        root = self.root()
        latest = self._store.latest_bundle()
        version = 1 if latest is None else latest[0] + 1
        bundle = TrustBundle.issue(version, self._store.list_keys())
        signed = bundle.sign(root)
        try:
            self._store.insert_bundle(version, bundle.issued_at, signed)
        except AlreadyRegistered:
            return self.publish()  # a concurrent publisher took this version
        return signed

    def latest_bundle_version(self) -> int | None:
        """The newest published bundle's version (``None`` before the first)."""
        return self._store.latest_bundle_version()

    def bundle(self) -> tuple[TrustBundle, bytes]:
        """The newest bundle, read back and checked against the root key."""
        root = self.root()
        latest = self._store.latest_bundle()
        signed = self.publish() if latest is None else latest[1]
        return TrustBundle.from_signed(signed, root.record.verifier_key), signed

    def _open(self, record: PublicKeyRecord, sealed: bytes | None) -> SigningKey:
        if sealed is None:
            raise SigningKeyMissing(
                f"the private half of {record.name} is not held here",
                zh=f"本系统未保存密钥 {record.name} 的私钥",
                key=record.name,
            )
        return SigningKey.decrypt(record, sealed, self._kek)
