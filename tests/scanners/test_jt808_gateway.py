"""The JT/T 808 gateway, driven by simulated terminals speaking real frames over TCP.

Each test starts a gateway on 127.0.0.1 (port 0) in front of the suite's migrated database and
talks to it through sockets. Phone numbers are fresh per test, so tests share the database
without seeing each other's terminals.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest

from custody.errors import StorageError
from scanners.jt808.frame import Frame, FrameDecoder, Header, encode_frame, escape, unescape
from scanners.jt808.gateway import Gateway
from scanners.jt808.messages import (
    Authentication,
    Heartbeat,
    LocationBatch,
    LocationReport,
    PlatformReply,
    RawMessage,
    Registration,
    RegistrationReply,
    RegistrationResult,
    ReplyResult,
    TerminalReply,
    encode_message,
    parse_message,
)
from storage.track_store import SqlTrackStore
from tests.fakes.track_store import InMemoryTrackStore

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from sqlalchemy.engine import Engine

    from custody.tracks import TrackStore
    from scanners.jt808.messages import Message

WAIT = 5.0  # seconds a test waits for an answer before it fails
BEIJING = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 5, 9, 0, tzinfo=BEIJING)
CODES = (f"code-{n:04d}" for n in itertools.count())
OPEN: list[Terminal] = []  # closed by run() even when a scenario fails half-way


def fresh_phone() -> str:
    return "1" + str(uuid.uuid4().int)[:10]


def location(minute: int, **changes: object) -> LocationReport:
    values: dict[str, object] = {
        "alarm": 0,
        "status": 0b11,
        "latitude_e6": 30_657_432 + minute,
        "longitude_e6": 104_065_735,
        "altitude_m": 505,
        "speed_tenth_kmh": 623,
        "heading": 87,
        "time": T0 + timedelta(minutes=minute),
    }
    values.update(changes)
    return LocationReport(**values)  # type: ignore[arg-type]


def registration(plate: str = "川A12345", **changes: object) -> Registration:
    values: dict[str, object] = {
        "province": 51,
        "city": 100,
        "manufacturer": "HBZL1",
        "model": "ZL-808",
        "terminal_id": "A1B2C3D",
        "plate_colour": 2,
        "plate": plate,
    }
    values.update(changes)
    return Registration(**values)  # type: ignore[arg-type]


class Terminal:
    """A vehicle terminal: writes frames, reads the gateway's answers."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        phone: str,
        version: int | None,
    ) -> None:
        self.reader, self.writer = reader, writer
        self.phone, self.version = phone, version
        self.serial = 0
        self.decoder = FrameDecoder()
        self.received: list[Frame] = []

    @classmethod
    async def connect(cls, port: int, phone: str | None = None, version: int | None = None):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        terminal = cls(reader, writer, phone or fresh_phone(), version)
        OPEN.append(terminal)
        return terminal

    def frame(self, message: Message) -> bytes:
        self.serial += 1
        return encode_message(
            message, phone=self.phone, serial=self.serial, protocol_version=self.version
        )

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send(self, message: Message) -> int:
        await self.write(self.frame(message))
        return self.serial

    async def answer(self) -> tuple[Header, Message]:
        while not self.received:
            data = await asyncio.wait_for(self.reader.read(4096), WAIT)
            assert data, "the gateway closed the connection"
            for item in self.decoder.feed(data):
                assert isinstance(item, Frame), item
                self.received.append(item)
        frame = self.received.pop(0)
        return frame.header, parse_message(frame)

    async def ask(self, message: Message) -> Message:
        serial = await self.send(message)
        _, answer = await self.answer()
        assert getattr(answer, "reply_serial", serial) == serial
        return answer

    async def register(self, message: Registration | None = None) -> str:
        answer = await self.ask(message or registration())
        assert isinstance(answer, RegistrationReply)
        assert answer.result == RegistrationResult.OK
        return answer.auth_code

    async def log_in(self, message: Registration | None = None) -> str:
        code = await self.register(message)
        assert await self.ask(Authentication(code)) == PlatformReply(
            self.serial, 0x0102, ReplyResult.OK
        )
        return code

    async def closed(self) -> bool:
        data = await asyncio.wait_for(self.reader.read(4096), WAIT)
        return data == b""

    async def close(self) -> None:
        OPEN.remove(self)
        self.writer.close()
        await self.writer.wait_closed()


def ok(serial: int, message_id: int) -> PlatformReply:
    return PlatformReply(serial, message_id, ReplyResult.OK)


