"""Ingest: what a device-signed event must be before the ledger accepts it.

Refused, each bad event named in the batch's answer (and nothing of that batch appended):
bytes that are not a well-formed event; a signature that does not verify; a key that is not in
the trust bundle, not valid when the event claims to happen, or revoked before we received the
event; a device that is not enrolled or belongs to another party; a container that is not
registered; an event id already used for other content; a device counter used before for
another event (a cloned device) or at or below one already used (a replay).

Accepted and noted: business-rule breaches (a transporter without a permit, a receipt with no
pickup) are the checker's to flag, since the ledger keeps what happened; an event whose
claimed time is ahead of our clock, or that reached us days late, is kept with both times.

Refusals that point at an attack (a cloned device, a replay, a revoked key) are recorded as
anomalies with the signed bytes that prove them, even though the events are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from custody.devices import Anomaly, AnomalyKind
from custody.errors import (
    ContainerNotFound,
    CounterReused,
    CounterStale,
    CustodyError,
    DeviceUnknown,
    EventIdReused,
    EventsRefused,
    KeyOwnerMismatch,
    KeyRevoked,
)
from custody.events import SignedEvent, event_hash, read_event
from custody.keys import KeyRole

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from custody import _cose
    from custody.ledger import Ledger, Receipt
    from custody.ports import ContainerStore, DeviceStore, StoredEntry
    from custody.trust import TrustBundle

__all__ = ["CLOCK_SLACK", "LATE_AFTER", "MAX_BATCH", "Checked", "Ingest", "Refusal"]

MAX_BATCH = 5000
CLOCK_SLACK = timedelta(minutes=5)  # device clocks drift; beyond this the claim is impossible
LATE_AFTER = timedelta(hours=72)  # the longest a scanner is expected to stay out of coverage


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why one event of a batch was refused."""

    position: int
    code: str
    detail: str
    detail_zh: str
    event_id: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The refusal as a JSON member of the problem details."""
        out: dict[str, object] = {"position": self.position, "code": self.code,
                                  "detail": self.detail, "detail_zh": self.detail_zh}  # fmt: skip
        if self.event_id is not None:
            out["event_id"] = self.event_id
        return out


@dataclass(slots=True)
class Checked:
    """A batch after checking: what may be appended, what is refused, what was noticed."""

    events: list[SignedEvent] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    refused_anomalies: list[Anomaly] = field(default_factory=list)
    accepted_anomalies: list[Anomaly] = field(default_factory=list)


@dataclass(slots=True)
class _Seen:
    position: int
    message: bytes
    signed: SignedEvent


def _now() -> datetime:
    return datetime.now(UTC)


class Ingest:
    """Checks batches of signed events and appends those that pass."""

    def __init__(  # noqa: PLR0913  # the ports ingest reads, each injected
        self,
        ledger: Ledger,
        devices: DeviceStore,
        containers: ContainerStore,
        bundle: Callable[[], TrustBundle],
        *,
        clock: Callable[[], datetime] = _now,
        append: Callable[[list[SignedEvent], datetime], list[Receipt]] | None = None,
        appended: Callable[[list[SignedEvent]], None] | None = None,
    ) -> None:
        self._appended = appended  # told what was appended (the live checker listens)
        self._ledger = ledger
        self._append = append or ledger.append  # a GroupCommit's append shares commits
        self._devices = devices
        self._containers = containers
        self._bundle = bundle
        self._clock = clock

    def submit(
        self,
        messages: Sequence[bytes],
        *,
        dry_run: bool = False,
        refused: Sequence[Refusal] = (),
    ) -> list[Receipt]:
        """Check ``messages`` and append them in order; refuse the batch if any is bad.

        ``refused`` are positions the caller could not even decode (their bytes are ignored);
        they are named with the others. With ``dry_run`` the batch is only checked (nothing is
        appended or recorded). An event sent again gets its original receipt.
        """
        received_at = self._clock()
        checked = self.check(messages, received_at, skip={r.position for r in refused})
        checked.refusals = sorted([*checked.refusals, *refused], key=lambda r: r.position)
        if checked.refusals:
            if not dry_run and checked.refused_anomalies:
                self._devices.add_anomalies(checked.refused_anomalies)
            n = len(checked.refusals)
            raise EventsRefused(
                f"{n} of {len(messages)} events refused; none of this batch was appended",
                zh=f"{len(messages)} 个事件中有 {n} 个被拒收，本批均未入账",
                events=[r.as_dict() for r in checked.refusals],
            )
        if dry_run:
            return []
        receipts = self._append(checked.events, received_at)
        if self._appended is not None and checked.events:
            self._appended(checked.events)
        if checked.accepted_anomalies:
            index = {r.event_id: r.index for r in receipts}
            self._devices.add_anomalies([
                _at(a, index.get(a.event_id)) for a in checked.accepted_anomalies
            ])  # fmt: skip
        return receipts

    def check(
        self, messages: Sequence[bytes], received_at: datetime, skip: set[int] | None = None
    ) -> Checked:
        """Check every event of a batch (but those at ``skip``) against the bundle and stores."""
        checked = Checked()
        if not messages:
            return checked
        if len(messages) > MAX_BATCH:
            checked.refusals.append(Refusal(MAX_BATCH, "batch-too-large",
                                            f"at most {MAX_BATCH} events per batch",
                                            f"每批最多 {MAX_BATCH} 个事件"))  # fmt: skip
            return checked
        bundle = self._bundle()
        seen: list[_Seen] = []
        for position, message in enumerate(messages):
            if skip and position in skip:
                continue
            try:
                sign1, signed = read_event(message)
                _check_signer(sign1, signed, bundle, received_at)
            except KeyRevoked as exc:  # read_event succeeded: ``signed`` is this event
                checked.refusals.append(_refusal(position, exc))
                checked.refused_anomalies.append(_anomaly(AnomalyKind.REVOKED_KEY, signed,
                                                          message, exc.message))  # fmt: skip
            except CustodyError as exc:
                checked.refusals.append(_refusal(position, exc))
            else:
                seen.append(_Seen(position, message, signed))
        seen = self._enrolled(seen, checked)
        seen = self._registered(seen, checked)
        accepted = self._counted(seen, checked)
        for item in accepted:
            checked.events.append(item.signed)
            _note_clock(item, received_at, checked)
        checked.refusals.sort(key=lambda r: r.position)
        return checked

    def _enrolled(self, seen: list[_Seen], checked: Checked) -> list[_Seen]:
        known: dict[str, bool] = {}

        def problem(item: _Seen) -> CustodyError | None:
            name = item.signed.event.device
            if name not in known:
                known[name] = self._devices.get_device(name) is not None
            if known[name]:
                return None
            return DeviceUnknown(f"device {name} holds a published key but is not enrolled",
                                 zh=f"设备 {name} 未登记")  # fmt: skip

        return _keep(seen, checked, problem)

    def _registered(self, seen: list[_Seen], checked: Checked) -> list[_Seen]:
        wanted = {c for item in seen for c in _named(item.signed)}
        known = self._containers.known(sorted(wanted)) if wanted else set()

        def problem(item: _Seen) -> CustodyError | None:
            missing = [c for c in _named(item.signed) if c not in known]
            if not missing:
                return None
            return ContainerNotFound(f"container {', '.join(missing)} is not registered",
                                     zh=f"容器 {'、'.join(missing)} 未登记")  # fmt: skip

        return _keep(seen, checked, problem)

    def _counted(self, seen: list[_Seen], checked: Checked) -> list[_Seen]:
        """Idempotency first (a resent event is fine), then the device counters."""
        store = self._ledger.store
        stored = store.by_event_ids([item.signed.event.event_id for item in seen])
        fresh: list[_Seen] = []
        out: list[_Seen] = []
        for item in seen:
            prior = stored.get(item.signed.event.event_id)
            if prior is None:
                fresh.append(item)
            elif prior.event_hash == event_hash(item.message):
                out.append(item)  # the ledger answers with the original receipt
            else:
                exc = EventIdReused(
                    f"event id {item.signed.event.event_id} is in the log with other content",
                    zh=f"事件编号 {item.signed.event.event_id} 已被另一内容的事件使用",
                )
                checked.refusals.append(_refusal(item.position, exc, item.signed))
        devices = sorted({item.signed.event.device for item in fresh})
        highest = store.device_counters(devices)
        # Only counters at or below a device's highest can clash: most batches ask nothing.
        used: dict[str, dict[int, StoredEntry]] = {
            d: store.by_device_counter(d, [i.signed.event.counter for i in fresh
                                           if i.signed.event.device == d
                                           and i.signed.event.counter <= highest.get(d, -1)])
            for d in devices
        }  # fmt: skip
        in_batch: dict[tuple[str, int], str] = {}
        for item in fresh:
            event = item.signed.event
            key = (event.device, event.counter)
            clash = used[event.device].get(event.counter)
            if clash is not None or key in in_batch:
                related = clash.index if clash is not None else None
                clone = CounterReused(
                    f"device {event.device} already used counter {event.counter} for another "
                    "event: its key is in two devices",
                    zh=f"设备 {event.device} 的计数器 {event.counter} 已用于另一事件：密钥疑被克隆",
                )
                checked.refusals.append(_refusal(item.position, clone, item.signed))
                checked.refused_anomalies.append(
                    _anomaly(AnomalyKind.CLONED_DEVICE, item.signed, item.message, clone.message,
                             related)
                )  # fmt: skip
                continue
            last = highest.get(event.device, -1)
            if event.counter <= last:
                stale = CounterStale(
                    f"device {event.device} sent counter {event.counter}, but {last} is already "
                    "used: counters only go up",
                    zh=f"设备 {event.device} 计数器 {event.counter} 不大于已用的 {last}，疑为重放",
                )
                checked.refusals.append(_refusal(item.position, stale, item.signed))
                checked.refused_anomalies.append(
                    _anomaly(AnomalyKind.STALE_COUNTER, item.signed, item.message, stale.message)
                )
                continue
            highest[event.device] = event.counter
            in_batch[key] = event.event_id
            out.append(item)
        out.sort(key=lambda item: item.position)
        return out


def _check_signer(
    sign1: _cose.Sign1, signed: SignedEvent, bundle: TrustBundle, received_at: datetime
) -> None:
    """The signature verifies under a trusted device key of the party and device named."""
    event = signed.event
    record = bundle.verify(sign1, event.event_time, KeyRole.DEVICE, received_at)
    if record.name != event.device or record.owner != event.party:
        raise KeyOwnerMismatch(
            f"the event names {event.party}/{event.device} but {record.name} of "
            f"{record.owner} signed it",
            zh=f"事件所载单位或设备为 {event.party}/{event.device}，签名密钥却是 {record.name}",
            key=record.name,
        )


def _keep(
    seen: list[_Seen], checked: Checked, problem: Callable[[_Seen], CustodyError | None]
) -> list[_Seen]:
    """The events with no ``problem``; the others refused with it."""
    out = []
    for item in seen:
        exc = problem(item)
        if exc is None:
            out.append(item)
        else:
            checked.refusals.append(_refusal(item.position, exc, item.signed))
    return out


def _named(signed: SignedEvent) -> tuple[str, ...]:
    event = signed.event
    return (*event.containers, event.parent) if event.parent else event.containers


def _refusal(position: int, exc: CustodyError, signed: SignedEvent | None = None) -> Refusal:
    event_id = signed.event.event_id if signed is not None else None
    return Refusal(position, exc.code, exc.message, exc.zh, event_id)


def _anomaly(
    kind: AnomalyKind,
    signed: SignedEvent,
    message: bytes,
    detail: str,
    related: int | None = None,
) -> Anomaly:
    event = signed.event
    return Anomaly(kind, event.device, event.event_id, event.counter, detail, message, related)


def _at(anomaly: Anomaly, index: int | None) -> Anomaly:
    return Anomaly(anomaly.kind, anomaly.device, anomaly.event_id, anomaly.counter,
                   anomaly.detail, anomaly.evidence, index)  # fmt: skip


def _note_clock(item: _Seen, received_at: datetime, checked: Checked) -> None:
    claimed = item.signed.event.event_time
    if claimed > received_at + CLOCK_SLACK:
        detail = f"claims {claimed:%Y-%m-%d %H:%M:%S}Z, received {received_at:%Y-%m-%d %H:%M:%S}Z"
        checked.accepted_anomalies.append(
            _anomaly(AnomalyKind.CLOCK_AHEAD, item.signed, item.message, detail)
        )
    elif received_at - claimed > LATE_AFTER:
        hours = (received_at - claimed).total_seconds() / 3600
        checked.accepted_anomalies.append(
            _anomaly(
                AnomalyKind.LATE_DELIVERY,
                item.signed,
                item.message,
                f"received {hours:.0f} h after the time it claims",
            )
        )
