"""The gateway's per-token check of the tokens its own in-process engine makes.

The court's full check (:func:`court.verify.token.verify_timestamp`) costs a few
milliseconds per token, mostly path building, ESSCertID and the typed walk of
the parts that never change between the tokens of one engine (certificates,
signer identifier, algorithms, signed attribute types). So the gateway runs the
full check once, on a probe token, and keeps that token as an
:class:`EngineTemplate`. Every later token is checked by :func:`check_engine_token`:

* it must be the template token with the contents of exactly three OCTET
  STRINGs replaced: the eContent (the TSTInfo), the messageDigest value and
  the signature value, every enclosing length re-framed and nothing else
  changed, so every other element is byte for byte one the court's check
  accepted;
* its TSTInfo passes the court's own structure check of a TSTInfo
  (:func:`court.verify.token.structure.tst_info_problem`).

The court's structure check ("DER well-formed") reads each element on its own
and the framing of its parent, so such a token passes it exactly when its
TSTInfo does: the cheap check is as strict on structure as the court's
(junk after the SignedData inside its [0], trailing elements in the
ContentInfo or anywhere else differ from the template and are refused).
Then: the imprint is exactly the submitted algorithm and digest, the
messageDigest is the hash of the TSTInfo, the signature over the signed
attributes verifies with the engine's key, and genTime lies within the
validity of every certificate of the chain that verified the template, the
root's included (a root that expires while the gateway runs would otherwise
go unnoticed: the engine checks only its own certificate).

Without a template, the court's whole structure check
(:func:`court.verify.token.structure.structure_problem`) runs on the token
instead, with the same per-token checks but the chain's validity.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from court.der import (
    DerError,
    decode_generalized_time,
    encode_length,
    encode_oid,
    read_children,
    read_header,
    read_tlv,
)
from court.verify.token.structure import structure_problem, tst_info_problem
from gateway.model import HASH_ALGORITHM_OIDS

__all__ = ["EngineTemplate", "check_engine_token", "engine_template"]

_MESSAGE_DIGEST: Final = encode_oid("1.2.840.113549.1.9.4")
_HASH_OIDS: Final = {name: encode_oid(oid) for name, oid in HASH_ALGORITHM_OIDS.items()}
_SIGN_HASHES: Final[dict[str, hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
_TAG_SET: Final = 0x31
_MAX_LAYOUTS: Final = 64  # lengths of per-token parts whose framing is kept


@dataclass(frozen=True, slots=True)
class _Spans:
    """Where the per-token parts of a bare engine token are: (start, stop) offsets."""

    tst: tuple[int, int]  # the contents of the eContent OCTET STRING (the TSTInfo)
    md: tuple[int, int]  # the contents of the messageDigest attribute's OCTET STRING
    signature: tuple[int, int]  # the contents of the signature OCTET STRING
    signed_attrs: tuple[int, int]  # the whole [0] IMPLICIT signedAttrs element
    signer_infos: int  # index of signerInfos among the SignedData's fields
    md_attribute: int  # index of the messageDigest attribute among the signed attributes

    def lengths(self) -> tuple[int, int, int]:
        return (
            self.tst[1] - self.tst[0],
            self.md[1] - self.md[0],
            self.signature[1] - self.signature[0],
        )


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(identifier, offset, contents start, end) of each element in ``data[start:end]``."""
    out = []
    while start < end:
        identifier, _, contents, stop = read_header(data, start, end)
        out.append((identifier, start, contents, stop))
        start = stop
    return out


