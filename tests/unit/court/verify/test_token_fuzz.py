"""Hostile input gives a named failure, never another exception (token, chain search, DER).

Hypothesis mutates real tokens (our notary's, the rfc3161-client fixture's and a
hostile one with many CA certificates) and certificates: bit flips, inserted,
deleted and repeated bytes, truncation, and rewrites of primitive contents that
keep the DER framing (so that the mutants get past "DER well-formed" and reach
the later checks). Sizes stay bounded (a few KB, below the 64 KiB a token may
have). Whatever comes in, :func:`verify_timestamp` returns every named check
and never falls back on its fail-closed catch-all (which would mean an
unexpected exception inside), and :func:`build_chain` returns a result within
its work bounds. court.der's own fuzz test is in tests/unit/court/test_der.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from court.der import DerError, read_header, tlv
from court.verify.result import CheckStatus
from court.verify.token import (
    CHECK_SIGNED_DATA_VERSION,
    CHECK_SIGNER_INFO_VERSION,
    CHECK_STATUS,
    TOKEN_CHECKS,
    TokenVerification,
    verify_timestamp,
)
from court.verify.x509chain import (
    MAX_ISSUER_TRIES,
    MAX_SIGNATURE_CHECKS,
    ChainResult,
    build_chain,
)
from notary.pki import load_tsa_signing_material
from tests.support.hostile_token import hostile_token
from tests.support.token_surgery import element_at, replace
from tests.support.tsa import make_engine

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "rfc3161-client" / "test_tsa"
HELLO_SHA512 = hashlib.sha512(b"hello").digest()
DIGEST = hashlib.sha256(b"fuzzed evidence").digest()

# Details of the fail-closed fallbacks: an exception nothing expected reached them.
CATCH_ALL = ("could not be checked:", "path building failed:", "cannot be read:")


@dataclass(frozen=True)
class Seed:
    name: str
    der: bytes
    verify: Callable[[bytes], TokenVerification]


@pytest.fixture(scope="module")
def seeds(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Seed]:
    engine = make_engine(pki_p256, tmp_path_factory.mktemp("fuzz-serials"))
    roots = load_tsa_signing_material(pki_p256)[2]
    issued = engine.issue("sha256", DIGEST, nonce=7)

    def ours(der: bytes) -> TokenVerification:
        return verify_timestamp(der, roots=roots, digest=DIGEST, hash_algorithm="sha256", nonce=7)

    chain = x509.load_pem_x509_certificates((FIXTURES / "ts_chain.pem").read_bytes())

    def theirs(der: bytes) -> TokenVerification:
        return verify_timestamp(
            der, roots=[chain[-1]], untrusted=chain, digest=HELLO_SHA512, hash_algorithm="sha512"
        )

    hostile = hostile_token(8)

    def hostile_verify(der: bytes) -> TokenVerification:
        return verify_timestamp(
            der, roots=[hostile.root], digest=hostile.digest, hash_algorithm="sha256"
        )

    return [
        Seed("notary response", issued.response, ours),
        Seed("notary token", issued.token, ours),
        Seed("rfc3161-client", (FIXTURES / "response.tsr").read_bytes(), theirs),
        Seed("hostile", hostile.token, hostile_verify),
    ]


def primitive_spans(der: bytes) -> list[tuple[int, int]]:
    """(start, end) of the contents of every primitive element in ``der``."""
    spans: list[tuple[int, int]] = []
    stack = [(0, len(der))]
    while stack:
        pos, end = stack.pop()
        while pos < end:
            try:
                identifier, _, start, stop = read_header(der, pos, end)
            except DerError:
                break
            if identifier & 0x20:
                stack.append((start, stop))
            elif stop > start:
                spans.append((start, stop))
            pos = stop
    return spans


@st.composite
def mutants(draw: st.DrawFn, der: bytes) -> bytes:
    """``der`` changed by one to four edits (framing-keeping rewrites are the likeliest)."""
    out = bytearray(der)
    for _ in range(draw(st.integers(1, 4), label="edits")):
        kind = draw(st.sampled_from(["rewrite", "rewrite", "flip", "insert", "delete", "repeat"]))
        if kind == "rewrite" and (spans := primitive_spans(bytes(out))):
            start, stop = draw(st.sampled_from(spans))
            out[start:stop] = draw(st.binary(min_size=stop - start, max_size=stop - start))
            continue
        at = draw(st.integers(0, max(len(out) - 1, 0)), label="at")
        if kind == "flip" and out:
            out[at] ^= draw(st.integers(1, 255), label="mask")
        elif kind == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del out[at : at + draw(st.integers(1, 16))]
        else:
            size = draw(st.integers(1, 64))
            out[at:at] = out[at : at + size]
    if draw(st.booleans(), label="truncate"):
        out = out[: draw(st.integers(0, len(out)), label="cut")]
    return bytes(out)


def assert_named(result: TokenVerification) -> None:
    """Every check is there, by name; every failure says why, none by the catch-all."""
    assert [c.name for c in result.checks] == list(TOKEN_CHECKS)
    for check in result.checks:
        if check.status is CheckStatus.FAILED:
            assert check.detail
        assert not any(words in check.detail for words in CATCH_ALL), check


_FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_FUZZ
@given(data=st.data())
def test_mutated_tokens_give_named_checks(seeds: list[Seed], data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(seeds), label="seed")
    mutant = data.draw(mutants(seed.der), label="mutant")
    result = seed.verify(mutant)
    assert_named(result)
    if mutant != seed.der and seed.name != "hostile":
        # The seeds are valid; a change to their bytes may keep them valid only
        # where the token is malleable (docs/token-checks.md), never silently.
        assert result.ok or result.failures


@_FUZZ
@given(data=st.data(), blob=st.binary(max_size=4096))
def test_random_bytes_give_named_checks(
    seeds: list[Seed], data: st.DataObject, blob: bytes
) -> None:
    seed = data.draw(st.sampled_from(seeds), label="seed")
    result = seed.verify(blob)
    assert_named(result)
    assert not result.ok


@pytest.fixture(scope="module")
def certificates() -> list[bytes]:
    chain = x509.load_pem_x509_certificates((FIXTURES / "ts_chain.pem").read_bytes())
    hostile = hostile_token(4)
    return [c.public_bytes(Encoding.DER) for c in (*chain, *hostile.cas, hostile.root)]


def _load(der: bytes) -> x509.Certificate | None:
    try:
        with warnings.catch_warnings():  # e.g. a serial number that is not positive
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return x509.load_der_x509_certificate(der)
    except (ValueError, x509.InvalidVersion):  # what cryptography refuses never gets here
        return None


@_FUZZ
@given(data=st.data())
def test_chain_search_on_mutated_certificates_stays_bounded(
    certificates: list[bytes], data: st.DataObject
) -> None:
    pool = [
        cert
        for der in data.draw(st.lists(st.sampled_from(certificates), min_size=1, max_size=12))
        if (cert := _load(data.draw(st.one_of(st.just(der), mutants(der))))) is not None
    ]
    if not pool:
        return
    leaf = data.draw(st.sampled_from(pool), label="leaf")
    roots = data.draw(st.lists(st.sampled_from(pool), max_size=3), label="roots")
    at = data.draw(
        st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC))
    )
    result = build_chain(leaf, roots=roots, intermediates=pool, at=at)
    assert isinstance(result, ChainResult)
    assert result.ok == bool(result.path)
    assert result.detail
    assert result.issuers_tried <= MAX_ISSUER_TRIES
    assert result.signatures_checked <= MAX_SIGNATURE_CHECKS


# --------------------------------------------------------------- numbers too long to print

# A positive INTEGER of 2,000 octets: more than Python's 4,300-digit limit for
# printing an int in decimal, which used to raise ValueError inside the checks.
HUGE = tlv(0x02, b"\x01" + b"\x00" * 1999)


@pytest.mark.parametrize(
    ("path", "check"),
    [
        pytest.param((0, 0), CHECK_STATUS, id="PKIStatus"),
        pytest.param((1, 1, 0, 0), CHECK_SIGNED_DATA_VERSION, id="SignedData-version"),
        pytest.param((1, 1, 0, -1, 0, 0), CHECK_SIGNER_INFO_VERSION, id="SignerInfo-version"),
    ],
)
def test_numbers_too_long_to_print_give_the_named_failure(
    seeds: list[Seed], path: tuple[int, ...], check: str
) -> None:
    seed = seeds[0]  # the notary's response
    assert element_at(seed.der, path).tag == 0x02
    result = seed.verify(replace(seed.der, path, HUGE))
    assert_named(result)
    assert result.first_failure is not None and result.first_failure.name == check
    assert "0x1000000" in result.first_failure.detail
