"""One script, every RegistryStore: the in-memory fake, the suite's database (SQLite, or
PostgreSQL when CUSTODY_DATABASE_URL says so) and a dedicated PostgreSQL database."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from custody.errors import AlreadyRegistered, PartyNotFound
from custody.parties import PartyRole
from custody.ports import RegistryStore
from custody.registry import Registry
from storage.registry_store import SqlRegistryStore
from tests.fakes.registry_store import InMemoryRegistryStore

if TYPE_CHECKING:
    from custody.parties import (
        Checkpoint,
        OperatingLicence,
        Party,
        TransportPermit,
        Vehicle,
    )


@pytest.fixture(params=["memory", "default-db", "postgresql"])
def store(request: pytest.FixtureRequest) -> RegistryStore:
    if request.param == "memory":
        return InMemoryRegistryStore()
    session_fixture = "session" if request.param == "default-db" else "postgres_session"
    return SqlRegistryStore(request.getfixturevalue(session_fixture))


def test_every_store_satisfies_the_port(store: RegistryStore) -> None:
    port_methods = {
        name
        for name in vars(RegistryStore)
        if not name.startswith("_") and callable(getattr(RegistryStore, name))
    }
    missing = {name for name in port_methods if not callable(getattr(store, name, None))}
    assert not missing


def test_registration_script(  # one scenario, read top to bottom
    store: RegistryStore,
    generator: Party,
    transporter: Party,
    disposer: Party,
    permit: TransportPermit,
    licence: OperatingLicence,
    vehicle: Vehicle,
    checkpoint: Checkpoint,
) -> None:
    registry = Registry(store)

    assert registry.register_party(generator) == (generator, True)
    assert registry.register_party(transporter) == (transporter, True)
    assert registry.register_party(disposer) == (disposer, True)
    assert registry.register_party(generator) == (generator, False)  # idempotent

    assert registry.party(generator.credit_code.lower()) == generator
    assert [p.credit_code for p in registry.parties()] == sorted(
        p.credit_code for p in (generator, transporter, disposer)
    )
    assert registry.parties(PartyRole.TRANSPORTER) == [transporter]

    assert registry.register_permit(permit) == (permit, True)
    assert registry.register_permit(permit) == (permit, False)
    assert registry.permits(transporter.credit_code) == [permit]
    assert registry.permits(generator.credit_code) == []

    assert registry.register_licence(licence) == (licence, True)
    assert registry.licences(disposer.credit_code) == [licence]
    assert registry.licences(disposer.credit_code)[0].covers("900-249-08")

    assert registry.register_vehicle(vehicle) == (vehicle, True)
    assert registry.vehicle("川a12345") == vehicle
    assert registry.vehicles(transporter.credit_code) == [vehicle]

    assert registry.register_checkpoint(checkpoint) == (checkpoint, True)
    assert registry.checkpoint(checkpoint.checkpoint_id) == checkpoint
    assert registry.checkpoints() == [checkpoint]


def test_changed_party_is_refused_and_the_original_kept(
    store: RegistryStore, generator: Party
) -> None:
    registry = Registry(store)
    registry.register_party(generator)
    renamed = dataclasses.replace(generator, name="另一家公司")

    with pytest.raises(AlreadyRegistered):
        registry.register_party(renamed)

    assert registry.party(generator.credit_code).name == generator.name


def test_changed_licence_scope_is_refused(
    store: RegistryStore, disposer: Party, licence: OperatingLicence
) -> None:
    registry = Registry(store)
    registry.register_party(disposer)
    registry.register_licence(licence)

    with pytest.raises(AlreadyRegistered):
        registry.register_licence(dataclasses.replace(licence, scope=frozenset({"HW01"})))

    assert registry.licences(disposer.credit_code) == [licence]


def test_vehicle_of_unknown_operator_is_refused(store: RegistryStore, vehicle: Vehicle) -> None:
    with pytest.raises(PartyNotFound) as caught:
        Registry(store).register_vehicle(vehicle)
    assert caught.value.context["credit_code"] == vehicle.operator
    assert store.get_vehicle(vehicle.plate) is None


def test_permit_of_unknown_holder_is_refused(store: RegistryStore, permit: TransportPermit) -> None:
    with pytest.raises(PartyNotFound):
        Registry(store).register_permit(permit)
    assert store.get_permit(permit.number) is None


def test_store_insert_of_existing_identity_raises_already_registered(
    store: RegistryStore, generator: Party
) -> None:
    # The race a concurrent writer wins: the store itself must refuse, not overwrite.
    store.insert_party(generator)
    with pytest.raises(AlreadyRegistered):
        store.insert_party(dataclasses.replace(generator, name="抢先写入"))
    assert store.get_party(generator.credit_code) == generator


def test_unknown_lookups_name_what_is_missing(store: RegistryStore) -> None:
    registry = Registry(store)
    with pytest.raises(PartyNotFound) as party:
        registry.party("91510100MA61R8XQ02")
    with pytest.raises(PartyNotFound) as plate:
        registry.vehicle("川A·99999")
    with pytest.raises(PartyNotFound) as gate:
        registry.checkpoint("NOPE")
    assert "91510100MA61R8XQ02" in party.value.message
    assert plate.value.context["plate"] == "川A99999"
    assert "NOPE" in gate.value.message
