"""The outbox keeps every signed scan through crashes and power cuts, in order, for ever.

What it guarantees about the device counter: the counter is allocated, the event signed and
the row stored in one SQLite transaction. So counters in the outbox are unique and strictly
increasing in queue order, even with several processes scanning; and a crash between signing
and storing leaves neither a row nor a used counter. The lost signature never left the
process, so the next event taking the same counter is not a replay or a clone to anyone:
the server only ever sees counters that were committed here.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from custody.errors import EventMalformed, StorageError
from custody.events import NO_PREVIOUS, CustodyEvent, Step, read_event, sign_event
from scanners.outbox import Delivered, EventState, Outbox, Refusal, SeenCheckpoint
from tests.conftest import TRANSPORTER_CODE
from tests.ledger_fixtures import DEVICES, T0, drum

ROOT = Path(__file__).resolve().parents[3]
KEY = DEVICES[TRANSPORTER_CODE]
DEVICE = KEY.record.name


def signer(*containers: str, step: Step = Step.LOADING, minutes: int = 0):
    def sign(counter: int, prev: tuple[bytes, ...]) -> bytes:
        event = CustodyEvent.new(
            step=step,
            containers=containers,
            party=TRANSPORTER_CODE,
            device=DEVICE,
            counter=counter,
            event_time=T0 + timedelta(minutes=minutes),
            prev=prev,
        )
        return sign_event(event, KEY)

    return sign


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.sqlite3"


def _record(outbox: Outbox, *containers: str) -> None:
    outbox.record(DEVICE, containers, signer(*containers))


def test_counters_strictly_increase_and_survive_reopening(path: Path) -> None:
    with Outbox(path) as outbox:
        for n in range(5):
            _record(outbox, drum(1 + n % 2))
    with Outbox(path) as outbox:
        assert outbox.last_counter() == 5
        _record(outbox, drum(3))
        events = outbox.events()
    assert [e.counter for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e.seq for e in events] == sorted(e.seq for e in events)


def test_concurrent_scanners_never_share_a_counter(path: Path) -> None:
    Outbox(path).close()  # created once; then four writers at the same time
    errors: list[BaseException] = []

    def scan(worker: int) -> None:
        try:
            with Outbox(path) as outbox:
                for _ in range(15):
                    _record(outbox, drum(1 + worker))
        except BaseException as exc:  # noqa: BLE001  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=scan, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Outbox(path) as outbox:
        counters = [e.counter for e in outbox.events()]  # in queue order
    assert counters == list(range(1, 61))


_CRASH = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from scanners.outbox import Outbox
    from tests.unit.scanners.test_outbox import DEVICE, signer
    from tests.ledger_fixtures import drum

    outbox = Outbox(Path(sys.argv[1]))
    where = sys.argv[2]
    sign = signer(drum(7))

    def crash_after_signing(counter, prev):
        sign(counter, prev)
        os._exit(9)  # power cut: the signed bytes exist only in memory

    def crash_at_commit(statement):
        if statement == "COMMIT":
            os._exit(9)  # power cut with the row written but not committed

    if where == "commit":
        outbox._db.set_trace_callback(crash_at_commit)
        outbox.record(DEVICE, [drum(7)], sign)
    else:
        outbox.record(DEVICE, [drum(7)], crash_after_signing)
    """
)


@pytest.mark.parametrize("where", ["signing", "commit"])
def test_crash_between_signing_and_storing_leaves_no_row_and_no_used_counter(
    path: Path, where: str
) -> None:
    with Outbox(path) as outbox:
        _record(outbox, drum(1))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    crashed = subprocess.run(  # noqa: S603  # our interpreter, our script
        [sys.executable, "-c", _CRASH, str(path), where], cwd=ROOT, env=env, check=False,
        capture_output=True,
    )  # fmt: skip
    assert crashed.returncode == 9, crashed.stderr.decode()
    with Outbox(path) as outbox:
        assert outbox.last_counter() == 1
        assert [e.containers for e in outbox.events()] == [(drum(1),)]
        assert outbox.head(drum(7)) is None
        _record(outbox, drum(7))
        assert [e.counter for e in outbox.events()] == [1, 2]


def test_failure_while_signing_rolls_back_everything(path: Path) -> None:
    def broken(_counter: int, _prev: tuple[bytes, ...]) -> bytes:
        raise EventMalformed("no", zh="否")

    with Outbox(path) as outbox:
        with pytest.raises(EventMalformed):
            outbox.record(DEVICE, [drum(1)], broken)
        assert outbox.events() == []
        assert outbox.last_counter() == 0


def test_an_event_signed_with_another_counter_than_allocated_is_not_stored(path: Path) -> None:
    honest = signer(drum(1))
    with Outbox(path) as outbox:
        with pytest.raises(EventMalformed):
            outbox.record(DEVICE, [drum(1)], lambda counter, prev: honest(counter + 5, prev))
        assert outbox.events() == []