def run(
    store: TrackStore,
    scenario: Callable[[Gateway], Awaitable[None]],
    **options: object,
) -> None:
    async def main() -> None:
        gateway = Gateway(store, port=0, auth_codes=lambda: next(CODES), **options)  # type: ignore[arg-type]
        try:
            async with gateway:
                await scenario(gateway)
        finally:
            while OPEN:
                await OPEN[0].close()

    asyncio.run(main())


@pytest.fixture
def store(engine: Engine) -> SqlTrackStore:
    return SqlTrackStore(engine)


def stored(store: TrackStore, phone: str) -> list:
    return store.fixes_for_terminal(phone, T0 - timedelta(days=1), T0 + timedelta(days=1))


# --- the happy path -------------------------------------------------------------------------


def test_terminal_registers_authenticates_and_its_fix_is_stored_with_its_plate(store):
    phone = fresh_phone()

    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port, phone)
        code = await terminal.register(registration("川a·12345"))
        assert code.startswith("code-")
        assert await terminal.ask(Authentication(code)) == ok(terminal.serial, 0x0102)
        assert await terminal.ask(location(0)) == ok(terminal.serial, 0x0200)
        await terminal.close()

    run(store, scenario)
    (fix,) = stored(store, phone)
    assert fix.plate == "川A12345"
    assert fix.crs == "WGS84"
    assert fix.fix_time == datetime(2026, 3, 5, 1, 0, tzinfo=UTC)
    assert (fix.lat, fix.lon, fix.altitude_m, fix.speed_kmh, fix.heading) == (
        30.657432, 104.065735, 505, 62.3, 87,
    )  # fmt: skip
    assert store.get_terminal(phone).plate == "川A12345"


def test_2019_terminal_is_answered_in_the_2019_edition(store):
    phone = "1" + str(uuid.uuid4().int)[:12]  # 13 digits: only BCD[10] can carry it

    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port, phone, version=1)
        await terminal.log_in(registration(manufacturer="HBZL2019ABC", terminal_id="T" * 30))
        await terminal.send(Heartbeat())
        header, answer = await terminal.answer()
        assert header == Header(0x8001, phone, header.serial, protocol_version=1)
        assert answer == ok(terminal.serial, 0x0002)
        await terminal.close()

    run(store, scenario)
    assert store.get_terminal(phone).terminal_id == "T" * 30


def test_heartbeat_is_acknowledged_before_and_after_authentication(store):
    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port)
        assert await terminal.ask(Heartbeat()) == ok(terminal.serial, 0x0002)
        await terminal.log_in()
        assert await terminal.ask(Heartbeat()) == ok(terminal.serial, 0x0002)
        await terminal.close()

    run(store, scenario)


def test_gateway_serials_count_up_per_connection(store):
    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port)
        serials = []
        for _ in range(3):
            await terminal.send(Heartbeat())
            header, _ = await terminal.answer()
            serials.append(header.serial)
        assert serials == [0, 1, 2]
        await terminal.close()

    run(store, scenario)


def test_batch_upload_stores_every_fix(store):
    phone = fresh_phone()

    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port, phone)
        await terminal.log_in()
        batch = LocationBatch(LocationBatch.BLIND_AREA, tuple(location(m) for m in range(20)))
        assert await terminal.ask(batch) == ok(terminal.serial, 0x0704)
        await terminal.close()

    run(store, scenario)
    assert [f.fix_time for f in stored(store, phone)] == [
        (T0 + timedelta(minutes=m)).astimezone(UTC) for m in range(20)
    ]


def test_resent_fixes_are_acknowledged_but_stored_once(store):
    phone = fresh_phone()

    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port, phone)
        await terminal.log_in()
        await terminal.ask(location(0))
        assert await terminal.ask(location(0)) == ok(terminal.serial, 0x0200)
        batch = LocationBatch(LocationBatch.BLIND_AREA, (location(0), location(1)))
        assert await terminal.ask(batch) == ok(terminal.serial, 0x0704)
        await terminal.close()

    run(store, scenario)
    assert len(stored(store, phone)) == 2


# --- registration ---------------------------------------------------------------------------


def test_terminal_registering_again_gets_its_first_auth_code(store):
    phone = fresh_phone()

    async def scenario(gateway: Gateway) -> None:
        first = await Terminal.connect(gateway.port, phone)
        code = await first.register()
        await first.close()
        second = await Terminal.connect(gateway.port, phone)
        assert await second.register() == code
        await second.log_in()
        await second.close()

    run(store, scenario)


