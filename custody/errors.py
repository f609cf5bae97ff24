"""Every failure a user can act on, one class each.

The tree, grouped by whose fault it is::

    CustodyError                      base; stable ``code``; ``diagnostics()`` for people
    ├── InputError                    the caller sent something malformed
    │   ├── WasteCodeInvalid          not a well-formed ``NNN-NNN-NN`` waste code
    │   ├── CreditCodeInvalid         unified social credit code fails GB 32100 / GB 11714
    │   ├── DigitalIdInvalid          HJ 1276-2022 digital identification code malformed
    │   ├── PlateInvalid              not a Chinese motor vehicle plate
    │   ├── CoordinateInvalid         latitude/longitude out of range
    │   ├── EventsRefused             a batch with bad events: each named, none appended
    │   └── RecordInvalid             a registry record breaks a field rule
    ├── EvidenceError                 signed evidence is forged, damaged or not trusted
    │   ├── NotALabel                 the text or image holds no label of ours
    │   ├── LabelMalformed            a label's encoding or structure is broken
    │   ├── LabelSchemaUnsupported    a label of a schema version we do not read
    │   ├── SignatureInvalid          the signature does not match the signed bytes
    │   ├── KeyUnknown                no trusted key has the label's key id
    │   ├── KeyRevoked                the key was revoked (compromised): nothing it signed counts
    │   ├── KeyNotValidAtIssue        signed at a time outside the key's validity window
    │   ├── KeyOwnerMismatch          a genuine key of another party than the one named
    │   ├── TrustBundleInvalid        a trust bundle that is not signed by the pinned root
    │   ├── EventMalformed            a custody event whose encoding or fields are broken
    │   ├── ChainBroken               an event's back link points at no entry of its container
    │   ├── NoteMalformed             a signed note (checkpoint) that is not well formed
    │   ├── CheckpointMalformed       a checkpoint body that is not well formed
    │   ├── ProofInvalid              an inclusion or consistency proof that does not hold
    │   ├── LedgerTampered            stored ledger data differs from what was signed
    │   └── BundleInvalid             an evidence bundle that does not verify
    ├── NotFoundError                 something named does not exist
    │   ├── WasteCodeUnknown          well-formed, but not in the given list edition
    │   ├── PartyNotFound             no such party, vehicle or checkpoint
    │   ├── ContainerNotFound         no container with that digital identification code
    │   ├── ManifestNotFound          no transfer manifest with that number
    │   ├── AlertNotFound             no alert with that id
    │   ├── AccountNotFound           no account or token with that name
    │   └── SigningKeyMissing         no usable signing key for that owner and role
    ├── AccessError                   who is asking may not do this
    │   ├── NotAuthenticated          no credentials, or a token unknown, expired or revoked
    │   ├── Forbidden                 authenticated, but the role or scope does not allow it
    │   └── RateLimited               too many writes in a short time; try again later
    ├── ConflictError                 the request contradicts what is already accepted
    │   ├── AlreadyRegistered         a record with that identity exists with other content
    │   └── AlertTransitionInvalid    an alert cannot move from its state to the one asked
    ├── StorageError                  the store failed; nothing was accepted
    ├── AuditInterrupted              an audit could not finish (a verifying process died)
    └── ConfigurationError            the service is set up wrongly (e.g. wrong key-encryption key)

Codes are stable: clients and the problem-details table in ``api/problems.py`` rely on them.
HTTP status codes stay out of the core.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccessError",
    "AccountNotFound",
    "AlreadyRegistered",
    "AuditInterrupted",
    "BundleInvalid",
    "ChainBroken",
    "CheckpointMalformed",
    "ConfigurationError",
    "ConflictError",
    "ContainerNotFound",
    "CoordinateInvalid",
    "CreditCodeInvalid",
    "CustodyError",
    "DigitalIdInvalid",
    "EventMalformed",
    "EventsRefused",
    "EvidenceError",
    "Forbidden",
    "InputError",
    "KeyNotValidAtIssue",
    "KeyOwnerMismatch",
    "KeyRevoked",
    "KeyUnknown",
    "LabelMalformed",
    "LabelSchemaUnsupported",
    "LedgerTampered",
    "NotALabel",
    "NotAuthenticated",
    "NotFoundError",
    "NoteMalformed",
    "PartyNotFound",
    "PlateInvalid",
    "ProofInvalid",
    "RateLimited",
    "RecordInvalid",
    "SignatureInvalid",
    "SigningKeyMissing",
    "StorageError",
    "TrustBundleInvalid",
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


class EventsRefused(InputError):
    """A batch of events with bad ones in it; the context lists each by position."""

    code = "events-refused"
    title = "Events refused"
    title_zh = "事件被拒收"


class ReadsRefused(InputError):
    """A batch of plate reads with bad ones in it; the context lists each by position."""

    code = "reads-refused"
    title = "Plate reads refused"
    title_zh = "车牌识别记录被拒收"


class RecordInvalid(InputError):
    """A registry record (permit, licence, vehicle) breaks one of its field rules."""

    code = "record-invalid"
    title = "Invalid record"
    title_zh = "记录无效"


class EvidenceError(CustodyError):
    """Signed evidence is forged, damaged, or signed by a key we cannot trust."""

    code = "evidence-invalid"
    title = "Evidence rejected"
    title_zh = "证据无效"


class NotALabel(EvidenceError):
    """The text or image holds no label of ours (no QR code, or no ``WL1:`` prefix)."""

    code = "not-a-label"
    title = "Not a label"
    title_zh = "不是危险废物电子标签"


class LabelMalformed(EvidenceError):
    """A label's Base45, CBOR or COSE structure is broken: damaged or tampered with."""

    code = "label-malformed"
    title = "Malformed label"
    title_zh = "标签数据损坏"


