"""Putting the core's services together on SQL stores: one place for the HTTP app and the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from custody.containers import Containers
from custody.ledger import Ledger
from labels.issuing import LabelIssuer
from storage.container_store import SqlContainerStore
from storage.ledger_store import SqlLedgerStore

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from custody.keyring import Keyring
    from custody.registry import Registry

__all__ = ["label_issuer", "open_ledger"]


def label_issuer(
    session: Session, registry: Registry, keyring: Keyring, edition: str, public_url: str
) -> LabelIssuer:
    """The label issuer with its container store, on one session; QRs link to ``public_url``."""
    store = SqlContainerStore(session)
    containers = Containers(store, registry, edition)
    return LabelIssuer(containers, store, keyring, registry, public_url=public_url)


def open_ledger(engine: Engine, keyring: Keyring, origin: str) -> Ledger:
    """The ledger on its tables, signing with the log key (made on first use)."""
    return Ledger(SqlLedgerStore(engine), keyring.log_key(), origin)
