"""Migration 0008: checkpoints recorded before it have no division, and keep working."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlmodel import Session

from storage.engine import make_engine
from storage.migrate import upgrade
from storage.registry_store import SqlRegistryStore

if TYPE_CHECKING:
    from pathlib import Path


def test_a_checkpoint_from_before_0008_has_no_division_and_a_new_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0007")
    engine = make_engine(url)
    with engine.begin() as conn:  # as 0007's code stored it: no division column yet
        conn.execute(text(
            "INSERT INTO checkpoint (checkpoint_id, name, kind, lat, lon, source_crs, source_lat,"
            " source_lon, road, recorded_at) VALUES ('OLD-1', '老卡口', 'anpr_gate', 30.6, 104.0,"
            " 'WGS84', 30.6, 104.0, '', '2026-03-01 00:00:00.000000')"
        ))  # fmt: skip
    engine.dispose()

    assert upgrade(url, "0008") == "0008"
    engine = make_engine(url)
    with Session(engine) as session:
        store = SqlRegistryStore(session)
        (old,) = store.list_checkpoints()
        assert (old.checkpoint_id, old.division) == ("OLD-1", "")
        store.insert_checkpoint(replace(old, checkpoint_id="NEW-1", division="510112"))
        divisions = {c.checkpoint_id: c.division for c in store.list_checkpoints()}
    engine.dispose()
    assert divisions == {"OLD-1": "", "NEW-1": "510112"}
