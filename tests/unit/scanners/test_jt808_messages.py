"""JT/T 808 messages: each one read and written in both editions.

Expected values for the published sample frames are the ones the source test files assert
(tests/vectors/jt808_sample_frames.json names each file and test).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanners.jt808.frame import Edition, Frame, FrameDecoder, Header, decode_frame
from scanners.jt808.messages import (
    SOUTH,
    WEST,
    Authentication,
    Heartbeat,
    LocationBatch,
    LocationReport,
    MessageId,
    MessageMalformed,
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

QUICK = settings(max_examples=200, derandomize=True, database=None, deadline=None)
VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "jt808_sample_frames.json"
SAMPLES: dict[str, bytes] = {
    name: bytes.fromhex(entry["hex"])
    for name, entry in json.loads(VECTORS.read_text(encoding="utf-8"))["frames"].items()
}
BEIJING = timezone(timedelta(hours=8))
BOTH = [Edition.V2013, Edition.V2019]


def sample(name: str) -> tuple[Header, object]:
    frame = decode_frame(SAMPLES[name][1:-1])
    return frame.header, parse_message(frame)


def round_trip(message, edition: Edition):
    header = Header(message.message_id, "13800138000", 5, None if edition == "2013" else 1)
    wire = encode_message(
        message, phone=header.phone, serial=5, protocol_version=header.protocol_version
    )
    (frame,) = FrameDecoder().feed(wire)
    assert isinstance(frame, Frame)
    assert frame.header == header
    return parse_message(frame)


def location(**changes) -> LocationReport:
    values = {
        "alarm": 0,
        "status": 0b11,  # ACC on, positioned
        "latitude_e6": 30_657_432,
        "longitude_e6": 104_065_735,
        "altitude_m": 505,
        "speed_tenth_kmh": 623,
        "heading": 87,
        "time": datetime(2026, 3, 5, 1, 2, 3, tzinfo=UTC),
    }
    values.update(changes)
    return LocationReport(**values)


def malformed(message_id: int, body: bytes, edition: Edition = Edition.V2013) -> MessageMalformed:
    frame = Frame(Header(message_id, "1", 0, None if edition == "2013" else 1), body)
    with pytest.raises(MessageMalformed) as caught:
        parse_message(frame)
    return caught.value


# --- registration 0x0100 and its reply 0x8100 -----------------------------------------------


def test_registration_2013_sample_fields():
    header, message = sample("registration-2013")
    assert header.phone == "123456789"
    assert message == Registration(
        province=40,
        city=50,
        manufacturer="12340",
        model="smallchi123000000000",
        terminal_id="CHI1230",
        plate_colour=1,
        plate="粤A12345",  # GBK d4c1 41 3132333435
    )


def test_registration_2019_sample_has_the_wider_fields():
    header, message = sample("registration-2019")
    assert header.protocol_version == 1
    assert isinstance(message, Registration)
    assert message.manufacturer == "000Koike002"  # BYTE[11], padded by the sender with "0"
    assert message.model == "Koike002".rjust(30, "0")  # BYTE[30]
    assert message.terminal_id == "Koike002".rjust(30, "0")  # BYTE[30]
    assert (message.plate_colour, message.plate) == (2, "粤A12346")


@pytest.mark.parametrize("edition", BOTH)
def test_registration_round_trips_with_nul_padding(edition):
    message = Registration(51, 100, "HBZL", "ZL-808", "A1B2C3", 2, "川A·F1234")
    assert round_trip(message, edition) == message


def test_registration_2013_fixed_fields_are_nul_padded_to_their_width():
    body = Registration(51, 100, "HBZL", "M1", "T1", 2, "川A12345").encode(Edition.V2013)
    assert body[4:9] == b"HBZL\x00"
    assert len(body) == 2 + 2 + 5 + 20 + 7 + 1 + len("川A12345".encode("gbk"))


def test_registration_field_too_wide_for_the_edition_cannot_be_written():
    with pytest.raises(ValueError, match="terminal id"):
        Registration(0, 0, "M", "X", "T" * 8, 1, "川A12345").encode(Edition.V2013)


def test_registration_cut_short_is_malformed():
    body = Registration(51, 100, "HBZL", "M1", "T1", 2, "川A12345").encode(Edition.V2013)
    assert malformed(MessageId.REGISTRATION, body[:20]).message_id == 0x0100


def test_plate_that_is_not_gbk_is_malformed():
    body = Registration(51, 100, "HBZL", "M1", "T1", 2, "").encode(Edition.V2013)
    error = malformed(MessageId.REGISTRATION, body + b"\xff\xff\xff")
    assert "GBK" in error.message


def test_registration_reply_2013_sample_carries_the_auth_code():
    header, message = sample("registration-reply-2013")
    assert header.phone == "12345678900"
    assert message == RegistrationReply(reply_serial=100, result=0, auth_code="123456")


def test_refused_registration_reply_has_no_auth_code():
    _, message = sample("registration-reply-refused-2013")
    assert message == RegistrationReply(100, RegistrationResult.NO_SUCH_TERMINAL)
    assert RegistrationReply(100, 4, "ignored").encode(Edition.V2013) == bytes.fromhex("006404")


def test_registration_reply_2019_sample():
    _, message = sample("registration-reply-2019")
    assert message == RegistrationReply(111, RegistrationResult.OK, "ok..ok..ok")


@pytest.mark.parametrize("edition", BOTH)
@pytest.mark.parametrize("result", list(RegistrationResult))
def test_registration_reply_round_trips(edition, result):
    code = "7f3c9a01d2e4b856" if result == RegistrationResult.OK else ""
    message = RegistrationReply(65535, result, code)
    assert round_trip(message, edition) == message


# --- authentication 0x0102 ------------------------------------------------------------------


def test_authentication_2013_sample_is_the_code_alone():
    header, message = sample("authentication-2013")
    assert header.serial == 12345
    assert message == Authentication("456121111")


def test_authentication_2019_has_length_code_imei_and_software_version():
    message = Authentication("7f3c9a01", imei="860123456789012", software_version="V2.1.7")
    body = message.encode(Edition.V2019)
    assert body[0] == 8
    assert body[1:9] == b"7f3c9a01"
    assert body[9:24] == b"860123456789012"
    assert body[24:] == b"V2.1.7".ljust(20, b"\x00")
    assert round_trip(message, Edition.V2019) == message


def test_authentication_2013_round_trips():
    assert round_trip(Authentication("abc123"), Edition.V2013) == Authentication("abc123")


def test_authentication_2019_without_imei_is_malformed():
    body = b"\x04abcd" + b"8601234567"
    assert "IMEI" in malformed(MessageId.AUTHENTICATION, body, Edition.V2019).message


def test_authentication_2019_with_bytes_after_the_version_is_malformed():
    body = Authentication("abcd", "860123456789012", "V1").encode(Edition.V2019) + b"\x00"
    assert "unexpected" in malformed(MessageId.AUTHENTICATION, body, Edition.V2019).message


# --- heartbeat and general replies ----------------------------------------------------------


@pytest.mark.parametrize("edition", BOTH)
def test_heartbeat_has_an_empty_body(edition):
    assert Heartbeat().encode(edition) == b""
    assert round_trip(Heartbeat(), edition) == Heartbeat()


def test_heartbeat_2013_sample():
    assert sample("heartbeat-2013") == (Header(0x0002, "12345678900", 10), Heartbeat())


def test_terminal_reply_2013_sample():
    _, message = sample("terminal-reply-2013")
    assert message == TerminalReply(reply_serial=1000, reply_id=0x0002, result=ReplyResult.OK)


def test_platform_reply_samples_in_both_editions():
    assert sample("platform-reply-2013")[1] == PlatformReply(100, 0x0200, ReplyResult.OK)
    assert sample("platform-reply-2019")[1] == PlatformReply(111, 0x0200, ReplyResult.OK)


@pytest.mark.parametrize("edition", BOTH)
@pytest.mark.parametrize("result", list(ReplyResult))
def test_general_replies_round_trip(edition, result):
    assert round_trip(PlatformReply(7, 0x0102, result), edition) == PlatformReply(7, 0x0102, result)
    assert round_trip(TerminalReply(7, 0x8103, result), edition) == TerminalReply(7, 0x8103, result)


def test_platform_reply_with_a_missing_byte_is_malformed():
    assert malformed(MessageId.PLATFORM_REPLY, bytes.fromhex("00640200")).message_id == 0x8001


# --- location 0x0200 ------------------------------------------------------------------------


def test_location_2013_sample_fields():
    _, message = sample("location-escaped-2013")
    assert isinstance(message, LocationReport)
    assert (message.alarm, message.status) == (1, 2)
    assert (message.latitude, message.longitude) == (12.222222, 132.444444)
    assert (message.altitude_m, message.speed_kmh, message.heading) == (40, 6.0, 0)


def test_bcd_time_is_gmt_plus_8_and_comes_out_as_utc():
    _, message = sample("location-escaped-2013")  # BCD 181015101010
    assert isinstance(message, LocationReport)
    assert message.time == datetime(2018, 10, 15, 10, 10, 10, tzinfo=BEIJING)
    assert message.time.tzinfo is UTC
    assert message.time == datetime(2018, 10, 15, 2, 10, 10, tzinfo=UTC)


def test_time_just_after_midnight_in_beijing_is_the_day_before_in_utc():
    body = location(time=datetime(2026, 1, 1, 7, 30, tzinfo=BEIJING)).encode(Edition.V2013)
    assert body[22:28] == bytes.fromhex("260101073000")
    parsed = LocationReport.parse(body, Edition.V2013)
    assert parsed.time == datetime(2025, 12, 31, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize("bcd", ["261301000000", "260230000000", "2601010000a0", "000000000000"])
def test_time_that_is_not_a_real_bcd_date_is_malformed(bcd):
    body = bytearray(location().encode(Edition.V2013))
    body[22:28] = bytes.fromhex(bcd)
    assert "time" in malformed(MessageId.LOCATION, bytes(body)).message


def test_status_bit_2_makes_the_published_2019_sample_a_southern_latitude():
    _, message = sample("location-2019")
    assert isinstance(message, LocationReport)
    assert message.status == 22  # bits 1, 2 and 4
    assert message.status & SOUTH
    assert message.latitude == -31.234567
    assert message.longitude == 121.987654
    assert message.time == datetime(2025, 1, 29, 22, 33, 44, tzinfo=BEIJING)


def test_negative_longitude_is_written_as_magnitude_and_west_bit():
    body = location(latitude_e6=-33_868_820, longitude_e6=-70_650_000).encode(Edition.V2013)
    status = int.from_bytes(body[4:8], "big")
    assert status & SOUTH
    assert status & WEST
    assert body[8:12] == (33_868_820).to_bytes(4, "big")
    assert body[12:16] == (70_650_000).to_bytes(4, "big")
    parsed = LocationReport.parse(body, Edition.V2013)
    assert (parsed.latitude, parsed.longitude) == (-33.86882, -70.65)


def test_positive_coordinates_clear_a_stale_sign_bit():
    body = location(status=SOUTH | WEST | 0b10).encode(Edition.V2013)
    assert int.from_bytes(body[4:8], "big") == 0b10


def test_zero_coordinate_keeps_its_sign_bit_as_sent():
    message = location(status=SOUTH | WEST, latitude_e6=0, longitude_e6=0)
    body = message.encode(Edition.V2013)
    assert LocationReport.parse(body, Edition.V2013).encode(Edition.V2013) == body


def test_altitude_below_sea_level_reads_as_negative():
    # Ayding Lake in the Turpan depression lies 154 m below sea level.
    body = location(altitude_m=-154).encode(Edition.V2013)
    assert body[16:18] == bytes.fromhex("ff66")
    assert LocationReport.parse(body, Edition.V2013).altitude_m == -154


def test_additional_information_items_are_kept_raw():
    _, message = sample("location-escaped-2013")
    assert isinstance(message, LocationReport)
    assert message.extras == ((0x01, (100).to_bytes(4, "big")), (0x02, (125).to_bytes(2, "big")))


def test_unknown_and_empty_additional_items_are_skipped_by_their_length():
    extras = ((0xE1, b"\x7e\x7d\x00"), (0x30, b""), (0xFE, bytes(255)))
    message = location(extras=extras)
    assert round_trip(message, Edition.V2019) == message


def test_field_sample_with_seven_additional_items_reads_them_all():
    _, message = sample("location-field-2013")
    assert isinstance(message, LocationReport)
    assert [item for item, _ in message.extras] == [0x01, 0x02, 0x03, 0x25, 0x2B, 0x30, 0x31]
    assert (message.latitude, message.longitude) == (22.76875, 113.792664)


def test_additional_item_longer_than_the_body_is_malformed():
    body = location().encode(Edition.V2013) + bytes([0x01, 0x04, 0x00, 0x00])
    assert "additional item 0x01" in malformed(MessageId.LOCATION, body).message


def test_additional_item_without_its_length_byte_is_malformed():
    body = location().encode(Edition.V2013) + b"\x01"
    assert malformed(MessageId.LOCATION, body).message_id == 0x0200


def test_location_shorter_than_28_bytes_is_malformed():
    body = location().encode(Edition.V2013)[:27]
    assert malformed(MessageId.LOCATION, body).message_id == 0x0200


@pytest.mark.parametrize("edition", BOTH)
def test_location_round_trips(edition):
    message = location(alarm=0xFFFF_FFFF, status=0xFFFF_FFF3, extras=((1, b"\x00\x00\x01\x00"),))
    assert round_trip(message, edition) == message


def test_location_time_outside_2000_to_2099_cannot_be_written():
    with pytest.raises(ValueError, match="two-digit year"):
        location(time=datetime(2100, 1, 1, tzinfo=UTC)).encode(Edition.V2013)


# --- batch 0x0704 ---------------------------------------------------------------------------


def test_batch_2013_sample_holds_two_locations():
    header, message = sample("batch-2013")
    assert header.serial == 8888
    assert isinstance(message, LocationBatch)
    assert message.kind == LocationBatch.NORMAL
    first, second = message.locations
    assert (first.latitude, first.longitude, first.speed_tenth_kmh) == (12.222222, 132.444444, 60)
    assert (second.alarm, second.heading) == (2, 120)
    assert second.time == datetime(2018, 7, 15, 10, 10, 30, tzinfo=BEIJING)


def test_batch_2019_sample_holds_two_locations():
    _, message = sample("batch-2019")
    assert isinstance(message, LocationBatch)
    assert [loc.altitude_m for loc in message.locations] == [666, 777]
    assert [loc.latitude_e6 for loc in message.locations] == [31000562, 31000563]


@pytest.mark.parametrize("edition", BOTH)
def test_blind_area_batch_round_trips(edition):
    locations = tuple(location(time=datetime(2026, 3, 5, 1, i, tzinfo=UTC)) for i in range(5))
    message = LocationBatch(LocationBatch.BLIND_AREA, locations)
    assert round_trip(message, edition) == message


def test_batch_announcing_more_items_than_it_holds_is_malformed():
    body = bytearray(LocationBatch(0, (location(),)).encode(Edition.V2013))
    body[0:2] = (2).to_bytes(2, "big")
    assert "item 2" in malformed(MessageId.LOCATION_BATCH, bytes(body)).message


def test_batch_item_too_short_for_a_location_is_malformed():
    body = bytes.fromhex("0001000004") + b"\x00\x00\x00\x00"
    assert "item 1" in malformed(MessageId.LOCATION_BATCH, body).message


def test_batch_with_bytes_after_the_last_item_is_malformed():
    body = LocationBatch(0, (location(),)).encode(Edition.V2013) + b"\x00"
    assert malformed(MessageId.LOCATION_BATCH, body).message_id == 0x0704


def test_broken_item_in_a_batch_names_the_batch():
    item = location().encode(Edition.V2013)[:-6] + bytes.fromhex("269999999999")
    body = b"\x00\x01\x00" + len(item).to_bytes(2, "big") + item
    assert malformed(MessageId.LOCATION_BATCH, body).message_id == 0x0704


# --- anything else --------------------------------------------------------------------------


def test_unknown_message_id_is_kept_raw():
    frame = Frame(Header(0x0900, "13800138000", 3), b"\x41\x42")
    assert parse_message(frame) == RawMessage(0x0900, b"\x41\x42")


def test_encrypted_body_is_kept_raw_not_misread():
    body = location().encode(Edition.V2013)
    frame = Frame(Header(0x0200, "13800138000", 3, encryption=1), body)
    assert parse_message(frame) == RawMessage(0x0200, body)


def test_one_piece_of_a_subpackaged_message_is_kept_raw():
    frame = Frame(Header(0x0704, "13800138000", 3, subpackage=(3, 1)), b"\x00\x05\x01")
    assert parse_message(frame) == RawMessage(0x0704, b"\x00\x05\x01")


def test_raw_message_encodes_its_body():
    assert RawMessage(0x8103, b"\x01\x02").encode(Edition.V2019) == b"\x01\x02"


@QUICK
@given(
    st.sampled_from(list(MessageId)),
    st.binary(max_size=120),
    st.sampled_from(BOTH),
)
def test_random_bodies_parse_or_raise_only_the_typed_error(message_id, body, edition):
    frame = Frame(Header(message_id, "1", 0, None if edition == "2013" else 1), body)
    try:
        parse_message(frame)
    except MessageMalformed as exc:
        assert exc.message_id == message_id  # noqa: PT017  # the error names the message
