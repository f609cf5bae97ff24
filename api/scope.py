"""What a principal may read: one answer per kind of record, used by every endpoint and page.

Out of reach looks exactly like absent (the record's own 404): an answer must not tell a
transporter that a rival's manifest exists, nor an officer what lies outside their area.
Listings are filtered instead, in SQL where the store can (alerts) and here otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from custody.errors import AlertNotFound, ContainerNotFound, ManifestNotFound, PartyNotFound
from storage.facts_loader import load_records

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.engine import Engine

    from custody.access import Principal
    from custody.alerts import Alert
    from custody.manifests import TransferManifest

__all__ = [
    "container_parties",
    "ensure_alert",
    "ensure_container",
    "ensure_manifest",
    "ensure_party",
    "manifest_parties",
]


def manifest_parties(manifest: TransferManifest) -> tuple[str, ...]:
    """The parties a manifest names."""
    return (manifest.generator, manifest.transporter, manifest.receiver)


def container_parties(engine: Engine, code: str, generator: str | None) -> set[str]:
    """The generator of a container and every party that made or received one of its events."""
    parties = {generator} if generator else set()
    for record in load_records(engine, [code]):
        parties.add(record.event.party)
        if record.event.counterparty:
            parties.add(record.event.counterparty)
    return parties


def ensure_alert(principal: Principal, alert: Alert) -> Alert:
    """The alert, if it names a party in reach."""
    if not principal.covers_any(alert.parties):
        raise AlertNotFound(f"no alert {alert.alert_id!r}", zh="未找到该告警",
                            alert_id=alert.alert_id)  # fmt: skip
    return alert


def ensure_manifest(principal: Principal, manifest: TransferManifest) -> TransferManifest:
    """The manifest, if one of its parties is in reach."""
    if not principal.covers_any(manifest_parties(manifest)):
        raise ManifestNotFound(f"no manifest {manifest.number!r}", zh="未找到转移联单",
                               number=manifest.number)  # fmt: skip
    return manifest


def ensure_container(
    principal: Principal, engine: Engine, code: str, generator: str | None
) -> None:
    """Nothing, if the container's generator or a party in its history is in reach."""
    if principal.sees_all or (generator is not None and principal.covers_party(generator)):
        return
    if not principal.covers_any(container_parties(engine, code, generator)):
        raise ContainerNotFound(f"no container {code!r}", zh="未找到该容器", digital_id=code)


def ensure_party(principal: Principal, credit_code: str) -> None:
    """Nothing, if the party is the principal's own or in its jurisdiction."""
    if not principal.covers_party(credit_code):
        raise PartyNotFound(f"no party {credit_code!r}", zh="未找到该单位",
                            credit_code=credit_code)  # fmt: skip


def visible(principal: Principal, parties: Iterable[str]) -> bool:
    """Whether a record naming these parties may be shown."""
    return principal.covers_any(parties)
