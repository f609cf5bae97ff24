"""The trust bundle on the scanner: checked against the pinned root, newest kept, never rolled back.

A scanner verifies labels with no network, so it keeps the newest bundle it has verified (in
the outbox database, every version it ever accepted). A bundle is accepted only if the root
key pinned at enrolment signed it, and an older version than the one kept is ignored: a
server (or a man in the middle) serving an old bundle cannot hide a revocation that the
device already knows of.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from custody.keys import KeyRole
from custody.trust import TrustBundle

if TYPE_CHECKING:
    from custody.keys import VerifierKey
    from scanners.http import ServerClient
    from scanners.outbox import Outbox

__all__ = ["BundleUpdate", "cached_bundle", "log_keys", "refresh_bundle"]


@dataclass(frozen=True, slots=True)
class BundleUpdate:
    """What fetching the bundle gave: the bundle now in use, and whether the server lagged."""

    bundle: TrustBundle
    offered_version: int  # the version the server sent
    new: bool  # a newer bundle than the one kept was stored

    @property
    def rolled_back(self) -> bool:
        """The server offered an older bundle than the one kept (it was ignored)."""
        return self.offered_version < self.bundle.version


def cached_bundle(outbox: Outbox, root: VerifierKey) -> TrustBundle | None:
    """The newest bundle kept, checked again against the pinned root (``None`` if none)."""
    latest = outbox.latest_bundle()
    return None if latest is None else TrustBundle.from_signed(latest[1], root)


def refresh_bundle(outbox: Outbox, client: ServerClient, root: VerifierKey) -> BundleUpdate:
    """Fetch the server's bundle; keep it if the pinned root signed it and it is newer.

    Raises ``TrustBundleInvalid`` for a bundle the root did not sign (nothing is stored).
    """
    signed = client.trust_bundle()
    offered = TrustBundle.from_signed(signed, root)
    kept = cached_bundle(outbox, root)
    if kept is not None and offered.version <= kept.version:
        return BundleUpdate(kept, offered.version, new=False)
    outbox.store_bundle(offered.version, signed)
    return BundleUpdate(offered, offered.version, new=True)


def log_keys(bundle: TrustBundle) -> list[VerifierKey]:
    """The ledger's checkpoint keys the bundle lists, revoked ones left out."""
    return [
        record.verifier_key
        for record in bundle.keys
        if record.role is KeyRole.LOG and record.revoked_at is None
    ]
