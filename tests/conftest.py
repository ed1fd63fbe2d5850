"""Session-wide fixtures: one development PKI per key type, made by `notary pki init`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from notary.pki import init_pki

# CI (CI=true) runs a fixed set of examples, so a verdict never depends on the
# draw; local runs keep exploring new examples and print how to reproduce them.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")


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
