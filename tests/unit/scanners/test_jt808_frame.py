"""JT/T 808 framing: escaping, check code, header, and cutting a TCP stream into frames.

The sample frames come from the test suites of SmallChi/JT808 and makeclan/xtream-codec; see
tests/vectors/jt808_sample_frames.json for the file and test each one is from.
"""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta
from functools import reduce
from operator import xor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.errors import InputError
from scanners.jt808.frame import (
    MAX_BODY,
    Frame,
    FrameDecoder,
    FrameMalformed,
    Header,
    checksum,
    decode_frame,
    encode_frame,
    escape,
    unescape,
)

QUICK = settings(max_examples=200, derandomize=True, database=None, deadline=None)
VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "jt808_sample_frames.json"
SAMPLES: dict[str, bytes] = {
    name: bytes.fromhex(entry["hex"])
    for name, entry in json.loads(VECTORS.read_text(encoding="utf-8"))["frames"].items()
}
HEARTBEAT = SAMPLES["heartbeat-2013"]


def inner(frame: bytes) -> bytes:
    """The bytes between the flags."""
    assert frame[0] == frame[-1] == 0x7E
    return frame[1:-1]


def only(items: list[Frame | FrameMalformed]) -> Frame:
    assert len(items) == 1
    assert isinstance(items[0], Frame), items[0]
    return items[0]


def rejection(escaped: bytes) -> FrameMalformed:
    with pytest.raises(FrameMalformed) as caught:
        decode_frame(escaped)
    return caught.value


def reframe(content: bytes) -> bytes:
    """Header and body with a correct check code, escaped, without flags."""
    return escape(content + bytes([checksum(content)]))


# --- published sample frames ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_published_sample_frame_decodes_and_encodes_to_the_same_bytes(name):
    frame = decode_frame(inner(SAMPLES[name]))
    assert encode_frame(frame.header, frame.body) == SAMPLES[name]


def test_sample_2013_header_fields():
    frame = decode_frame(inner(SAMPLES["location-escaped-2013"]))
    assert frame.header == Header(message_id=0x0200, phone="123456789012", serial=126)
    assert frame.header.edition == "2013"
    assert len(frame.body) == 38


def test_sample_2019_header_has_version_byte_and_twenty_digit_phone():
    frame = decode_frame(inner(SAMPLES["location-2019"]))
    assert frame.header == Header(0x0200, "13912344329", 0, protocol_version=1)
    assert frame.header.edition == "2019"


def test_phone_loses_leading_zeros_so_both_editions_name_the_same_terminal():
    # BCD[6] 012345678900 (2013) and BCD[10] 00000000012345678900 (2019)
    old = decode_frame(inner(SAMPLES["authentication-2013"])).header
    new = Header(0x0102, "12345678900", 1, protocol_version=1)
    assert old.phone == "12345678900"
    assert decode_frame(inner(encode_frame(new, b""))).header.phone == old.phone


# --- escaping and check code ----------------------------------------------------------------


def test_flag_and_escape_bytes_are_escaped_in_the_published_frame():
    # SmallChi Demo2: serial 126 (0x7e) and an oil reading of 125 (0x7d)
    frame = SAMPLES["location-escaped-2013"]
    assert frame[12:14] == b"\x7d\x02"
    assert b"\x7d\x01" in frame
    assert decode_frame(inner(frame)).header.serial == 0x7E


def test_check_code_that_equals_the_flag_is_escaped_too():
    frame = SAMPLES["heartbeat-escaped-checksum-2013"]
    assert frame.endswith(b"\x7d\x02\x7e")
    assert decode_frame(inner(frame)).header.phone == "40021679287"


def test_escape_writes_7d_before_7e_so_output_is_not_escaped_twice():
    assert escape(b"\x7e\x7d") == b"\x7d\x02\x7d\x01"
    assert unescape(b"\x7d\x02\x7d\x01") == b"\x7e\x7d"


@QUICK
@given(st.binary(max_size=300))
def test_escape_round_trips_and_leaves_no_flag(data):
    escaped = escape(data)
    assert 0x7E not in escaped
    assert unescape(escaped) == data


@QUICK
@given(st.binary(max_size=300))
def test_checksum_is_the_xor_of_every_byte(data):
    assert checksum(data) == reduce(xor, data, 0)


