"""Personal data that must never enter the permanent log: what is looked for, exactly.

The gateway refuses a submission whose ``loan_ref``, or a metadata key or
value, contains what looks like a Chinese resident identity number, a mobile
phone number or a bank card number (PIPL: a leaf is public and permanent).
:func:`find_personal_data` is the one implementation; it is pure, and names
the rule that matched, never the value. ``docs/leaf-format.md`` ("Personal
data") says the same for integrators.

Normalisation. The text is first put in Unicode NFKC form (full-width digits,
letters, spaces and hyphens become ASCII), every other decimal digit (Unicode
category Nd) becomes its ASCII digit, and format characters (category Cf,
such as zero-width spaces) are removed.

Words. A *word* is a maximal run of ASCII letters and digits; anything else
separates words (punctuation, spaces, CJK characters). A *number* is a word of
digits only, or of digits followed by one ``X`` / ``x`` (the check character of
an identity number). A run of digits glued to ASCII letters (``LN2024...``) is
part of a word that is not a number, and is not examined: this is the rule a
lender relies on to keep a long numeric loan number (see below).

What is refused (each on a whole number, never on a part of a longer one):

* resident identity number, 18 characters (GB 11643-1999): 17 digits and a
  check character that satisfies ISO 7064 MOD 11-2; the first two digits a
  province-level region code (or ``9`` and one, for the permanent residence
  ID of foreigners, 2023 form); digits 7 to 14 a valid date from 1900 to 2099.
  Also written as 6, 8 and 4 characters separated by single spaces;
* resident identity number, old 15-digit form (no check digit): a province
  code, then a valid date ``19YYMMDD`` as ``YYMMDD`` in digits 7 to 12;
* mobile phone number: ``1[3-9]`` and 9 more digits, optionally after ``86``
  or ``0086`` (``+86`` is ``86`` after a separator); also written as 3, 4 and
  4 digits separated by single spaces or hyphens;
* bank card number: 13 to 19 digits whose last digit is the Luhn check digit;
  also written in groups of 4 digits (the last group 1 to 4) separated by
  single spaces, or as 4, 6 and 5.

Numbers separated only by ``/``, ``.``, ``:`` or ``_`` are examined one by one.

False positives. About one digit run in ten of 13 to 19 digits passes the
Luhn check by chance, about 1.2 % of 15-digit runs look like an old identity
number, and any 11-digit run starting with 13 to 19 looks like a mobile
number: a loan number (or an amount, or a time in milliseconds) of that shape
can be refused. A lender avoids it by gluing letters to its numbers
(``LN6222021234567890``), or by splitting them with ``/``, ``.`` or ``:`` into
runs shorter than 11 digits. The same rule lets an identity number glued to
letters (``ID110101...``) through: the check stops mistakes, not a caller set
on hiding personal data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date
from typing import Final

__all__ = [
    "RULE_BANK_CARD",
    "RULE_ID_15",
    "RULE_ID_18",
    "RULE_MOBILE",
    "find_personal_data",
    "luhn_valid",
    "resident_id_check_character",
]

RULE_ID_18: Final = (
    "a resident identity number (18 characters, GB 11643-1999 MOD 11-2 check character)"
)
RULE_ID_15: Final = "a resident identity number (old 15-digit form)"
RULE_MOBILE: Final = "a mobile phone number (1[3-9] and 9 more digits)"
RULE_BANK_CARD: Final = "a bank card number (13 to 19 digits, Luhn check digit)"

#: Province-level region codes (GB/T 2260), and 83 (residence permits of Taiwan residents).
_PROVINCES: Final = frozenset(
    {
        *("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36"),
        *("37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62"),
        *("63", "64", "65", "71", "81", "82", "83"),
    }
)
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"
#: A number: digits (and an X) that no ASCII letter or digit touches on either side.
_NUMBER: Final = re.compile(r"(?<![A-Za-z0-9])[0-9]+[Xx]?(?![A-Za-z0-9])")
_MOBILE: Final = re.compile(r"(?:86|0086)?1[3-9][0-9]{9}")
_SPACE: Final = " "
_HYPHENS: Final = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
_MAX_GROUP: Final = 5  # words in the longest written form (4-4-4-4-3)
_ELEVEN_DIGITS: Final = re.compile(r"\d(?:\D*\d){10}")  # Unicode: any decimal digit (Nd)
_OTHER_DIGIT: Final = re.compile(r"(?![0-9])\d")
_FEWEST_DIGITS: Final = 11  # a mobile number; identity and card numbers are longer
_MOST_DIGITS: Final = 19  # a bank card number written in groups


def resident_id_check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of 17 digits (GB 11643-1999)."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def luhn_valid(digits: str) -> bool:
    """Whether the last of ``digits`` is their Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _resident_id_18(number: str) -> bool:
    if len(number) != 18 or not number[:17].isdigit():
        return False
    region = number[:2] in _PROVINCES or (number[0] == "9" and number[1:3] in _PROVINCES)
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    return (
        region
        and 1900 <= year <= 2099
        and _valid_date(year, month, day)
        and resident_id_check_character(number[:17]) == number[17].upper()
    )


