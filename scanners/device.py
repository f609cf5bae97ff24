"""The device itself: its own key pair, its enrolment, and the state directory that holds them.

The scanner makes its Ed25519 key pair itself; only the public half goes to the server
(``POST /devices``), which answers with the device's name (``OWNER/device/N``, the key's name
and what its events say they came from). The private half stays in the state directory::

    <state dir>/              mode 0700
        device.json           public facts: server, owner, kind, name, public key, pinned root
        device-key.pem        the private key, encrypted PKCS #8 (mode 0600, never overwritten)
        outbox.sqlite3        the outbox (scanners/outbox.py), trust bundles included

The key is encrypted with a key derived from the passphrase by scrypt (N=2^15, r=8, p=1, a
random salt kept in ``device.json``) and then sealed by ``SigningKey.encrypted``: a stolen
handheld's key file costs an attacker 0.1 s of a core and 32 MiB per passphrase guess.

Enrolment can be run again after a lost answer: the key is written *before* it is sent, and
the server answers the same key with the same device.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.credit_code import parse_credit_code
from custody.devices import DeviceKind
from custody.errors import ConfigurationError, ConflictError, InputError, StorageError
from custody.keys import KeyRole, PublicKeyRecord, SigningKey, VerifierKey
from scanners.bundles import cached_bundle, refresh_bundle
from scanners.errors import NotEnrolled, ServerRefused
from scanners.outbox import Outbox

if TYPE_CHECKING:
    from pathlib import Path

    from custody.trust import TrustBundle
    from scanners.http import ServerClient

__all__ = ["MIN_PASSPHRASE", "DeviceInfo", "Enrolment", "ScannerState", "enroll"]

MIN_PASSPHRASE = 8
_KDF = {"n": 2**15, "r": 8, "p": 1}
_MAX_MEMORY = 64 * 1024 * 1024


def _now() -> datetime:
    return datetime.now(UTC)


def _kek(passphrase: bytes, salt: bytes, kdf: dict[str, int]) -> bytes:
    """The key that seals the private key, stretched from the passphrase."""
    return hashlib.scrypt(passphrase, salt=salt, dklen=32, maxmem=_MAX_MEMORY, **kdf)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What ``device.json`` holds: nothing secret."""

    server: str
    owner: str
    kind: DeviceKind
    description: str
    public_key: bytes
    root: VerifierKey  # pinned at enrolment: every trust bundle must be signed by it
    salt: bytes
    kdf: dict[str, int]
    name: str | None = None  # set once the server has enrolled the key
    enrolled_at: datetime | None = None

    def to_json(self) -> str:
        """The file's text."""
        return json.dumps(
            {
                "server": self.server,
                "owner": self.owner,
                "kind": self.kind.value,
                "description": self.description,
                "public_key": base64.b64encode(self.public_key).decode(),
                "root": str(self.root),
                "salt": base64.b64encode(self.salt).decode(),
                "kdf": self.kdf,
                "name": self.name,
                "enrolled_at": None if self.enrolled_at is None else self.enrolled_at.isoformat(),
            },
            ensure_ascii=False,
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> DeviceInfo:
        """Read the file's text; ``ConfigurationError`` if it is damaged."""
        try:
            data = json.loads(text)
            enrolled = data["enrolled_at"]
            return cls(
                server=str(data["server"]),
                owner=str(data["owner"]),
                kind=DeviceKind(data["kind"]),
                description=str(data["description"]),
                public_key=base64.b64decode(data["public_key"], validate=True),
                root=VerifierKey.parse(data["root"]),
                salt=base64.b64decode(data["salt"], validate=True),
                kdf={k: int(data["kdf"][k]) for k in ("n", "r", "p")},
                name=data["name"],
                enrolled_at=None if enrolled is None else datetime.fromisoformat(enrolled),
            )
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise ConfigurationError(
                f"device.json is damaged: {exc!r}", zh="设备信息文件 device.json 已损坏"
            ) from exc


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A finished enrolment: the device, its key record and the bundle that lists it."""

    info: DeviceInfo
    record: PublicKeyRecord
    bundle: TrustBundle


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` (mode 0600) with ``data`` and make it durable; never overwrite."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(path.parent)


def _replace(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically (mode 0600): a crash leaves the old or the new file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    _write_new(temporary, data)
    temporary.replace(path)
    _fsync_dir(path.parent)


class ScannerState:
    """The state directory of one scanner."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def info_path(self) -> Path:
        """``device.json``."""
        return self.directory / "device.json"

    @property
    def key_path(self) -> Path:
        """``device-key.pem``, the encrypted private key."""
        return self.directory / "device-key.pem"

    @property
    def outbox_path(self) -> Path:
        """``outbox.sqlite3``."""
        return self.directory / "outbox.sqlite3"

    def _ensure_directory(self) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the state directory {self.directory}: {exc}",
                zh=f"无法创建状态目录 {self.directory}",
            ) from exc

    def load_info(self) -> DeviceInfo | None:
        """``device.json`` if it exists (enrolled or not yet)."""
        try:
            text = self.info_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(
                f"cannot read {self.info_path}: {exc}", zh="无法读取设备信息"
            ) from exc
        return DeviceInfo.from_json(text)

    def enrolled(self) -> DeviceInfo:
        """The device's facts; ``NotEnrolled`` before ``custody scan enroll`` finished."""
        info = self.load_info()
        if info is None or info.name is None:
            raise NotEnrolled(
                f"no enrolled device in {self.directory}; run `custody scan enroll` first",
                zh=f"{self.directory} 中没有已登记的设备，请先运行 custody scan enroll",
                state_dir=str(self.directory),
            )
        return info

    def write_info(self, info: DeviceInfo) -> None:
        """Replace ``device.json``."""
        self._ensure_directory()
        _replace(self.info_path, info.to_json().encode())

    def outbox(self) -> Outbox:
        """Open the outbox (create it on first use)."""
        self._ensure_directory()
        return Outbox(self.outbox_path)

    def bundle(self, outbox: Outbox) -> TrustBundle:
        """The newest trust bundle kept, verified against the pinned root."""
        info = self.enrolled()
        bundle = cached_bundle(outbox, info.root)
        if bundle is None:
            raise NotEnrolled(
                "no trust bundle kept; run `custody scan sync` when online",
                zh="本机没有信任列表，请在联网时运行 custody scan sync",
            )
        return bundle

    def signing_key(self, passphrase: bytes, bundle: TrustBundle) -> SigningKey:
        """Open the device key with its record from ``bundle`` (validity, revocation)."""
        info = self.enrolled()
        assert info.name is not None  # noqa: S101  # enrolled() checked it
        record = bundle.by_name(info.name)
        if record is None or record.public_key != info.public_key:
            raise NotEnrolled(
                f"trust bundle version {bundle.version} does not list this device's key "
                f"{info.name}",
                zh=f"信任列表（第 {bundle.version} 版）中没有本设备的密钥 {info.name}",
            )
        return self.open_key(record, passphrase, info)

    def open_key(self, record: PublicKeyRecord, passphrase: bytes, info: DeviceInfo) -> SigningKey:
        """Open the private key under ``record`` with the passphrase."""
        try:
            sealed = self.key_path.read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the device key {self.key_path}: {exc}",
                zh=f"无法读取设备私钥 {self.key_path}",
            ) from exc
        try:
            return SigningKey.decrypt(record, sealed, _kek(passphrase, info.salt, info.kdf))
        except ConfigurationError as exc:
            raise ConfigurationError(
                "wrong passphrase for the device key (CUSTODY_SCANNER_PASSPHRASE), or a damaged "
                "key file",
                zh="设备私钥口令（CUSTODY_SCANNER_PASSPHRASE）错误，或私钥文件已损坏",
            ) from exc

    def create_key(self, owner: str, passphrase: bytes) -> tuple[bytes, bytes]:
        """Make the key pair and write the private half; return (public key, salt)."""
        private = Ed25519PrivateKey.generate()
        salt = os.urandom(16)
        now = _now()
        provisional = SigningKey.from_private(
            private,
            name=f"{owner}/device/new",
            owner=owner,
            role=KeyRole.DEVICE,
            valid_from=now,
            valid_until=now + timedelta(days=1),
        )
        self._ensure_directory()
        try:
            _write_new(self.key_path, provisional.encrypted(_kek(passphrase, salt, _KDF)))
        except FileExistsError:
            raise ConflictError(
                f"{self.key_path} exists without device.json; a device key is never overwritten",
                zh=f"{self.key_path} 已存在但缺少 device.json，不会覆盖已有设备私钥",
            ) from None
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return public, salt