@pytest.mark.parametrize("escaped", [b"\x7d\x03", b"\x7d\x7d\x01", b"\x7d\x00"])
def test_escape_byte_followed_by_anything_but_1_or_2_is_refused(escaped):
    content = inner(HEARTBEAT)
    assert rejection(content[:5] + escaped + content[5:]).reason == "escape"


def test_escape_byte_at_the_end_is_refused():
    assert rejection(inner(HEARTBEAT) + b"\x7d").reason == "escape"


def test_wrong_check_code_is_refused():
    content = bytearray(inner(HEARTBEAT))
    content[-1] ^= 0x01
    assert rejection(bytes(content)).reason == "checksum"


def test_changed_body_byte_is_caught_by_the_check_code():
    content = bytearray(inner(SAMPLES["platform-reply-2013"]))
    content[13] ^= 0x10  # inside the body
    assert rejection(bytes(content)).reason == "checksum"


# --- header ---------------------------------------------------------------------------------


def test_frame_shorter_than_a_header_is_refused():
    assert rejection(reframe(b"\x00\x02\x00\x00\x01")).reason == "too-short"


def test_2019_frame_shorter_than_its_header_is_refused():
    # version flag set, but only a 2013-sized header follows
    content = bytes.fromhex("00024000") + bytes.fromhex("0123456789000a00")
    assert rejection(reframe(content)).reason == "too-short"


def test_body_length_field_must_match_the_body():
    frame = decode_frame(inner(HEARTBEAT))
    content = unescape(inner(encode_frame(frame.header, b"\x01\x02")))[:-1]
    assert rejection(reframe(content[:-1])).reason == "length"  # announces 2, carries 1


def test_phone_that_is_not_bcd_is_refused():
    content = bytes.fromhex("00020000_01234567890a_000a".replace("_", ""))
    assert rejection(reframe(content)).reason == "header"


def test_subpackage_fields_are_read_and_written():
    header = Header(0x0801, "13800138000", 7, subpackage=(12, 3))
    frame = decode_frame(inner(encode_frame(header, b"piece")))
    assert frame == Frame(header, b"piece")


def test_encryption_bits_are_read():
    header = Header(0x0200, "13800138000", 7, protocol_version=1, encryption=1)
    assert decode_frame(inner(encode_frame(header, b"x"))).header.encryption == 1


def test_body_longer_than_1023_bytes_cannot_be_written_in_one_frame():
    with pytest.raises(ValueError, match="subpackaging"):
        encode_frame(Header(0x0900, "1", 0), bytes(MAX_BODY + 1))


@pytest.mark.parametrize(
    ("phone", "version"),
    [("1234567890123", None), ("123456789012345678901", 1), ("1380013800x", None)],
)
def test_phone_that_does_not_fit_the_edition_cannot_be_written(phone, version):
    with pytest.raises(ValueError, match="phone"):
        encode_frame(Header(0x0002, phone, 0, protocol_version=version), b"")


# --- the stream decoder ---------------------------------------------------------------------


def test_frame_split_byte_by_byte_comes_out_once_complete():
    decoder = FrameDecoder()
    frame = SAMPLES["location-escaped-2013"]
    out = [item for i in range(len(frame)) for item in decoder.feed(frame[i : i + 1])]
    assert out == [decode_frame(inner(frame))]


def test_escape_pair_split_across_segments_is_joined():
    frame = SAMPLES["location-escaped-2013"]
    cut = frame.index(b"\x7d\x02") + 1  # between 0x7d and 0x02
    decoder = FrameDecoder()
    assert decoder.feed(frame[:cut]) == []
    assert only(decoder.feed(frame[cut:])).header.serial == 0x7E


def test_frames_merged_in_one_segment_come_out_in_order():
    names = ["registration-2013", "authentication-2013", "heartbeat-2013", "batch-2019"]
    out = FrameDecoder().feed(b"".join(SAMPLES[n] for n in names))
    assert [f.header.message_id for f in out if isinstance(f, Frame)] == [
        0x0100, 0x0102, 0x0002, 0x0704,
    ]  # fmt: skip


def test_frames_sharing_one_flag_are_both_read():
    shared = HEARTBEAT + SAMPLES["terminal-reply-2013"][1:]  # 7e A 7e B 7e
    out = FrameDecoder().feed(shared)
    assert [type(f) for f in out] == [Frame, Frame]


