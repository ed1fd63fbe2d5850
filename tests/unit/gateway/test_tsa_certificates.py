"""The TSA certificates a bundle carries: a certificate of an unknown X.509 version is not
taken for a root, and raises nothing (the court's verifier reports on it)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography import x509

from court.der import DerError, read_children, read_tlv
from gateway.tsa_certificates import TsaCertificates, embedded_certificates

CRASH = Path(__file__).parents[3] / "fuzz" / "corpus" / "bundle" / "crash-x509-version-30.json"


def test_a_certificate_of_an_unknown_version_is_no_root() -> None:
    certificates = json.loads(CRASH.read_text())["tsaCertificates"]
    ders = [base64.b64decode(c) for c in certificates]
    bad = [d for d in ders if _invalid_version(d)]
    assert bad, "the fuzz finding's file no longer holds a certificate of version 30"
    assert all(TsaCertificates([])._is_root(d) is False for d in bad)


def _invalid_version(der: bytes) -> bool:
    try:
        x509.load_der_x509_certificate(der)
    except x509.InvalidVersion:
        return True
    except ValueError:
        return False
    return False


def test_the_loader_still_refuses_that_version() -> None:
    """The case above is real: cryptography raises InvalidVersion, which is no ValueError."""
    assert not issubclass(x509.InvalidVersion, ValueError)
    with pytest.raises(x509.InvalidVersion):
        for c in json.loads(CRASH.read_text())["tsaCertificates"]:
            x509.load_der_x509_certificate(base64.b64decode(c))


BUNDLE = CRASH.with_name("ledger-bundle.json")


def _reference_certificates(token: bytes) -> tuple[bytes, ...]:
    """embedded_certificates as first written, copying each element (court.der's
    read_children): the offset walk must find the same, and fail the same."""
    try:
        content_info, _ = read_tlv(token)
        fields = read_children(content_info.contents)
        if len(fields) < 2:
            return ()
        (signed_data,) = read_children(fields[1].contents)
        for field in read_children(signed_data.contents)[3:]:
            if field.tag == 0xA0:
                return tuple(c.encoded for c in read_children(field.contents) if c.tag == 0x30)
    except (DerError, ValueError, IndexError):
        return ()
    return ()


def test_the_offset_walk_finds_what_the_copying_walk_finds() -> None:
    token = base64.b64decode(json.loads(BUNDLE.read_text())["record"]["timestampToken"])
    assert embedded_certificates(token), "the corpus token carries its signer's certificate"
    variants = [token, token + b"\x00", b"", b"\x30", b"\x30\x00"]
    variants += [token[:n] for n in range(0, len(token), 7)]
    for pos in range(0, min(len(token), 200)):
        for value in (0x00, 0x1F, 0x80, 0x84, 0xA0, 0xFF):
            variants.append(token[:pos] + bytes([value]) + token[pos + 1 :])
    for v in variants:
        assert embedded_certificates(v) == _reference_certificates(v)