def test_terminal_registering_with_another_plate_keeps_its_registration(store, caplog):
    phone = fresh_phone()

    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port, phone)
        code = await terminal.register(registration("川A12345"))
        assert await terminal.register(registration("川B99999")) == code
        await terminal.close()

    with caplog.at_level(logging.WARNING, logger="custody.jt808"):
        run(store, scenario)
    assert store.get_terminal(phone).plate == "川A12345"
    assert "its registration for 川A12345 stands" in caplog.text


def test_other_device_claiming_a_registered_phone_gets_no_auth_code(store):
    phone = fresh_phone()

    async def scenario(gateway: Gateway) -> None:
        genuine = await Terminal.connect(gateway.port, phone)
        await genuine.register()
        impostor = await Terminal.connect(gateway.port, phone)
        answer = await impostor.ask(registration(terminal_id="ZZZZZZZ"))
        assert answer == RegistrationReply(impostor.serial, RegistrationResult.TERMINAL_REGISTERED)
        await genuine.close()
        await impostor.close()

    run(store, scenario)


@pytest.mark.parametrize(
    ("plate", "colour"), [("LFV3A23C7K3012345", 0), ("not a plate", 2), ("", 1)]
)
def test_terminal_without_a_readable_plate_is_registered_without_one(store, caplog, plate, colour):
    phone = fresh_phone()

    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port, phone)
        await terminal.log_in(registration(plate, plate_colour=colour))
        assert await terminal.ask(location(0)) == ok(terminal.serial, 0x0200)
        await terminal.close()

    with caplog.at_level(logging.WARNING, logger="custody.jt808"):
        run(store, scenario)
    assert store.get_terminal(phone).plate is None
    assert stored(store, phone)[0].plate is None
    assert repr(plate) in caplog.text


# --- authentication -------------------------------------------------------------------------


def test_wrong_auth_code_is_refused_and_locations_stay_refused(store):
    phone = fresh_phone()

    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port, phone)
        code = await terminal.register()
        refused = PlatformReply(terminal.serial + 1, 0x0102, ReplyResult.FAILURE)
        assert await terminal.ask(Authentication(code + "x")) == refused
        answer = await terminal.ask(location(0))
        assert answer == PlatformReply(terminal.serial, 0x0200, ReplyResult.FAILURE)
        await terminal.close()

    run(store, scenario)
    assert stored(store, phone) == []


def test_unregistered_terminal_cannot_authenticate(store):
    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port)
        answer = await terminal.ask(Authentication("code-0000"))
        assert answer == PlatformReply(terminal.serial, 0x0102, ReplyResult.FAILURE)
        await terminal.close()

    run(store, scenario)


def test_location_before_authentication_is_refused_and_not_stored(store):
    phone = fresh_phone()

    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port, phone)
        await terminal.register()  # registered, but not authenticated
        refused = PlatformReply(terminal.serial + 1, 0x0200, ReplyResult.FAILURE)
        assert await terminal.ask(location(0)) == refused
        batch = LocationBatch(0, (location(1),))
        refused = PlatformReply(terminal.serial + 1, 0x0704, ReplyResult.FAILURE)
        assert await terminal.ask(batch) == refused
        await terminal.close()

    run(store, scenario)
    assert stored(store, phone) == []


def test_authentication_holds_for_its_connection_only(store):
    phone = fresh_phone()

    async def scenario(gateway: Gateway) -> None:
        first = await Terminal.connect(gateway.port, phone)
        await first.log_in()
        second = await Terminal.connect(gateway.port, phone)
        answer = await second.ask(location(0))
        assert answer == PlatformReply(second.serial, 0x0200, ReplyResult.FAILURE)
        await first.close()
        await second.close()

    run(store, scenario)


def test_location_in_the_name_of_another_phone_is_refused(store):
    victim = fresh_phone()

    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port)
        await terminal.log_in()
        terminal.phone = victim
        answer = await terminal.ask(location(0))
        assert answer == PlatformReply(terminal.serial, 0x0200, ReplyResult.FAILURE)
        await terminal.close()

    run(store, scenario)
    assert stored(store, victim) == []


# --- the byte stream ------------------------------------------------------------------------


