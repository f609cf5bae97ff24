"""Running the checker on the service's database: custody rules and route checks together.

``run_checks`` loads one snapshot (the whole ledger, or the histories of some containers),
runs every custody rule on it and, with a road network, route-checks every manifest whose trip
has begun, and returns one ranked list of alerts. ``LiveChecker`` is the service's background
worker: containers named by newly accepted events are re-checked within seconds, and the whole
ledger is swept now and then for what only time reveals (a drum that never arrived, storage
past its limit) and for aggregates (mass balance, licence capacity).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from custody.alerts import Alerts
from custody.checker import check, rank
from custody.errors import CustodyError
from custody.history import events_of
from routes.checkpoints import snap
from routes.model import Thresholds
from routes.trips import check_manifests, fixes_from, reads_from
from storage.alert_store import SqlAlertStore
from storage.facts_loader import load_facts
from storage.sighting_store import SqlSightingStore
from storage.track_store import SqlTrackStore

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Sequence

    from sqlalchemy.engine import Engine

    from api.settings import Settings
    from custody.alerts import Alert
    from custody.events import SignedEvent
    from custody.facts import CheckSettings, Facts
    from routes.checkpoints import SnappedCheckpoint
    from routes.network import RoadNetwork

__all__ = ["CheckRun", "LiveChecker", "load_network", "run_checks"]

_log = logging.getLogger("custody.checker")


def load_network(settings: Settings) -> RoadNetwork:
    """The road network the settings name (the shipped extract by default), cached on disk."""
    from routes.network import RoadNetwork  # noqa: PLC0415  # only the checks need it

    source = settings.road_network or Path(
        str(resources.files("routes").joinpath("data", "monaco.osm.pbf"))
    )
    try:
        return RoadNetwork.load(source, settings.data_dir / "roads")
    except OSError:  # a read-only data folder: build in memory
        return RoadNetwork.load(source)


@dataclass(frozen=True, slots=True)
class CheckRun:
    """One run's alerts and what it looked at."""

    alerts: list[Alert]
    containers: int
    events: int
    trips: int
    seconds: float


def _snapped(network: RoadNetwork, facts: Facts) -> list[SnappedCheckpoint]:
    """The registered checkpoints on this network; one too far from any road is left out."""
    out = []
    for c in facts.checkpoints.values():
        try:
            out.append(snap(network, c.checkpoint_id, c.name, c.kind.value, c.location.lon,
                            c.location.lat))  # fmt: skip
        except CustodyError as exc:
            _log.warning("checkpoint %s left out of route checks: %s", c.checkpoint_id, exc)
    return out


def run_checks(  # noqa: PLR0913  # one run's inputs, by keyword
    engine: Engine,
    *,
    as_of: datetime,
    network: RoadNetwork | None = None,
    settings: CheckSettings | None = None,
    thresholds: Thresholds | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    containers: Collection[str] | None = None,
) -> CheckRun:
    """Every alert on the snapshot, most urgent first."""
    started = time.perf_counter()
    facts = load_facts(engine, as_of=as_of, settings=settings, since=since, until=until,
                       containers=containers)  # fmt: skip
    alerts = check(facts)
    records = events_of(facts.histories)
    trips = 0
    if network is not None:
        numbers = {r.event.manifest for r in records if r.event.manifest}
        manifests = [m for n, m in sorted(facts.manifests.items()) if n in numbers]
        trips = len(manifests)
        alerts += check_manifests(
            network,
            manifests,
            records,
            checkpoints=_snapped(network, facts),
            reads=reads_from(SqlSightingStore(engine)),
            fixes=fixes_from(SqlTrackStore(engine)),
            thresholds=thresholds or Thresholds(),
            as_of=as_of,
        )
    return CheckRun(rank(alerts), len(facts.histories), len(records), trips,
                    time.perf_counter() - started)  # fmt: skip


@dataclass
class LiveChecker:
    """Re-checks what new events touch, and sweeps the whole ledger now and then."""

    engine: Engine
    network: RoadNetwork | None = None
    load_network: Callable[[], RoadNetwork] | None = None  # called at the first sweep
    settings: CheckSettings | None = None
    interval_s: float = 5.0
    sweep_s: float = 600.0
    _pending: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    last_sweep: float = 0.0
    runs: int = 0

    def touch(self, containers: Iterable[str]) -> None:
        """Containers named by newly accepted events: check them at the next turn."""
        with self._lock:
            self._pending.update(containers)

    def appended(self, events: Sequence[SignedEvent]) -> None:
        """What ingest appended: the containers (and consolidation parents) it names."""
        named = [c for s in events for c in s.event.containers]
        named += [s.event.parent for s in events if s.event.parent]
        self.touch(named)

    def start(self) -> None:
        """Run in a daemon thread until ``stop``."""
        self._thread = threading.Thread(target=self._loop, name="custody-checker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the current turn and stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def turn(self, now: datetime | None = None) -> list[Alert]:
        """One turn: the pending containers, or a full sweep when one is due; new alerts."""
        now = now or datetime.now(UTC)
        with self._lock:
            pending, self._pending = self._pending, set()
        sweep = time.monotonic() - self.last_sweep >= self.sweep_s
        if not pending and not sweep:
            return []
        if sweep:
            self.last_sweep = time.monotonic()
            if self.network is None and self.load_network is not None:
                self.network = self.load_network()
            run = run_checks(self.engine, as_of=now, network=self.network, settings=self.settings)
        else:
            run = run_checks(self.engine, as_of=now, settings=self.settings, containers=pending)
        self.runs += 1
        return Alerts(SqlAlertStore(self.engine)).raise_all(run.alerts, now)

    def _loop(self) -> None:
        time.sleep(self.interval_s)  # let the service start before the first sweep
        while not self._stop.is_set():
            try:
                raised = self.turn()
                if raised:
                    _log.info("checker raised %d new alerts", len(raised))
            except Exception:  # noqa: BLE001  # a failed turn must not stop the checker; logged
                _log.exception("checker turn failed")
            self._wake.wait(self.interval_s)
            self._wake.clear()
