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
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from court.der import (
    DerError,
    Tlv,
    decode_generalized_time,
    encode_oid,
    read_children,
    read_tlv,
    tlv,
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


@dataclass(frozen=True, slots=True)
class _Parts:
    """The per-token elements of a bare engine token, and where they are."""

    tst: Tlv  # the eContent OCTET STRING
    md: Tlv  # the messageDigest attribute's OCTET STRING
    signed_attrs: Tlv  # the SignerInfo's [0] IMPLICIT signedAttrs
    signature: Tlv  # the SignerInfo's signature OCTET STRING
    signer_infos: int  # index of signerInfos among the SignedData's fields
    md_attribute: int  # index of the messageDigest attribute among the signed attributes


def _parts(token: bytes, md_attribute: int | None = None) -> _Parts:
    """Find the per-token elements (ContentInfo > SignedData > ...); IndexError or DerError
    when the token is not shaped like one. ``md_attribute``: where the messageDigest
    attribute is (else the one attribute of that type is looked for)."""
    content_info, _ = read_tlv(token)
    [signed_data] = read_children(read_children(content_info.contents)[1].contents)
    fields = read_children(signed_data.contents)
    encap = read_children(fields[2].contents)
    [tst] = read_children(encap[1].contents)
    [signer_info] = read_children(fields[-1].contents)
    signer = read_children(signer_info.contents)
    attributes = read_children(signer[3].contents)
    if md_attribute is None:
        found = [i for i, a in enumerate(attributes) if a.contents.startswith(_MESSAGE_DIGEST)]
        if len(found) != 1:
            raise DerError("the token must have exactly one messageDigest attribute")
        md_attribute = found[0]
    _, values = read_children(attributes[md_attribute].contents)
    [md] = read_children(values.contents)
    return _Parts(tst, md, signer[3], signer[5], len(fields) - 1, md_attribute)


def _paths(parts: _Parts) -> tuple[tuple[int, ...], ...]:
    """Child-index paths from the ContentInfo to the TSTInfo, messageDigest and signature."""
    signer_info = (1, 0, parts.signer_infos, 0)
    return ((1, 0, 2, 1, 0), (*signer_info, 3, parts.md_attribute, 1, 0), (*signer_info, 5))


class _Frame:
    """An element of the template along the paths to the per-token elements: its identifier
    and its children, each kept as encoded, a frame itself, or a slot (the index of the
    per-token contents that fill it, and the identifier it keeps)."""

    __slots__ = ("children", "tag")

    def __init__(self, tag: int, children: list[_Frame | bytes | tuple[int, int]]) -> None:
        self.tag = tag
        self.children = children

    def fill(self, contents: Sequence[bytes]) -> bytes:
        """The encoding with slot ``i`` holding ``contents[i]``, every length re-framed."""
        body = b"".join(
            child.fill(contents) if isinstance(child, _Frame)
            else tlv(child[1], contents[child[0]]) if isinstance(child, tuple)
            else child
            for child in self.children
        )  # fmt: skip
        return tlv(self.tag, body)


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


def engine_template(token: bytes, chain: Sequence[x509.Certificate]) -> EngineTemplate:
    """The template of a bare token that passed the court's full check with ``chain``
    (signer first, anchor last): its framing, and when every certificate is valid."""
    if not chain:
        raise ValueError("the template token must come with the chain that verified it")
    parts = _parts(token)
    frame = _frame(token, _paths(parts), (0, 1, 2))
    if frame.fill([parts.tst.contents, parts.md.contents, parts.signature.contents]) != token:
        raise ValueError("the template token is not framed in DER")  # pragma: no cover
    return EngineTemplate(
        frame,
        parts.md_attribute,
        max(cert.not_valid_before_utc for cert in chain),
        min(cert.not_valid_after_utc for cert in chain),
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
        parts = _parts(token, template.md_attribute if template else None)
    except (DerError, IndexError, ValueError) as exc:
        raise DerError(f"the token is not shaped like the engine's: {exc}") from exc
    if template is not None:
        filled = template.frame.fill(
            [parts.tst.contents, parts.md.contents, parts.signature.contents]
        )
        if filled != token:
            raise DerError(
                "the token differs from the verified template outside its TSTInfo, "
                "messageDigest and signature"
            )
        problem = tst_info_problem(parts.tst.contents)
        if problem is not None:
            raise DerError(problem)
    tst_der = parts.tst.contents
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
    if parts.md.contents != hashlib.new(signature_hash, tst_der).digest():
        raise ValueError("messageDigest does not match the TSTInfo")
    signed = bytes((_TAG_SET,)) + parts.signed_attrs.encoded[1:]
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(
                parts.signature.contents, signed, ec.ECDSA(_SIGN_HASHES[signature_hash])
            )
        else:
            public_key.verify(
                parts.signature.contents, signed, padding.PKCS1v15(), _SIGN_HASHES[signature_hash]
            )
    except InvalidSignature as exc:
        raise ValueError("the token's signature does not verify") from exc
