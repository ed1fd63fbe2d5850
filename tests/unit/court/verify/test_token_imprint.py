"""court.verify.token: verifying by document, the token's imprint algorithm must be accepted.

With ``data=`` the document is hashed with the token's own imprint algorithm,
so without an allow-list a token over a SHA-1 or MD5 imprint would match its
document, collisions included. Our notary refuses such requests, so the tokens
here are made by stock ``openssl ts -reply`` with a TSA that accepts them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from court.verify.token import (
    CHECK_IMPRINT,
    IMPRINT_ALGORITHMS,
    TokenVerification,
    verify_timestamp,
)
from tests.support.openssl_tsa import (
    TestPki,
    make_query,
    make_reply,
    make_tsa_pki,
    write_tsa_config,
)

DOCUMENT = b"a debt-collection visit report"
WEAK = {"sha1": "sha1", "md5": "1.2.840.113549.2.5"}  # as the token result names them


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestPki, Path]:
    folder = tmp_path_factory.mktemp("weak-imprints")
    pki = make_tsa_pki(folder, "ec", label="Weak Imprint")
    config = write_tsa_config(folder / "tsa.cnf", digests=("sha256", "sha1", "md5"))
    return pki, config


def stamp(tsa: tuple[TestPki, Path], hash_name: str) -> bytes:
    pki, config = tsa
    digest = hashlib.new(hash_name, DOCUMENT).digest()
    query = make_query(config.parent / f"{hash_name}.tsq", digest=digest, hash_name=hash_name)
    return make_reply(query, config=config, signer=pki.tsa, out=config.parent / hash_name)


def verify(tsa: tuple[TestPki, Path], token: bytes) -> TokenVerification:
    pki, _ = tsa
    return verify_timestamp(
        token, roots=[pki.root.certificate], untrusted=pki.untrusted, data=DOCUMENT
    )


def test_sha256_imprint_verifies_by_document(tsa: tuple[TestPki, Path]) -> None:
    """Control: the same TSA, an accepted algorithm."""
    result = verify(tsa, stamp(tsa, "sha256"))
    assert result.ok, result.failures
    assert result.check(CHECK_IMPRINT).detail.startswith("sha256:")


@pytest.mark.parametrize("hash_name", sorted(WEAK))
def test_weak_imprint_fails_by_document(tsa: tuple[TestPki, Path], hash_name: str) -> None:
    assert hash_name not in IMPRINT_ALGORITHMS
    result = verify(tsa, stamp(tsa, hash_name))
    assert result.hash_algorithm == WEAK[hash_name]
    assert result.imprint == hashlib.new(hash_name, DOCUMENT).digest()  # it is the document's
    assert [c.name for c in result.failures] == [CHECK_IMPRINT]
    detail = result.check(CHECK_IMPRINT).detail
    assert detail == f"imprint hash algorithm {WEAK[hash_name]} is not accepted"
