"""Recording transfer manifests: once each, never changed, and safe when two arrive at once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from custody.errors import AlreadyRegistered, ManifestNotFound, RecordInvalid
from custody.manifests import Manifests, TransferManifest
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE

WHEN = datetime(2026, 10, 5, 1, 0, tzinfo=UTC)


def manifest(**changes: object) -> TransferManifest:
    body: dict[str, object] = {
        "number": "20265101000001", "generator": GENERATOR_CODE, "transporter": TRANSPORTER_CODE,
        "receiver": DISPOSER_CODE, "vehicles": ("川A12345",), "waste_codes": ("900-041-49",),
        "containers": (), "declared_mass_g": 200_000, "created_at": WHEN,
    }  # fmt: skip
    return TransferManifest(**(body | changes))  # type: ignore[arg-type]


class _Store:
    """In memory; ``racing`` makes the next insert lose to an identical one stored first."""

    def __init__(self, racing: TransferManifest | None = None) -> None:
        self.rows: dict[str, TransferManifest] = {}
        self.racing = racing

    def insert_manifest(self, m: TransferManifest) -> None:
        if self.racing is not None:
            self.rows[self.racing.number], self.racing = self.racing, None
        if m.number in self.rows:
            raise AlreadyRegistered(f"manifest {m.number}")
        self.rows[m.number] = m

    def get_manifest(self, number: str) -> TransferManifest | None:
        return self.rows.get(number)


def test_the_same_manifest_twice_is_one_and_a_changed_one_is_refused() -> None:
    manifests = Manifests(_Store())  # type: ignore[arg-type]
    assert manifests.record(manifest()) == (manifest(), True)
    assert manifests.record(manifest()) == (manifest(), False)
    with pytest.raises(AlreadyRegistered):
        manifests.record(manifest(vehicles=("川B54321",)))
    assert manifests.get("20265101000001") == manifest()


def test_losing_a_race_to_the_same_manifest_is_not_a_conflict() -> None:
    manifests = Manifests(_Store(racing=manifest()))  # type: ignore[arg-type]
    assert manifests.record(manifest()) == (manifest(), False)


def test_losing_a_race_to_another_manifest_with_the_number_is_a_conflict() -> None:
    manifests = Manifests(_Store(racing=manifest(declared_mass_g=150_000)))  # type: ignore[arg-type]
    with pytest.raises(AlreadyRegistered):
        manifests.record(manifest())


def test_an_unknown_number_is_not_found_in_both_languages() -> None:
    with pytest.raises(ManifestNotFound) as caught:
        Manifests(_Store()).get("20265101999999")  # type: ignore[arg-type]
    assert "未登记" in caught.value.zh


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"number": "A123"}, "number"),
        ({"vehicles": ()}, "vehicles"),
        ({"declared_mass_g": 0}, "declared_mass_g"),
        ({"created_at": datetime(2026, 10, 5)}, "created_at"),  # noqa: DTZ001  # on purpose
        ({"depart_after": WHEN, "arrive_before": WHEN}, "arrive_before"),
        ({"vehicles": ("not a plate",)}, "manifest"),
    ],
)
def test_a_bad_field_is_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(RecordInvalid) as caught:
        manifest(**changes)
    assert caught.value.context["field"] == field


def test_replace_keeps_a_manifest_valid_by_construction() -> None:
    with pytest.raises(RecordInvalid):
        replace(manifest(), declared_mass_g=-1)