def _locate(token: bytes, md_attribute: int | None = None) -> _Spans:
    """Find the per-token parts (ContentInfo > SignedData > ...) with court.der's reader;
    IndexError, ValueError or DerError when the token is not shaped like one.
    ``md_attribute``: where the messageDigest attribute is (else the one attribute of
    that type is looked for)."""
    _, _, start, end = read_header(token, 0, len(token))
    wrapper = _children(token, start, end)[1]
    [(_, _, start, end)] = _children(token, wrapper[2], wrapper[3])  # the SignedData
    fields = _children(token, start, end)
    encap = _children(token, fields[2][2], fields[2][3])
    [(_, _, tst_start, tst_end)] = _children(token, encap[1][2], encap[1][3])
    [(_, _, start, end)] = _children(token, fields[-1][2], fields[-1][3])  # the SignerInfo
    signer = _children(token, start, end)
    _, attrs_at, attrs_start, attrs_end = signer[3]
    attributes = _children(token, attrs_start, attrs_end)
    if md_attribute is None:
        found = [
            i
            for i, (_, _, contents, stop) in enumerate(attributes)
            if token[contents : contents + len(_MESSAGE_DIGEST)] == _MESSAGE_DIGEST
        ]
        if len(found) != 1:
            raise DerError("the token must have exactly one messageDigest attribute")
        md_attribute = found[0]
    _, _, start, end = attributes[md_attribute]
    values = _children(token, start, end)[1]
    [(_, _, md_start, md_end)] = _children(token, values[2], values[3])
    return _Spans(
        (tst_start, tst_end),
        (md_start, md_end),
        (signer[5][2], signer[5][3]),
        (attrs_at, attrs_end),
        len(fields) - 1,
        md_attribute,
    )


def _paths(spans: _Spans) -> tuple[tuple[int, ...], ...]:
    """Child-index paths from the ContentInfo to the TSTInfo, messageDigest and signature."""
    signer_info = (1, 0, spans.signer_infos, 0)
    return ((1, 0, 2, 1, 0), (*signer_info, 3, spans.md_attribute, 1, 0), (*signer_info, 5))


class _Frame:
    """An element of the template along the paths to the per-token parts: its identifier
    and its children, each kept as encoded, a frame itself, or a slot (the index of the
    per-token contents that fill it, and the identifier it keeps)."""

    __slots__ = ("children", "tag")

    def __init__(self, tag: int, children: list[_Frame | bytes | tuple[int, int]]) -> None:
        self.tag = tag
        self.children = children

    def layout(self, lengths: Sequence[int]) -> tuple[list[bytes | int], int]:
        """The encoding with slots of the given content lengths, every length re-framed:
        pieces of bytes and slot numbers in order, and the total size."""
        items: list[bytes | int] = []
        size = 0
        for child in self.children:
            if isinstance(child, _Frame):
                inner, inner_size = child.layout(lengths)
                items += inner
                size += inner_size
            elif isinstance(child, tuple):
                slot, tag = child
                header = bytes((tag,)) + encode_length(lengths[slot])
                items += [header, slot]
                size += len(header) + lengths[slot]
            else:
                items.append(child)
                size += len(child)
        header = bytes((self.tag,)) + encode_length(size)
        return [header, *items], len(header) + size


def _frame(der: bytes, paths: Sequence[tuple[int, ...]], slots: Sequence[int]) -> _Frame:
    element, _ = read_tlv(der)
    children: list[_Frame | bytes | tuple[int, int]] = []
    for index, child in enumerate(read_children(element.contents)):
        below = [(p[1:], slot) for p, slot in zip(paths, slots, strict=True) if p[0] == index]
        if not below:
            children.append(child.encoded)
        elif below[0][0] == ():
            children.append((below[0][1], child.tag))
        else:
            children.append(_frame(child.encoded, [p for p, _ in below], [s for _, s in below]))
    return _Frame(element.tag, children)


