"""A real ledger's records of two loans, as bundles and dossiers (tests.support.bundle_builder).

Built once per module with a real Ledger and token source on the session's P-256
PKI; the ledger is closed before any test runs, so every verification here reads
files and data only, with no gateway running.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from evidence_gateway.v1 import bundle_pb2
from gateway.model import Receipt, Submission
from tests.support.bundle_builder import bundle_message, dossier_message, trust_dir
from tests.support.ledger_env import Env, sub, submit


@dataclass(frozen=True)
class Made:
    """What the ledger produced: two loans' receipts, bundles and a dossier per loan."""

    pki: Path
    trust: Path
    loan1: list[Receipt]
    loan2: list[Receipt]
    documents: dict[str, bytes]  # entry id -> document
    bundle: bundle_pb2.EvidenceBundle  # loan 1, record #2, anchored at size ANCHORED
    dossier: bundle_pb2.Dossier  # loan 1, anchored at the latest size
    dossier2: bundle_pb2.Dossier  # loan 2, no anchor
    size: int

    def bundle_copy(self) -> bundle_pb2.EvidenceBundle:
        copy = bundle_pb2.EvidenceBundle()
        copy.CopyFrom(self.bundle)
        return copy

    def dossier_copy(self) -> bundle_pb2.Dossier:
        copy = bundle_pb2.Dossier()
        copy.CopyFrom(self.dossier)
        return copy


ANCHORED = 3  # the anchored checkpoint's size: after loan 1's third record


def _one(env_ledger: object, s: Submission) -> Receipt:
    result = submit(env_ledger, [s])[0]  # type: ignore[arg-type]
    assert isinstance(result, Receipt), result
    return result


@pytest.fixture(scope="module")
def made(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> Made:
    folder = tmp_path_factory.mktemp("bundles")
    env = Env(pki_p256, folder)
    ledger = env.open()
    try:
        documents: dict[str, bytes] = {}
        loan1: list[Receipt] = []
        loan2: list[Receipt] = []
        for i in range(1, 6):
            data = f"loan one, document {i}".encode()
            r = _one(ledger, sub(f"a{i}", loan="L-1", data=data))
            documents[r.entry_id] = data
            loan1.append(r)
            if i in (2, 4):
                data2 = f"loan two, document {i}".encode()
                r2 = _one(ledger, sub(f"b{i}", loan="L-2", data=data2))
                documents[r2.entry_id] = data2
                loan2.append(r2)
        fix = b"loan one, document 2, corrected"
        r6 = _one(ledger, sub("a6", loan="L-1", data=fix, supersedes=loan1[1].entry_id))
        documents[r6.entry_id] = fix
        loan1.append(r6)
        size = ledger.size
        made = Made(
            pki=pki_p256,
            trust=trust_dir(pki_p256, folder / "trust"),
            loan1=loan1,
            loan2=loan2,
            documents=documents,
            bundle=bundle_message(ledger, loan1[1], pki_p256, anchored_size=ANCHORED),
            dossier=dossier_message(
                ledger,
                loan1,
                pki_p256,
                superseded_by={loan1[1].entry_id: [r6.entry_id]},
                anchored_size=size,
            ),
            dossier2=dossier_message(ledger, loan2, pki_p256),
            size=size,
        )
    finally:
        asyncio.run(ledger.close())
        env.opened.remove(ledger)
    return made
