"""gateway.components: trust material a configuration names, read with the court's reader."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from gateway.components import load_tsa_trust
from gateway.config import ConfigError, load_config
from notary.pki import load_tsa_signing_material


def test_unreadable_tsa_ca_files_are_config_errors(pki_p256: Path, tmp_path: Path) -> None:
    root = load_tsa_signing_material(pki_p256)[2][0].public_bytes(Encoding.DER)
    base = dataclasses.replace(
        load_config(None, environ={}), tsa_urls=("http://127.0.0.1:9/",), data_dir=tmp_path
    )
    good = tmp_path / "root.der"
    good.write_bytes(root)
    roots, _ = load_tsa_trust(dataclasses.replace(base, tsa_ca_files=(good,)))
    assert [r.public_bytes(Encoding.DER) for r in roots] == [root]
    bad_version = tmp_path / "v9.der"
    bad_version.write_bytes(root.replace(bytes.fromhex("a003020102"), bytes.fromhex("a003020109")))
    for path, reason in (
        (bad_version, "not a valid X509 version"),
        (tmp_path / "missing.pem", "cannot read"),
    ):
        with pytest.raises(ConfigError, match=reason):
            load_tsa_trust(dataclasses.replace(base, tsa_ca_files=(path,)))
