"""The checks of a token's CMS envelope and signature, each recording one named check.

Every function records exactly one check in the :class:`Checklist` it is
given (named in its docstring) and returns what later checks need. What the
court asked for (imprint, nonce, policy, pins) is checked in
:mod:`court.verify.token.expected`; who signed, in :mod:`court.verify.token.identity`.
"""

from __future__ import annotations

from typing import Final

from court.der import Tlv, decode_integer, decode_oid
from court.verify.result import Checklist
from court.verify.token.algorithms import (
    OID_CONTENT_TYPE,
    OID_MESSAGE_DIGEST,
    OID_TST_INFO,
    WEAK_DIGESTS,
    digest_name,
    hash_data,
    short,
    signature_name,
    verify_signature,
)
from court.verify.token.parse import Parsed, SignedData, SignerInfo, number_text
from court.verify.token.result import (
    CHECK_CONTENT_TYPE,
    CHECK_CONTENT_TYPE_ATTR,
    CHECK_DIGEST_ALGORITHMS,
    CHECK_MESSAGE_DIGEST,
    CHECK_SIGNATURE,
    CHECK_SIGNED_DATA_VERSION,
    CHECK_SIGNER_INFO_VERSION,
    CHECK_SINGLE_SIGNER,
    CHECK_STATUS,
)
from court.verify.token.signer import Candidate, SignerId
from court.verify.x509chain import describe

__all__ = [
    "check_content_type",
    "check_content_type_attr",
    "check_digest_algorithms",
    "check_message_digest",
    "check_signature",
    "check_signed_data_version",
    "check_signer_info_version",
    "check_single_signer",
    "check_status",
    "signer_digest",
    "single_value",
]

# How much of what the token says (free texts, lists) a detail repeats.
_TEXT: Final = 200
_ITEMS: Final = 8


def check_status(c: Checklist, parsed: Parsed) -> bool:
    """Check "Status granted"; return whether the checks of the token can go on."""
    status = parsed.status
    if status is None:
        c.not_run(CHECK_STATUS, "bare TimeStampToken: there is no PKIStatusInfo to check")
        return True
    said = f"PKIStatus {number_text(status.value)} ({status.name})"
    if status.value not in (0, 1):
        extra = "; ".join(text[:_TEXT] for text in status.texts[:_ITEMS])
        c.failed(
            CHECK_STATUS,
            said
            + (f": {extra}" if extra else "")
            + (f"; failInfo {sorted(status.fail_info)}" if status.fail_info else ""),
        )
        return parsed.content_type is not None
    if parsed.content_type is None:
        c.failed(CHECK_STATUS, f"{said} but the response carries no timeStampToken")
        return False
    c.passed(CHECK_STATUS, said)
    return True


def check_content_type(c: Checklist, parsed: Parsed) -> bool:
    """Check "Content type id-ct-TSTInfo"; return whether the token is a SignedData over a
    TSTInfo."""
    if parsed.signed_data is None:
        c.failed(
            CHECK_CONTENT_TYPE, f"ContentInfo contentType is {parsed.content_type}, not signedData"
        )
        return False
    econtent_type = parsed.signed_data.econtent_type
    if econtent_type != OID_TST_INFO:
        c.failed(CHECK_CONTENT_TYPE, f"eContentType is {econtent_type}, not id-ct-TSTInfo")
        return False
    if parsed.tst_info is None:
        c.failed(CHECK_CONTENT_TYPE, "eContentType is id-ct-TSTInfo but eContent is absent")
        return False
    version = parsed.tst_info.version
    if version != 1:
        c.failed(CHECK_CONTENT_TYPE, f"TSTInfo version is {number_text(version)}, not 1")
        return False
    c.passed(CHECK_CONTENT_TYPE, f"SignedData with eContentType id-ct-TSTInfo ({OID_TST_INFO})")
    return True


def check_signed_data_version(c: Checklist, signed_data: SignedData) -> None:
    """Check "SignedData version": the one RFC 5652 5.1 fixes for what the token holds.

    The eContentType is not id-data, so the version is 3, unless the
    certificates hold a v2 attribute certificate (4) or an ``other`` format,
    or the CRLs an ``other`` format (5).
    """
    if 0xA3 in signed_data.certificate_ids or 0xA1 in signed_data.crl_ids:
        expected, why = 5, "certificates or CRLs in an 'other' format"
    elif 0xA2 in signed_data.certificate_ids:
        expected, why = 4, "a version 2 attribute certificate"
    else:
        expected, why = 3, "eContentType id-ct-TSTInfo is not id-data"
    version = decode_integer(signed_data.version)
    c.record(
        CHECK_SIGNED_DATA_VERSION,
        version == expected,
        f"SignedData version {number_text(version)}"
        + (", as" if version == expected else f", but {expected} is")
        + f" required by RFC 5652 5.1 ({why})",
    )


def check_single_signer(c: Checklist, signed_data: SignedData) -> SignerInfo | None:
    """Check "Single signer"; return the one SignerInfo."""
    infos = signed_data.signer_infos
    if len(infos) != 1:
        c.failed(
            CHECK_SINGLE_SIGNER, f"{len(infos)} SignerInfos; a time-stamp token has exactly one"
        )
        return None
    c.passed(CHECK_SINGLE_SIGNER, "one SignerInfo")
    return infos[0]


