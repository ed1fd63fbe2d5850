"""Editing a DER token element by element: everything else stays byte for byte.

A path is a sequence of child indexes (negative ones count from the end) from
the outer element; every element enclosing an edit gets its length re-framed.
"""

from __future__ import annotations

from collections.abc import Sequence

from court.der import Tlv, read_children, read_tlv, tlv

__all__ = ["element_at", "replace"]


def _element(der: bytes) -> Tlv:
    element, end = read_tlv(der)
    assert end == len(der), "not exactly one DER element"
    return element


def element_at(der: bytes, path: Sequence[int]) -> Tlv:
    """The element at ``path`` inside ``der``."""
    element = _element(der)
    for step in path:
        element = read_children(element.contents)[step]
    return element


def replace(der: bytes, path: Sequence[int], new: bytes) -> bytes:
    """``der`` with the element at ``path`` replaced by the encoding ``new``."""
    if not path:
        return new
    element = _element(der)
    parts = [child.encoded for child in read_children(element.contents)]
    parts[path[0]] = replace(parts[path[0]], path[1:], new)
    return tlv(element.tag, b"".join(parts))
