"""A real receipt (tests.support.receipt_log) on the session's P-256 development PKI."""

from __future__ import annotations

from pathlib import Path

import pytest

from notary.pki import load_log_signing_key, load_log_verifier_key, load_tsa_signing_material
from tests.support.receipt_log import Log, build_log
from tests.support.tsa import make_engine


@pytest.fixture(scope="module")
def log(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> Log:
    return build_log(
        make_engine(pki_p256, tmp_path_factory.mktemp("tsa-state")),
        load_tsa_signing_material(pki_p256)[2],
        load_log_signing_key(pki_p256),
        load_log_verifier_key(pki_p256).origin,
    )
