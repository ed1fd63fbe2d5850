"""court.verify.anchor: hand-made ABI encoding against the contract's ABI, strict decoding
of hostile answers, and the named anchor checks on real signed checkpoints."""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from hypothesis import given
from hypothesis import strategies as st

from court.verify import anchor as A
from court.verify.checkpoint import verify_checkpoint
from court.verify.result import Checklist, CheckStatus
from court.verify.steps import Outcome, outcome
from gateway.anchor.contract import load_artifact
from gateway.log.checkpoint import make_verifier_key, sign_checkpoint
from tests.support.merkle_reference import mth
from tests.support.merkle_reference import proof as consistency_proof

ORIGIN = "gateway.example/log"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
VKEY = make_verifier_key(ORIGIN, KEY.public_key())
CODE = A.EVIDENCE_ANCHOR_CODE_SHA256  # what eth_getCode hashes to at EvidenceAnchor
ENTRIES = [b"entry %d" % i for i in range(40)]
LOG_ID = A.log_id_of(VKEY)


def _function(name: str) -> dict[str, Any]:
    return next(e for e in load_artifact().abi if e.get("name") == name)


def _types(params: list[dict[str, Any]]) -> list[str]:
    out = []
    for p in params:
        if p["type"] == "tuple":
            out.append("(" + ",".join(_types(p["components"])) + ")")
        else:
            out.append(p["type"])
    return out


@pytest.mark.parametrize(
    ("selector", "name"),
    [
        (A.SELECTOR_FIRST_ANCHOR_COVERING, "firstAnchorCovering"),
        (A.SELECTOR_ANCHOR_AT, "anchorAt"),
        (A.SELECTOR_ANCHOR_COUNT, "anchorCount"),
        (A.SELECTOR_LATEST_ANCHOR, "latestAnchor"),
        (A.SELECTOR_VERIFIER_KEY_OF, "verifierKeyOf"),
    ],
)
def test_selectors_are_those_of_the_contract_abi(selector: bytes, name: str) -> None:
    entry = _function(name)
    signature = f"{name}({','.join(_types(entry['inputs']))})"
    assert keccak(text=signature)[:4] == selector


def test_calls_are_encoded_as_the_abi_encodes_them() -> None:
    def abi(name: str, *args: object) -> bytes:
        entry = _function(name)
        return keccak(text=f"{name}({','.join(_types(entry['inputs']))})")[:4] + abi_encode(
            _types(entry["inputs"]), list(args)
        )

    assert A.encode_first_anchor_covering(LOG_ID, 12345) == abi(
        "firstAnchorCovering", LOG_ID, 12345
    )
    assert A.encode_anchor_at(LOG_ID, 7) == abi("anchorAt", LOG_ID, 7)
    assert A.encode_latest_anchor(LOG_ID) == abi("latestAnchor", LOG_ID)
    assert A.encode_verifier_key_of(LOG_ID) == abi("verifierKeyOf", LOG_ID)
    for bad in (-1, 1 << 64, True, "1"):
        with pytest.raises(A.AnchorDataError):
            A.encode_first_anchor_covering(LOG_ID, bad)  # type: ignore[arg-type]
    with pytest.raises(A.AnchorDataError):
        A.encode_latest_anchor(b"short")


ANCHOR_FIELDS = (1000, b"\x11" * 32, b"\x22" * 32, 1_700_000_000, 42)


def _outputs(name: str, *values: object) -> bytes:
    return abi_encode(_types(_function(name)["outputs"]), list(values))


def test_answers_decode_as_the_abi_encodes_them() -> None:
    expected = A.OnChainAnchor(3, 1000, b"\x11" * 32, b"\x22" * 32, 1_700_000_000, 42)
    data = _outputs("firstAnchorCovering", True, 3, ANCHOR_FIELDS)
    assert A.decode_first_anchor_covering(data) == expected
    empty = _outputs("firstAnchorCovering", False, 0, (0, bytes(32), bytes(32), 0, 0))
    assert A.decode_first_anchor_covering(empty) is None
    assert A.decode_anchor_at(_outputs("anchorAt", ANCHOR_FIELDS), 3) == expected
    assert A.decode_latest_anchor(_outputs("latestAnchor", 3, ANCHOR_FIELDS)) == expected
    for key in ("", VKEY, "k" * 32, "é" * 100):
        assert A.decode_verifier_key_of(_outputs("verifierKeyOf", key)) == key


def _word(n: int) -> bytes:
    return n.to_bytes(32, "big")