def test_frame_split_byte_by_byte_is_answered(store):
    phone = fresh_phone()

    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port, phone)
        await terminal.log_in()
        frame = terminal.frame(location(0, extras=((0x01, b"\x7e\x7d\x7e\x7d"),)))
        for i in range(len(frame)):
            await terminal.write(frame[i : i + 1])
            await asyncio.sleep(0)
        _, answer = await terminal.answer()
        assert answer == ok(terminal.serial, 0x0200)
        await terminal.close()

    run(store, scenario)
    assert len(stored(store, phone)) == 1


def test_frames_merged_in_one_write_are_answered_in_order(store):
    phone = fresh_phone()

    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port, phone)
        code = await terminal.register()
        messages: list[Message] = [Authentication(code), Heartbeat(), location(0), location(1)]
        await terminal.write(b"".join(terminal.frame(m) for m in messages))
        first = terminal.serial - len(messages) + 1
        answers = [(await terminal.answer())[1] for _ in messages]
        assert answers == [
            ok(first, 0x0102),
            ok(first + 1, 0x0002),
            ok(first + 2, 0x0200),
            ok(first + 3, 0x0200),
        ]
        await terminal.close()

    run(store, scenario)
    assert len(stored(store, phone)) == 2


def test_malformed_frame_is_dropped_and_the_connection_stays_up(store, caplog):
    phone = fresh_phone()

    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port, phone)
        await terminal.log_in()
        content = bytearray(unescape(terminal.frame(location(0))[1:-1]))
        content[-1] ^= 0x01  # wrong check code, escaped like any other
        bad = b"\x7e" + escape(bytes(content)) + b"\x7e"
        await terminal.write(bad + terminal.frame(location(1)))
        _, answer = await terminal.answer()
        assert answer == ok(terminal.serial, 0x0200)  # only the good frame is answered
        assert await terminal.ask(Heartbeat()) == ok(terminal.serial, 0x0002)
        await terminal.close()

    with caplog.at_level(logging.INFO, logger="custody.jt808"):
        run(store, scenario)
    assert [f.fix_time.minute for f in stored(store, phone)] == [1]
    assert "dropped a malformed frame (checksum)" in caplog.text
    assert "1 malformed" in caplog.text


def test_garbage_between_frames_is_skipped(store):
    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port)
        await terminal.write(b"\x00\x01GET / HTTP/1.1\r\n\r\n\x7d\x7d")
        assert await terminal.ask(Heartbeat()) == ok(terminal.serial, 0x0002)
        await terminal.close()

    run(store, scenario)


def test_over_long_frame_is_dropped_and_the_next_one_answered(store):
    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port)
        await terminal.write(b"\x7e" + bytes(10_000))
        assert await terminal.ask(Heartbeat()) == ok(terminal.serial, 0x0002)
        await terminal.close()

    run(store, scenario)


def test_body_that_does_not_parse_gets_message_error(store):
    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port)
        await terminal.log_in()
        await terminal.send(RawMessage(0x0200, b"\x00\x01"))  # a location cut short
        _, answer = await terminal.answer()
        assert answer == PlatformReply(terminal.serial, 0x0200, ReplyResult.MESSAGE_ERROR)
        assert await terminal.ask(Heartbeat()) == ok(terminal.serial, 0x0002)
        await terminal.close()

    run(store, scenario)


def test_impossible_fix_gets_message_error_and_the_others_are_stored(store):
    phone = fresh_phone()

    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port, phone)
        await terminal.log_in()
        batch = LocationBatch(0, (location(0), location(1, heading=400), location(2)))
        answer = await terminal.ask(batch)
        assert answer == PlatformReply(terminal.serial, 0x0704, ReplyResult.MESSAGE_ERROR)
        await terminal.close()

    run(store, scenario)
    assert [f.fix_time.minute for f in stored(store, phone)] == [0, 2]


@pytest.mark.parametrize(
    "header_changes",
    [{"message_id": 0x0900}, {"message_id": 0x0200, "encryption": 1},
     {"message_id": 0x0704, "subpackage": (2, 1)}],
)  # fmt: skip
def test_message_the_gateway_does_not_handle_gets_not_supported(store, header_changes):
    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port)
        header = Header(**{"phone": terminal.phone, "serial": 77, **header_changes})
        await terminal.write(encode_frame(header, b"\x01\x02\x03"))
        _, answer = await terminal.answer()
        reply = PlatformReply(77, header.message_id, ReplyResult.NOT_SUPPORTED)
        assert answer == reply
        await terminal.close()

    run(store, scenario)


