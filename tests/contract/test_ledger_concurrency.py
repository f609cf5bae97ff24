"""Many writers at once, and a writer killed mid-append: no index twice, no gap, no fork, and
nothing acknowledged is lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from custody.audit import audit
from custody.events import Step
from custody.ledger import Ledger
from storage.engine import make_engine
from tests.conftest import GENERATOR_CODE
from tests.ledger_fixtures import BUNDLE, LOG_KEY, ORIGIN, Scanner, drum

if TYPE_CHECKING:
    from custody.ports import LedgerStore
    from storage.ledger_store import SqlLedgerStore

ROOT = Path(__file__).resolve().parents[2]


def _hammer(store: LedgerStore, writers: int, appends: int, batch: int) -> list[int]:
    """``writers`` threads, each its own scanner, appending ``appends`` batches of ``batch``."""
    acknowledged: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(w: int) -> None:
        ledger = Ledger(store, LOG_KEY, ORIGIN)
        scanner = Scanner(GENERATOR_CODE)
        scanner.counter = w * 1_000_000
        try:
            for a in range(appends):
                container = drum(1 + (w * appends + a) % 999)
                events = [scanner.scan(Step.COMMISSIONING, container, seed=b) for b in range(batch)]
                receipts = ledger.append(events)
                with lock:
                    acknowledged.extend(r.index for r in receipts)
        except BaseException as exc:  # noqa: BLE001  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return acknowledged


@pytest.mark.parametrize("batch", [1, 5])
def test_concurrent_writers_never_fork_or_gap(sql_ledger_store: SqlLedgerStore, batch: int) -> None:
    writers = 8
    appends = 12
    acknowledged = _hammer(sql_ledger_store, writers, appends, batch)
    total = writers * appends * batch
    assert sorted(acknowledged) == list(range(total))
    state = sql_ledger_store.state()
    assert state.size == total
    report = audit(sql_ledger_store, LOG_KEY.record.verifier_key, BUNDLE, workers=2)
    assert report.ok, report.problems[:5]
    assert report.entries == total


_WRITER = """
import sys
from custody.events import Step
from custody.ledger import Ledger
from storage.engine import make_engine
from storage.ledger_store import SqlLedgerStore
from tests.conftest import GENERATOR_CODE
from tests.ledger_fixtures import LOG_KEY, ORIGIN, Scanner, drum

store = SqlLedgerStore(make_engine(sys.argv[1]))
ledger = Ledger(store, LOG_KEY, ORIGIN)
scanner = Scanner(GENERATOR_CODE)
scanner.counter = int(sys.argv[2]) * 10_000_000
n = 0
while True:
    n += 1
    events = [scanner.scan(Step.COMMISSIONING, drum(1 + n % 999), seed=b) for b in range(3)]
    for receipt in ledger.append(events):
        sys.stdout.write(receipt.event_id + "\\n")
    sys.stdout.flush()
"""


def test_kill_9_mid_append_loses_nothing_acknowledged(sql_ledger_store: SqlLedgerStore) -> None:
    url = sql_ledger_store._engine.url.render_as_string(hide_password=False)
    rng = random.Random(1)  # noqa: S311  # reproducible kill times, not secrets
    acknowledged: set[str] = set()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for trial in range(3):
        writers = [
            subprocess.Popen(  # noqa: S603  # our own interpreter and script
                [sys.executable, "-c", _WRITER, url, str(trial * 10 + w)],
                stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env,
            )
            for w in range(2)
        ]  # fmt: skip
        # Each writer's first acknowledgement says it is past its imports and appending, so
        # the kill lands mid-ingest however slow the machine is today.
        first = [proc.stdout.readline() if proc.stdout else "" for proc in writers]
        time.sleep(rng.uniform(0.2, 1.0))
        for proc in writers:
            proc.send_signal(signal.SIGKILL)
        for proc, line in zip(writers, first, strict=True):
            out, _ = proc.communicate()
            acknowledged |= {ack for ack in (line + out).splitlines() if len(ack) == 36}
    assert acknowledged, "the writers acknowledged nothing before the kill"
    stored = {e.event_id for e in sql_ledger_store.entries(0, sql_ledger_store.state().size)}
    assert acknowledged <= stored
    report = audit(sql_ledger_store, LOG_KEY.record.verifier_key, BUNDLE, workers=2)
    assert report.ok, report.problems[:5]
    engine = make_engine(url)
    engine.dispose()
