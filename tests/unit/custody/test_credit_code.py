"""Unified social credit codes: GB 32100-2015 structure and both check characters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.credit_code import (
    AUTHORITIES,
    CHARSET,
    CHECK_WEIGHTS,
    NATIONAL_DIVISION,
    ORG_CODE_WEIGHTS,
    ORG_TYPES,
    PROVINCE_PREFIXES,
    CreditCode,
    credit_check_char,
    org_code_check_char,
    parse_credit_code,
)
from custody.errors import CreditCodeInvalid, InputError

# Codes printed on public records (business licences, invoice headers, company listings).
# Each passes both checks computed naively below, which a made-up code does with odds 1 in 341.
PUBLISHED = [
    pytest.param("91350100M000100Y43", id="explainer-example-letters-in-org-code"),
    pytest.param("914403001922038216", id="huawei-technologies"),
    pytest.param("9144030071526726XG", id="tencent-technology-shenzhen-org-check-X"),
    pytest.param("91440300708461136T", id="shenzhen-tencent-computer-systems"),
    pytest.param("91110108551385082Q", id="xiaomi-technology"),
    pytest.param("91100000100003962T", id="icbc-national-division-100000"),
    pytest.param("12100000400000624D", id="tsinghua-university-public-institution"),
    pytest.param("1210000042500615X0", id="university-final-check-31-written-0"),
    pytest.param("51100000500019541K", id="civil-affairs-national-social-organisation"),
    pytest.param("92510100MA61WJ3204", id="chengdu-individual-business-org-check-0"),
    pytest.param("52610500MJU60350X1", id="private-non-enterprise-unit-letters-J-U"),
    pytest.param("11610923MB2900168E", id="government-body-letter-org-code"),
    pytest.param("91110108740084270C", id="beijing-enterprise-org-check-11-written-0"),
]
PUBLISHED_CODES = [param.values[0] for param in PUBLISHED]

QUICK = settings(max_examples=300, derandomize=True, database=None, deadline=None)


def naive_credit_check(first17: str) -> str:
    """GB 32100 from its formula: weight of position i is 3**(i-1) mod 31."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    total = sum(alphabet.index(char) * pow(3, i, 31) for i, char in enumerate(first17))
    remainder = 31 - total % 31
    return alphabet[0 if remainder == 31 else remainder]


def naive_org_check(body8: str) -> str:
    """GB 11714 from its formula: weight of position i is 2**(9-i) mod 11, letters A=10..Z=35."""
    total = sum(int(char, 36) * pow(2, 8 - i, 11) for i, char in enumerate(body8))
    remainder = 11 - total % 11
    return {10: "X", 11: "0"}.get(remainder, str(remainder))


def mint(authority: str, org_type: str, division: str, body: str) -> str:
    """A code with these parts and both check characters computed by the helpers."""
    org_code = body + org_code_check_char(body)
    first17 = authority + org_type + division + org_code
    return first17 + credit_check_char(first17)


def rejection(text: str) -> CreditCodeInvalid:
    with pytest.raises(CreditCodeInvalid) as caught:
        parse_credit_code(text)
    return caught.value


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


# --- the constants are the standards' own ---------------------------------------------------


def test_charset_is_digits_and_capitals_without_i_o_z_s_v():
    letters = "".join(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in "IOZSV")
    assert "0123456789" + letters == CHARSET
    assert len(CHARSET) == 31


def test_check_weights_are_powers_of_three_mod_31():
    assert tuple(pow(3, i, 31) for i in range(17)) == CHECK_WEIGHTS


def test_org_code_weights_are_powers_of_two_mod_11():
    assert tuple(pow(2, 8 - i, 11) for i in range(8)) == ORG_CODE_WEIGHTS


def test_province_prefixes_are_the_province_level_divisions():
    expected = {
        *map(str, range(11, 16)),
        *map(str, range(21, 24)),
        *map(str, range(31, 38)),
        *map(str, range(41, 47)),
        *map(str, range(50, 55)),
        *map(str, range(61, 66)),
        "71",
        "81",
        "82",
    }
    assert expected == PROVINCE_PREFIXES
    assert len(PROVINCE_PREFIXES) == 34


