"""Personal data in loan references and metadata: what is found, and what is not.

Valid identity numbers and card numbers are generated here with their check
characters computed by an independent implementation of each algorithm
(GB 11643-1999 ISO 7064 MOD 11-2, Luhn), so that the near misses (one check
character off) are exactly one step away.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from court.evidence.personal_data import (
    RULE_BANK_CARD,
    RULE_ID_15,
    RULE_ID_18,
    RULE_MOBILE,
    find_personal_data,
    luhn_valid,
    resident_id_check_character,
)


def mod11_2(first17: str) -> str:
    """ISO 7064 MOD 11-2 as the standard writes it: weights 2^(17-i) mod 11."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    return "10X98765432"[total % 11]


def luhn_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` pass Luhn (computed from the right)."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d // 10 + d % 10
    return str((10 - total % 10) % 10)


def resident_id(region: str = "110105", birth: str = "19491231", order: str = "002") -> str:
    first17 = region + birth + order
    return first17 + mod11_2(first17)


def wrong_check(number: str) -> str:
    """The same number with another check character (the next one in the alphabet)."""
    alphabet = "0123456789X" if number[-1] in "0123456789Xx" and len(number) == 18 else "0123456789"
    return number[:-1] + alphabet[(alphabet.index(number[-1].upper()) + 1) % len(alphabet)]


def card(payload: str) -> str:
    return payload + luhn_digit(payload)


# ------------------------------------------------------------------ the algorithms


def test_the_check_algorithms_agree_with_their_references() -> None:
    assert resident_id() == "11010519491231002X"  # the example of GB 11643-1999
    for first17 in ("11010519491231002", "44030119900307123", "91106019850101001"):
        assert resident_id_check_character(first17) == mod11_2(first17)
    assert luhn_valid("4111111111111111") and luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112")
    for payload in ("622202123456789012", "401288888888188", "3782822463100"):
        assert luhn_valid(card(payload))
        assert not luhn_valid(wrong_check(card(payload)))


# ------------------------------------------------------------------ found

ID_18 = [
    resident_id(),
    resident_id("440301", "19900307", "123"),
    resident_id("320102", "20000229", "456"),  # a leap day
    resident_id("650102", "19000101", "999"),
    resident_id("810000", "19751231", "001"),  # Hong Kong residents' permit
    resident_id("911060", "19850101", "001"),  # foreigners' permanent residence ID (2023)
]


@pytest.mark.parametrize("number", ID_18)
@pytest.mark.parametrize("written", ["{}", "loan/{}", "身份证{}", "id: {}.", "{} ", "客户:{}号"])
def test_resident_identity_numbers_are_found(number: str, written: str) -> None:
    assert find_personal_data(written.format(number)) == RULE_ID_18


def test_resident_identity_number_variants() -> None:
    number = resident_id()  # ends with X
    assert find_personal_data(number.lower()) == RULE_ID_18
    assert find_personal_data(f"{number[:6]} {number[6:14]} {number[14:]}") == RULE_ID_18
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in number)  # full-width digits and X
    assert find_personal_data(fullwidth) == RULE_ID_18
    assert find_personal_data(number[:9] + "\u200b" + number[9:]) == RULE_ID_18  # zero-width


@pytest.mark.parametrize(
    "number",
    ["110105491231002", "440301900307123", "320102840229456"],  # the last: 1984-02-29
)
def test_old_15_digit_identity_numbers_are_found(number: str) -> None:
    assert find_personal_data(number) == RULE_ID_15
    assert find_personal_data(f"old id {number}") == RULE_ID_15


@pytest.mark.parametrize("prefix", ["13", "14", "15", "16", "17", "18", "19"])
def test_mobile_numbers_are_found(prefix: str) -> None:
    mobile = prefix + "812345678"
    for written in (
        mobile,
        f"86{mobile}",
        f"0086{mobile}",
        f"+86 {mobile}",
        f"+86-{mobile}",
        f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}",
        f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}",
        f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}",
        f"手机{mobile}",
        f"contact/{mobile}",
    ):
        assert find_personal_data(written) == RULE_MOBILE, written


CARDS = [
    card("622202123456789012"),  # 19 digits, UnionPay
    card("621700123456789"),  # 16
    card("401288888888188"),  # 16, Visa
    card("37828224631000"),  # 15, AmEx
    card("400000000000"),  # 13
]


@pytest.mark.parametrize("number", CARDS)
def test_bank_card_numbers_are_found(number: str) -> None:
    assert find_personal_data(number) == RULE_BANK_CARD
    assert find_personal_data(f"card:{number}") == RULE_BANK_CARD
    groups = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    assert find_personal_data(groups) == RULE_BANK_CARD, groups


def test_amex_grouping_is_found() -> None:
    number = card("37828224631000")
    assert find_personal_data(f"{number[:4]} {number[4:10]} {number[10:]}") == RULE_BANK_CARD


# ------------------------------------------------------------------ near misses

NEAR_MISSES = [
    ("18 digits, wrong check character", wrong_check(resident_id())),
    ("18 digits, unknown region", "00" + resident_id()[2:17] + mod11_2("00" + resident_id()[2:17])),
    (
        "18 digits, no such date",
        resident_id("110105", "19490230", "002"),  # 30 February
    ),
    ("18 digits, born before 1900", resident_id("110105", "18991231", "002")),
    ("17 digits", resident_id()[:17]),
    ("19 digits", resident_id()[:17] + "00"),
    ("15 digits, no such date", "110105491331002"),
    ("15 digits, unknown region", "990105491231002"),
    ("mobile 12x", "12812345678"),
    ("mobile 10 digits", "1381234567"),
    ("mobile 12 digits", "138123456789"),
    ("mobile grouped 4-4-3", "1381 2345 678"),
    ("mobile with dots", "138.1234.5678"),
    ("card, wrong Luhn digit", wrong_check(CARDS[0])),
    ("card, 12 digits", card("40000000000")),
    ("card, 20 digits", card("6222021234567890123")),
    ("card grouped with hyphens", "-".join(CARDS[1][i : i + 4] for i in range(0, 16, 4))),
    ("a 20-digit loan number", "20240615000012345678"),
    ("a loan number with letters glued on", "LN" + CARDS[1]),
    ("an id with letters glued on", "ID" + resident_id()),
    ("a mobile with letters glued on", "tel13812345678"),
    ("a date", "2024-06-15"),
    ("a time", "2024-06-15T09:30:00.123Z"),
    ("a uuid", "0b5e2f1c-9a4e-4f4e-8d55-2a1f5c3e7b10"),
    ("a loan path", "branch-07/2024/loan:000123.a"),
    ("digits split by dots", "6222.0212.3456.7890"),
    ("an amount", "12,345,678.90"),
    ("empty", ""),
]


@pytest.mark.parametrize("text", [t for _, t in NEAR_MISSES], ids=[n for n, _ in NEAR_MISSES])
def test_near_misses_pass(text: str) -> None:
    assert find_personal_data(text) is None


def test_a_glued_loan_number_is_the_documented_way_out() -> None:
    """A 16-digit loan number that happens to pass Luhn is refused; with letters, it passes."""
    loan_number = card("800123456789012")
    assert find_personal_data(loan_number) == RULE_BANK_CARD
    assert find_personal_data("LN" + loan_number) is None
    assert find_personal_data(f"{loan_number[:8]}/{loan_number[8:]}") is None


# ------------------------------------------------------------------ any input

_SHORT_RUNS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz./:_", min_size=1, max_size=3)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**10 - 1).map(str), _SHORT_RUNS), max_size=12))
def test_runs_of_at_most_ten_digits_are_never_personal_data(parts: list[tuple[str, str]]) -> None:
    assert find_personal_data("".join(d + sep for d, sep in parts)) is None


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec=None), max_size=300))
def test_any_text_gives_an_answer(text: str) -> None:
    assert find_personal_data(text) in (None, RULE_ID_18, RULE_ID_15, RULE_MOBILE, RULE_BANK_CARD)


def test_work_is_linear() -> None:
    started = time.perf_counter()
    assert find_personal_data("1 " * 50_000) is None
    assert find_personal_data("9" * 100_000) is None
    assert time.perf_counter() - started < 5  # generous: about 0.1 s on the reference machine