@pytest.mark.parametrize(
    "data",
    [
        b"",  # no code at the address: eth_call answers 0x
        _outputs("firstAnchorCovering", True, 3, ANCHOR_FIELDS)[:-1],
        _outputs("firstAnchorCovering", True, 3, ANCHOR_FIELDS) + bytes(32),
        _word(2) + _outputs("firstAnchorCovering", True, 3, ANCHOR_FIELDS)[32:],  # bool 2
        _word(1) + _word(3) + _word(1 << 64) + bytes(128),  # treeSize beyond uint64
        _word(0) + _word(5) + bytes(160),  # not found, yet a number
    ],
)
def test_malformed_anchor_answers_are_refused(data: bytes) -> None:
    with pytest.raises(A.AnchorDataError):
        A.decode_first_anchor_covering(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        _word(32),
        _word(64) + _word(0),  # wrong offset
        _word(32) + _word(3) + b"abc",  # unpadded
        _word(32) + _word(3) + b"abc" + b"\x01" + bytes(28),  # dirty padding
        _word(32) + _word(2) + b"\xff\xfe" + bytes(30),  # not UTF-8
        _word(32) + _word(A.MAX_VERIFIER_KEY_BYTES + 1) + bytes(4128),
        _word(32) + _word(1 << 70),  # absurd length, few bytes
    ],
)
def test_malformed_key_answers_are_refused(data: bytes) -> None:
    with pytest.raises(A.AnchorDataError):
        A.decode_verifier_key_of(data)


@given(st.binary(max_size=400))
def test_decoders_refuse_or_decode_anything(data: bytes) -> None:
    for decode in (
        A.decode_first_anchor_covering,
        A.decode_latest_anchor,
        A.decode_verifier_key_of,
        lambda d: A.decode_anchor_at(d, 0),
    ):
        with contextlib.suppress(A.AnchorDataError):
            decode(data)


# ------------------------------------------------------------------ checks


def _note(size: int) -> str:
    return sign_checkpoint(ORIGIN, size, mth(ENTRIES[:size]), KEY, ORIGIN)


def _onchain(
    size: int, number: int = 2, block: int = 10, note: str | None = None
) -> A.OnChainAnchor:
    note = _note(size) if note is None else note
    return A.OnChainAnchor(
        number, size, mth(ENTRIES[:size]), A.checkpoint_hash_of(note), 1_700_000_000, block
    )


def _run(
    held_size: int = 10,
    anchor: A.OnChainAnchor | None = None,
    *,
    note: str | None = None,
    proof: list[bytes] | None = None,
    head: int = 15,
    pinned: str = VKEY,
    k: int = 6,
    no_note: bool = False,
) -> dict[str, CheckStatus]:
    held = verify_checkpoint(_note(held_size), VKEY)
    if anchor is None:
        anchor = _onchain(30)
    size = anchor.tree_size
    checks = Checklist()
    A.check_anchor(
        checks,
        held=held,
        log_verifier_key=VKEY,
        view=A.ChainView(anchor=anchor, head=head, pinned_key=pinned, code_sha256=CODE),
        anchored_note=None if no_note else (_note(size) if note is None else note),
        consistency_proof=consistency_proof(held_size, ENTRIES[:size]) if proof is None else proof,
        confirmations=k,
    )
    verdict = checks.verdict()
    assert verdict.names == A.ANCHOR_CHECKS
    return dict(verdict.statuses())


ALL_PASSED = dict.fromkeys(A.ANCHOR_CHECKS, CheckStatus.PASSED)


def test_an_anchored_checkpoint_passes_every_check() -> None:
    assert _run() == ALL_PASSED
    assert _run(held_size=30) == ALL_PASSED  # the anchored checkpoint itself: empty proof
    assert _run(head=15, k=6) == ALL_PASSED  # exactly K: blocks 10..15


def test_too_few_confirmations_are_not_run_yet() -> None:
    assert _run(head=14, k=6)[A.CHECK_ANCHOR_CONFIRMATIONS] is CheckStatus.NOT_RUN


def test_a_rewritten_history_is_caught_by_the_root_on_chain() -> None:
    """The chain holds the root of another history than the one the held checkpoint saw."""
    forked = [b"forked %d" % i for i in range(40)]
    fork_note = sign_checkpoint(ORIGIN, 30, mth(forked[:30]), KEY, ORIGIN)
    chain = A.OnChainAnchor(2, 30, mth(forked[:30]), A.checkpoint_hash_of(fork_note), 0, 10)
    result = _run(anchor=chain, note=fork_note, proof=consistency_proof(10, forked[:30]))
    assert result[A.CHECK_ANCHOR_CONSISTENCY] is CheckStatus.FAILED
    assert result[A.CHECK_ANCHOR_ROOT] is CheckStatus.PASSED  # the log did sign the fork