def test_terminal_general_reply_is_not_answered(store):
    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port)
        await terminal.send(TerminalReply(0, 0x8103, ReplyResult.OK))
        assert await terminal.ask(Heartbeat()) == ok(terminal.serial, 0x0002)
        await terminal.close()

    run(store, scenario)


# --- several terminals, failures, time-outs -------------------------------------------------


def test_two_terminals_at_once_one_sending_garbage(store):
    good_phone = fresh_phone()

    async def scenario(gateway: Gateway) -> None:
        good = await Terminal.connect(gateway.port, good_phone)
        noisy = await Terminal.connect(gateway.port)
        await good.log_in()
        await noisy.log_in()

        async def spray() -> None:
            for n in range(50):
                await noisy.write(bytes([n, 0x7E, 0x7D, 0xFF]) * 20)
                await asyncio.sleep(0)

        async def report() -> None:
            for minute in range(10):
                assert await good.ask(location(minute)) == ok(good.serial, 0x0200)

        await asyncio.gather(spray(), report())
        assert await noisy.ask(Heartbeat()) == ok(noisy.serial, 0x0002)
        await good.close()
        await noisy.close()

    run(store, scenario)
    assert len(stored(store, good_phone)) == 10


class SlowStore(InMemoryTrackStore):
    """Holds add_fixes for one terminal until released."""

    def __init__(self, slow_phone: str) -> None:
        super().__init__()
        self.slow_phone = slow_phone
        self.release = threading.Event()
        self.entered = threading.Event()

    def add_fixes(self, fixes: Sequence) -> int:
        if fixes[0].terminal == self.slow_phone:
            self.entered.set()
            assert self.release.wait(WAIT)
        return super().add_fixes(fixes)


def test_slow_write_for_one_terminal_does_not_stall_another():
    slow_phone = fresh_phone()
    store = SlowStore(slow_phone)

    async def scenario(gateway: Gateway) -> None:
        slow = await Terminal.connect(gateway.port, slow_phone)
        fast = await Terminal.connect(gateway.port)
        await slow.log_in()
        await fast.log_in()
        await slow.send(location(0))
        assert await asyncio.to_thread(store.entered.wait, WAIT)
        assert await fast.ask(location(0)) == ok(fast.serial, 0x0200)
        store.release.set()
        _, answer = await slow.answer()
        assert answer == ok(slow.serial, 0x0200)
        await slow.close()
        await fast.close()

    run(store, scenario)
    assert len(store.fixes) == 2


class BrokenStore(InMemoryTrackStore):
    def add_fixes(self, fixes: Sequence) -> int:  # noqa: ARG002  # fails whatever it is given
        raise StorageError("disk full", zh="磁盘已满")


def test_store_failure_is_answered_with_failure_and_the_connection_survives():
    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port)
        await terminal.log_in()
        answer = await terminal.ask(location(0))
        assert answer == PlatformReply(terminal.serial, 0x0200, ReplyResult.FAILURE)
        assert await terminal.ask(Heartbeat()) == ok(terminal.serial, 0x0002)
        await terminal.close()

    run(BrokenStore(), scenario)


def test_idle_connection_is_closed(store, caplog):
    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port)
        assert await terminal.ask(Heartbeat()) == ok(terminal.serial, 0x0002)
        assert await terminal.closed()
        await terminal.close()

    with caplog.at_level(logging.INFO, logger="custody.jt808"):
        run(store, scenario, idle_timeout=0.2)
    assert "idle for 0.2 s" in caplog.text


def test_stopping_the_gateway_closes_open_connections_quietly(store, caplog):
    async def scenario() -> None:
        async with Gateway(store, port=0) as gateway:  # not run(): this test stops it itself
            terminal = await Terminal.connect(gateway.port)
            assert await terminal.ask(Heartbeat()) == ok(terminal.serial, 0x0002)
        assert await terminal.closed()
        await terminal.close()
        with pytest.raises(RuntimeError):
            _ = gateway.port

    with caplog.at_level(logging.INFO):
        asyncio.run(scenario())
    assert "gateway stopping; terminal -, 1 frames" in caplog.text
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_serial_that_needs_escaping_is_echoed_back_intact(store):
    async def scenario(gateway: Gateway) -> None:
        terminal = await Terminal.connect(gateway.port)
        terminal.serial = 0x7E7C  # the next serial is 0x7e7d: both bytes are escaped
        assert await terminal.ask(Heartbeat()) == ok(0x7E7D, 0x0002)
        await terminal.close()

    run(store, scenario)
