"""A receipt checked against its anchor on chain: verify_receipt with AnchorEvidence (pure),
the anchor file a court is given, and the options of `court-verify receipt`.

The chain's answers are built by hand here (the anchor of the log's newer
checkpoint of size NEWER, covering the receipt's of size SIZE);
tests/integration/test_anchor_court.py reads them from a real anvil node.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from court.anchors import MAX_ANCHOR_FILE_BYTES, read_anchor_file
from court.cli import main as court_verify
from court.files import InputError
from court.verify.anchor import (
    ANCHOR_CHECKS,
    CHECK_ANCHOR_CONFIRMATIONS,
    CHECK_ANCHOR_CONSISTENCY,
    CHECK_ANCHOR_FOUND,
    CHECK_ANCHOR_ROOT,
    CHECK_LOG_KEY_PINNED,
    EVIDENCE_ANCHOR_CODE_SHA256,
    ChainView,
    OnChainAnchor,
)
from court.verify.checkpoint import parse_checkpoint
from court.verify.receipt import (
    CHECK_RECEIPT_CHECKPOINT,
    RECEIPT_CHECKS,
    AnchorEvidence,
    Outcome,
    verify_receipt,
)
from court.verify.result import CheckStatus
from court.verify.token import TOKEN_CHECKS
from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import log_service_pb2 as lg
from tests.support.procs import free_port
from tests.support.receipt_log import NEWER, SIZE, Log

CODE = EVIDENCE_ANCHOR_CODE_SHA256


def _on_chain(log: Log, **changes: Any) -> OnChainAnchor:
    newer = parse_checkpoint(log.newer)
    fields: dict[str, Any] = {
        "number": 3,
        "tree_size": NEWER,
        "root_hash": newer.root_hash,
        "checkpoint_hash": hashlib.sha256(log.newer.encode()).digest(),
        "block_time": 1_790_000_000,
        "block_number": 40,
    }
    return OnChainAnchor(**{**fields, **changes})


def _evidence(log: Log, *, anchor: OnChainAnchor | None = None, **changes: Any) -> AnchorEvidence:
    fields: dict[str, Any] = {
        "view": ChainView(
            anchor=anchor or _on_chain(log), head=41, pinned_key=log.vkey, code_sha256=CODE
        ),
        "anchored_note": log.newer,
        "consistency_proof": tuple(log.consistency),
        "confirmations": 2,
    }
    return AnchorEvidence(**{**fields, **changes})


def _statuses(result: Any) -> dict[str, CheckStatus]:
    return {c.name: c.status for c in result.checks if c.name in ANCHOR_CHECKS}


def test_the_anchor_checks_come_last_and_are_not_run_without_an_anchor(log: Log) -> None:
    result = verify_receipt(**log.kwargs())
    assert [c.name for c in result.checks] == [*TOKEN_CHECKS, *RECEIPT_CHECKS]
    assert RECEIPT_CHECKS[-len(ANCHOR_CHECKS) :] == ANCHOR_CHECKS
    assert set(_statuses(result).values()) == {CheckStatus.NOT_RUN}
    assert result.outcome is Outcome.VALID  # not asked for: not needed
    assert result.anchor is None


def test_a_receipt_anchored_on_chain_is_valid(log: Log) -> None:
    result = verify_receipt(**log.kwargs(anchor=_evidence(log)))
    assert set(_statuses(result).values()) == {CheckStatus.PASSED}, result.checks
    assert result.outcome is Outcome.VALID
    assert result.anchor == _on_chain(log)


def test_the_same_size_needs_no_proof(log: Log) -> None:
    held = parse_checkpoint(log.checkpoint)
    same = _on_chain(
        log,
        tree_size=SIZE,
        root_hash=held.root_hash,
        checkpoint_hash=hashlib.sha256(log.checkpoint.encode()).digest(),
    )
    evidence = _evidence(log, anchor=same, anchored_note=log.checkpoint, consistency_proof=())
    assert verify_receipt(**log.kwargs(anchor=evidence)).outcome is Outcome.VALID


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        # The chain holds another root: the gateway's anchored checkpoint is not the one
        # on chain, and the proof from the receipt does not lead to the chain's root.
        (
            lambda log: {"anchor": _on_chain(log, root_hash=b"\x07" * 32)},
            {CHECK_ANCHOR_ROOT, CHECK_ANCHOR_CONSISTENCY},
        ),
        (lambda log: {"anchored_note": log.checkpoint}, {CHECK_ANCHOR_ROOT}),
        (
            lambda log: {"consistency_proof": tuple(reversed(log.consistency))},
            {CHECK_ANCHOR_CONSISTENCY},
        ),
        (
            lambda log: {
                "view": ChainView(_on_chain(log), 41, "other+12345678+AAAA", code_sha256=CODE)
            },
            {CHECK_LOG_KEY_PINNED},
        ),
    ],
)
def test_what_the_chain_contradicts_fails(log: Log, change: Any, failed: set[str]) -> None:
    result = verify_receipt(**log.kwargs(anchor=_evidence(log, **change(log))))
    assert {n for n, s in _statuses(result).items() if s is CheckStatus.FAILED} == failed
    assert result.outcome is Outcome.INVALID


def test_too_few_confirmations_yet_are_inconclusive(log: Log) -> None:
    result = verify_receipt(**log.kwargs(anchor=_evidence(log, confirmations=3)))
    assert _statuses(result)[CHECK_ANCHOR_CONFIRMATIONS] is CheckStatus.NOT_RUN
    assert result.outcome is Outcome.INCONCLUSIVE


def test_no_anchor_covering_it_yet_is_inconclusive(log: Log) -> None:
    evidence = replace(
        _evidence(log), view=ChainView(anchor=None, head=41, pinned_key=log.vkey, code_sha256=CODE)
    )
    result = verify_receipt(**log.kwargs(anchor=evidence))
    assert _statuses(result)[CHECK_ANCHOR_FOUND] is CheckStatus.NOT_RUN
    assert result.outcome is Outcome.INCONCLUSIVE


def test_a_bad_receipt_checkpoint_blocks_the_anchor_checks(log: Log) -> None:
    result = verify_receipt(**log.kwargs(checkpoint="garbage", anchor=_evidence(log)))
    assert set(_statuses(result).values()) == {CheckStatus.NOT_RUN}
    assert result.verdict[CHECK_RECEIPT_CHECKPOINT].failed
    assert result.outcome is Outcome.INVALID


# ---------------------------------------------------------------- the anchor file


def _anchor_file(tmp_path: Path, log: Log, **proof: Any) -> Path:
    newer = parse_checkpoint(log.newer)
    response = lg.GetAnchorResponse(
        anchor=common_pb2.Anchor(
            chain_id=31337,
            tree_size=NEWER,
            root_hash=newer.root_hash,
            checkpoint=common_pb2.Checkpoint(signed_note=log.newer, size=NEWER),
        )
    )
    if proof is not None:
        fields = {"from_size": SIZE, "to_size": NEWER, "hashes": log.consistency, **proof}
        response.consistency_proof.CopyFrom(common_pb2.ConsistencyProof(**fields))
    path = tmp_path / "anchor.pb"
    path.write_bytes(response.SerializeToString())
    return path


def test_a_good_anchor_file_is_read(log: Log, tmp_path: Path) -> None:
    response = read_anchor_file(_anchor_file(tmp_path, log), SIZE)
    assert list(response.consistency_proof.hashes) == log.consistency


@pytest.mark.parametrize(
    ("size", "proof", "message"),
    [
        (SIZE, {"from_size": 4}, "proves size 4 to 9, not the receipt's size 5"),
        (SIZE, {"hashes": [b"\0" * 32] * 65}, "at most 64"),
        (NEWER + 1, {}, "does not cover the receipt's checkpoint of size 10"),
    ],
)
def test_an_anchor_file_for_another_checkpoint_is_refused(
    log: Log, tmp_path: Path, size: int, proof: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message) as info:
        read_anchor_file(_anchor_file(tmp_path, log, **proof), size)
    assert "GetAnchor(tree_size=" in str(info.value) or "at most" in message


def test_an_anchor_file_without_the_proof_is_refused(log: Log, tmp_path: Path) -> None:
    path = _anchor_file(tmp_path, log)
    response = lg.GetAnchorResponse.FromString(path.read_bytes())
    response.ClearField("consistency_proof")
    path.write_bytes(response.SerializeToString())
    with pytest.raises(InputError, match="no consistency proof from the receipt's checkpoint"):
        read_anchor_file(path, SIZE)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xff\xff", "not a serialized evidence_gateway.v1.GetAnchorResponse"),
        (b"", "no anchor.checkpoint.signed_note"),
        (b"\0" * (MAX_ANCHOR_FILE_BYTES + 1), "at most 65536"),
    ],
)
def test_junk_is_not_an_anchor_file(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "anchor.pb"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        read_anchor_file(path, SIZE)


# ---------------------------------------------------------------- court-verify options


@pytest.fixture
def cli_args(log: Log, pki_p256: Path, tmp_path: Path) -> list[str]:
    receipt = tmp_path / "receipt.pb"
    receipt.write_bytes(log.receipt_message().SerializeToString())
    vkey = tmp_path / "log.vkey"
    vkey.write_text(log.vkey + "\n")
    document = hashlib.sha256(b"loan contract, signed").hexdigest()
    return [
        "receipt",
        str(receipt),
        "--digest",
        document,
        "--ca",
        str(pki_p256 / "root-ca.pem"),
        "--log-key",
        str(vkey),
    ]


ADDRESS = "0x" + "1" * 40
CHAIN = ("--chain-id", "31337")
ANCHOR_ARGS = ("--anchor", "{anchor}", "--rpc", "http://x", "--contract", ADDRESS, *CHAIN)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--anchor", "a.pb"), "--anchor needs --rpc and --contract and --chain-id"),
        (
            ("--confirmations", "3"),
            "--confirmations needs --anchor, --rpc, --contract and --chain-id",
        ),
        (("--rpc", "http://x", "--contract", ADDRESS, *CHAIN), "needs --anchor"),
        (
            ("--anchor", "{anchor}", "--rpc", "http://x", "--contract", ADDRESS),
            "needs --chain-id",
        ),
        (
            ("--anchor", "{anchor}", "--rpc", "http://x", "--contract", "0x12", *CHAIN),
            "--contract: contract address 0x12 is not 0x",
        ),
        (
            ("--anchor", "{anchor}", "--rpc", "ftp://x", "--contract", ADDRESS, *CHAIN),
            "--rpc must be an http:// or https:// URL",
        ),
        (
            (*ANCHOR_ARGS, "--confirmations", "0"),
            "--confirmations must be at least 1",
        ),
        (
            (*ANCHOR_ARGS[:-1], "0"),
            "--chain-id must be a positive chain id",
        ),
        (
            (*ANCHOR_ARGS[:-1], "4242"),
            "the anchor file's anchor is on chain id 31337 (''), not --chain-id 4242",
        ),
        (
            ("--anchor", "{anchor}", "--rpc", "{closed}", "--contract", ADDRESS, *CHAIN),
            "the anchor could not be checked: cannot reach chain node",
        ),
    ],
)
def test_bad_anchor_options_exit_2_saying_what_to_do(
    log: Log,
    tmp_path: Path,
    cli_args: list[str],
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    anchor = _anchor_file(tmp_path, log)
    closed = f"http://127.0.0.1:{free_port()}"
    filled = [a.format(anchor=anchor, closed=closed) for a in args]
    assert court_verify([*cli_args, *filled]) == 2
    assert message in capsys.readouterr().err


def test_an_anchor_file_saved_as_json_says_how_to_convert_it(log: Log, tmp_path: Path) -> None:
    """`buf curl ... GetAnchor` prints JSON; a court given that file is told how to make the
    binary one, as court-verify already says for a receipt kept as JSON."""
    from google.protobuf import json_format

    response = lg.GetAnchorResponse.FromString(_anchor_file(tmp_path, log).read_bytes())
    path = tmp_path / "anchor.json"
    path.write_text(json_format.MessageToJson(response))
    with pytest.raises(InputError) as info:
        read_anchor_file(path, SIZE)
    message = str(info.value)
    assert "JSON" in message and "buf convert" in message, message
    assert "evidence_gateway.v1.GetAnchorResponse --from" in message, message


def test_an_anchor_message_saved_alone_says_to_save_the_whole_response(
    log: Log, tmp_path: Path
) -> None:
    response = lg.GetAnchorResponse.FromString(_anchor_file(tmp_path, log).read_bytes())
    path = tmp_path / "anchor-alone.pb"
    path.write_bytes(response.anchor.SerializeToString())
    with pytest.raises(InputError) as info:
        read_anchor_file(path, SIZE)
    assert "Anchor alone" in str(info.value) and "GetAnchorResponse" in str(info.value)
