"""The checks of who signed a token: the signer's certificate, identifier, chain and usage.

Each function records exactly one named check (named in its docstring).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from court.der import DerError, Tlv, read_children
from court.verify.result import Checklist
from court.verify.token.algorithms import OID_SIGNING_CERTIFICATE, OID_SIGNING_CERTIFICATE_V2
from court.verify.token.checks import single_value
from court.verify.token.parse import SignerInfo
from court.verify.token.result import (
    CHECK_CHAIN,
    CHECK_EKU,
    CHECK_SIGNER_FOUND,
    CHECK_SIGNER_ID,
    CHECK_SIGNING_CERT,
    CHECK_TSA_NAME,
)
from court.verify.token.signer import Candidate, SignerId, ess_cert_id, names_equal
from court.verify.x509chain import ChainCache, ChainMemo, build_chain, describe

_ID_DIRECTORY_NAME = 0xA4  # GeneralName directoryName [4] EXPLICIT Name

__all__ = [
    "check_chain",
    "check_eku",
    "check_signer_found",
    "check_signer_id",
    "check_signing_certificate",
    "check_tsa_name",
]


def check_signer_found(
    c: Checklist, candidates: Sequence[Candidate], where: str, sid: SignerId
) -> Candidate | None:
    """Check "Signer certificate found": exactly one candidate is the certificate ``sid`` names.

    ``where`` says which certificates were searched, for the report.
    """
    matches = sid.find(candidates)
    if not matches:
        c.failed(CHECK_SIGNER_FOUND, f"no certificate among {where} matches {sid.describe()}")
        return None
    if len(matches) > 1:
        c.failed(
            CHECK_SIGNER_FOUND,
            f"{len(matches)} different certificates match {sid.describe()}: ambiguous",
        )
        return None
    signer = matches[0]
    c.passed(
        CHECK_SIGNER_FOUND,
        f"{describe(signer.cert)} ({signer.source}) matches the sid, {sid.describe()}",
    )
    return signer


def check_signer_id(c: Checklist, signer: Candidate, sid: SignerId) -> None:
    """Check "Signer identifier exact": the sid is byte for byte the signer certificate's
    issuer and serialNumber (or its subjectKeyIdentifier).

    The sid is not signed; a name that is only equal under RFC 5280's comparison
    (other case, spaces or string type) would make the token's bytes malleable.
    """
    problem = sid.exact_problem(signer)
    if problem is None:
        c.passed(CHECK_SIGNER_ID, f"{sid.kind} is byte for byte the signer certificate's")
    else:
        c.failed(CHECK_SIGNER_ID, f"{sid.kind}: {problem}")


def check_signing_certificate(c: Checklist, signer: Candidate, signer_info: SignerInfo) -> None:
    """Check "signingCertificate matches signer": ESSCertIDv2 and/or ESSCertID name the
    signer's certificate."""
    found: list[str] = []
    for oid, label in (
        (OID_SIGNING_CERTIFICATE_V2, "ESSCertIDv2"),
        (OID_SIGNING_CERTIFICATE, "ESSCertID"),
    ):
        if not any(a.oid == oid for a in signer_info.attributes):
            continue
        value, problem = single_value(signer_info, oid, label)
        if value is None:
            c.failed(CHECK_SIGNING_CERT, problem)
            return
        try:
            found_problem, detail = ess_cert_id(value, label, signer)
        except (DerError, IndexError, ValueError) as exc:
            found_problem, detail = f"{label} cannot be read: {exc}", ""
        if found_problem is not None:
            c.failed(CHECK_SIGNING_CERT, found_problem)
            return
        found.append(detail)
    if not found:
        c.failed(
            CHECK_SIGNING_CERT,
            "neither signingCertificateV2 nor signingCertificate among the signed attributes",
        )
        return
    c.passed(CHECK_SIGNING_CERT, "; ".join(found))


def check_chain(
    c: Checklist,
    signer: Candidate,
    roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    gen_time: datetime,
    memo: ChainMemo | None = None,
    cache: ChainCache | None = None,
) -> tuple[x509.Certificate, ...]:
    """Check "Chain valid at genTime"; the path from the signer to its anchor (empty if none).

    ``memo`` shares the time-independent work with other tokens' checks (:class:`ChainMemo`);
    ``cache`` keeps the paths found (:class:`ChainCache`).
    """
    if not roots:
        c.failed(CHECK_CHAIN, "no trust anchors were given")
        return ()
    try:
        result = build_chain(
            signer.cert,
            roots=roots,
            intermediates=intermediates,
            at=gen_time,
            memo=memo,
            cache=cache,
        )
    except Exception as exc:  # defensive: a malformed certificate must not crash us
        c.failed(CHECK_CHAIN, f"path building failed: {type(exc).__name__}: {exc}")
        return ()
    c.record(CHECK_CHAIN, result.ok, result.detail)
    return result.path if result.ok else ()


def check_eku(c: Checklist, signer: Candidate) -> None:
    """Check "EKU timeStamping (critical, sole)": RFC 3161 2.3."""
    try:
        eku = signer.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        c.failed(CHECK_EKU, "the signer certificate has no extendedKeyUsage extension")
        return
    except Exception as exc:
        c.failed(CHECK_EKU, f"the signer's extensions cannot be parsed: {exc}")
        return
    usages = [u.dotted_string for u in eku.value]
    if not eku.critical:
        c.failed(CHECK_EKU, "extendedKeyUsage is not critical")
    elif usages != [ExtendedKeyUsageOID.TIME_STAMPING.dotted_string]:
        c.failed(CHECK_EKU, f"extendedKeyUsage is {usages}, must be id-kp-timeStamping alone")
    else:
        c.passed(CHECK_EKU, "critical extendedKeyUsage: id-kp-timeStamping only")


def check_tsa_name(c: Checklist, signer: Candidate, tsa: Tlv | None, shown: str | None) -> None:
    """Check "TSA name matches signer": TSTInfo's tsa, when present, names the signer (RFC
    3161 2.4.2): a directoryName its subject, another GeneralName one of its
    subjectAltName entries. ``shown`` is how the report shows it."""
    if tsa is None:
        c.not_run(CHECK_TSA_NAME, "TSTInfo has no tsa field")
        return
    try:
        if tsa.tag == _ID_DIRECTORY_NAME:
            ok = names_equal(read_children(tsa.contents)[0].encoded, signer.subject())
        else:
            ok = any(g.encoded == tsa.encoded for g in signer.alt_names())
    except (DerError, IndexError, ValueError) as exc:
        c.failed(CHECK_TSA_NAME, f"tsa field cannot be compared: {exc}")
        return
    c.record(
        CHECK_TSA_NAME,
        ok,
        f"tsa {shown!r} "
        + ("names" if ok else "does not name")
        + f" the signer {describe(signer.cert)}",
    )
