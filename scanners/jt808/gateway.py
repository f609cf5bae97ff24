"""The platform end of JT/T 808: a TCP server that registers vehicle terminals and keeps fixes.

Per connection the gateway reads frames as they come (split or merged across TCP segments)
and answers each message in order:

======================  ===========================================================
terminal sends          gateway answers
======================  ===========================================================
0x0100 registration     0x8100: result 0 and the auth code (the one on record for a
                        terminal registering again); result 3 when another device
                        (other manufacturer or terminal id) claims the phone number
0x0102 authentication   0x8001 ok when the auth code matches, failure otherwise
0x0002 heartbeat        0x8001 ok
0x0200, 0x0704          fixes stored, then 0x8001 ok; failure before authentication;
                        message error when a fix has impossible values (the others are
                        stored)
0x0001 general reply    nothing
anything else           0x8001 result 3, not supported (also for encrypted bodies and
                        pieces of subpackaged messages)
======================  ===========================================================

A body that does not parse gets 0x8001 result 2 (message error); a frame that does not
parse is logged and dropped. Neither closes the connection. Store calls run in worker
threads so one slow write does not hold up other terminals. Everything goes to the
``custody.jt808`` logger.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Self

from custody.errors import CustodyError, InputError
from custody.tracks import GpsFix, Terminal, terminal_plate
from scanners.jt808.frame import MAX_FRAME_BYTES, FrameDecoder, FrameMalformed
from scanners.jt808.messages import (
    Authentication,
    Heartbeat,
    LocationBatch,
    LocationReport,
    MessageMalformed,
    PlatformReply,
    Registration,
    RegistrationReply,
    RegistrationResult,
    ReplyResult,
    TerminalReply,
    encode_message,
    parse_message,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from custody.tracks import TrackStore
    from scanners.jt808.frame import Frame, Header
    from scanners.jt808.messages import Message

__all__ = ["DEFAULT_IDLE_TIMEOUT", "Gateway", "new_auth_code"]

logger = logging.getLogger("custody.jt808")

DEFAULT_IDLE_TIMEOUT: Final = 180.0
"""Seconds without a byte before a connection is closed: three missed 60 s heartbeats."""

_READ_SIZE: Final = 64 * 1024


def new_auth_code() -> str:
    """A fresh random auth code (16 hex digits: fits every terminal's STRING field)."""
    return secrets.token_hex(8)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Connection:
    """What the gateway knows about one TCP connection."""

    peer: str
    terminal: Terminal | None = None  # set by a successful authentication
    serial: int = 0  # our next outgoing serial number
    frames: int = 0
    malformed: int = 0
    fixes: int = 0

    def next_serial(self) -> int:
        serial, self.serial = self.serial, (self.serial + 1) & 0xFFFF
        return serial


class Gateway:
    """A JT/T 808 TCP server in front of a :class:`~custody.tracks.TrackStore`.

    Use ``async with Gateway(store, port=0) as gateway:`` (or :meth:`start` and :meth:`stop`);
    :attr:`port` is the port actually bound. ``auth_codes`` makes the auth code for a newly
    registered terminal; ``clock`` stamps ``received_at`` and registration times.
    """

    def __init__(  # noqa: PLR0913  # every limit is a named keyword
        self,
        store: TrackStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        auth_codes: Callable[[], str] = new_auth_code,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_frame: int = MAX_FRAME_BYTES,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._store = store
        self._host = host
        self._port = port
        self._auth_codes = auth_codes
        self._idle_timeout = idle_timeout
        self._max_frame = max_frame
        self._clock = clock
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def port(self) -> int:
        """The port the server listens on (useful after asking for port 0)."""
        if self._server is None:
            raise RuntimeError("the gateway is not running")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        """Bind and start accepting terminals."""
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        logger.info("JT/T 808 gateway listening on %s:%d", self._host, self.port)

    async def stop(self) -> None:
        """Stop accepting, close every connection and wait until they are gone."""
        if self._server is None:
            return
        self._stopping = True
        self._server.close()
        for task in self._connections:
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None
        self._stopping = False
        logger.info("JT/T 808 gateway stopped")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- one connection -------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        peer = writer.get_extra_info("peername")
        conn = _Connection(peer=f"{peer[0]}:{peer[1]}" if peer else "?")
        decoder = FrameDecoder(max_frame=self._max_frame)
        logger.info("%s: connected", conn.peer)
        ending = "cancelled"
        try:
            ending = await self._converse(conn, decoder, reader, writer)
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            logger.info(
                "%s: %s; terminal %s, %d frames, %d malformed, %d new fixes, %d bytes skipped",
                conn.peer, ending, conn.terminal.phone if conn.terminal else "-",
                conn.frames, conn.malformed, conn.fixes, decoder.skipped,
            )  # fmt: skip

    async def _converse(
        self,
        conn: _Connection,
        decoder: FrameDecoder,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> str:
        """Answer frames until the connection ends; return why it ended."""
        try:
            while data := await self._read(reader):
                for item in decoder.feed(data):
                    reply = await self._take(conn, item)
                    if reply is not None:
                        writer.write(reply)
                await writer.drain()
        except TimeoutError:
            return f"idle for {self._idle_timeout:g} s"
        except ConnectionError as exc:
            return f"connection lost ({exc.__class__.__name__})"
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # stop() cancelled us and waits for us: end normally, or asyncio (3.11) logs the
            # cancelled connection as an unhandled error.
            return "gateway stopping"
        except Exception:
            logger.exception("%s: unexpected error; closing the connection", conn.peer)
            return "internal error"
        return "closed by the terminal"

    async def _read(self, reader: asyncio.StreamReader) -> bytes:
        async with asyncio.timeout(self._idle_timeout):
            return await reader.read(_READ_SIZE)

    async def _take(self, conn: _Connection, item: Frame | FrameMalformed) -> bytes | None:
        if isinstance(item, FrameMalformed):
            conn.malformed += 1
            logger.warning(
                "%s: dropped a malformed frame (%s): %s; bytes %s",
                conn.peer, item.reason, item.message, item.raw.hex(),
            )  # fmt: skip
            return None
        conn.frames += 1
        return await self._answer(conn, item)

    async def _answer(self, conn: _Connection, frame: Frame) -> bytes | None:
        header = frame.header
        if header.encryption or header.subpackage is not None:
            logger.info(
                "%s: 0x%04x is encrypted or subpackaged; not supported",
                conn.peer, header.message_id,
            )  # fmt: skip
            return self._reply(conn, header, ReplyResult.NOT_SUPPORTED)
        try:
            message = parse_message(frame)
            return await self._dispatch(conn, header, message)
        except MessageMalformed as exc:
            conn.malformed += 1
            logger.warning("%s: %s; body %s", conn.peer, exc.message, frame.body.hex())
            return self._reply(conn, header, ReplyResult.MESSAGE_ERROR)
        except InputError as exc:
            logger.warning("%s: 0x%04x refused: %s", conn.peer, header.message_id, exc.message)
            return self._reply(conn, header, ReplyResult.MESSAGE_ERROR)
        except CustodyError as exc:  # the store failed: the terminal will send again
            logger.error("%s: 0x%04x failed: %s", conn.peer, header.message_id, exc.message)  # noqa: TRY400  # the error says all; no traceback wanted
            return self._reply(conn, header, ReplyResult.FAILURE)

    async def _dispatch(self, conn: _Connection, header: Header, message: Message) -> bytes | None:
        reply: bytes | None = None
        match message:
            case Registration():
                reply = await self._register(conn, header, message)
            case Authentication():
                reply = await self._authenticate(conn, header, message)
            case Heartbeat():
                reply = self._reply(conn, header, ReplyResult.OK)
            case LocationReport():
                reply = await self._locate(conn, header, [message])
            case LocationBatch():
                reply = await self._locate(conn, header, message.locations)
            case TerminalReply():
                pass  # an answer to us needs no answer
            case _:
                logger.info("%s: 0x%04x not supported", conn.peer, header.message_id)
                reply = self._reply(conn, header, ReplyResult.NOT_SUPPORTED)
        return reply

    async def _register(self, conn: _Connection, header: Header, message: Registration) -> bytes:
        plate = terminal_plate(message.plate, message.plate_colour)
        if plate is None:
            logger.warning(
                "%s: terminal %s registers without a plate we can read (colour %d, %r); "
                "registered without plate",
                conn.peer, header.phone, message.plate_colour, message.plate,
            )  # fmt: skip
        candidate = Terminal(
            phone=header.phone,
            plate=plate,
            plate_colour=message.plate_colour,
            manufacturer=message.manufacturer,
            model=message.model,
            terminal_id=message.terminal_id,
            auth_code=self._auth_codes(),
            registered_at=self._clock(),
        )
        stored, new = await asyncio.to_thread(self._store.register_terminal, candidate)
        result, code = RegistrationResult.OK, stored.auth_code
        if new:
            logger.info("%s: registered terminal %s for %s", conn.peer, stored.phone, plate)
        elif (stored.manufacturer, stored.terminal_id) != (message.manufacturer,
                                                           message.terminal_id):  # fmt: skip
            # Another device claims the phone number: it does not get the auth code.
            result, code = RegistrationResult.TERMINAL_REGISTERED, ""
            logger.warning(
                "%s: terminal %s is registered as %s/%s; refused a registration from %s/%s",
                conn.peer, stored.phone, stored.manufacturer, stored.terminal_id,
                message.manufacturer, message.terminal_id,
            )  # fmt: skip
        elif stored.plate != plate:
            logger.warning(
                "%s: terminal %s registered again naming %s; its registration for %s stands",
                conn.peer, stored.phone, plate, stored.plate,
            )  # fmt: skip
        reply = RegistrationReply(header.serial, result, code)
        return self._encode(conn, header, reply)

    async def _authenticate(
        self, conn: _Connection, header: Header, message: Authentication
    ) -> bytes:
        terminal = await asyncio.to_thread(self._store.get_terminal, header.phone)
        if terminal is not None and hmac.compare_digest(
            terminal.auth_code.encode(), message.auth_code.encode()
        ):
            conn.terminal = terminal
            logger.info("%s: terminal %s authenticated", conn.peer, terminal.phone)
            return self._reply(conn, header, ReplyResult.OK)
        conn.terminal = None
        logger.warning("%s: authentication of %s refused", conn.peer, header.phone)
        return self._reply(conn, header, ReplyResult.FAILURE)

    async def _locate(
        self, conn: _Connection, header: Header, locations: Sequence[LocationReport]
    ) -> bytes:
        terminal = conn.terminal
        if terminal is None or terminal.phone != header.phone:
            logger.warning(
                "%s: location from %s refused: not authenticated on this connection",
                conn.peer, header.phone,
            )  # fmt: skip
            return self._reply(conn, header, ReplyResult.FAILURE)
        received = self._clock()
        fixes: list[GpsFix] = []
        for location in locations:
            try:
                fixes.append(_fix(terminal, location, received))
            except InputError as exc:
                logger.warning("%s: fix of %s refused: %s", conn.peer, terminal.phone, exc.message)
        if fixes:
            conn.fixes += await asyncio.to_thread(self._store.add_fixes, fixes)
        ok = len(fixes) == len(locations)
        return self._reply(conn, header, ReplyResult.OK if ok else ReplyResult.MESSAGE_ERROR)

    # -- replies --------------------------------------------------------------------------

    def _reply(self, conn: _Connection, header: Header, result: ReplyResult) -> bytes:
        return self._encode(conn, header, PlatformReply(header.serial, header.message_id, result))

    @staticmethod
    def _encode(conn: _Connection, header: Header, message: Message) -> bytes:
        # Answer in the terminal's edition, to the phone number it used.
        return encode_message(
            message,
            phone=header.phone,
            serial=conn.next_serial(),
            protocol_version=header.protocol_version,
        )


def _fix(terminal: Terminal, location: LocationReport, received: datetime) -> GpsFix:
    return GpsFix(
        terminal=terminal.phone,
        plate=terminal.plate,
        fix_time=location.time,
        lat=location.latitude,
        lon=location.longitude,
        crs="WGS84",  # JT/T 808 terminals report WGS-84
        altitude_m=location.altitude_m,
        speed_kmh=location.speed_kmh,
        heading=location.heading,
        alarm=location.alarm,
        status=location.status,
        received_at=received,
    )
