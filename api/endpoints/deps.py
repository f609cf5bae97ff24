"""Dependencies shared by endpoints: a database session and the services built on it.

Those that only build objects are ``async``: FastAPI runs a plain ``def`` dependency on a
worker thread, and each such hop cost a timeline request about a tenth of a millisecond.
Those that touch the database stay plain functions, off the event loop.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from api.wiring import label_issuer, open_ledger
from custody.containers import Containers
from custody.devices import Devices
from custody.group_commit import GroupCommit
from custody.ingest import Ingest
from custody.keyring import Keyring
from custody.ledger import Ledger
from custody.registry import Registry
from labels.issuing import LabelIssuer
from storage.container_store import SqlContainerStore
from storage.device_store import SqlDeviceStore
from storage.key_store import SqlKeyStore
from storage.registry_store import SqlRegistryStore

if TYPE_CHECKING:
    from collections.abc import Iterator

    from custody.trust import TrustBundle

__all__ = [
    "ContainersDep",
    "DeviceStoreDep",
    "DevicesDep",
    "IngestDep",
    "IssuerDep",
    "KeyringDep",
    "LedgerDep",
    "RegistryDep",
    "SessionDep",
    "get_session",
]


def get_session(request: Request) -> Iterator[Session]:
    """A database session for one request; each store commits its own writes."""
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def _registry(session: SessionDep) -> Registry:
    return Registry(SqlRegistryStore(session))


RegistryDep = Annotated[Registry, Depends(_registry)]


async def _keyring(request: Request, session: SessionDep) -> Keyring:
    return Keyring(SqlKeyStore(session), request.app.state.kek)


KeyringDep = Annotated[Keyring, Depends(_keyring)]


async def _containers(request: Request, session: SessionDep, registry: RegistryDep) -> Containers:
    edition = request.app.state.settings.waste_list_edition
    return Containers(SqlContainerStore(session), registry, edition)


ContainersDep = Annotated[Containers, Depends(_containers)]


async def _issuer(
    request: Request, session: SessionDep, keyring: KeyringDep, registry: RegistryDep
) -> LabelIssuer:
    settings = request.app.state.settings
    return label_issuer(
        session, registry, keyring, settings.waste_list_edition, settings.public_url
    )


IssuerDep = Annotated[LabelIssuer, Depends(_issuer)]


_LEDGER_LOCK = threading.Lock()


def _ledger(request: Request) -> Ledger:
    """The app's one ledger, opened on first use (its log key is made then if need be)."""
    state = request.app.state
    with _LEDGER_LOCK:
        if getattr(state, "ledger", None) is None:
            with Session(state.engine) as session:
                keyring = Keyring(SqlKeyStore(session), state.kek)
                state.ledger = open_ledger(state.engine, keyring, state.settings.log_origin)
                state.group_commit = GroupCommit(state.ledger)
        ledger: Ledger = state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(_ledger)]


async def _device_store(session: SessionDep) -> SqlDeviceStore:
    return SqlDeviceStore(session)


DeviceStoreDep = Annotated[SqlDeviceStore, Depends(_device_store)]


async def _devices(store: DeviceStoreDep, keyring: KeyringDep, registry: RegistryDep) -> Devices:
    return Devices(store, keyring, registry)


DevicesDep = Annotated[Devices, Depends(_devices)]


_BUNDLE_LOCK = threading.Lock()


def _current_bundle(request: Request, keyring: Keyring) -> TrustBundle:
    """The newest trust bundle, parsed and checked once per version, not once per request."""
    state = request.app.state
    latest = keyring.latest_bundle_version()
    with _BUNDLE_LOCK:
        cached: tuple[int, TrustBundle] | None = getattr(state, "trust_bundle", None)
        if cached is not None and cached[0] == latest:
            return cached[1]
    bundle, _ = keyring.bundle()
    with _BUNDLE_LOCK:
        state.trust_bundle = (bundle.version, bundle)
    return bundle


async def _ingest(
    request: Request,
    session: SessionDep,
    keyring: KeyringDep,
    ledger: LedgerDep,
    devices: DeviceStoreDep,
) -> Ingest:
    return Ingest(
        ledger,
        devices,
        SqlContainerStore(session),
        lambda: _current_bundle(request, keyring),
        append=request.app.state.group_commit.append,
        appended=checker.appended if (checker := request.app.state.checker) else None,
    )


IngestDep = Annotated[Ingest, Depends(_ingest)]
