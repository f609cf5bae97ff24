"""Chinese motor vehicle plates: kinds, accepted spellings and every rejection reason."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.errors import InputError, PlateInvalid
from custody.plates import (
    NEW_ENERGY_LARGE_LETTERS,
    NEW_ENERGY_SMALL_LETTERS,
    PROVINCES,
    Plate,
    PlateKind,
    parse_plate,
)

QUICK = settings(max_examples=300, derandomize=True, database=None, deadline=None)
SERIAL_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
DIGITS = "0123456789"


def rejection(text: str) -> PlateInvalid:
    with pytest.raises(PlateInvalid) as caught:
        parse_plate(text)
    return caught.value


def test_provinces_are_the_31_mainland_abbreviations():
    assert len(PROVINCES) == len(set(PROVINCES)) == 31
    assert set("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼") == set(PROVINCES)


# --- valid plates of each kind --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "province", "authority", "serial", "kind", "display"),
    [
        ("川A12345", "川", "A", "12345", PlateKind.STANDARD, "川A·12345"),
        ("京N8A8K8", "京", "N", "8A8K8", PlateKind.STANDARD, "京N·8A8K8"),
        ("粤BAB123", "粤", "B", "AB123", PlateKind.STANDARD, "粤B·AB123"),
        ("川AD12345", "川", "A", "D12345", PlateKind.NEW_ENERGY_SMALL, "川A·D12345"),
        ("沪AE22075", "沪", "A", "E22075", PlateKind.NEW_ENERGY_SMALL, "沪A·E22075"),
        ("豫AAB1234", "豫", "A", "AB1234", PlateKind.NEW_ENERGY_SMALL, "豫A·AB1234"),
        ("川A12345D", "川", "A", "12345D", PlateKind.NEW_ENERGY_LARGE, "川A·12345D"),
        ("苏E67890F", "苏", "E", "67890F", PlateKind.NEW_ENERGY_LARGE, "苏E·67890F"),
        ("川A1234挂", "川", "A", "1234", PlateKind.TRAILER, "川A·1234挂"),
        ("冀MAR53挂", "冀", "M", "AR53", PlateKind.TRAILER, "冀M·AR53挂"),
        ("川A1234学", "川", "A", "1234", PlateKind.COACH, "川A·1234学"),
        ("川A0001警", "川", "A", "0001", PlateKind.POLICE, "川A·0001警"),
        ("沪A1234领", "沪", "A", "1234", PlateKind.CONSULATE, "沪A·1234领"),
        ("粤Z1234港", "粤", "Z", "1234", PlateKind.HONG_KONG, "粤Z·1234港"),
        ("粤ZA123澳", "粤", "Z", "A123", PlateKind.MACAO, "粤Z·A123澳"),
    ],
)
def test_valid_plate_of_each_kind_parses_into_its_parts(
    text, province, authority, serial, kind, display
):
    plate = parse_plate(text)
    assert plate.text == text
    assert str(plate) == text
    assert (plate.province, plate.authority, plate.serial) == (province, authority, serial)
    assert plate.kind is kind
    assert plate.display == display
    assert parse_plate(display) == plate
    assert Plate(text) == plate


@pytest.mark.parametrize("letter", NEW_ENERGY_SMALL_LETTERS)
def test_small_new_energy_plate_accepts_each_range_letter(letter):
    assert parse_plate(f"浙A{letter}12345").kind is PlateKind.NEW_ENERGY_SMALL


@pytest.mark.parametrize("letter", NEW_ENERGY_LARGE_LETTERS)
def test_large_new_energy_plate_accepts_d_and_f(letter):
    assert parse_plate(f"浙A12345{letter}").kind is PlateKind.NEW_ENERGY_LARGE


@pytest.mark.parametrize(
    "text",
    [
        "川A·12345",
        "川A.12345",
        "川A-12345",
        "川A 12345",
        "川A•12345",
        "川A・12345",
        "川a12345",
        "川a·12345",
        "  川A12345\t",
        "川Ａ１２３４５",
        "川Ａ．１２３４５",
        "川A－12345",
        "川A\u300012345",
        "川ａ・１２３４５",
    ],
)
def test_accepted_spellings_normalise_to_one_plate(text):
    assert parse_plate(text).text == "川A12345"


def test_plate_error_is_an_input_error_with_chinese_text():
    error = rejection("川A1234")
    assert isinstance(error, InputError)
    assert error.code == "plate-invalid"
    assert "号牌" in error.zh
    assert error.diagnostics().startswith(error.zh)


def test_constructor_takes_only_the_canonical_text():
    with pytest.raises(PlateInvalid) as caught:
        Plate("川A·12345")
    assert caught.value.context == {"rule": "separator", "position": 3, "character": "·"}
    with pytest.raises(PlateInvalid) as caught:
        Plate("川a12345")
    assert caught.value.context == {"rule": "authority", "position": 2, "character": "a"}


# --- rejections ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\u3000"])
def test_empty_plate_rejected(text):
    assert rejection(text).context == {"rule": "empty"}


@pytest.mark.parametrize(
    ("text", "position", "character"),
    [("XA12345", 1, "X"), ("港A12345", 1, "港"), ("中A12345", 1, "中"), ("1A12345", 1, "1")],
)
def test_plate_with_unknown_province_names_the_character(text, position, character):
    error = rejection(text)
    assert error.context == {"rule": "province", "position": position, "character": character}
    assert "京, 津, 沪" in error.message


def test_plate_without_province_says_it_seems_missing():
    assert "seems to be missing" in rejection("A12345").message


def test_embassy_plate_says_it_is_not_supported():
    error = rejection("使014123")
    assert error.context["rule"] == "province"
    assert "Embassy plates" in error.message


@pytest.mark.parametrize(
    ("text", "character"), [("川112345", "1"), ("川挂12345", "挂"), ("川#12345", "#")]
)
def test_plate_with_bad_authority_letter_rejected(text, character):
    error = rejection(text)
    assert error.context == {"rule": "authority", "position": 2, "character": character}


@pytest.mark.parametrize("letter", ["I", "O", "i", "o"])
def test_plate_with_authority_letter_i_or_o_rejected(letter):
    error = rejection(f"川{letter}12345")
    assert error.context == {
        "rule": "forbidden-letter",
        "position": 2,
        "character": letter.upper(),
    }


@pytest.mark.parametrize("text", ["川", "川A", "川A1234", "川A·1234", "川A1234567", "川AD1234567"])
def test_plate_of_wrong_length_says_which_lengths_are_valid(text):
    error = rejection(text)
    length = len(text.replace("·", ""))
    assert error.context == {"rule": "length", "length": length, "expected": (7, 8)}
    assert "7 characters" in error.message
    assert "8 (a new-energy plate)" in error.message
    assert f"this one has {length}" in error.message


@pytest.mark.parametrize(
    ("text", "position", "character"),
    [
        ("川AI2345", 3, "I"),
        ("川A1O345", 4, "O"),
        ("川A1234I", 7, "I"),
        ("川A·I2345", 4, "I"),
        ("川A·1234o", 8, "O"),
        ("川Ａ·Ｉ2345", 4, "I"),
        ("川A12I4挂", 5, "I"),
        ("川AD1O345", 5, "O"),
    ],
)
def test_plate_with_letter_i_or_o_in_serial_names_position(text, position, character):
    error = rejection(text)
    assert error.context == {
        "rule": "forbidden-letter",
        "position": position,
        "character": character,
    }
    assert "leaves out I and O" in error.message


@pytest.mark.parametrize(
    ("text", "position", "character"),
    [
        ("川A12#45", 5, "#"),
        ("川A12挂45", 5, "挂"),
        ("川A1234挂5", 7, "挂"),
        ("川A12川45", 5, "川"),
        ("川A12\u200b45", 5, "\u200b"),
        ("川A12\t45", 5, "\t"),
        ("川A\ufb012345", 3, "\ufb01"),
    ],
)
def test_plate_with_foreign_character_in_serial_names_it(text, position, character):
    error = rejection(text)
    assert error.context == {"rule": "charset", "position": position, "character": character}


def test_ordinary_plate_with_three_serial_letters_rejected():
    error = rejection("川AABC12")
    assert error.context == {"rule": "serial-letters", "position": 5, "character": "C"}
    assert "at most two letters" in error.message


@pytest.mark.parametrize(
    ("text", "position", "character"),
    [
        ("川AX12345", 3, "X"),
        ("川AL12345", 3, "L"),
        ("川AD1A345", 5, "A"),
        ("川A1234AF", 7, "A"),
        ("川A12345A", 8, "A"),
        ("川A12345K", 8, "K"),
        ("川A123456", 3, "1"),
    ],
)
def test_bad_new_energy_pattern_names_position(text, position, character):
    error = rejection(text)
    assert error.context == {"rule": "new-energy", "position": position, "character": character}


def test_plate_of_neither_new_energy_shape_says_so():
    error = rejection("川A123456")
    assert "starts with a letter (small vehicles) or ends with one (large vehicles)" in (
        error.message
    )


@pytest.mark.parametrize(
    ("text", "position", "character"),
    [("川A1234港", 1, "川"), ("粤B1234澳", 2, "B"), ("沪Z1234港", 1, "沪")],
)
def test_cross_boundary_plate_outside_yue_z_rejected(text, position, character):
    error = rejection(text)
    assert error.context == {
        "rule": "cross-boundary",
        "position": position,
        "character": character,
    }


@pytest.mark.parametrize(
    ("text", "position", "character"),
    [
        ("·川A12345", 1, "·"),
        ("川·A12345", 2, "·"),
        ("川 A12345", 2, " "),
        ("川A12·345", 5, "·"),
        ("川A··12345", 4, "·"),
        ("川A· 12345", 4, " "),
        ("川A12345-", 8, "-"),
    ],
)
def test_separator_anywhere_but_after_the_authority_letter_rejected(text, position, character):
    error = rejection(text)
    assert error.context == {"rule": "separator", "position": position, "character": character}


# --- properties ---------------------------------------------------------------------------

serial_chars = st.sampled_from(DIGITS + SERIAL_LETTERS)


@st.composite
def standard_plates(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(PROVINCES))
    authority = draw(st.sampled_from(SERIAL_LETTERS))
    letters = draw(st.lists(st.sampled_from(SERIAL_LETTERS), max_size=2))
    digits = draw(
        st.lists(st.sampled_from(DIGITS), min_size=5 - len(letters), max_size=5 - len(letters))
    )
    serial = draw(st.permutations(letters + digits))
    return province + authority + "".join(serial)


@QUICK
@given(standard_plates())
def test_standard_plate_round_trips_through_its_display_form(text):
    plate = parse_plate(text)
    assert plate.kind is PlateKind.STANDARD
    assert parse_plate(plate.display) == plate
    assert parse_plate(plate.display.lower()) == plate


@QUICK
@given(standard_plates(), st.integers(1, 6), st.sampled_from("IO"))
def test_letter_i_or_o_anywhere_after_the_province_rejected(text, index, letter):
    broken = text[:index] + letter + text[index + 1 :]
    error = rejection(broken)
    assert error.context == {"rule": "forbidden-letter", "position": index + 1, "character": letter}


@QUICK
@given(
    st.sampled_from(PROVINCES),
    st.sampled_from(SERIAL_LETTERS),
    st.sampled_from(NEW_ENERGY_SMALL_LETTERS),
    serial_chars,
    st.text(DIGITS, min_size=4, max_size=4),
)
def test_small_new_energy_plate_round_trips(province, authority, first, second, digits):
    plate = parse_plate(f"{province}{authority}·{first}{second}{digits}")
    assert plate.kind is PlateKind.NEW_ENERGY_SMALL
    assert plate.serial == first + second + digits
    assert parse_plate(plate.display) == plate
