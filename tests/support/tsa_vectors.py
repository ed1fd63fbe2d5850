"""The time-stamp tokens of the third-party vectors in tests/fixtures/rfc3161-client.

Each ``.tsr`` there is a TimeStampResp; the token is its second field (absent
from a rejection). See that folder's README for what each vector is.
"""

from __future__ import annotations

from pathlib import Path

from court.der import read_children, read_tlv

__all__ = ["FIXTURES", "WITHOUT_CERTIFICATES", "WITH_CERTIFICATES", "vector_token"]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rfc3161-client"

#: Tokens that carry certificates: EC P-256 (leaf only), the same with two injected
#: certificates, EC P-384 (sigstage, three imprints), RSA-4096 (leaf and intermediate).
WITH_CERTIFICATES = (
    "test_tsa/response.tsr",
    "test_tsa/other_response.tsr",
    "test_tsa/response-injected-certs.tsr",
    "sigstage/response-sha256.tsr",
    "sigstage/response-sha384.tsr",
    "sigstage/response-sha512.tsr",
    "sigstage/response-invalid-signature.tsr",
    "identrust/issue-104.tsr",
)
#: Tokens that carry none (certReq false; the sigstore mock TSA).
WITHOUT_CERTIFICATES = (
    "sigstage/response-no-embedded-cert.tsr",
    "sigstore.mock/response-expired.tsr",
)


def vector_token(rel: str) -> bytes:
    """The TimeStampToken of the response ``rel`` (relative to :data:`FIXTURES`)."""
    response, end = read_tlv((FIXTURES / rel).read_bytes())
    assert end == (FIXTURES / rel).stat().st_size
    _status, token = read_children(response.contents)
    return token.encoded
