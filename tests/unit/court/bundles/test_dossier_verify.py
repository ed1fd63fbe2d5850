"""A dossier from a real ledger verifies; each tampering fails on its named check.

Only files and data are read: the ledger that made the dossiers was closed before
these tests run (conftest), so verification needs no gateway.
"""

from __future__ import annotations

from court.bundles import read_dossier
from court.trust import read_trust_dir
from court.verify.bundle import BUNDLE_CHECKS
from court.verify.case_history import CASE_CHECKS
from court.verify.checkpoint import parse_checkpoint
from court.verify.dossier import LOAN_CHECKS, DossierVerification, verify_dossier
from court.verify.loanmap import MAP_LINE_PREFIX
from court.verify.result import CheckStatus
from court.verify.steps import Outcome
from court.verify.token import TOKEN_CHECKS
from court.verify.x509chain import ChainMemo
from evidence_gateway.v1 import bundle_pb2
from gateway.log.checkpoint import sign_checkpoint
from notary.pki import load_log_signing_key
from tests.support.bundle_builder import checkpoint_message, to_json
from tests.unit.court.bundles.conftest import Made


def run(
    made: Made, message: bundle_pb2.Dossier, memo: ChainMemo | None = None
) -> DossierVerification:
    trust = read_trust_dir(made.trust)
    dossier = read_dossier(to_json(message))
    return verify_dossier(dossier, roots=trust.roots, log_key=trust.log_key, memo=memo)


def fails_on(result: DossierVerification, name: str) -> None:
    assert result.outcome is Outcome.INVALID
    first = result.verdict.first_failure
    assert first is not None and first.name == name, (first, [c for c in result.checks if c.failed])


def test_a_real_dossier_is_valid_and_every_check_is_named(made: Made) -> None:
    result = run(made, made.dossier)
    assert result.ok, [c for c in result.checks if not c.passed]
    assert set(result.verdict.names) == {
        *TOKEN_CHECKS,
        *BUNDLE_CHECKS,
        *LOAN_CHECKS,
        *CASE_CHECKS,
    }
    for name in CASE_CHECKS:  # a loan without a case: the case checks do not apply
        assert result.verdict[name].status is CheckStatus.NOT_RUN
    assert len(result.records) == len(made.loan1) == 6
    assert "1 correction(s)" in result.verdict["Supersession consistent"].detail
    assert run(made, made.dossier2).ok


def test_the_tsa_chain_is_checked_once_for_all_records(made: Made) -> None:
    memo = ChainMemo()
    result = run(made, made.dossier, memo)
    assert result.ok
    assert memo.signatures_checked == 1  # the TSA certificate by the root, once for 6 tokens
    assert all(r.token is not None and r.token.chain for r in result.records)


def test_the_last_record_removed(made: Made) -> None:
    message = made.dossier_copy()
    del message.records[-1]
    message.records[1].ClearField("superseded_by")  # its correction went with it
    fails_on(run(made, message), "Loan head is last record")


def test_a_middle_record_removed(made: Made) -> None:
    message = made.dossier_copy()
    del message.records[2]
    fails_on(run(made, message), "Loan records chained without gaps")


def test_two_records_swapped(made: Made) -> None:
    message = made.dossier_copy()
    first, second = bundle_pb2.BundledRecord(), bundle_pb2.BundledRecord()
    first.CopyFrom(message.records[2])
    second.CopyFrom(message.records[3])
    message.records[2].CopyFrom(second)
    message.records[3].CopyFrom(first)
    fails_on(run(made, message), "Loan records chained without gaps")


def test_a_map_proof_for_another_loan(made: Made) -> None:
    message = made.dossier_copy()
    message.loan_head.CopyFrom(made.dossier2.loan_head)
    result = run(made, message)
    fails_on(result, "Loan head proof valid")
    assert "loan key" in result.verdict["Loan head proof valid"].detail


def test_a_map_proof_with_a_wrong_sibling(made: Made) -> None:
    message = made.dossier_copy()
    message.loan_head.siblings[0] = b"\x01" * 32
    fails_on(run(made, message), "Loan head proof valid")


def test_a_record_of_another_loan_appended(made: Made) -> None:
    message = made.dossier_copy()
    message.records.append(made.dossier2.records[0])
    fails_on(run(made, message), "Loan records chained without gaps")


def test_a_checkpoint_without_the_map_line(made: Made) -> None:
    message = made.dossier_copy()
    held = parse_checkpoint(message.checkpoint.signed_note)
    lines = [e for e in held.extensions if not e.startswith(MAP_LINE_PREFIX)]
    note = sign_checkpoint(  # the log's own key, the same tree, but no loan map line
        held.origin, held.size, held.root_hash, load_log_signing_key(made.pki), held.origin, lines
    )
    message.checkpoint.CopyFrom(checkpoint_message(note))
    result = run(made, message)
    assert result.verdict["Loan map line present"].failed
    assert result.outcome is Outcome.INVALID


def test_a_correction_not_listed(made: Made) -> None:
    message = made.dossier_copy()
    message.records[1].ClearField("superseded_by")
    fails_on(run(made, message), "Supersession consistent")


def test_a_listed_correction_that_is_not_one(made: Made) -> None:
    message = made.dossier_copy()
    message.records[0].superseded_by.append(message.records[3].entry_id)
    fails_on(run(made, message), "Supersession consistent")


def test_a_withheld_record_still_proves_its_place(made: Made) -> None:
    message = made.dossier_copy()
    message.records[2].ClearField("opening")
    result = run(made, message)
    assert result.ok, [c for c in result.checks if not c.passed]
    assert result.records[2].opened is None
    assert "5 of 6 records" in result.verdict["Leaf opening matches"].detail


def test_one_bad_token_names_its_record(made: Made) -> None:
    message = made.dossier_copy()
    message.records[4].timestamp_token = b"\x30\x00"
    result = run(made, message)
    fails_on(result, "DER well-formed")
    assert "record #5" in result.verdict["DER well-formed"].detail


def test_a_withheld_record_without_its_token(made: Made) -> None:
    # the gateway shows a record the holder may not read as leaf and proof only
    message = made.dossier_copy()
    message.records[3].ClearField("opening")
    message.records[3].ClearField("timestamp_token")
    result = run(made, message)
    assert result.ok, [c for c in result.checks if not c.passed]
    assert result.records[3].token is None
    assert "5 of 6 records" in result.verdict["Signature valid"].detail
    # its place in the chain is still checked: a changed leaf breaks inclusion
    message.records[3].leaf = message.records[3].leaf[:-1] + bytes(
        [message.records[3].leaf[-1] ^ 1]
    )
    fails_on(run(made, message), "Inclusion proof valid")


def test_a_bundle_record_needs_its_token(made: Made) -> None:
    import pytest

    from court.bundles import read_bundle
    from court.files import InputError

    message = made.bundle_copy()
    message.record.ClearField("opening")
    message.record.ClearField("timestamp_token")
    with pytest.raises(InputError, match="timestampToken"):
        read_bundle(to_json(message))
