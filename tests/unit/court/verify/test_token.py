"""court.verify.token: the API contract, the DER gate and the shared result type."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from court.der import der_problem
from court.verify.result import Check, Checklist, CheckStatus, Verdict
from court.verify.token import (
    CHECK_CHAIN,
    CHECK_DER,
    CHECK_SIGNATURE,
    TOKEN_CHECKS,
    TokenVerification,
    verify_timestamp,
)
from court.verify.token import checks as checks_module
from court.verify.token import identity as identity_module

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "rfc3161-client"
RESPONSE = (FIXTURES / "test_tsa" / "response.tsr").read_bytes()
CHAIN = x509.load_pem_x509_certificates((FIXTURES / "test_tsa" / "ts_chain.pem").read_bytes())
HELLO_SHA512 = hashlib.sha512(b"hello").digest()


def verify(token: bytes, **kwargs: object) -> TokenVerification:
    options: dict[str, object] = {"roots": [CHAIN[-1]], "untrusted": CHAIN, "data": b"hello"}
    options.update(kwargs)
    return verify_timestamp(token, **options)  # type: ignore[arg-type]


def assert_der_failure(result: TokenVerification) -> None:
    assert not result.ok
    assert [c.name for c in result.failures] == [CHECK_DER]
    assert [c.name for c in result.checks] == list(TOKEN_CHECKS)
    assert all(c.status is CheckStatus.NOT_RUN for c in result.checks[1:])
    assert all(repr(CHECK_DER) in c.detail for c in result.checks[1:])
    assert result.gen_time is None and result.signer is None


def test_check_names_are_the_documented_ones() -> None:
    assert TOKEN_CHECKS == (
        "DER well-formed",
        "Status granted",
        "Content type id-ct-TSTInfo",
        "SignedData version",
        "Single signer",
        "SignerInfo version",
        "digestAlgorithms lists the signer's",
        "Signer certificate found",
        "Signer identifier exact",
        "contentType attribute",
        "messageDigest attribute",
        "Signature valid",
        "signingCertificate matches signer",
        "Chain valid at genTime",
        "EKU timeStamping (critical, sole)",
        "TSA name matches signer",
        "Imprint matches",
        "Nonce matches",
        "Policy matches",
        "TSA identity pinned",
    )


def test_every_check_is_documented() -> None:
    """docs/token-checks.md has a table row for each check, in report order."""
    doc = (Path(__file__).resolve().parents[4] / "docs" / "token-checks.md").read_text()
    rows = [line.split("|")[1].strip() for line in doc.splitlines() if line.startswith("| ")]
    assert rows[2:] == list(TOKEN_CHECKS)  # after the header and its rule


def test_reference_token_is_valid() -> None:
    """Control for the negative tests in this file."""
    result = verify(RESPONSE)
    assert result.ok, result.failures


# --------------------------------------------------------------------------- programming errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of digest= and data="),
        ({"digest": HELLO_SHA512, "hash_algorithm": "sha512", "data": b"x"}, "exactly one"),
        ({"digest": HELLO_SHA512}, "hash_algorithm is required"),
        ({"digest": HELLO_SHA512, "hash_algorithm": "md5"}, "must be one of"),
        ({"digest": HELLO_SHA512, "hash_algorithm": "sha1"}, "must be one of"),
        ({"digest": HELLO_SHA512[:32], "hash_algorithm": "sha512"}, "has 64 bytes"),
        ({"data": b"x", "policy": "not an oid"}, None),
        ({"data": b"x", "tsa_name": "no equals sign"}, None),
    ],
)
def test_programming_errors_raise_value_error(
    kwargs: dict[str, object], message: str | None
) -> None:
    with pytest.raises(ValueError, match=message):
        verify_timestamp(RESPONSE, roots=[CHAIN[-1]], **kwargs)  # type: ignore[arg-type]


def test_hash_algorithm_with_data_fixes_the_algorithm() -> None:
    assert verify(RESPONSE, hash_algorithm="sha512").ok
    wrong = verify(RESPONSE, hash_algorithm="sha256")
    assert [c.name for c in wrong.failures] == ["Imprint matches"]


def test_accepts_bytearray_and_memoryview() -> None:
    assert verify(bytearray(RESPONSE)).ok
    assert verify(memoryview(RESPONSE)).ok  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the DER gate


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x00",
        b"\x30",
        b"\x30\x00",
        b"\x30\x80\x00\x00",
        b"hello world, this is not DER",
        bytes(range(256)),
        b"\x30\x84\xff\xff\xff\xff",
        b"\x30" + b"\x81\x05" + b"\x02\x01\x00\x02\x00",
    ],
)
def test_garbage_fails_der_without_raising(garbage: bytes) -> None:
    assert_der_failure(verify(garbage))


@pytest.mark.parametrize("cut", [1, 2, 10, 100, len(RESPONSE) // 2, len(RESPONSE) - 1])
def test_truncated_token_fails_der(cut: int) -> None:
    result = verify(RESPONSE[:cut])
    assert_der_failure(result)
    assert "truncated" in result.check(CHECK_DER).detail


def test_trailing_bytes_fail_der() -> None:
    result = verify(RESPONSE + b"\x00")
    assert_der_failure(result)
    assert "trailing" in result.check(CHECK_DER).detail


def test_ber_indefinite_length_fails_der() -> None:
    # Re-wrap the outer SEQUENCE with an indefinite length (valid BER, not DER).
    header = 4  # 30 82 hh ll
    assert RESPONSE[:2] == b"\x30\x82"
    ber = b"\x30\x80" + RESPONSE[header:] + b"\x00\x00"
    result = verify(ber)
    assert_der_failure(result)
    assert "indefinite" in result.check(CHECK_DER).detail


def test_non_minimal_length_fails_der() -> None:
    # 30 82 hh ll -> 30 83 00 hh ll: same value, one byte too many.
    padded = b"\x30\x83\x00" + RESPONSE[2:]
    result = verify(padded)
    assert_der_failure(result)
    assert "non-minimal" in result.check(CHECK_DER).detail


@pytest.mark.parametrize(
    ("der", "words"),
    [
        (b"\x02\x02\x00\x01", "non-minimal INTEGER"),
        (b"\x02\x02\xff\x80", "non-minimal INTEGER"),
        (b"\x02\x00", "empty INTEGER"),
        (b"\x01\x01\x01", "BOOLEAN"),
        (b"\x05\x01\x00", "NULL"),
        (b"\x03\x01\x01", "BIT STRING"),
        (b"\x24\x03\x04\x01\x00", "constructed form"),
        (b"\x10\x00", "primitive SEQUENCE"),
        (b"\x1f\x05\x00", "non-minimal tag"),
        (b"\x30\x02\x00\x00", "universal tag 0"),
    ],
)
def test_der_problem_rejects_non_der(der: bytes, words: str) -> None:
    problem = der_problem(der)
    assert problem is not None and words in problem


def test_der_problem_accepts_canonical_encodings() -> None:
    assert der_problem(b"\x02\x01\x00") is None
    assert der_problem(b"\x02\x02\x00\x80") is None
    assert der_problem(b"\x02\x04\xde\xad\xbe\xef") is None  # negative, minimal
    assert der_problem(b"\x01\x01\xff") is None
    assert der_problem(b"\x30\x02\x05\x00") is None
    assert der_problem(RESPONSE) is None


def test_deep_nesting_fails_der_without_recursion_error() -> None:
    nested = b"\x05\x00"
    for _ in range(200):
        length = len(nested)
        if length < 0x80:
            encoded = bytes([length])
        elif length < 0x100:
            encoded = bytes([0x81, length])
        else:
            encoded = bytes([0x82, length >> 8, length & 0xFF])
        nested = b"\x30" + encoded + nested
    result = verify(nested)
    assert_der_failure(result)
    assert "nesting" in result.check(CHECK_DER).detail


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(blob: bytes) -> None:
    result = verify(blob)
    assert not result.ok
    assert len(result.checks) == len(TOKEN_CHECKS)


# --------------------------------------------------------------------------- failing closed


def test_unexpected_exception_fails_the_interrupted_check(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(checks_module, "verify_signature", explode)
    result = verify(RESPONSE)
    assert not result.ok
    assert [c.name for c in result.failures] == [CHECK_SIGNATURE]
    assert "RuntimeError: boom" in result.check(CHECK_SIGNATURE).detail
    after = result.checks[TOKEN_CHECKS.index(CHECK_SIGNATURE) + 1 :]
    assert all(c.status is CheckStatus.NOT_RUN for c in after)
    assert [c.name for c in result.checks] == list(TOKEN_CHECKS)


def test_path_building_exception_fails_the_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise ValueError("odd certificate")

    monkeypatch.setattr(identity_module, "build_chain", explode)
    result = verify(RESPONSE)
    assert [c.name for c in result.failures] == [CHECK_CHAIN]
    assert "odd certificate" in result.check(CHECK_CHAIN).detail


# --------------------------------------------------------------------------- result type


def test_verdict_ok_rules() -> None:
    passed = Check("a", CheckStatus.PASSED, "fine")
    failed = Check("b", CheckStatus.FAILED, "bad")
    skipped = Check("c", CheckStatus.NOT_RUN, "not asked")
    assert Verdict((passed, skipped)).ok
    assert not Verdict((passed, failed)).ok
    assert not Verdict((skipped,)).ok  # nothing was actually checked
    assert not Verdict().ok
    verdict = Verdict((passed, failed, skipped))
    assert verdict.first_failure == failed
    assert verdict.failures == (failed,)
    assert verdict["c"] == skipped
    assert "a" in verdict and "z" not in verdict
    assert verdict.names == ("a", "b", "c")
    assert verdict.statuses() == {"a": "passed", "b": "failed", "c": "not_run"}
    assert verdict.as_dicts()[1] == {"name": "b", "status": "failed", "detail": "bad"}
    with pytest.raises(KeyError):
        verdict["z"]
    with pytest.raises(ValueError, match="duplicate"):
        Verdict((passed, passed))


def test_checklist_records_in_order_and_blocks_only_on_failures() -> None:
    checklist = Checklist()
    checklist.passed("one", "ok")
    checklist.failed("two", "broken")
    checklist.blocked(["three", "four"], "two")
    checklist.record("five", True, "fine")
    with pytest.raises(ValueError, match="recorded twice"):
        checklist.passed("one")
    with pytest.raises(ValueError, match="has not failed"):
        checklist.blocked(["six"], "one")
    verdict = checklist.verdict()
    assert verdict.names == ("one", "two", "three", "four", "five")
    assert verdict["three"].status is CheckStatus.NOT_RUN
    assert "'two' failed" in verdict["four"].detail
    assert not verdict.ok


def test_token_ok_requires_every_core_check_passed() -> None:
    """A verdict without failures is still not a valid token if a core check did not run."""
    only_some = Verdict((Check(CHECK_DER, CheckStatus.PASSED, ""),))
    assert only_some.ok
    assert not TokenVerification(only_some).ok