def check_signer_info_version(c: Checklist, signer_info: SignerInfo, sid: SignerId) -> None:
    """Check "SignerInfo version": 1 with issuerAndSerialNumber, 3 with subjectKeyIdentifier
    (RFC 5652 5.3)."""
    value = decode_integer(signer_info.version)
    expected = sid.expected_version
    c.record(
        CHECK_SIGNER_INFO_VERSION,
        value == expected,
        f"SignerInfo version {number_text(value)} with the sid {sid.kind}"
        + ("" if value == expected else f": RFC 5652 5.3 requires {expected}"),
    )


def check_digest_algorithms(c: Checklist, signed_data: SignedData, signer_info: SignerInfo) -> None:
    """Check "digestAlgorithms lists the signer's": the SignedData's digestAlgorithms set is
    exactly the one signer's digestAlgorithm (RFC 5652 5.1)."""
    listed = [a.oid for a in signed_data.digest_algorithms]
    own = signer_info.digest_algorithm.oid
    names = ", ".join(digest_name(oid) or oid for oid in listed[:_ITEMS]) or "nothing"
    own_name = digest_name(own) or own
    if own not in listed:
        c.failed(
            CHECK_DIGEST_ALGORITHMS,
            f"digestAlgorithms lists {names}, not the signer's digestAlgorithm {own_name}",
        )
    elif len(listed) != 1:
        c.failed(
            CHECK_DIGEST_ALGORITHMS,
            f"digestAlgorithms lists {len(listed)} algorithms ({names}); "
            f"the one signer uses only {own_name}",
        )
    else:
        c.passed(CHECK_DIGEST_ALGORITHMS, f"digestAlgorithms is {{{own_name}}}, the signer's")


def single_value(signer_info: SignerInfo, oid: str, label: str) -> tuple[Tlv | None, str]:
    """The one value of the one signed attribute ``oid``, or ``None`` and why there is not
    exactly one."""
    found = [a.values for a in signer_info.attributes if a.oid == oid]
    if not found:
        return None, f"no {label} attribute among the signed attributes"
    if len(found) > 1:
        return None, f"{len(found)} {label} attributes (exactly one allowed)"
    if len(found[0]) != 1:
        return None, f"{label} attribute has {len(found[0])} values (exactly one allowed)"
    return found[0][0], ""


def check_content_type_attr(c: Checklist, signer_info: SignerInfo) -> None:
    """Check "contentType attribute": one signed contentType, id-ct-TSTInfo."""
    value, problem = single_value(signer_info, OID_CONTENT_TYPE, "contentType")
    if value is None:
        c.failed(CHECK_CONTENT_TYPE_ATTR, problem)
        return
    oid = decode_oid(value)
    c.record(
        CHECK_CONTENT_TYPE_ATTR,
        oid == OID_TST_INFO,
        f"contentType attribute is {oid}" + ("" if oid == OID_TST_INFO else ", not id-ct-TSTInfo"),
    )


def signer_digest(signer_info: SignerInfo) -> tuple[str | None, str]:
    """The SignerInfo's digestAlgorithm name, or ``None`` and why it is not accepted."""
    oid = signer_info.digest_algorithm.oid
    name = digest_name(oid)
    if name is None:
        return None, f"unsupported digestAlgorithm {oid}"
    if name in WEAK_DIGESTS:
        return None, f"digestAlgorithm {name} is too weak to protect the signed attributes"
    return name, name


def check_message_digest(c: Checklist, signer_info: SignerInfo, econtent: bytes) -> None:
    """Check "messageDigest attribute": one signed messageDigest, the hash of eContent."""
    name, why = signer_digest(signer_info)
    if name is None:
        c.failed(CHECK_MESSAGE_DIGEST, why)
        return
    value, problem = single_value(signer_info, OID_MESSAGE_DIGEST, "messageDigest")
    if value is None:
        c.failed(CHECK_MESSAGE_DIGEST, problem)
        return
    claimed = value.contents
    actual = hash_data(name, econtent)
    if claimed == actual:
        c.passed(CHECK_MESSAGE_DIGEST, f"{name}(eContent) = {short(actual)}")
    else:
        c.failed(
            CHECK_MESSAGE_DIGEST,
            f"messageDigest {short(claimed)} but {name}(eContent) = {short(actual)}",
        )


def check_signature(
    c: Checklist, signer: Candidate, signer_info: SignerInfo, econtent: bytes
) -> None:
    """Check "Signature valid": over the DER SET of the signed attributes (or eContent when
    there are none), with the signer's key."""
    name, why = signer_digest(signer_info)
    if name is None:
        c.failed(CHECK_SIGNATURE, why)
        return
    if signer_info.signed_attrs is None:
        signed = econtent
        over = "eContent (no signed attributes)"
    else:
        # [0] IMPLICIT SET OF Attribute: the signature covers it re-tagged as a SET.
        signed = b"\x31" + signer_info.signed_attrs.encoded[1:]
        over = "signed attributes"
    problem = verify_signature(signer.cert, signer_info, signed, name)
    if problem is None:
        c.passed(
            CHECK_SIGNATURE,
            f"{signature_name(signer_info, name)} signature over the {over} verifies "
            f"with the key of {describe(signer.cert)}",
        )
    else:
        c.failed(CHECK_SIGNATURE, problem)
