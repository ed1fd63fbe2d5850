"""The TSA certificates a bundle carries: a certificate of an unknown X.509 version is not
taken for a root, and raises nothing (the court's verifier reports on it)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography import x509

from gateway.tsa_certificates import TsaCertificates

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
