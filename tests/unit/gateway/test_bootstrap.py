"""The operator's registration at the gateway's first start is a log entry, like every
later registration: first the record, then the registry's row."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from court.evidence.leaf_v2 import PublicLeaf
from court.evidence.opening import decode_any_leaf, open_leaf
from gateway.access import change_document
from gateway.authz.roles import Role
from gateway.components import OPERATOR, institutions_registry, register_operator
from gateway.config import GatewayConfig
from gateway.errors import Unavailable
from gateway.ledger import Ledger
from gateway.model import Receipt
from gateway.store.base import InstitutionStore
from notary.pki import pki_paths
from tests.support.ledger_env import Env


@pytest.fixture
def env(pki_p256: Path, tmp_path: Path) -> Iterator[Env]:
    e = Env(pki_p256, tmp_path)
    yield e
    for ledger in list(e.opened):
        e.close(ledger)


class Start:
    """What `gateway serve` does at start, on one ledger; each call is one start."""

    def __init__(self, env: Env, ledger: Ledger) -> None:
        self.ledger = ledger
        registry = institutions_registry(ledger)
        assert registry is not None
        self.registry: InstitutionStore = registry
        self.config = GatewayConfig(data_dir=env.folder, tsa_pki_dir=env.pki)
        self.cas = [x509.load_pem_x509_certificate(pki_paths(env.pki).root.read_bytes())]
        self.receipts: list[Receipt] = []
        self.record_fails = False

    async def _record(self, *args: Any) -> Receipt:
        if self.record_fails:
            raise Unavailable("the TSA is unavailable; retry")
        receipt = await self.ledger.record_institution_change(*args)
        self.receipts.append(receipt)
        return receipt

    def __call__(self, registry: InstitutionStore | None = None) -> None:
        asyncio.run(
            register_operator(registry or self.registry, self.config, self.cas, self._record)
        )


def _log_size(ledger: Ledger) -> int:
    note = ledger.checkpoint()
    return int(note.splitlines()[1])


def test_the_first_registration_is_a_log_entry_of_the_operator(env: Env) -> None:
    start = Start(env, env.open())
    assert _log_size(start.ledger) == 0
    start()
    operator = start.registry.get(OPERATOR)
    assert operator is not None and operator.role is Role.ADMIN
    (receipt,) = start.receipts
    public = decode_any_leaf(receipt.leaf)
    assert isinstance(public, PublicLeaf) and receipt.opening is not None
    leaf = open_leaf(public, receipt.opening)
    assert (leaf.kind, leaf.owner, leaf.submitter, leaf.loan_ref) == (
        "institution_changed",
        OPERATOR,
        OPERATOR,
        ":institutions",
    )
    assert leaf.metadata == (("change", "register"), ("institution", OPERATOR))
    assert leaf.digest == hashlib.sha256(change_document(OPERATOR, "register")).digest()
    assert (receipt.leaf_index, receipt.loan_sequence) == (0, 1)  # the log's first entry
    start()  # the next start: registered already, nothing recorded
    assert len(start.receipts) == 1 and _log_size(start.ledger) == 1


def test_no_registration_without_its_record_and_a_retry_finds_the_same_record(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    start = Start(env, env.open())
    start.record_fails = True
    with caplog.at_level(logging.WARNING, logger="gateway.components"):
        start()
    assert "the TSA is unavailable" in caplog.text and "restart the gateway" in caplog.text
    assert start.registry.get(OPERATOR) is None and _log_size(start.ledger) == 0
    start.record_fails = False

    class CreateFails:
        """The registry, whose row cannot be written (the gateway stops in between)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(start.registry, name)

        def create(self, *args: Any) -> Any:
            raise Unavailable("the institutions registry is unavailable; retry")

    start(CreateFails())  # type: ignore[arg-type]
    assert start.registry.get(OPERATOR) is None and _log_size(start.ledger) == 1
    start()  # the next start: the same record (same receipt), then the row
    first, again = start.receipts
    assert again == first and _log_size(start.ledger) == 1
    assert start.registry.get(OPERATOR) is not None


def test_a_certificate_registered_to_another_institution_is_not_recorded(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    from gateway.institutions import registered_certificate

    start = Start(env, env.open())
    pem = start.config.operator_cert_path.read_bytes()
    now = datetime.now(UTC)
    cert = registered_certificate(pem, OPERATOR, start.cas, now)
    start.registry.create("someone", Role.LENDER, replace(cert, institution="someone"), now)
    with caplog.at_level(logging.WARNING, logger="gateway.components"):
        start()
    assert "already registered to another institution" in caplog.text
    assert start.registry.get(OPERATOR) is None and _log_size(start.ledger) == 0
