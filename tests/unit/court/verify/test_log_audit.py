"""The log auditor (court-verify audit-log's checks), fed a replayed log directly."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from court.evidence.leaf_v2 import decode_public_leaf, encode_public_leaf
from court.verify.checkpoint import parse_checkpoint, parse_verifier_key
from court.verify.compact_range import RootBuilder
from court.verify.log_audit import (
    AUDIT_CHECKS,
    CHECK_CHAINS,
    CHECK_CONSISTENT,
    CHECK_LEAVES,
    CHECK_LISTED,
    CHECK_MAP,
    CHECK_SIGNATURES,
    CHECK_TREE,
    LogAuditor,
)
from court.verify.result import CheckStatus, Verdict
from court.verify.rfc6962 import leaf_hash
from gateway.log.checkpoint import make_verifier_key
from tests.support import replay_log
from tests.support.merkle_reference import mth
from tests.support.replay_log import SIZES, ReplayLog


def audit(log: ReplayLog, checkpoints: list[str] | None = None) -> Verdict:
    """Feed the log to an auditor as the CLI does: leaves up to each checkpoint's size."""
    auditor = LogAuditor(parse_verifier_key(log.vkey))
    for note, proof in zip(checkpoints or log.checkpoints, log.proofs, strict=True):
        size = parse_checkpoint(note).size
        if size > auditor.replayed:
            auditor.add_leaves(auditor.replayed, log.leaves[auditor.replayed : size])
        auditor.checkpoint(note, proof)
    return auditor.verdict()


@pytest.mark.parametrize("count", [0, 1, 2, 3, 5, 8, 13, 64, 100])
def test_root_builder_matches_the_reference_tree_hash(count: int) -> None:
    entries = [b"%d" % i for i in range(count)]
    builder = RootBuilder()
    for i, entry in enumerate(entries):
        assert builder.root() == mth(entries[:i])
        builder.append(leaf_hash(entry))
    assert builder.root() == mth(entries)
    assert builder.size == count


def test_a_faithful_log_passes_every_check() -> None:
    verdict = audit(replay_log.build())
    assert verdict.ok, verdict.as_dicts()
    assert verdict.names == AUDIT_CHECKS
    assert all(c.passed for c in verdict), verdict.as_dicts()
    assert verdict[CHECK_MAP].detail.startswith(f"{len(SIZES)} checkpoint map roots")
    assert verdict[CHECK_LEAVES].detail.startswith("20 leaves replayed")


def test_a_map_root_that_does_not_follow_from_the_leaves_is_caught() -> None:
    log = replay_log.build()
    size = SIZES[2]
    wrong = bytes(32 * [0x5A])
    root = mth(log.leaves[:size])
    notes = list(log.checkpoints)
    notes[2] = log.sign(size, root, wrong)  # properly signed, wrong map root
    verdict = audit(log, notes)
    assert verdict.first_failure is not None
    assert verdict.first_failure.name == CHECK_MAP
    assert f"size {size} carries map root {wrong.hex()}" in verdict[CHECK_MAP].detail
    assert verdict[CHECK_SIGNATURES].passed and verdict[CHECK_TREE].passed


def test_a_checkpoint_dropping_the_map_line_is_caught() -> None:
    log = replay_log.build()
    size = SIZES[3]
    notes = list(log.checkpoints)
    notes[3] = log.sign(size, mth(log.leaves[:size]), None)
    verdict = audit(log, notes)
    assert verdict[CHECK_MAP].failed
    assert "has no loan-map/v1 line" in verdict[CHECK_MAP].detail


def test_a_root_that_is_not_the_leaves_root_is_caught() -> None:
    log = replay_log.build()
    notes = list(log.checkpoints)
    notes[1] = log.sign(SIZES[1], b"\x01" * 32, replay_log.map_root(log.leaves, SIZES[1]))
    verdict = audit(log, notes)
    assert verdict[CHECK_TREE].failed
    assert verdict[CHECK_CONSISTENT].failed  # the proofs are for the true roots


def test_a_checkpoint_signed_by_another_key_is_caught() -> None:
    log = replay_log.build()
    other = replay_log.build()
    other.key = Ed25519PrivateKey.from_private_bytes(b"\x08" * 32)
    notes = list(log.checkpoints)
    size = SIZES[0]
    notes[0] = other.sign(size, mth(log.leaves[:size]), replay_log.map_root(log.leaves, size))
    verdict = audit(log, notes)
    assert verdict[CHECK_SIGNATURES].failed
    assert verdict[CHECK_SIGNATURES].detail.startswith("the first checkpoint listed: ")


def test_a_log_key_of_another_log_fails_the_signatures_not_the_listing() -> None:
    """An operator's wrong --trust folder: every checkpoint was listed, none verifies.
    The first failed check, the one the last line names, is the signatures'."""
    log = replay_log.build()
    other = Ed25519PrivateKey.from_private_bytes(b"\x08" * 32).public_key()
    auditor = LogAuditor(parse_verifier_key(make_verifier_key(replay_log.ORIGIN, other)))
    auditor.add_leaves(0, log.leaves)
    for note in log.checkpoints:
        auditor.checkpoint(note, None)
    verdict = auditor.verdict()
    first = verdict.first_failure
    assert first is not None and first.name == CHECK_SIGNATURES, verdict.as_dicts()
    assert verdict[CHECK_LISTED].status is CheckStatus.NOT_RUN
    assert verdict[CHECK_LISTED].detail == f"{len(SIZES)} listed, none signed by the log key"


def test_a_gap_in_a_loan_chain_is_caught() -> None:
    leaves = replay_log.make_leaves(SIZES[-1])
    # Leaf 9 skips a sequence number of its loan (the map still takes it as the head).
    public = decode_public_leaf(leaves[9])
    leaves[9] = encode_public_leaf(replace(public, loan_sequence=public.loan_sequence + 1))
    verdict = audit(replay_log.build(leaves))
    assert verdict[CHECK_CHAINS].failed
    assert verdict[CHECK_CHAINS].detail.startswith("leaf 9 has loan sequence")
    assert verdict[CHECK_MAP].passed  # the map is still a function of these leaves


def test_checkpoints_out_of_order_and_no_checkpoint_fail_listed() -> None:
    log = replay_log.build()
    verdict = audit(log, [log.checkpoints[1], log.checkpoints[0], *log.checkpoints[2:]])
    assert verdict[CHECK_LISTED].failed
    empty = LogAuditor(parse_verifier_key(log.vkey)).verdict()
    assert empty[CHECK_LISTED].failed
    assert empty[CHECK_TREE].status is CheckStatus.NOT_RUN
    assert not empty.ok


def test_leaves_served_from_the_wrong_index_stop_the_replay() -> None:
    log = replay_log.build()
    auditor = LogAuditor(parse_verifier_key(log.vkey))
    auditor.add_leaves(1, log.leaves[1:3])
    auditor.checkpoint(log.checkpoints[0], None)
    verdict = auditor.verdict()
    assert verdict[CHECK_LEAVES].failed
    assert verdict[CHECK_TREE].failed
