"""Keys, trust bundles, containers and labels: fake and SQL stores on one script."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from custody.containers import Containers, ContainerType, NewContainer, PhysicalForm
from custody.errors import (
    AlreadyRegistered,
    ConfigurationError,
    ContainerNotFound,
    KeyRevoked,
    PartyNotFound,
    RecordInvalid,
    SigningKeyMissing,
    TrustBundleInvalid,
)
from custody.keyring import ROOT_KEY_NAME, Keyring
from custody.keys import KeyRole
from custody.ports import ContainerStore, IssuedLabel, KeyStore
from custody.registry import Registry
from custody.trust import TrustBundle
from labels.payload import LabelPayload, mint, verify
from storage.container_store import SqlContainerStore
from storage.key_store import SqlKeyStore
from storage.registry_store import SqlRegistryStore
from tests.fakes.key_store import InMemoryContainerStore, InMemoryKeyStore
from tests.fakes.registry_store import InMemoryRegistryStore

if TYPE_CHECKING:
    from custody.parties import Party

KEK = b"test key-encryption key"


@pytest.fixture(params=["memory", "default-db", "postgresql"])
def stores(request: pytest.FixtureRequest) -> tuple[KeyStore, ContainerStore, Registry]:
    if request.param == "memory":
        return InMemoryKeyStore(), InMemoryContainerStore(), Registry(InMemoryRegistryStore())
    session = request.getfixturevalue(
        "session" if request.param == "default-db" else "postgres_session"
    )
    return SqlKeyStore(session), SqlContainerStore(session), Registry(SqlRegistryStore(session))


def _drum(generator: Party, **changes: object) -> NewContainer:
    values: dict[str, object] = {
        "generator": generator.credit_code,
        "waste_code": "900-249-08",
        "generated_on": date(2026, 3, 5),
        "form": PhysicalForm.LIQUID,
        "container_type": ContainerType.DRUM,
        "capacity_l": 200,
        "declared_net_mass_g": 182_500,
        "seal_no": "S-000981",
        "waste_name": "废机油",
    }
    values.update(changes)
    return NewContainer(**values)  # type: ignore[arg-type]


def test_root_key_is_made_once_and_signs_the_first_bundle(stores) -> None:
    keys, _, _ = stores
    ring = Keyring(keys, KEK)
    root = ring.root()
    assert root.record.name == ROOT_KEY_NAME
    assert ring.root().record == root.record
    bundle, signed = ring.bundle()
    assert bundle.version == 1
    assert (
        TrustBundle.from_signed(signed, root.record.verifier_key).by_name(ROOT_KEY_NAME)
        == root.record
    )


def test_the_latest_bundle_version_is_known_without_reading_the_bundle(stores, generator) -> None:
    keys, _, registry = stores
    assert keys.latest_bundle_version() is None
    registry.register_party(generator)
    ring = Keyring(keys, KEK)
    ring.create(generator.credit_code, KeyRole.LABEL_ISSUER)
    latest = keys.latest_bundle()
    assert latest is not None
    assert keys.latest_bundle_version() == latest[0] == ring.latest_bundle_version() == 2


def test_new_key_is_published_in_a_newer_bundle_and_signs_verifiable_labels(
    stores, generator
) -> None:
    keys, containers, registry = stores
    registry.register_party(generator)
    ring = Keyring(keys, KEK)
    issuer = ring.create(generator.credit_code, KeyRole.LABEL_ISSUER)
    bundle, _ = ring.bundle()
    assert bundle.version == 2
    assert bundle.by_name(issuer.record.name) == issuer.record

    container = Containers(containers, registry, "2021").register(_drum(generator))
    text = mint(
        LabelPayload.of(container, datetime.now(UTC)),
        ring.active(generator.credit_code, KeyRole.LABEL_ISSUER),
    )
    assert verify(text, bundle).payload.digital_id == container.digital_id


def test_private_keys_are_stored_encrypted_and_need_the_right_kek(stores) -> None:
    keys, _, _ = stores
    ring = Keyring(keys, KEK)
    root = ring.root()
    stored = keys.get_key(ROOT_KEY_NAME)
    assert stored is not None
    assert stored[1] is not None
    assert b"ENCRYPTED PRIVATE KEY" in stored[1]
    assert "hidden" in repr(root)
    with pytest.raises(ConfigurationError):
        Keyring(keys, b"wrong").root()


def test_revocation_is_published_and_rejects_old_labels(stores, generator) -> None:
    keys, containers, registry = stores
    registry.register_party(generator)
    ring = Keyring(keys, KEK)
    issuer = ring.create(generator.credit_code, KeyRole.LABEL_ISSUER)
    container = Containers(containers, registry, "2021").register(_drum(generator))
    text = mint(LabelPayload.of(container, datetime.now(UTC)), issuer)

    ring.revoke(issuer.record.name, "scanner stolen")
    bundle, _ = ring.bundle()
    assert bundle.version == 3
    with pytest.raises(KeyRevoked):
        verify(text, bundle)
    with pytest.raises(SigningKeyMissing):
        ring.active(generator.credit_code, KeyRole.LABEL_ISSUER)


def test_a_bundle_signed_by_another_root_is_refused(stores) -> None:
    keys, _, _ = stores
    _, signed = Keyring(keys, KEK).bundle()
    stranger = Keyring(InMemoryKeyStore(), KEK).root()
    with pytest.raises(TrustBundleInvalid):
        TrustBundle.from_signed(signed, stranger.record.verifier_key)


def test_containers_are_numbered_per_generator_waste_and_day(stores, generator) -> None:
    _, containers, registry = stores
    registry.register_party(generator)
    service = Containers(containers, registry, "2021")
    first = service.register(_drum(generator))
    second = service.register(_drum(generator))
    other_day = service.register(_drum(generator, generated_on=date(2026, 3, 6)))
    other_waste = service.register(_drum(generator, waste_code="900-041-49"))
    assert [c.digital_id.sequence for c in (first, second, other_day, other_waste)] == [1, 2, 1, 1]
    assert service.get(second.digital_id.text) == second
    assert second.waste.category == "HW08"


def test_container_needs_a_registered_generator_and_a_listed_code(
    stores, generator, transporter
) -> None:
    _, containers, registry = stores
    service = Containers(containers, registry, "2021")
    with pytest.raises(PartyNotFound):
        service.register(_drum(generator))
    registry.register_party(transporter)
    with pytest.raises(RecordInvalid):
        service.register(_drum(transporter))
    registry.register_party(generator)
    with pytest.raises(Exception, match="900-998-49"):
        service.register(_drum(generator, waste_code="900-998-49"))
    with pytest.raises(ContainerNotFound):
        service.get("X" * 37)


def test_labels_are_kept_in_order(stores, generator) -> None:
    keys, containers, registry = stores
    registry.register_party(generator)
    ring = Keyring(keys, KEK)
    issuer = ring.create(generator.credit_code, KeyRole.LABEL_ISSUER)
    container = Containers(containers, registry, "2021").register(_drum(generator))
    when = datetime(2026, 3, 5, 9, tzinfo=UTC)
    for minutes in (0, 5):
        containers.insert_label(
            IssuedLabel(
                container.digital_id.text,
                issuer.record.name,
                when + timedelta(minutes=minutes),
                f"WL1:{minutes}",
            )
        )
    assert [label.text for label in containers.labels_of(container.digital_id.text)] == [
        "WL1:0",
        "WL1:5",
    ]


def test_duplicate_key_name_is_refused(stores) -> None:
    keys, _, _ = stores
    root = Keyring(keys, KEK).root()
    with pytest.raises(AlreadyRegistered):
        keys.insert_key(root.record, None)


def test_the_newest_of_many_keys_signs(stores, generator) -> None:
    keys, _, registry = stores
    registry.register_party(generator)
    ring = Keyring(keys, KEK)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    made = [
        ring.create(generator.credit_code, KeyRole.LABEL_ISSUER, valid_from=start)
        for _ in range(11)
    ]
    assert made[-1].record.name.endswith("/11")
    at = start + timedelta(days=1)
    assert ring.active(generator.credit_code, KeyRole.LABEL_ISSUER, at).record == made[-1].record
