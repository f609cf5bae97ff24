"""The cycle collector pauses around big batches and comes back exactly as it was."""

from __future__ import annotations

import gc
import threading
from typing import TYPE_CHECKING

import pytest

from custody._collector import cycle_collection_paused

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_a_pause_stops_the_collector_and_resumes_it() -> None:
    gc.enable()
    with cycle_collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_resumes_only_when_the_last_pause_ends() -> None:
    gc.enable()
    first_in, second_done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other_thread() -> None:
        first_in.wait()
        with cycle_collection_paused():
            pass
        seen.append(gc.isenabled())  # the first pause is still open
        second_done.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    with cycle_collection_paused():
        first_in.set()
        second_done.wait()
    worker.join()
    assert seen == [False]
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with cycle_collection_paused():
        pass
    assert not gc.isenabled()


def test_an_error_inside_still_resumes_the_collector() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), cycle_collection_paused():
        raise RuntimeError
    assert gc.isenabled()