def test_a_root_changed_after_anchoring_is_caught() -> None:
    """The gateway serves a checkpoint and proof of a changed tree; the chain has the old root."""
    changed = [*ENTRIES[:20], b"changed", *ENTRIES[21:]]
    note = sign_checkpoint(ORIGIN, 30, mth(changed[:30]), KEY, ORIGIN)
    result = _run(note=note, proof=consistency_proof(10, changed[:30]))
    assert result[A.CHECK_ANCHOR_ROOT] is CheckStatus.FAILED
    assert result[A.CHECK_ANCHOR_CONSISTENCY] is CheckStatus.FAILED


def test_a_note_the_chain_does_not_hash_to_fails() -> None:
    other = _note(30) + "\n"  # not a valid note any more: signature check fails first
    assert _run(note=other)[A.CHECK_ANCHOR_ROOT] is CheckStatus.FAILED
    chain = _onchain(30)
    chain = A.OnChainAnchor(chain.number, 30, chain.root_hash, hashlib.sha256(b"x").digest(), 0, 10)
    assert _run(anchor=chain)[A.CHECK_ANCHOR_ROOT] is CheckStatus.FAILED


def test_a_note_signed_by_another_key_fails() -> None:
    other = Ed25519PrivateKey.from_private_bytes(bytes(32))
    note = sign_checkpoint(ORIGIN, 30, mth(ENTRIES[:30]), other, ORIGIN)
    assert _run(note=note)[A.CHECK_ANCHOR_ROOT] is CheckStatus.FAILED


def test_a_bad_proof_fails_consistency() -> None:
    proof = consistency_proof(10, ENTRIES[:30])
    proof[0] = bytes(32)
    assert _run(proof=proof)[A.CHECK_ANCHOR_CONSISTENCY] is CheckStatus.FAILED
    assert _run(proof=[])[A.CHECK_ANCHOR_CONSISTENCY] is CheckStatus.FAILED


def test_no_anchor_yet_is_not_run_and_inconclusive() -> None:
    held = verify_checkpoint(_note(31), VKEY)
    for view_anchor in (None, _onchain(30)):
        checks = Checklist()
        found = A.check_anchor(
            checks,
            held=held,
            log_verifier_key=VKEY,
            view=A.ChainView(anchor=view_anchor, head=100, pinned_key=VKEY, code_sha256=CODE),
            anchored_note=None,
            consistency_proof=[],
            confirmations=1,
        )
        assert found is None
        verdict = checks.verdict()
        assert verdict[A.CHECK_ANCHOR_FOUND].status is CheckStatus.NOT_RUN
        assert "verify again" in verdict[A.CHECK_ANCHOR_FOUND].detail
        assert not verdict.failures
        assert outcome(verdict, True, A.ANCHOR_CHECKS) is Outcome.INCONCLUSIVE


def test_the_log_key_must_be_pinned_on_the_contract() -> None:
    assert _run(pinned="")[A.CHECK_LOG_KEY_PINNED] is CheckStatus.FAILED
    other = make_verifier_key(ORIGIN, Ed25519PrivateKey.generate().public_key())
    result = _run(pinned=other + "\x1b[2J")
    assert result[A.CHECK_LOG_KEY_PINNED] is CheckStatus.FAILED


def test_a_hostile_pinned_key_is_quoted_escaped() -> None:
    held = verify_checkpoint(_note(10), VKEY)
    checks = Checklist()
    A.check_anchor(
        checks,
        held=held,
        log_verifier_key=VKEY,
        view=A.ChainView(anchor=None, head=1, pinned_key="evil\x1b[2J\nline", code_sha256=CODE),
        anchored_note=None,
        consistency_proof=[],
        confirmations=1,
    )
    detail = checks.verdict()[A.CHECK_LOG_KEY_PINNED].detail
    assert "\x1b" not in detail and "\n" not in detail


def test_without_the_anchored_note_the_root_check_is_not_run_but_consistency_is() -> None:
    result = _run(no_note=True)
    assert result[A.CHECK_ANCHOR_ROOT] is CheckStatus.NOT_RUN
    assert result[A.CHECK_ANCHOR_CONSISTENCY] is CheckStatus.PASSED


def test_confirmations_below_one_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        _run(k=0)