class LabelSchemaUnsupported(EvidenceError):
    """A label of a schema version this software does not read."""

    code = "label-schema-unsupported"
    title = "Unsupported label version"
    title_zh = "标签版本不受支持"


class SignatureInvalid(EvidenceError):
    """The signature does not match the signed bytes: forged or altered."""

    code = "signature-invalid"
    title = "Invalid signature"
    title_zh = "签名无效"

    def diagnostics(self) -> str:
        """Warn that the evidence may have been altered on purpose."""
        return (
            f"{super().diagnostics()}\n"
            "内容可能被恶意篡改，请扣留并报告。 The evidence may have been modified maliciously."
        )


class KeyUnknown(EvidenceError):
    """No key in the trust bundle has the key id the evidence names."""

    code = "key-unknown"
    title = "Unknown signing key"
    title_zh = "签名密钥未知"


class KeyRevoked(EvidenceError):
    """The signing key was revoked as compromised; nothing it signed is trusted."""

    code = "key-revoked"
    title = "Signing key revoked"
    title_zh = "签名密钥已吊销"


class KeyNotValidAtIssue(EvidenceError):
    """The evidence claims a time outside the signing key's validity window."""

    code = "key-not-valid-at-issue"
    title = "Key not valid at issue time"
    title_zh = "签发时密钥不在有效期内"


class KeyOwnerMismatch(EvidenceError):
    """A genuine key signed evidence in the name of another party."""

    code = "key-owner-mismatch"
    title = "Signed by another party's key"
    title_zh = "签名密钥不属于标签所载单位"


class TrustBundleInvalid(EvidenceError):
    """A trust bundle that is malformed or not signed by the pinned root key."""

    code = "trust-bundle-invalid"
    title = "Invalid trust bundle"
    title_zh = "信任列表无效"


class EventMalformed(EvidenceError):
    """A custody event whose encoding or fields are broken."""

    code = "event-malformed"
    title = "Malformed custody event"
    title_zh = "交接事件格式错误"


class CounterReused(EvidenceError):
    """A device counter already used for another event: two devices share one key."""

    code = "counter-reused"
    title = "Device counter reused (cloned device)"
    title_zh = "设备计数器重复（疑似设备被克隆）"


class CounterStale(EvidenceError):
    """A device counter at or below one already used: a replay of an old scan."""

    code = "counter-stale"
    title = "Stale device counter (replay)"
    title_zh = "设备计数器回退（疑似重放）"


