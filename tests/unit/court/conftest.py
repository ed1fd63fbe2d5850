"""A real receipt (tests.support.receipt_log) on the session's P-256 development PKI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.receipt_log import Log, build_log_on_pki
from tests.support.tsa import make_engine


@pytest.fixture(scope="module")
def log(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> Log:
    return build_log_on_pki(make_engine(pki_p256, tmp_path_factory.mktemp("tsa-state")), pki_p256)


@pytest.fixture(scope="module")
def log_v1(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> Log:
    """The same log with version 1 leaves (fields in clear), as earlier gateways wrote them."""
    engine = make_engine(pki_p256, tmp_path_factory.mktemp("tsa-state"))
    return build_log_on_pki(engine, pki_p256, version=1)