def _resident_id_15(number: str) -> bool:
    return (
        len(number) == 15
        and number.isdigit()
        and number[:2] in _PROVINCES
        and _valid_date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    )


def _bank_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and digits.isdigit() and luhn_valid(digits)


def _normalise(nfkc: str) -> str:
    """``nfkc`` (NFKC form) with ASCII digits for every decimal digit and no format character."""
    if nfkc.isascii() or (nfkc.isprintable() and _OTHER_DIGIT.search(nfkc) is None):
        return nfkc  # no format character (they are not printable), no other digit
    out = []
    for ch in nfkc:
        if ch.isascii():
            out.append(ch)
            continue
        category = unicodedata.category(ch)
        if category == "Nd":
            out.append(str(unicodedata.decimal(ch)))
        elif category != "Cf":
            out.append(ch)
    return "".join(out)


def _written_groups(words: Sequence[str], separators: Sequence[str]) -> str | None:
    """The rule a number written in several groups matches (``None`` for none)."""
    joined = "".join(words)
    shape = tuple(len(w) for w in words)
    hyphens_or_spaces = all(s == _SPACE or s in _HYPHENS for s in separators)
    if shape == (3, 4, 4) and hyphens_or_spaces and _MOBILE.fullmatch(joined):
        return RULE_MOBILE
    if not all(s == _SPACE for s in separators):
        return None
    if shape == (6, 8, 4) and _resident_id_18(joined):
        return RULE_ID_18
    fours = all(n == 4 for n in shape[:-1]) and 1 <= shape[-1] <= 4 and len(shape) >= 3
    if (fours or shape == (4, 6, 5)) and _bank_card(joined):
        return RULE_BANK_CARD
    return None


def _single(number: str) -> str | None:
    """The rule one number matches (``None`` for none)."""
    if _resident_id_18(number):
        return RULE_ID_18
    if _resident_id_15(number):
        return RULE_ID_15
    if _MOBILE.fullmatch(number):
        return RULE_MOBILE
    if _bank_card(number):
        return RULE_BANK_CARD
    return None


def find_personal_data(text: str) -> str | None:
    """The rule (``RULE_*``) of the first personal number found in ``text``, else ``None``.

    See the module docstring for exactly what is matched. Pure; linear in the
    length of ``text``.
    """
    nfkc = unicodedata.normalize("NFKC", text)
    if _ELEVEN_DIGITS.search(nfkc) is None:
        return None  # every rule needs 11 digits or more: most values end here
    normal = _normalise(nfkc)
    # Runs of numbers, each joined to the next by exactly one separator character
    # (anything else between two numbers, a word included, ends the run).
    run: list[str] = []
    separators: list[str] = []
    end = -1
    for match in _NUMBER.finditer(normal):
        word = match.group()
        found = _single(word) if len(word) >= _FEWEST_DIGITS else None
        if found is not None:
            return found
        gap = normal[end : match.start()]
        if end >= 0 and len(gap) == 1 and (gap == _SPACE or gap in _HYPHENS):
            run.append(word)
            separators.append(gap)
        else:
            run, separators = [word], []
        end = match.end()
        # Every written form (11 to 19 characters in 2 to 5 numbers) that ends with this one.
        total = len(word)
        for size in range(2, min(len(run), _MAX_GROUP) + 1):
            total += len(run[-size])
            if total > _MOST_DIGITS:
                break
            if total >= _FEWEST_DIGITS:
                found = _written_groups(run[-size:], separators[len(separators) - size + 1 :])
                if found is not None:
                    return found
    return None
