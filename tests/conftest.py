"""Session-wide fixtures: one development PKI per key type, made by `notary pki init`."""

from __future__ import annotations

from pathlib import Path

import pytest

from notary.pki import init_pki


@pytest.fixture(scope="session")
def pki_p256(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki-p256") / "pki"
    init_pki(directory, key_type="p256")
    return directory


@pytest.fixture(scope="session")
def pki_rsa3072(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki-rsa") / "pki"
    init_pki(directory, key_type="rsa3072")
    return directory