class ChainBroken(EvidenceError):
    """An event's back link names no earlier entry of the same container."""

    code = "chain-broken"
    title = "Broken container chain"
    title_zh = "容器记录链断裂"


class NoteMalformed(EvidenceError):
    """A signed note that is not well formed."""

    code = "note-malformed"
    title = "Malformed signed note"
    title_zh = "签名注记格式错误"


class CheckpointMalformed(EvidenceError):
    """A log checkpoint body that is not well formed."""

    code = "checkpoint-malformed"
    title = "Malformed log checkpoint"
    title_zh = "日志检查点格式错误"


class ProofInvalid(EvidenceError):
    """An inclusion or consistency proof that does not hold."""

    code = "proof-invalid"
    title = "Invalid Merkle proof"
    title_zh = "默克尔证明无效"


class LedgerTampered(EvidenceError):
    """Stored ledger data differs from what was hashed and signed: altered after the fact."""

    code = "ledger-tampered"
    title = "Ledger tampered with"
    title_zh = "账本数据被篡改"


class BundleInvalid(EvidenceError):
    """An evidence bundle that does not verify."""

    code = "bundle-invalid"
    title = "Evidence bundle does not verify"
    title_zh = "证据包核验未通过"


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


class ContainerNotFound(NotFoundError):
    """No container with that digital identification code is registered."""

    code = "container-not-found"
    title = "Container not found"
    title_zh = "未找到该容器"


class DeviceUnknown(NotFoundError):
    """No device of that name is enrolled."""

    code = "device-unknown"
    title = "Device not enrolled"
    title_zh = "设备未登记"


class ManifestNotFound(NotFoundError):
    """No transfer manifest has that number."""

    code = "manifest-not-found"
    title = "Manifest not found"
    title_zh = "未找到转移联单"


class AlertNotFound(NotFoundError):
    """No alert has that id."""

    code = "alert-not-found"
    title = "Alert not found"
    title_zh = "未找到该告警"


class AccountNotFound(NotFoundError):
    """No account, or no token, with that name or id."""

    code = "account-not-found"
    title = "Account not found"
    title_zh = "未找到该账户或令牌"


class SigningKeyMissing(NotFoundError):
    """No usable signing key exists for that owner and role."""

    code = "signing-key-missing"
    title = "No signing key"
    title_zh = "没有可用的签名密钥"


class AccessError(CustodyError):
    """Who is asking may not do this."""

    code = "access-denied"
    title = "Access denied"
    title_zh = "无权访问"


class NotAuthenticated(AccessError):
    """No credentials, or a token that is unknown, expired or revoked, or a wrong password."""

    code = "not-authenticated"
    title = "Not authenticated"
    title_zh = "未登录或令牌无效"


class Forbidden(AccessError):
    """The account is known, but its role or its scope does not allow this."""

    code = "forbidden"
    title = "Forbidden"
    title_zh = "无此权限"


class RateLimited(AccessError):
    """Too many writes in a short time; ``retry_after_s`` says when to try again."""

    code = "rate-limited"
    title = "Too many requests"
    title_zh = "请求过于频繁"


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


class EventIdReused(ConflictError):
    """An event id already in the log for an event with other content."""

    code = "event-id-reused"
    title = "Event id reused"
    title_zh = "事件编号重复使用"


class AlertTransitionInvalid(ConflictError):
    """An alert cannot go from its state to the one asked (or a dismissal gives no reason)."""

    code = "alert-transition-invalid"
    title = "Alert state change not allowed"
    title_zh = "告警状态不可如此变更"


class StorageError(CustodyError):
    """The store failed; nothing from the request was accepted."""

    code = "storage-error"
    title = "Storage failure"
    title_zh = "存储故障"


class AuditInterrupted(CustodyError):
    """An audit stopped before it could conclude anything; running it again may succeed."""

    code = "audit-interrupted"
    title = "Audit interrupted"
    title_zh = "审计中断"


class ConfigurationError(CustodyError):
    """The service is set up wrongly, e.g. the key-encryption key does not open stored keys."""

    code = "configuration-error"
    title = "Configuration error"
    title_zh = "配置错误"