def test_empty_pieces_between_flags_are_ignored():
    assert only(FrameDecoder().feed(b"\x7e\x7e\x7e" + HEARTBEAT + b"\x7e\x7e")).header.serial == 10


def test_garbage_between_frames_is_reported_and_the_next_frame_read():
    out = FrameDecoder().feed(HEARTBEAT + b"GET / HTTP/1.1\r\n\r\n" + HEARTBEAT)
    assert [type(f) for f in out] == [Frame, FrameMalformed, Frame]
    assert isinstance(out[1], FrameMalformed)
    assert out[1].reason == "checksum"
    assert out[1].raw == b"GET / HTTP/1.1\r\n\r\n"


def test_garbage_before_the_first_flag_does_not_hide_the_frame():
    out = FrameDecoder().feed(b"\x00\xff\x13" + HEARTBEAT)
    assert isinstance(out[-1], Frame)


def test_bad_frame_among_good_ones_is_reported_in_its_place():
    bad = bytearray(HEARTBEAT)
    bad[-2] ^= 0x01  # check code 0x81 becomes 0x80
    out = FrameDecoder().feed(HEARTBEAT + bytes(bad) + HEARTBEAT)
    assert [type(f) for f in out] == [Frame, FrameMalformed, Frame]


def test_over_long_frame_is_dropped_and_the_next_one_read():
    decoder = FrameDecoder(max_frame=64)
    long_frame = encode_frame(Header(0x0900, "1", 0), bytes(100))
    out = decoder.feed(long_frame + HEARTBEAT)
    assert [type(f) for f in out] == [FrameMalformed, Frame]
    assert isinstance(out[0], FrameMalformed)
    assert out[0].reason == "too-long"


def test_endless_bytes_without_a_flag_are_reported_once_and_not_kept():
    decoder = FrameDecoder(max_frame=64)
    out = []
    for _ in range(1000):
        out += decoder.feed(b"\x01" * 1000)
    assert [f.reason for f in out if isinstance(f, FrameMalformed)] == ["too-long"]
    assert len(decoder._pending) <= 64
    assert decoder.skipped == 1_000_000
    assert only(decoder.feed(HEARTBEAT)).header.message_id == 0x0002


def test_malformed_frame_is_an_input_error_with_the_facts():
    error = rejection(b"\x00\x01")
    assert isinstance(error, InputError)
    assert error.code == "jt808-frame-malformed"
    assert error.context == {"reason": "too-short"}
    assert error.zh != error.message


# --- properties -----------------------------------------------------------------------------

headers = st.builds(
    Header,
    message_id=st.integers(0, 0xFFFF),
    phone=st.integers(0, 10**12 - 1).map(str),
    serial=st.integers(0, 0xFFFF),
    protocol_version=st.none() | st.integers(0, 255),
    encryption=st.integers(0, 7),
    subpackage=st.none() | st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)),
)
# Bodies rich in the two bytes that need escaping.
bodies = st.lists(st.sampled_from([0x7E, 0x7D, 0x01, 0x02, 0x00, 0xFF]) | st.integers(0, 255),
                  max_size=MAX_BODY).map(bytes)  # fmt: skip


@QUICK
@given(st.lists(st.tuples(headers, bodies), min_size=1, max_size=6), st.data())
def test_frames_cut_at_random_points_decode_to_what_was_encoded(frames, data):
    stream = b"".join(encode_frame(header, body) for header, body in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    decoder = FrameDecoder()
    out = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        out += decoder.feed(stream[start:end])
    assert out == [Frame(header, body) for header, body in frames]


@settings(max_examples=300, derandomize=True, database=None, deadline=timedelta(seconds=2))
@given(st.lists(st.binary(max_size=400) | st.sampled_from([b"\x7e", b"\x7d", HEARTBEAT]),
                max_size=12))  # fmt: skip
def test_random_bytes_give_frames_or_typed_errors_and_nothing_else(chunks):
    decoder = FrameDecoder(max_frame=256)
    for chunk in chunks:
        for item in decoder.feed(chunk):
            assert isinstance(item, Frame | FrameMalformed)
            if isinstance(item, FrameMalformed):
                assert item.reason in FrameMalformed.REASONS
    assert len(decoder._pending) <= 256


@QUICK
@given(st.binary(max_size=200))
def test_decode_frame_raises_only_the_typed_error(data):
    with contextlib.suppress(FrameMalformed):  # any other exception fails the test
        decode_frame(data)
