"""A bundle from a real ledger verifies, and each tampering fails on its named check.

These tests only read files and data: the ledger that made the bundles was closed
before they run (conftest), so they also show verification needs no gateway.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from court.bundles import read_bundle
from court.evidence.leaf_v2 import decode_public_leaf, encode_public_leaf
from court.trust import read_trust_dir
from court.verify.anchor import (
    EVIDENCE_ANCHOR_CODE_SHA256,
    ChainView,
    OnChainAnchor,
    checkpoint_hash_of,
)
from court.verify.bundle import ANCHOR_STEPS, BUNDLE_CHECKS, BundleVerification, verify_bundle
from court.verify.checkpoint import parse_checkpoint
from court.verify.steps import Outcome
from court.verify.token import TOKEN_CHECKS
from evidence_gateway.v1 import bundle_pb2
from gateway.log.checkpoint import sign_checkpoint
from tests.support.bundle_builder import to_json
from tests.support.tsa import make_engine
from tests.unit.court.bundles.conftest import ANCHORED, Made


def run(made: Made, message: bundle_pb2.EvidenceBundle, **kw: object) -> BundleVerification:
    trust = read_trust_dir(made.trust)
    bundle = read_bundle(to_json(message))
    return verify_bundle(bundle, roots=trust.roots, log_key=trust.log_key, **kw)  # type: ignore[arg-type]


def fails_on(result: BundleVerification, name: str) -> None:
    assert result.outcome is Outcome.INVALID
    first = result.verdict.first_failure
    assert first is not None and first.name == name, (first, [c for c in result.checks if c.failed])


def test_a_real_bundle_is_valid_and_every_check_is_named(made: Made) -> None:
    result = run(made, made.bundle)
    assert result.ok, [c for c in result.checks if not c.passed]
    assert set(result.verdict.names) == {*TOKEN_CHECKS, *BUNDLE_CHECKS}
    # offline: the anchored checkpoint checks ran, the chain's did not
    assert result.verdict["Consistency to anchored checkpoint"].passed
    assert result.anchored is not None and result.anchored.size == ANCHORED
    for name in ANCHOR_STEPS[2:]:
        assert not result.verdict[name].passed and not result.verdict[name].failed


def test_with_the_document_and_with_its_digest(made: Made) -> None:
    doc = made.documents[made.loan1[1].entry_id]
    assert run(made, made.bundle, data=doc).ok
    digest = hashlib.sha256(doc).digest()
    assert run(made, made.bundle, digest=digest, hash_algorithm="sha256").ok


def test_a_changed_document_byte(made: Made) -> None:
    doc = bytearray(made.documents[made.loan1[1].entry_id])
    doc[0] ^= 1
    result = run(made, made.bundle, data=bytes(doc))
    fails_on(result, "Imprint matches")
    assert result.verdict["Leaf digest matches"].failed


def test_a_token_from_another_tsa(made: Made, tmp_path: Path) -> None:
    other = make_engine(tmp_path / "other-pki", tmp_path / "serials")
    doc = made.documents[made.loan1[1].entry_id]
    message = made.bundle_copy()
    message.record.timestamp_token = other.issue("sha256", hashlib.sha256(doc).digest()).token
    result = run(made, message)
    fails_on(result, "Chain valid at genTime")
    assert result.verdict["Leaf names token"].failed


def test_a_token_over_another_digest(made: Made, tmp_path: Path) -> None:
    # the same TSA key and certificate, a token over another document
    engine = make_engine(made.pki, tmp_path / "serials")
    message = made.bundle_copy()
    message.record.timestamp_token = engine.issue("sha256", hashlib.sha256(b"other").digest()).token
    fails_on(run(made, message), "Imprint matches")


def test_a_leaf_with_one_field_changed(made: Made) -> None:
    message = made.bundle_copy()
    leaf = decode_public_leaf(message.record.leaf)
    later = leaf.received_at.replace(microsecond=(leaf.received_at.microsecond + 1000) % 10**6)
    message.record.leaf = encode_public_leaf(dataclasses.replace(leaf, received_at=later))
    result = run(made, message)
    fails_on(result, "Inclusion proof valid")
    assert result.verdict["Leaf opening matches"].passed  # the commitment is untouched


def test_a_wrong_inclusion_path(made: Made) -> None:
    message = made.bundle_copy()
    hashes = message.record.inclusion_proof.hashes
    hashes[0] = bytes([hashes[0][0] ^ 1]) + hashes[0][1:]
    fails_on(run(made, message), "Inclusion proof valid")


def test_a_checkpoint_signed_by_another_key(made: Made) -> None:
    message = made.bundle_copy()
    held = parse_checkpoint(message.checkpoint.signed_note)
    message.checkpoint.signed_note = sign_checkpoint(
        held.origin,
        held.size,
        held.root_hash,
        Ed25519PrivateKey.generate(),
        held.origin,
        held.extensions,
    )
    result = run(made, message)
    fails_on(result, "Checkpoint signature valid")
    assert not result.verdict["Inclusion proof valid"].passed


def test_copies_of_the_checkpoint_that_differ_from_the_note(made: Made) -> None:
    message = made.bundle_copy()
    message.checkpoint.size += 1
    fails_on(run(made, message), "Checkpoint fields match note")


def test_an_entry_id_that_is_not_the_leafs(made: Made) -> None:
    message = made.bundle_copy()
    message.record.entry_id = made.loan1[0].entry_id
    fails_on(run(made, message), "Record fields match leaf")


def test_a_wrong_consistency_proof_to_the_anchor(made: Made) -> None:
    message = made.bundle_copy()
    hashes = message.anchor.consistency_proof.hashes
    hashes[-1] = bytes(32)
    fails_on(run(made, message), "Consistency to anchored checkpoint")


def test_an_anchored_checkpoint_signed_by_another_key(made: Made) -> None:
    message = made.bundle_copy()
    held = parse_checkpoint(message.anchor.anchor.checkpoint.signed_note)
    message.anchor.anchor.checkpoint.signed_note = sign_checkpoint(
        held.origin, held.size, held.root_hash, Ed25519PrivateKey.generate(), held.origin
    )
    fails_on(run(made, message), "Anchored checkpoint signature valid")


def test_an_anchor_that_does_not_hold_the_record(made: Made) -> None:
    # loan 1's last record is after the anchored size: its bundle with that anchor fails
    message = made.bundle_copy()
    last = made.loan1[-1]
    assert last.leaf_index >= ANCHORED
    other = bundle_pb2.EvidenceBundle()
    other.CopyFrom(message)
    dossier_record = next(r for r in made.dossier.records if r.entry_id == last.entry_id)
    other.record.CopyFrom(dossier_record)
    other.record.ClearField("superseded_by")
    fails_on(run(made, other), "Consistency to anchored checkpoint")


def test_without_opening_a_bundle_is_inconclusive(made: Made) -> None:
    message = made.bundle_copy()
    message.record.ClearField("opening")
    result = run(made, message)
    assert result.outcome is Outcome.INCONCLUSIVE
    assert not result.verdict["Leaf opening matches"].passed
    assert result.verdict["Imprint matches"].detail.startswith("the record is withheld")


@pytest.mark.parametrize("kind", ["leaf", "token"])
def test_garbage_leaf_or_token_is_a_failed_check_not_a_crash(made: Made, kind: str) -> None:
    message = made.bundle_copy()
    if kind == "leaf":
        message.record.leaf = b"\x30\x03\x02\x01\x09"
        fails_on(run(made, message), "Leaf well-formed")
    else:
        message.record.timestamp_token = b"\x30\x00"
        fails_on(run(made, message), "DER well-formed")


def _view(made: Made, message: bundle_pb2.EvidenceBundle, **changes: object) -> ChainView:
    note = message.anchor.anchor.checkpoint.signed_note
    held = parse_checkpoint(note)
    anchor = OnChainAnchor(
        number=0,
        tree_size=held.size,
        root_hash=held.root_hash,
        checkpoint_hash=checkpoint_hash_of(note),
        block_time=1,
        block_number=message.anchor.anchor.block_number,
    )
    fields: dict[str, object] = {
        "anchor": anchor,
        "head": 9,
        "pinned_key": read_trust_dir(made.trust).log_key,
        "named": 0,
        "count": 1,
        "chain_id": 31337,
        "code_sha256": EVIDENCE_ANCHOR_CODE_SHA256,
    }
    fields.update(changes)
    return ChainView(**fields)  # type: ignore[arg-type]


def test_with_the_chain_view_every_anchor_check_passes(made: Made) -> None:
    result = run(made, made.bundle, view=_view(made, made.bundle), confirmations=2)
    assert result.ok, [c for c in result.checks if not c.passed]
    assert all(result.verdict[name].passed for name in ANCHOR_STEPS)
    assert result.on_chain is not None
    assert result.on_chain.block_number == made.bundle.anchor.anchor.block_number


def test_a_chain_that_holds_another_root(made: Made) -> None:
    view = _view(made, made.bundle)
    assert view.anchor is not None
    other = dataclasses.replace(view.anchor, root_hash=bytes(32))
    result = run(made, made.bundle, view=dataclasses.replace(view, anchor=other))
    fails_on(result, "Anchored root matches checkpoint")


def test_a_file_that_names_another_block_or_size_than_the_chain_s(made: Made) -> None:
    """The certificate shows the anchor's block and size: they must be the chain's."""
    view = _view(made, made.bundle)
    assert view.anchor is not None
    block = dataclasses.replace(view.anchor, block_number=view.anchor.block_number + 5)
    result = run(made, made.bundle, view=dataclasses.replace(view, anchor=block))
    fails_on(result, "Anchor found on chain")
    assert "as the file says" in result.verdict["Anchor found on chain"].detail
    message = bundle_pb2.EvidenceBundle()
    message.CopyFrom(made.bundle)
    message.anchor.anchor.tree_size += 1
    fails_on(run(made, message, view=_view(made, made.bundle)), "Anchor found on chain")


def test_a_contract_that_pins_another_key(made: Made) -> None:
    result = run(made, made.bundle, view=_view(made, made.bundle, pinned_key="x+01234567+AQ=="))
    fails_on(result, "Log key pinned on chain")
