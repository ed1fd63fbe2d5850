"""VerifyEvidence answers cannot be forged by a signer's certificate subject.

The real ledger's TSA is swapped for one whose certificate subject (issued by
the development root the server trusts) carries a fake report line, terminal
escapes and bidi characters (``tests.support.hostile_pki``). The answer's
check names and details must hold none of them raw: each is shown escaped.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import verification_service_pb2 as vf
from gateway.api.verification import ALL_CHECKS
from gateway.tsa import EngineTokenSource
from tests.support.grpc_client import submission
from tests.support.hostile_pki import expected_escape, hostile_engine, hostile_subject
from tests.unit.gateway.api.conftest import Harness

SUBJECT = hostile_subject().rfc4514_string()


def _register(harness: Harness, pki: Path, state: Path) -> common_pb2.Receipt:
    # Without roots: the engine's own start-up probe would pass anyway (the root
    # is the one the server trusts); the court's checks run on VerifyEvidence.
    harness.tsa.inner = EngineTokenSource(hostile_engine(pki, state))
    harness.tsa.owns_inner = True
    s = submission("loan-hostile", digest=hashlib.sha256(b"hostile").digest())
    return harness.evidence.SubmitEvidence(ev.SubmitEvidenceRequest(submission=s)).receipt


def _assert_escaped(response: vf.VerifyEvidenceResponse) -> None:
    assert [c.name for c in response.checks] == list(ALL_CHECKS)
    for check in response.checks:
        assert check.name.isprintable() and check.detail.isprintable(), check
    signer = next(c for c in response.checks if c.name == "Signer certificate found")
    assert expected_escape(SUBJECT) in signer.detail
    assert "\\n  PASS  Chain valid at genTime  ok\\nVALID:" in signer.detail


def test_valid_answer_shows_the_subject_escaped(
    harness: Harness, pki_p256: Path, tmp_path: Path
) -> None:
    receipt = _register(harness, pki_p256, tmp_path / "hostile-tsa")
    response = harness.verification.VerifyEvidence(
        vf.VerifyEvidenceRequest(entry_id=receipt.entry_id, receipt=receipt)
    )
    assert response.verdict == vf.VERDICT_VALID, response.checks
    _assert_escaped(response)


def test_invalid_answer_shows_the_subject_escaped(
    harness: Harness, pki_p256: Path, tmp_path: Path
) -> None:
    receipt = _register(harness, pki_p256, tmp_path / "hostile-tsa")
    forged = common_pb2.Receipt()
    forged.CopyFrom(receipt)
    forged.loan_sequence = 2
    response = harness.verification.VerifyEvidence(
        vf.VerifyEvidenceRequest(entry_id=receipt.entry_id, receipt=forged)
    )
    assert response.verdict == vf.VERDICT_INVALID
    _assert_escaped(response)