@dataclass(frozen=True, slots=True)
class EngineTemplate:
    """A token of the engine that passed the court's full check, and its chain's validity."""

    frame: _Frame
    md_attribute: int
    not_before: datetime  # the latest notBefore of the chain
    not_after: datetime  # the earliest notAfter of the chain
    # The constant bytes around the three per-token parts, by their lengths.
    _pieces: dict[tuple[int, int, int], tuple[bytes, bytes, bytes, bytes]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def pieces(self, lengths: tuple[int, int, int]) -> tuple[bytes, bytes, bytes, bytes]:
        """The bytes before the TSTInfo, between it and the messageDigest, between that and
        the signature, and after it, for per-token parts of these lengths."""
        found = self._pieces.get(lengths)
        if found is None:
            items, _ = self.frame.layout(lengths)
            runs: list[bytes] = [b""]
            for item in items:
                if isinstance(item, int):
                    runs.append(b"")
                else:
                    runs[-1] += item
            before, between, after, end = runs
            found = (before, between, after, end)
            if len(self._pieces) >= _MAX_LAYOUTS:
                self._pieces.clear()
            self._pieces[lengths] = found
        return found


def engine_template(token: bytes, chain: Sequence[x509.Certificate]) -> EngineTemplate:
    """The template of a bare token that passed the court's full check with ``chain``
    (signer first, anchor last): its framing, and when every certificate is valid."""
    if not chain:
        raise ValueError("the template token must come with the chain that verified it")
    spans = _locate(token)
    template = EngineTemplate(
        _frame(token, _paths(spans), (0, 1, 2)),
        spans.md_attribute,
        max(cert.not_valid_before_utc for cert in chain),
        min(cert.not_valid_after_utc for cert in chain),
    )
    if _framed(template, token, spans) != token:  # pragma: no cover - DER frames one way
        raise ValueError("the template token is not framed in DER")
    return template


def _framed(template: EngineTemplate, token: bytes, spans: _Spans) -> bytes:
    """The template with the per-token parts of ``token`` in place."""
    before, between, after, end = template.pieces(spans.lengths())
    return b"".join(
        (
            before,
            token[spans.tst[0] : spans.tst[1]],
            between,
            token[spans.md[0] : spans.md[1]],
            after,
            token[spans.signature[0] : spans.signature[1]],
            end,
        )
    )


def check_engine_token(
    token: bytes,
    hash_algorithm: str,
    digest: bytes,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    signature_hash: str,
    template: EngineTemplate | None = None,
) -> None:
    """The per-token check of in-process tokens (see the module docstring).

    Raises :class:`ValueError` (a :class:`court.der.DerError` for structure)
    saying what is wrong, unless ``token`` is a bare TimeStampToken as strict on
    structure as the court requires, whose imprint is exactly
    ``hash_algorithm``/``digest``, whose one messageDigest attribute is the
    ``signature_hash`` of the TSTInfo, whose signature over the signed
    attributes verifies with ``public_key`` and, with a ``template``, that is
    the template but for its TSTInfo, messageDigest and signature, made while
    the template's chain was valid.
    """
    if template is None:
        problem = structure_problem(token, bare=True)
        if problem is not None:
            raise DerError(problem)
    try:
        spans = _locate(token, template.md_attribute if template else None)
    except (DerError, IndexError, ValueError) as exc:
        raise DerError(f"the token is not shaped like the engine's: {exc}") from exc
    tst_der = token[spans.tst[0] : spans.tst[1]]
    if template is not None:
        if _framed(template, token, spans) != token:
            raise DerError(
                "the token differs from the verified template outside its TSTInfo, "
                "messageDigest and signature"
            )
        problem = tst_info_problem(tst_der)
        if problem is not None:
            raise DerError(problem)
    tst = read_children(read_tlv(tst_der)[0].contents)
    algorithm, hashed = read_children(tst[2].contents)
    if read_children(algorithm.contents)[0].encoded != _HASH_OIDS.get(hash_algorithm):
        raise ValueError("the token's imprint algorithm is not the submitted one")
    if hashed.contents != digest:
        raise ValueError("the token's imprint is not the submitted digest")
    if template is not None:
        gen_time = decode_generalized_time(tst[4])
        if not template.not_before <= gen_time <= template.not_after:
            raise ValueError(
                f"the token's genTime {gen_time.isoformat()} is outside the validity of its "
                f"certificate chain, root included ({template.not_before.isoformat()} to "
                f"{template.not_after.isoformat()})"
            )
    if token[spans.md[0] : spans.md[1]] != hashlib.new(signature_hash, tst_der).digest():
        raise ValueError("messageDigest does not match the TSTInfo")
    signed = bytes((_TAG_SET,)) + token[spans.signed_attrs[0] + 1 : spans.signed_attrs[1]]
    signature = token[spans.signature[0] : spans.signature[1]]
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, signed, ec.ECDSA(_SIGN_HASHES[signature_hash]))
        else:
            public_key.verify(signature, signed, padding.PKCS1v15(), _SIGN_HASHES[signature_hash])
    except InvalidSignature as exc:
        raise ValueError("the token's signature does not verify") from exc