def test_every_authority_has_types():
    assert set(AUTHORITIES) == set(ORG_TYPES) == set("123456789ANY")
    assert set(ORG_TYPES["9"]) == {"1", "2", "3"}
    assert set(ORG_TYPES["1"]) == {"1", "2", "3", "9"}
    assert set(ORG_TYPES["5"]) == {"1", "2", "3", "9"}
    assert set(ORG_TYPES["Y"]) == {"1"}


# --- published codes ----------------------------------------------------------------------


@pytest.mark.parametrize("text", PUBLISHED)
def test_published_code_passes_both_naive_checks(text):
    assert naive_org_check(text[8:16]) == text[16]
    assert naive_credit_check(text[:17]) == text[17]
    assert org_code_check_char(text[8:16]) == text[16]
    assert credit_check_char(text[:17]) == text[17]


@pytest.mark.parametrize("text", PUBLISHED)
def test_published_code_parses_into_its_parts(text):
    code = parse_credit_code(text)
    assert code.text == text
    assert str(code) == text
    assert (code.authority, code.org_type) == (text[0], text[1])
    assert code.division == text[2:8]
    assert code.org_code == text[8:17]
    assert code.check == text[17]
    assert code == CreditCode(text)


def test_published_code_names_its_authority_and_type():
    code = parse_credit_code("92510100MA61WJ3204")
    assert code.authority_name.zh == "工商"
    assert code.org_type_name.zh == "个体工商户"
    university = parse_credit_code("12100000400000624D")
    assert university.authority_name.zh == "机构编制"
    assert university.org_type_name.zh == "事业单位"


def test_lowercase_and_surrounding_whitespace_are_normalised():
    code = parse_credit_code("  91350100m000100y43\t\n")
    assert code.text == "91350100M000100Y43"


def test_constructor_accepts_only_the_canonical_text():
    with pytest.raises(CreditCodeInvalid) as caught:
        CreditCode("91350100m000100y43")
    assert caught.value.context == {"rule": "charset", "position": 9, "character": "m"}


def test_credit_code_error_is_an_input_error_with_chinese_text():
    error = rejection("91350100M000100Y44")
    assert isinstance(error, InputError)
    assert error.code == "credit-code-invalid"
    assert has_chinese(error.zh)
    assert error.diagnostics().startswith(error.zh)


# --- length -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "9135010", "91350100M000100Y4", "91350100M000100Y433"])
def test_credit_code_of_wrong_length_says_the_length_found(text):
    error = rejection(text)
    assert error.context == {"rule": "length", "expected": 18, "length": len(text)}
    assert (str(len(text)) in error.message) or (not text and "empty" in error.message)
    assert "18" in error.zh


def test_credit_code_with_inner_space_is_rejected_not_stripped():
    error = rejection("91350100 M000100Y43")
    assert error.context["rule"] == "length"
    assert error.context["length"] == 19
    assert "Position 9 is a space" in error.message
    assert "空格" in error.zh


def test_credit_code_with_space_in_place_of_a_character_names_position():
    error = rejection("91350100 000100Y43")
    assert error.context == {"rule": "charset", "position": 9, "character": " "}
    assert "space" in error.message


# --- charset ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("letter", "position"), [("I", 9), ("O", 10), ("Z", 13), ("S", 15), ("V", 16)]
)
def test_credit_code_with_excluded_letter_names_position(letter, position):
    text = "91350100M000100Y43"
    broken = text[: position - 1] + letter + text[position:]
    error = rejection(broken)
    assert error.context == {"rule": "charset", "position": position, "character": letter}
    assert "excludes I, O, Z, S and V" in error.message
    assert f"第{position}位" in error.zh


def test_credit_code_with_letter_i_names_position():
    error = rejection("9I350100M000100Y43")
    assert error.context["position"] == 2
    assert error.context["character"] == "I"


def test_credit_code_with_full_width_character_says_so():
    error = rejection("91350100M000100Ｙ43")
    assert error.context == {"rule": "charset", "position": 16, "character": "Ｙ"}
    assert "full-width" in error.message
    assert "全角" in error.zh


@pytest.mark.parametrize("char", ["-", "#", "中", "\u200b"])
def test_credit_code_with_foreign_character_names_it(char):
    error = rejection("9135010" + char + "M000100Y43")
    assert error.context == {"rule": "charset", "position": 8, "character": char}