def test_the_chain_check_imports_nothing_of_the_server_nor_web3() -> None:
    import subprocess
    import sys

    code = (
        "import sys, court.verify.anchor, court.chainrpc\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('gateway', 'notary', 'evidence_gateway', 'grpc', 'google', 'web3', 'eth_abi', "
        "'eth_utils', 'eth_account', 'requests', 'sqlalchemy', 'sqlmodel')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_too_few_confirmations_yet_are_inconclusive_not_invalid() -> None:
    """Confirmations come with time: an anchor on chain that has fewer blocks on top than
    the court asks for is "not yet", like an anchor not found yet, not evidence that the
    receipt is invalid (court-verify printed "INVALID: Anchor confirmations")."""
    held = verify_checkpoint(_note(10), VKEY)
    checks = Checklist()
    A.check_anchor(
        checks,
        held=held,
        log_verifier_key=VKEY,
        view=A.ChainView(anchor=_onchain(30), head=14, pinned_key=VKEY, code_sha256=CODE),
        anchored_note=_note(30),
        consistency_proof=consistency_proof(10, ENTRIES[:30]),
        confirmations=6,
    )
    verdict = checks.verdict()
    assert verdict[A.CHECK_ANCHOR_CONFIRMATIONS].status is CheckStatus.NOT_RUN
    assert "verify again" in verdict[A.CHECK_ANCHOR_CONFIRMATIONS].detail
    assert outcome(verdict, True, A.ANCHOR_CHECKS) is Outcome.INCONCLUSIVE


def _named(view: A.ChainView, held_size: int = 10) -> dict[str, CheckStatus]:
    checks = Checklist()
    A.check_anchor(
        checks,
        held=verify_checkpoint(_note(held_size), VKEY),
        log_verifier_key=VKEY,
        view=view,
        anchored_note=_note(30),
        consistency_proof=consistency_proof(held_size, ENTRIES[:30]),
        confirmations=1,
    )
    verdict = checks.verdict()
    return {name: verdict[name].status for name in A.ANCHOR_CHECKS} | {
        "detail": verdict[A.CHECK_ANCHOR_FOUND].detail  # type: ignore[dict-item]
    }


def test_the_anchor_the_file_names_is_checked_and_the_chain_id_shown() -> None:
    result = _named(
        A.ChainView(_onchain(30), 100, VKEY, named=2, count=3, chain_id=31337, code_sha256=CODE)
    )
    assert {result[n] for n in A.ANCHOR_CHECKS} == {CheckStatus.PASSED}
    assert "chain id 31337" in str(result["detail"])


def test_an_anchor_number_not_on_the_node_yet_is_inconclusive() -> None:
    result = _named(A.ChainView(None, 100, VKEY, named=5, count=3, code_sha256=CODE))
    assert result[A.CHECK_ANCHOR_FOUND] is CheckStatus.NOT_RUN
    assert "anchor 5" in str(result["detail"]) and "3 anchor(s)" in str(result["detail"])


def test_a_named_anchor_that_does_not_cover_the_receipt_fails() -> None:
    """The file says its anchor covers the receipt; the chain's anchor of that number
    does not: the file disagrees with the chain."""
    result = _named(A.ChainView(_onchain(8), 100, VKEY, named=2, count=3, code_sha256=CODE))
    assert result[A.CHECK_ANCHOR_FOUND] is CheckStatus.FAILED
    assert result[A.CHECK_ANCHOR_ROOT] is CheckStatus.NOT_RUN


def test_the_pinned_code_hash_is_the_artifacts_runtime_code() -> None:
    """EvidenceAnchor's runtime code is fixed bytes (no metadata hash, no immutables): the
    court pins their SHA-256; recompiling a changed contract means changing the pin."""
    code = load_artifact().deployed_bytecode
    assert hashlib.sha256(code).digest() == A.EVIDENCE_ANCHOR_CODE_SHA256


@pytest.mark.parametrize("code", [hashlib.sha256(b"a look-alike").digest(), None])
def test_code_that_is_not_evidence_anchor_runs_nothing_else(code: bytes | None) -> None:
    """A look-alike contract (another code hash) fails the code check; code not read is
    not run. Either way nothing it answers is judged."""
    checks = Checklist()
    found = A.check_anchor(
        checks,
        held=verify_checkpoint(_note(10), VKEY),
        log_verifier_key=VKEY,
        view=A.ChainView(_onchain(30), 100, VKEY, code_sha256=code),
        anchored_note=_note(30),
        consistency_proof=consistency_proof(10, ENTRIES[:30]),
        confirmations=1,
    )
    verdict = checks.verdict()
    assert found is None and verdict.names == A.ANCHOR_CHECKS
    status = CheckStatus.FAILED if code else CheckStatus.NOT_RUN
    assert verdict[A.CHECK_CONTRACT_CODE].status is status
    assert {verdict[n].status for n in A.ANCHOR_CHECKS[1:]} == {CheckStatus.NOT_RUN}
    if code:
        assert code.hex() in verdict[A.CHECK_CONTRACT_CODE].detail