def _provisional_record(info: DeviceInfo) -> PublicKeyRecord:
    return PublicKeyRecord(
        f"{info.owner}/device/new",
        info.owner,
        KeyRole.DEVICE,
        info.public_key,
        datetime.fromtimestamp(0, UTC),
        datetime(9999, 1, 1, tzinfo=UTC),
    )


def _kind(kind: DeviceKind | str) -> DeviceKind:
    try:
        return DeviceKind(kind)
    except ValueError:
        choices = ", ".join(k.value for k in DeviceKind)
        raise InputError(
            f"device kind {kind!r} is not one of {choices}",
            zh=f"设备类型“{kind}”无效，应为 {choices} 之一",
            field="kind",
        ) from None


def enroll(  # noqa: PLR0913  # what the operator says about the device, spelled out
    state: ScannerState,
    client: ServerClient,
    *,
    owner: str,
    kind: DeviceKind | str,
    passphrase: bytes,
    description: str = "",
    root: VerifierKey | None = None,
) -> Enrolment:
    """Make (or reuse) the device key, enrol its public half, pin the root, keep the bundle.

    ``root`` pins the root key given out of band (printed, or from the authority's site);
    without it the server's ``/trust-bundle/root`` is trusted on first use and printed for
    the operator to compare.
    """
    owner = parse_credit_code(owner).text
    device_kind = _kind(kind)
    if len(passphrase) < MIN_PASSPHRASE:
        raise InputError(
            f"the passphrase needs at least {MIN_PASSPHRASE} characters",
            zh=f"设备私钥口令至少 {MIN_PASSPHRASE} 个字符",
            field="passphrase",
        )
    info = state.load_info()
    if info is not None and info.name is not None:
        raise ConflictError(
            f"{state.directory} already holds device {info.name}; use another --state-dir",
            zh=f"{state.directory} 中已有设备 {info.name}，请使用其他状态目录",
            device=info.name,
        )
    if info is not None and (info.owner, info.kind) != (owner, device_kind):
        raise ConflictError(
            f"an unfinished enrolment for {info.owner} ({info.kind.value}) is in {state.directory}",
            zh=f"{state.directory} 中有一个未完成的登记（{info.owner}，{info.kind.zh}）",
        )
    if info is not None and root is not None and root != info.root:
        raise ConflictError(
            f"the root key given is not the one pinned ({info.root})",
            zh="给出的根公钥与已预置的不一致",
        )
    if info is None:
        pinned = root or VerifierKey.parse(client.root_key())
        public, salt = state.create_key(owner, passphrase)
        info = DeviceInfo(client.base_url, owner, device_kind, description, public, pinned,
                          salt, dict(_KDF))  # fmt: skip
        state.write_info(info)
    else:  # resume: the operator must still hold the passphrase that opens the key
        state.open_key(_provisional_record(info), passphrase, info)
    answer = client.enroll(owner, device_kind.value, info.public_key, description)
    name = answer.get("name")
    try:
        enrolled_key = VerifierKey.parse(str(answer.get("public_key")))
    except InputError as exc:
        raise ServerRefused("POST /devices: no verifier key in the answer",
                            zh="设备登记应答中缺少公钥") from exc  # fmt: skip
    if not isinstance(name, str) or enrolled_key.public_key != info.public_key:
        raise ServerRefused(
            "the server enrolled another key than the one sent", zh="服务器登记的公钥与发送的不符"
        )
    with state.outbox() as outbox:
        bundle = refresh_bundle(outbox, client, info.root).bundle
    record = bundle.by_name(name)
    if record is None or record.public_key != info.public_key or record.role is not KeyRole.DEVICE:
        raise ServerRefused(
            f"trust bundle version {bundle.version} does not list device {name}",
            zh=f"信任列表（第 {bundle.version} 版）中没有设备 {name}",
        )
    info = replace(info, name=name, enrolled_at=_now())
    state.write_info(info)
    return Enrolment(info, record, bundle)