def test_charset_is_checked_before_the_parts():
    error = rejection("X135010OM000100Y43")
    assert error.context["rule"] == "charset"
    assert error.context["position"] == 8


# --- structure ----------------------------------------------------------------------------


@pytest.mark.parametrize("authority", ["0", "B", "C", "X"])
def test_unknown_registration_authority_rejected(authority):
    error = rejection(authority + "1350100M000100Y43")
    assert error.context == {"rule": "authority", "position": 1, "character": authority}
    assert "1, 2, 3, 4, 5, 6, 7, 8, 9, A, N, Y" in error.message


@pytest.mark.parametrize(
    ("authority", "org_type"), [("9", "4"), ("9", "9"), ("1", "4"), ("5", "4"), ("Y", "2")]
)
def test_org_type_the_authority_does_not_register_rejected(authority, org_type):
    error = rejection(authority + org_type + "350100M000100Y43")
    assert error.context == {"rule": "org-type", "position": 2, "character": org_type}
    assert f"authority '{authority}'" in error.message


def test_org_type_rejection_lists_the_valid_types():
    error = rejection("94350100M000100Y43")
    assert "1 enterprise; 2 individual business; 3 farmers' specialised cooperative" in (
        error.message
    )
    assert "1 企业、2 个体工商户、3 农民专业合作社" in error.zh


@pytest.mark.parametrize(
    ("authority", "org_type"), [(a, t) for a in ORG_TYPES for t in ORG_TYPES[a]]
)
def test_every_authority_and_type_of_the_table_accepted(authority, org_type):
    text = mint(authority, org_type, "510100", "MA61WJ32")
    assert parse_credit_code(text).org_type == org_type


@pytest.mark.parametrize("position", [3, 5, 8])
def test_division_with_a_letter_names_position(position):
    division = "350100"
    offset = position - 3
    broken = division[:offset] + "A" + division[offset + 1 :]
    error = rejection("91" + broken + "M000100Y43")
    assert error.context == {"rule": "division", "position": position, "character": "A"}


@pytest.mark.parametrize(
    "prefix", ["00", "10", "16", "20", "24", "38", "47", "49", "55", "60", "66", "72", "99"]
)
def test_division_with_unknown_province_prefix_rejected(prefix):
    error = rejection(mint("9", "1", prefix + "0100", "M000100Y"))
    assert error.context == {"rule": "division", "position": 3, "character": prefix}
    assert f"'{prefix}'" in error.message or prefix == "10"


@pytest.mark.parametrize("prefix", sorted(PROVINCE_PREFIXES))
def test_every_province_prefix_accepted(prefix):
    code = parse_credit_code(mint("9", "1", prefix + "0000", "M000100Y"))
    assert code.division == prefix + "0000"


def test_national_division_100000_accepted_but_no_other_10_code():
    assert parse_credit_code(mint("9", "1", NATIONAL_DIVISION, "10000396")).division == "100000"
    error = rejection(mint("9", "1", "101000", "10000396"))
    assert error.context["rule"] == "division"
    assert "100000" in error.message


# --- the two check characters -------------------------------------------------------------


def test_credit_code_with_bad_org_check_says_expected_and_found():
    error = rejection("91350100M000100Y53")
    assert error.context == {"rule": "org-check", "position": 17, "character": "5", "expected": "4"}
    assert "should be '4' but is '5'" in error.message
    assert "GB 11714" in error.message
    assert "第17位应为“4”，实为“5”" in error.zh


def test_credit_code_with_bad_final_check_says_expected_and_found():
    error = rejection("91350100M000100Y44")
    assert error.context == {"rule": "check", "position": 18, "character": "4", "expected": "3"}
    assert "should be '3' but is '4'" in error.message
    assert "第18位" in error.zh


def test_org_code_check_values_letters_a10_to_z35_not_their_charset_index():
    # GB 11714 counts M=22, J=19, U=30; their indexes in the credit code charset are 21, 18, 27.
    body = "MJU60350"
    charset_valued = sum(CHARSET.index(c) * w for c, w in zip(body, ORG_CODE_WEIGHTS, strict=True))
    assert str(11 - charset_valued % 11) != "X"
    assert org_code_check_char(body) == "X"
    assert parse_credit_code("52610500MJU60350X1").org_code == "MJU60350X"


