"""court.files: reading the files a court is given fails with InputError, never another error."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from court.files import InputError, load_certificates
from notary.pki import load_tsa_signing_material

V3 = bytes.fromhex("a003020102")  # [0] EXPLICIT INTEGER 2 (v3)


def test_a_certificate_of_an_unknown_version_is_an_input_error(
    pki_p256: Path, tmp_path: Path
) -> None:
    der = load_tsa_signing_material(pki_p256)[1].public_bytes(Encoding.DER)
    assert der.count(V3) == 1
    path = tmp_path / "v9.der"
    path.write_bytes(der.replace(V3, bytes.fromhex("a003020109")))
    with pytest.raises(InputError, match=r"holds no readable certificate"):
        load_certificates(path)
    # The same certificate as it was loads.
    path.write_bytes(der)
    assert len(load_certificates(path)) == 1
