"""One way to print a string that came from the input: escaped, on one line.

Reports (the text report of `court-verify`, its ``--json`` output and the
answers of ``VerificationService.VerifyEvidence``) carry strings taken from
the evidence: certificate subjects, checkpoint origins, values quoted in
error messages. Printed raw, a newline in a certificate subject starts a fake
report line, an ANSI escape sequence erases the real one, and a Unicode bidi
override reverses what a reader sees. :func:`escape_text` is applied where a
report is written, to every line of it.

Escaped is every character that Python does not consider printable
(``str.isprintable``): the Unicode categories "Other" (Cc controls including
C0, DEL and C1, Cf format characters such as bidi overrides and isolates,
zero-width spaces and joiners, Cs surrogates, Co private use, Cn unassigned)
and "Separator" (Zl, Zp, and the Zs spaces other than the ASCII space).
They are written as Python writes them: ``\\n``, ``\\r``, ``\\t``, then
``\\xHH``, ``\\uHHHH`` or ``\\UHHHHHHHH``. ESC (U+001B) therefore becomes
``\\x1b`` and an ANSI sequence stays visible as text; U+202E becomes
``\\u202e``.

A backslash of the input is doubled when it could be read as the start of
an escape (before another backslash, before one of ``n r t x u U``, or before
a character that is escaped); elsewhere it is kept as it is, so RFC 4514
names such as ``O=Foo\\, Inc.`` stay readable. The output can therefore be
read back unambiguously.
"""

from __future__ import annotations

from typing import Final

__all__ = ["escape_char", "escape_text"]

_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_AFTER_BACKSLASH: Final = frozenset("\\nrtxuU")


def escape_char(ch: str) -> str:
    """One character as an escape: ``\\n``, ``\\r``, ``\\t``, else ``\\xHH``, ``\\uHHHH``
    or ``\\UHHHHHHHH`` (the one escape syntax of reports and of the gateway's errors)."""
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_text(text: str) -> str:
    """``text`` with every non-printable character escaped (see the module docstring).

    The result holds printable characters only (ASCII space included), so it
    is one line that a terminal shows as it is.
    """
    if text.isprintable() and "\\" not in text:
        return text
    out: list[str] = []
    last = len(text) - 1
    for i, ch in enumerate(text):
        if ch == "\\":
            after = text[i + 1] if i < last else ""
            ambiguous = after in _AFTER_BACKSLASH or (after != "" and not after.isprintable())
            out.append("\\\\" if ambiguous else "\\")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(escape_char(ch))
    return "".join(out)