def test_org_code_check_accepts_letters_the_credit_code_charset_excludes():
    for body in ["ZZZZZZZZ", "OISVOISV", "12345678", "A0000000"]:
        assert org_code_check_char(body) == naive_org_check(body)


def test_org_check_is_reported_before_the_final_check():
    # Both check characters wrong: the organisation code comes first.
    error = rejection("91350100M000100Y54")
    assert error.context["rule"] == "org-check"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("9I35010OM000100Y4", "length"),
        ("XI350100M000100Y43", "charset"),
        ("X4AA0100M000100Y43", "authority"),
        ("94AA0100M000100Y43", "org-type"),
        ("91AA0100M000100Y54", "division"),
        ("91350100M000100Y54", "org-check"),
    ],
)
def test_first_failing_rule_in_order_is_reported(text, rule):
    assert rejection(text).context["rule"] == rule


@pytest.mark.parametrize("text", PUBLISHED)
def test_every_single_character_substitution_rejected(text):
    for index in range(18):
        for char in CHARSET:
            if char == text[index]:
                continue
            changed = text[:index] + char + text[index + 1 :]
            rule = rejection(changed).context["rule"]
            if index == 16:
                assert rule == "org-check", changed
            elif index >= 8:
                assert rule in {"org-check", "check"}, changed
            else:
                assert rule in {"authority", "org-type", "division", "check"}, changed


@pytest.mark.parametrize("text", PUBLISHED)
def test_every_adjacent_transposition_rejected(text):
    for index in range(17):
        if text[index] == text[index + 1]:
            continue
        swapped = text[:index] + text[index + 1] + text[index] + text[index + 2 :]
        with pytest.raises(CreditCodeInvalid):
            parse_credit_code(swapped)


# --- helpers ------------------------------------------------------------------------------


def test_credit_check_char_of_wrong_length_rejected():
    with pytest.raises(CreditCodeInvalid) as caught:
        credit_check_char("91350100M000100Y")
    assert caught.value.context == {"rule": "length", "expected": 17, "length": 16}


def test_credit_check_char_outside_charset_rejected():
    with pytest.raises(CreditCodeInvalid) as caught:
        credit_check_char("91350100M000100I4")
    assert caught.value.context == {"rule": "charset", "position": 16, "character": "I"}


@pytest.mark.parametrize(
    ("body", "position"), [("m000100Y", 1), ("M000-00Y", 5), ("M000100", None)]
)
def test_org_code_check_char_of_a_malformed_body_rejected(body, position):
    with pytest.raises(CreditCodeInvalid) as caught:
        org_code_check_char(body)
    assert caught.value.context.get("position") == position


# --- properties ---------------------------------------------------------------------------


@st.composite
def valid_parts(draw: st.DrawFn) -> tuple[str, str, str, str]:
    authority = draw(st.sampled_from(sorted(AUTHORITIES)))
    org_type = draw(st.sampled_from(sorted(ORG_TYPES[authority])))
    division = draw(
        st.one_of(
            st.just(NATIONAL_DIVISION),
            st.builds(
                str.__add__,
                st.sampled_from(sorted(PROVINCE_PREFIXES)),
                st.text("0123456789", min_size=4, max_size=4),
            ),
        )
    )
    body = draw(st.text(CHARSET, min_size=8, max_size=8))
    return authority, org_type, division, body


@QUICK
@given(valid_parts())
def test_code_minted_from_valid_parts_parses_back(parts):
    authority, org_type, division, body = parts
    text = mint(authority, org_type, division, body)
    assert text[16] == naive_org_check(body)
    assert text[17] == naive_credit_check(text[:17])
    code = parse_credit_code(text.lower())
    assert code.text == text
    assert (code.authority, code.org_type, code.division) == (authority, org_type, division)
    assert code.org_code == text[8:17]


@QUICK
@given(valid_parts(), st.integers(0, 17), st.sampled_from(CHARSET))
def test_minted_code_with_one_character_changed_rejected(parts, index, char):
    text = mint(*parts)
    changed = text[:index] + char + text[index + 1 :]
    if changed == text:
        return
    with pytest.raises(CreditCodeInvalid):
        parse_credit_code(changed)
