"""The demo province's tests run on the real road network of the route tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from routes.network import RoadNetwork

MONACO = Path(__file__).resolve().parents[2] / "routes" / "data" / "monaco.osm.pbf"


@pytest.fixture(scope="session")
def monaco(tmp_path_factory: pytest.TempPathFactory) -> RoadNetwork:
    return RoadNetwork.load(MONACO, tmp_path_factory.mktemp("roads"))
