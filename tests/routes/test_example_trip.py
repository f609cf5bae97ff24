"""The example trip in routes/data/examples/ is real: made from the network, and it still is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.routes.example_trip import EXAMPLES, build

if TYPE_CHECKING:
    from routes.network import RoadNetwork


def test_the_committed_examples_are_what_the_generator_makes(monaco: RoadNetwork) -> None:
    made = build(monaco)
    # files only: a road-network cache made by running the example here is not an example
    assert sorted(made) == sorted(p.name for p in EXAMPLES.iterdir() if p.is_file())
    for name, text in made.items():
        assert (EXAMPLES / name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: run .venv/bin/python -m tests.routes.example_trip"
        )
