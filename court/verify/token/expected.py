"""What the court asks of a token: the imprint, and optionally nonce, policy and TSA identity."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from court.verify.result import Checklist
from court.verify.token.algorithms import IMPRINT_ALGORITHMS, hash_data, short
from court.verify.token.result import (
    CHECK_IMPRINT,
    CHECK_NONCE,
    CHECK_PIN,
    CHECK_POLICY,
    CHECK_SIGNER_FOUND,
    CHECK_SINGLE_SIGNER,
)
from court.verify.token.signer import Candidate, names_equal
from court.verify.x509chain import describe

__all__ = [
    "Expected",
    "Pins",
    "check_imprint",
    "check_nonce",
    "check_pin",
    "check_policy",
    "expected_imprint",
]


@dataclass(frozen=True, slots=True)
class Expected:
    """The imprint a token must carry."""

    algorithm: str | None  # None: hash `data` with the token's algorithm
    digest: bytes | None
    data: bytes | None


@dataclass(frozen=True, slots=True)
class Pins:
    """Who the signer must be, when the court says so."""

    certificate: x509.Certificate | None
    name_text: str | None
    name: x509.Name | None


def expected_imprint(
    digest: bytes | None, hash_algorithm: str | None, data: bytes | None
) -> Expected:
    """The imprint asked for; ``ValueError`` for options that make no sense."""
    if (digest is None) == (data is None):
        raise ValueError("give exactly one of digest= and data=: a token is valid *for* something")
    if hash_algorithm is not None:
        hash_algorithm = hash_algorithm.lower()
        if hash_algorithm not in IMPRINT_ALGORITHMS:
            raise ValueError(
                f"hash_algorithm must be one of {sorted(IMPRINT_ALGORITHMS)}, "
                f"got {hash_algorithm!r}"
            )
    if digest is not None:
        if hash_algorithm is None:
            raise ValueError("hash_algorithm is required with digest=")
        size = len(hash_data(hash_algorithm, b""))
        if len(digest) != size:
            raise ValueError(f"a {hash_algorithm} digest has {size} bytes, got {len(digest)}")
        return Expected(hash_algorithm, bytes(digest), None)
    assert data is not None
    if hash_algorithm is not None:
        return Expected(hash_algorithm, hash_data(hash_algorithm, bytes(data)), None)
    return Expected(None, None, bytes(data))


def check_imprint(c: Checklist, expected: Expected, token_alg: str, token_hash: bytes) -> None:
    """ "Imprint matches": the token's messageImprint is the expected algorithm and digest.

    Given data rather than a digest, the data is hashed with the token's
    algorithm, which must be one of :data:`IMPRINT_ALGORITHMS` (never SHA-1 or MD5).
    """
    if expected.algorithm is None:
        if token_alg not in IMPRINT_ALGORITHMS:
            c.failed(CHECK_IMPRINT, f"imprint hash algorithm {token_alg} is not accepted")
            return
        assert expected.data is not None
        want_alg, want = token_alg, hash_data(token_alg, expected.data)
    else:
        assert expected.digest is not None
        want_alg, want = expected.algorithm, expected.digest
    if token_alg != want_alg:
        c.failed(CHECK_IMPRINT, f"token imprint uses {token_alg}, expected {want_alg}")
    elif token_hash != want:
        c.failed(
            CHECK_IMPRINT,
            f"token imprint {want_alg}:{short(token_hash)}, expected {want_alg}:{short(want)}",
        )
    else:
        c.passed(CHECK_IMPRINT, f"{want_alg}:{token_hash.hex()}")


def check_nonce(c: Checklist, expected: int | None, got: int | None) -> None:
    """ "Nonce matches", when a nonce is expected."""
    if expected is None:
        c.not_run(CHECK_NONCE, "no nonce expected")
    elif got is None:
        c.failed(CHECK_NONCE, f"token has no nonce, expected {expected:#x}")
    else:
        c.record(CHECK_NONCE, got == expected, f"token nonce {got:#x}, expected {expected:#x}")


def check_policy(c: Checklist, expected: str | None, got: str) -> None:
    """ "Policy matches", when a policy is expected."""
    if expected is None:
        c.not_run(CHECK_POLICY, "no policy expected")
    else:
        c.record(CHECK_POLICY, got == expected, f"token policy {got}, expected {expected}")


def check_pin(c: Checklist, pins: Pins, signer: Candidate | None) -> None:
    """ "TSA identity pinned": the signer is the pinned certificate and/or has the pinned name."""
    if pins.certificate is None and pins.name is None:
        c.not_run(CHECK_PIN, "no TSA certificate or name pinned")
        return
    if signer is None:
        failed = CHECK_SIGNER_FOUND if c.is_failed(CHECK_SIGNER_FOUND) else CHECK_SINGLE_SIGNER
        c.blocked([CHECK_PIN], failed)
        return
    problems: list[str] = []
    notes: list[str] = []
    if pins.certificate is not None:
        if pins.certificate.public_bytes(Encoding.DER) == signer.der:
            notes.append("signer is the pinned certificate")
        else:
            problems.append(
                f"signer {describe(signer.cert)} (serial {signer.cert.serial_number:x}) is not "
                f"the pinned certificate {describe(pins.certificate)} "
                f"(serial {pins.certificate.serial_number:x})"
            )
    if pins.name is not None:
        if names_equal(pins.name.public_bytes(), signer.subject()):
            notes.append(f"signer subject is {pins.name_text!r}")
        else:
            problems.append(
                f"signer subject {describe(signer.cert)!r} is not the pinned {pins.name_text!r}"
            )
    if problems:
        c.failed(CHECK_PIN, "; ".join(problems))
    else:
        c.passed(CHECK_PIN, "; ".join(notes))
