"""escape_text: every non-printable character escaped, readable, and unambiguous."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from court.report.escape import escape_text

_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}
_HEX = {"x": 2, "u": 4, "U": 8}


def unescape(text: str) -> str:
    """A reader's decoding of escape_text's output (written here, independently)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        after = text[i + 1 : i + 2]
        if ch != "\\" or after == "" or after not in {*_SIMPLE, *_HEX}:
            out.append(ch)
            i += 1
        elif after in _SIMPLE:
            out.append(_SIMPLE[after])
            i += 2
        else:
            digits = _HEX[after]
            out.append(chr(int(text[i + 2 : i + 2 + digits], 16)))
            i += 2 + digits
    return "".join(out)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text, 中文 and é", "plain text, 中文 and é"),
        ("line\nbreak", "line\\nbreak"),
        ("cr\rtab\t", "cr\\rtab\\t"),
        ("\x00nul \x7fdel", "\\x00nul \\x7fdel"),
        ("\x1b[2K\x1b]0;title\x07", "\\x1b[2K\\x1b]0;title\\x07"),  # ANSI CSI and OSC
        ("\x9b2K \x85", "\\x9b2K \\x85"),  # C1 CSI and NEL
        ("\u202eabc\u202c", "\\u202eabc\\u202c"),  # right-to-left override, pop
        ("\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"),  # isolates
        ("\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"),  # LRM, RLM, ALM
        ("zero\u200bwidth\u200c\u200d\u2060\ufeff", "zero\\u200bwidth\\u200c\\u200d\\u2060\\ufeff"),
        ("\u2028\u2029", "\\u2028\\u2029"),  # line and paragraph separators
        ("\u00a0\u3000", "\\xa0\\u3000"),  # spaces other than the ASCII space
        ("\U000e0041tag", "\\U000e0041tag"),  # a tag character (Cf, outside the BMP)
        ("\ud800", "\\ud800"),  # a lone surrogate
        ("\ue000", "\\ue000"),  # private use
        ("O=Foo\\, Inc.", "O=Foo\\, Inc."),  # RFC 4514 escapes stay readable
        ("a\\nb", "a\\\\nb"),  # a literal backslash-n is not a newline
        ("a\\\nb", "a\\\\\\nb"),  # a backslash before a newline
        ("end\\", "end\\"),
        ("\\\\", "\\\\\\"),  # the second backslash ends the text: kept
    ],
)
def test_examples(raw: str, shown: str) -> None:
    assert escape_text(raw) == shown
    assert unescape(shown) == raw


_HOSTILE = st.sampled_from(list("\\nrtxuU0a\n\r\t\x1b\x9b\u202e\u2066\u200b\u2028\ud800\U000e0041"))


@settings(max_examples=500, deadline=None)
@given(st.text(st.one_of(st.characters(codec=None), _HOSTILE)))
def test_one_printable_line_that_reads_back(text: str) -> None:
    shown = escape_text(text)
    assert shown.isprintable()  # no control, format, separator (but the space) character
    assert unescape(shown) == text  # nothing lost, nothing ambiguous


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="utf-8").filter(lambda c: c.isprintable() and c != "\\")))
def test_printable_text_is_left_alone(text: str) -> None:
    assert escape_text(text) == text