def test_runs_in_wal_mode_with_full_fsync_and_a_private_file(path: Path) -> None:
    with Outbox(path) as outbox:
        assert outbox.durability == ("wal", 2)  # synchronous=FULL
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_keeps_the_exact_signed_bytes(path: Path) -> None:
    made: list[bytes] = []
    sign = signer(drum(1))

    def keep(counter: int, prev: tuple[bytes, ...]) -> bytes:
        made.append(sign(counter, prev))
        return made[-1]

    with Outbox(path) as outbox:
        queued = outbox.record(DEVICE, [drum(1)], keep)
    assert queued.message == made[0]
    assert queued.event_hash == hashlib.sha256(made[0]).digest()
    assert queued.state is EventState.PENDING


def test_each_event_links_to_the_previous_one_of_its_container(path: Path) -> None:
    with Outbox(path) as outbox:
        first = outbox.record(DEVICE, [drum(1)], signer(drum(1)))
        other = outbox.record(DEVICE, [drum(2)], signer(drum(2)))
        both = outbox.record(DEVICE, [drum(1), drum(2)], signer(drum(1), drum(2)))
    assert read_event(first.message)[1].event.prev == (NO_PREVIOUS,)
    assert read_event(both.message)[1].event.prev == (first.event_hash, other.event_hash)


def test_refused_event_is_kept_with_its_reason_and_never_offered_again(path: Path) -> None:
    with Outbox(path) as outbox:
        for n in range(3):
            _record(outbox, drum(1 + n))
        second = outbox.events()[1]
        reason = Refusal("container-not-found", "not registered", "未登记")
        assert outbox.mark_refused(second.seq, reason)
        assert not outbox.mark_refused(second.seq, reason)  # refused once, for good
        assert [e.counter for e in outbox.pending(10)] == [1, 3]
        assert outbox.mark_sent([Delivered(second.seq, "{}", 0)], None) == 0
    with Outbox(path) as outbox:
        kept = outbox.get(second.seq)
        assert kept.state is EventState.REFUSED
        assert kept.refusal == reason
        assert kept.message == second.message
        assert second.seq not in {e.seq for e in outbox.pending(10)}


def test_refusal_unlinks_the_container_head_so_the_next_scan_skips_it(path: Path) -> None:
    with Outbox(path) as outbox:
        first = outbox.record(DEVICE, [drum(1)], signer(drum(1)))
        second = outbox.record(DEVICE, [drum(1)], signer(drum(1)))
        outbox.mark_refused(second.seq, Refusal("x", "x", "x"))
        assert outbox.head(drum(1)) == first.event_hash
        outbox.mark_refused(first.seq, Refusal("x", "x", "x"))
        assert outbox.head(drum(1)) == NO_PREVIOUS


def test_head_from_the_ledger_never_overrides_a_pending_own_event(path: Path) -> None:
    someone_else = bytes(range(32))
    with Outbox(path) as outbox:
        assert outbox.learn_head(drum(5), someone_else)  # unknown here: take the ledger's
        assert outbox.head(drum(5)) == someone_else
        own = outbox.record(DEVICE, [drum(5)], signer(drum(5)))
        assert read_event(own.message)[1].event.prev == (someone_else,)
        assert not outbox.learn_head(drum(5), someone_else)  # ours is newer, still pending
        outbox.mark_sent([Delivered(own.seq, "{}", 0)], None)
        assert outbox.learn_head(drum(5), bytes(32 * [7]))  # sent: the ledger may know more


def test_nothing_is_ever_deleted_or_rewritten(path: Path) -> None:
    with Outbox(path) as outbox:
        _record(outbox, drum(1))
        _record(outbox, drum(2))
        first, second = outbox.events()
        outbox.mark_sent([Delivered(first.seq, "{}", 0)], SeenCheckpoint(1, bytes(32), b"n", T0))
        outbox.record_split_view(b"old", b"new", [bytes(32)], "r", "r")
    raw = sqlite3.connect(path)
    attacks = [
        ("DELETE FROM events", ()),
        ("UPDATE events SET message = x'00' WHERE seq = ?", (second.seq,)),
        ("UPDATE events SET counter = 99 WHERE seq = ?", (second.seq,)),
        ("UPDATE events SET state = 'pending', receipt = NULL WHERE seq = ?", (first.seq,)),
        ("DELETE FROM checkpoints", ()),
        ("DELETE FROM split_view", ()),
        ("UPDATE split_view SET new_note = x'00'", ()),
    ]
    for statement, params in attacks:
        with pytest.raises(sqlite3.IntegrityError):
            raw.execute(statement, params)
    raw.close()
    with Outbox(path) as outbox:
        assert [e.message for e in outbox.events()] == [first.message, second.message]
        assert len(outbox.split_views()) == 1


def test_a_newer_schema_is_refused_not_misread(path: Path) -> None:
    Outbox(path).close()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(StorageError):
        Outbox(path)
