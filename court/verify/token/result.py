"""The names of the token checks, in report order, and the result of a token verification."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cryptography import x509

from court.verify.result import Check, Verdict

__all__ = [
    "ALWAYS",
    "CHECK_CHAIN",
    "CHECK_CONTENT_TYPE",
    "CHECK_CONTENT_TYPE_ATTR",
    "CHECK_DER",
    "CHECK_DIGEST_ALGORITHMS",
    "CHECK_EKU",
    "CHECK_IMPRINT",
    "CHECK_MESSAGE_DIGEST",
    "CHECK_NONCE",
    "CHECK_PIN",
    "CHECK_POLICY",
    "CHECK_SIGNATURE",
    "CHECK_SIGNED_DATA_VERSION",
    "CHECK_SIGNER_FOUND",
    "CHECK_SIGNER_ID",
    "CHECK_SIGNER_INFO_VERSION",
    "CHECK_SIGNING_CERT",
    "CHECK_SINGLE_SIGNER",
    "CHECK_STATUS",
    "CHECK_TSA_NAME",
    "NEED_SIGNER",
    "NEED_SIGNER_INFO",
    "TOKEN_CHECKS",
    "TokenVerification",
]

CHECK_DER: Final = "DER well-formed"
CHECK_STATUS: Final = "Status granted"
CHECK_CONTENT_TYPE: Final = "Content type id-ct-TSTInfo"
CHECK_SIGNED_DATA_VERSION: Final = "SignedData version"
CHECK_SINGLE_SIGNER: Final = "Single signer"
CHECK_SIGNER_INFO_VERSION: Final = "SignerInfo version"
CHECK_DIGEST_ALGORITHMS: Final = "digestAlgorithms lists the signer's"
CHECK_SIGNER_FOUND: Final = "Signer certificate found"
CHECK_SIGNER_ID: Final = "Signer identifier exact"
CHECK_CONTENT_TYPE_ATTR: Final = "contentType attribute"
CHECK_MESSAGE_DIGEST: Final = "messageDigest attribute"
CHECK_SIGNATURE: Final = "Signature valid"
CHECK_SIGNING_CERT: Final = "signingCertificate matches signer"
CHECK_CHAIN: Final = "Chain valid at genTime"
CHECK_EKU: Final = "EKU timeStamping (critical, sole)"
CHECK_TSA_NAME: Final = "TSA name matches signer"
CHECK_IMPRINT: Final = "Imprint matches"
CHECK_NONCE: Final = "Nonce matches"
CHECK_POLICY: Final = "Policy matches"
CHECK_PIN: Final = "TSA identity pinned"

#: Every check of a token verification, in report order.
TOKEN_CHECKS: Final[tuple[str, ...]] = (
    CHECK_DER,
    CHECK_STATUS,
    CHECK_CONTENT_TYPE,
    CHECK_SIGNED_DATA_VERSION,
    CHECK_SINGLE_SIGNER,
    CHECK_SIGNER_INFO_VERSION,
    CHECK_DIGEST_ALGORITHMS,
    CHECK_SIGNER_FOUND,
    CHECK_SIGNER_ID,
    CHECK_CONTENT_TYPE_ATTR,
    CHECK_MESSAGE_DIGEST,
    CHECK_SIGNATURE,
    CHECK_SIGNING_CERT,
    CHECK_CHAIN,
    CHECK_EKU,
    CHECK_TSA_NAME,
    CHECK_IMPRINT,
    CHECK_NONCE,
    CHECK_POLICY,
    CHECK_PIN,
)

#: Checks that must pass for any token to be valid (the others may be not_run
#: because they were not asked for or do not apply).
ALWAYS: Final[tuple[str, ...]] = (
    CHECK_DER,
    CHECK_CONTENT_TYPE,
    CHECK_SIGNED_DATA_VERSION,
    CHECK_SINGLE_SIGNER,
    CHECK_SIGNER_INFO_VERSION,
    CHECK_DIGEST_ALGORITHMS,
    CHECK_SIGNER_FOUND,
    CHECK_SIGNER_ID,
    CHECK_CONTENT_TYPE_ATTR,
    CHECK_MESSAGE_DIGEST,
    CHECK_SIGNATURE,
    CHECK_SIGNING_CERT,
    CHECK_CHAIN,
    CHECK_EKU,
    CHECK_IMPRINT,
)

#: Checks that read the one SignerInfo, in report order.
NEED_SIGNER_INFO: Final[tuple[str, ...]] = (
    CHECK_SIGNER_INFO_VERSION,
    CHECK_DIGEST_ALGORITHMS,
    CHECK_SIGNER_FOUND,
    CHECK_SIGNER_ID,
    CHECK_CONTENT_TYPE_ATTR,
    CHECK_MESSAGE_DIGEST,
)

#: Checks that need the signer's certificate, in report order.
NEED_SIGNER: Final[tuple[str, ...]] = (
    CHECK_SIGNATURE,
    CHECK_SIGNING_CERT,
    CHECK_CHAIN,
    CHECK_EKU,
    CHECK_TSA_NAME,
)


@dataclass(frozen=True, slots=True)
class TokenVerification:
    """Outcome of :func:`~court.verify.token.verify_timestamp`: the named checks and what
    the token says.

    The token fields are filled whenever the TSTInfo parsed, even when the
    token is invalid (so a report can say what a bad token claims).
    """

    verdict: Verdict
    gen_time: datetime | None = None
    serial_number: int | None = None
    policy: str | None = None
    hash_algorithm: str | None = None
    imprint: bytes | None = None
    nonce: int | None = None
    tsa_name: str | None = None
    signer: x509.Certificate | None = None
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no check failed and every always-applicable check passed."""
        return self.verdict.ok and all(
            name in self.verdict and self.verdict[name].passed for name in ALWAYS
        )

    @property
    def checks(self) -> tuple[Check, ...]:
        return self.verdict.checks

    @property
    def failures(self) -> tuple[Check, ...]:
        return self.verdict.failures

    @property
    def first_failure(self) -> Check | None:
        return self.verdict.first_failure

    def check(self, name: str) -> Check:
        """The check called ``name`` (``KeyError`` if there is none)."""
        return self.verdict[name]
