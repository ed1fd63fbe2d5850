"""Court-side receipt verification: every named check, on a real receipt.

The receipt is built the way the gateway builds one (``tests.support.receipt_log``):
a token from the notary engine, the canonical leaf naming it, a Merkle log and
a checkpoint signed with the log key. Tests may import server code;
:mod:`court.verify.receipt` may not (checked below).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from court.cli import main as court_verify
from court.evidence.leaf_v2 import derive_loan_key, record_commitment
from court.evidence.opening import LeafOpening
from court.verify.receipt import (
    ANCHOR_CHECKS,
    CHECK_CHECKPOINT,
    CHECK_CONSISTENCY,
    CHECK_LEAF_DIGEST,
    CHECK_LEAF_FORMAT,
    CHECK_LEAF_OPENING,
    CHECK_LEAF_TOKEN,
    CHECK_RECEIPT_CHECKPOINT,
    CHECK_RECEIPT_FIELDS,
    CHECK_RECEIPT_INCLUSION,
    NEWER_CHECKS,
    RECEIPT_CHECKS,
    Outcome,
    verify_receipt,
)
from court.verify.record import (
    RECORD_CHECKS,
    ReceiptInput,
    RecordVerification,
    verify_record,
)
from court.verify.result import CheckStatus
from court.verify.steps import CHECK_RECEIPT_MATCHES
from court.verify.token import CHECK_IMPRINT, CHECK_SIGNATURE, TOKEN_CHECKS
from evidence_gateway.v1 import common_pb2
from gateway.log.checkpoint import make_verifier_key, sign_checkpoint
from tests.support.receipt_log import (
    DOCUMENT,
    ENTRY_ID,
    INDEX,
    NEWER,
    SIZE,
    Log,
)


def failed(result: Any) -> set[str]:
    return {c.name for c in result.checks if c.status is CheckStatus.FAILED}


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


# ------------------------------------------------------------------------ good


def test_good_receipt_passes_every_check(log: Log) -> None:
    result = verify_receipt(**log.kwargs())
    assert result.ok and result.outcome is Outcome.VALID, result.failures
    assert [c.name for c in result.checks] == [*TOKEN_CHECKS, *RECEIPT_CHECKS]
    for name in RECEIPT_CHECKS:
        if name not in NEWER_CHECKS + ANCHOR_CHECKS:
            assert result.verdict[name].passed, result.verdict[name]
    for name in NEWER_CHECKS:
        assert result.verdict[name].status is CheckStatus.NOT_RUN
        assert "no newer checkpoint" in result.verdict[name].detail
    assert result.leaf is not None and result.leaf.entry_id == ENTRY_ID
    assert result.checkpoint is not None and result.checkpoint.size == SIZE
    assert result.newer_checkpoint is None


@pytest.mark.parametrize("hash_algorithm", [None, "sha256", "SHA256"])
def test_good_receipt_for_the_document_itself(log: Log, hash_algorithm: str | None) -> None:
    result = verify_receipt(**log.kwargs(digest=None, data=DOCUMENT, hash_algorithm=hash_algorithm))
    assert result.ok, result.failures
    assert (
        "the document's digest and the token's imprint" in result.verdict[CHECK_LEAF_DIGEST].detail
    )


def test_newer_checkpoint_and_consistency_proof(log: Log) -> None:
    result = verify_receipt(
        **log.kwargs(newer_checkpoint=log.newer, consistency_proof=log.consistency)
    )
    assert result.ok, result.failures
    assert all(result.verdict[name].passed for name in RECEIPT_CHECKS if name not in ANCHOR_CHECKS)
    assert result.newer_checkpoint is not None and result.newer_checkpoint.size == NEWER
    assert f"size {NEWER} extends the receipt's of size {SIZE}" in (
        result.verdict[CHECK_CONSISTENCY].detail
    )
    # The receipt's own checkpoint as the "newer" one: same size, empty proof.
    same = verify_receipt(**log.kwargs(newer_checkpoint=log.checkpoint))
    assert same.ok, same.failures


# -------------------------------------------------------------------- tampering


def _opened(log: Log) -> LeafOpening:
    assert log.opening is not None
    return log.opening


def _commitment(log: Log) -> bytes:
    return record_commitment(_opened(log).private_record)


def _loan_key(log: Log) -> bytes:
    return derive_loan_key(_opened(log).loan_salt, "bank-a", "loan-42")


def _opening_with(log: Log, needle: bytes, offset: int) -> LeafOpening:
    """The opening with one bit of ``needle`` in its private record flipped."""
    record = _opened(log).private_record
    at = record.index(needle) + offset
    return replace(_opened(log), private_record=flip(record, at))


def _leaf_offset(log: Log, needle: bytes) -> int:
    at = log.leaf.index(needle)
    assert log.leaf.count(needle) == 1
    return at


def _tamper_cases() -> list[tuple[str, Callable[[Log], dict[str, Any]], set[str]]]:
    sha = hashlib.sha256
    return [
        (
            "leaf structure byte",
            lambda g: g.kwargs(leaf=flip(g.leaf, 0)),
            {CHECK_LEAF_FORMAT, CHECK_RECEIPT_INCLUSION},
        ),
        (
            "leaf commitment byte",  # the digest is in the opened private record only
            lambda g: g.kwargs(leaf=flip(g.leaf, _leaf_offset(g, _commitment(g)) + 5)),
            {CHECK_LEAF_OPENING, CHECK_RECEIPT_INCLUSION},
        ),
        (
            "leaf loan key byte",
            lambda g: g.kwargs(leaf=flip(g.leaf, _leaf_offset(g, _loan_key(g)))),
            {CHECK_LEAF_OPENING, CHECK_RECEIPT_INCLUSION},
        ),
        (
            "opening digest byte",  # canonical, but not what the leaf commits to
            lambda g: g.kwargs(opening=_opening_with(g, sha(DOCUMENT).digest(), 3)),
            {CHECK_LEAF_OPENING},
        ),
        (
            "opening of another loan",
            lambda g: g.kwargs(opening=replace(_opened(g), loan_salt=b"\x07" * 32)),
            {CHECK_LEAF_OPENING},
        ),
        (
            "leaf token hash byte",
            lambda g: g.kwargs(leaf=flip(g.leaf, _leaf_offset(g, sha(g.token).digest()))),
            {CHECK_LEAF_TOKEN, CHECK_RECEIPT_INCLUSION},
        ),
        (
            "leaf entry id byte",  # still canonical, still names the document and the token
            lambda g: g.kwargs(leaf=flip(g.leaf, _leaf_offset(g, b"entry-2") + 6)),
            {CHECK_RECEIPT_FIELDS, CHECK_RECEIPT_INCLUSION},
        ),
        (
            "token signature byte",
            lambda g: g.kwargs(token=flip(g.token, len(g.token) - 3)),
            {CHECK_SIGNATURE, CHECK_LEAF_TOKEN},
        ),
        (
            "proof node",
            lambda g: g.kwargs(inclusion_proof=[flip(g.proof[0], 0), *g.proof[1:]]),
            {CHECK_RECEIPT_INCLUSION},
        ),
        (
            "proof node missing",
            lambda g: g.kwargs(inclusion_proof=g.proof[:-1]),
            {CHECK_RECEIPT_INCLUSION},
        ),
        (
            "checkpoint signature",
            lambda g: g.kwargs(checkpoint=_flip_signature(g.checkpoint)),
            {CHECK_RECEIPT_CHECKPOINT},
        ),
        (
            "checkpoint body (size)",
            lambda g: g.kwargs(checkpoint=g.checkpoint.replace(f"\n{SIZE}\n", f"\n{SIZE + 1}\n")),
            {CHECK_RECEIPT_CHECKPOINT},
        ),
        (
            "wrong log key",
            lambda g: g.kwargs(
                log_verifier_key=make_verifier_key(
                    g.origin, Ed25519PrivateKey.generate().public_key()
                )
            ),
            {CHECK_RECEIPT_CHECKPOINT},
        ),
        (
            "malformed log key",
            lambda g: g.kwargs(log_verifier_key="not a key"),
            {CHECK_RECEIPT_CHECKPOINT},
        ),
        (
            "wrong digest",
            lambda g: g.kwargs(digest=sha(b"another document").digest()),
            {CHECK_IMPRINT, CHECK_LEAF_DIGEST},
        ),
        (
            "wrong document",
            lambda g: g.kwargs(digest=None, data=b"another document"),
            {CHECK_IMPRINT, CHECK_LEAF_DIGEST},
        ),
        (
            "wrong algorithm",
            lambda g: g.kwargs(digest=None, data=DOCUMENT, hash_algorithm="sha512"),
            {CHECK_IMPRINT, CHECK_LEAF_DIGEST},
        ),
        ("wrong index", lambda g: g.kwargs(leaf_index=INDEX + 1), {CHECK_RECEIPT_INCLUSION}),
        ("index beyond size", lambda g: g.kwargs(leaf_index=SIZE), {CHECK_RECEIPT_INCLUSION}),
        ("wrong size", lambda g: g.kwargs(tree_size=SIZE + 1), {CHECK_RECEIPT_INCLUSION}),
        (
            "newer checkpoint signature",
            lambda g: g.kwargs(
                newer_checkpoint=_flip_signature(g.newer), consistency_proof=g.consistency
            ),
            {CHECK_CHECKPOINT},
        ),
        (
            "consistency proof node",
            lambda g: g.kwargs(
                newer_checkpoint=g.newer,
                consistency_proof=[*g.consistency[:-1], flip(g.consistency[-1], 7)],
            ),
            {CHECK_CONSISTENCY},
        ),
        (
            "no consistency proof",
            lambda g: g.kwargs(newer_checkpoint=g.newer),
            {CHECK_CONSISTENCY},
        ),
        (
            "newer checkpoint is older",
            lambda g: g.kwargs(
                checkpoint=g.newer,
                tree_size=NEWER,
                inclusion_proof=g.newer_proof,
                copies=g.copies_for(g.newer),
                newer_checkpoint=g.checkpoint,
            ),
            {CHECK_CONSISTENCY},
        ),
        (
            "newer checkpoint of a forked log",
            lambda g: g.kwargs(
                newer_checkpoint=sign_checkpoint(g.origin, NEWER, b"\1" * 32, g.log_key, g.origin),
                consistency_proof=g.consistency,
            ),
            {CHECK_CONSISTENCY},
        ),
    ]


def _flip_signature(note: str) -> str:
    body, sep, signature = note.rpartition("\n\n")
    line = signature.rstrip("\n")
    b64 = line[-10]
    swapped = "A" if b64 != "A" else "B"
    return body + sep + line[:-10] + swapped + line[-9:] + "\n"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [pytest.param(m, e, id=name) for name, m, e in _tamper_cases()],
)
def test_tampering_fails_on_its_named_check(
    log: Log, mutate: Callable[[Log], dict[str, Any]], expected: set[str]
) -> None:
    result = verify_receipt(**mutate(log))
    assert not result.ok and result.outcome is Outcome.INVALID
    assert failed(result) == expected, [c for c in result.checks if not c.passed]


def test_a_failed_receipt_checkpoint_blocks_what_depends_on_it(log: Log) -> None:
    result = verify_receipt(
        **log.kwargs(
            checkpoint=_flip_signature(log.checkpoint),
            newer_checkpoint=log.newer,
            consistency_proof=log.consistency,
        )
    )
    assert failed(result) == {CHECK_RECEIPT_CHECKPOINT}
    for name in (CHECK_RECEIPT_INCLUSION, CHECK_CONSISTENCY):
        assert result.verdict[name].status is CheckStatus.NOT_RUN
        assert CHECK_RECEIPT_CHECKPOINT in result.verdict[name].detail
    assert result.verdict[CHECK_CHECKPOINT].passed


def test_garbage_is_reported_not_raised(log: Log) -> None:
    result = verify_receipt(
        **log.kwargs(leaf=b"", token=b"\x30", checkpoint="", inclusion_proof=[b"x"])
    )
    assert result.outcome is Outcome.INVALID
    assert [c.name for c in result.checks] == [*TOKEN_CHECKS, *RECEIPT_CHECKS]
    assert {CHECK_LEAF_FORMAT, CHECK_RECEIPT_CHECKPOINT} <= failed(result)


@pytest.mark.parametrize(
    "changes",
    [
        {"digest": None},  # neither digest nor data
        {"data": DOCUMENT},  # both
        {"hash_algorithm": None},  # a digest without its algorithm
        {"hash_algorithm": "md5"},
        {"hash_algorithm": "sha512"},  # a 32-byte digest
        {"consistency_proof": []},  # without a newer checkpoint
    ],
)
def test_programming_errors_raise_value_error(log: Log, changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        verify_receipt(**log.kwargs(**changes))


def test_the_court_check_imports_nothing_of_the_server() -> None:
    code = (
        "import sys, court.verify.receipt\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('gateway', 'notary', 'evidence_gateway', 'grpc', 'google')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------- verify_record


def _verify_record(log: Log, receipt: ReceiptInput | None) -> RecordVerification:
    return verify_record(
        log.record(),
        roots=log.roots,
        log_verifier_key=log.vkey,
        checkpoint=log.newer,
        inclusion_proof=log.newer_proof,
        receipt=receipt,
        consistency_proof=log.consistency if receipt is not None else None,
    )


def test_record_without_and_with_a_held_receipt(log: Log) -> None:
    alone = _verify_record(log, None)
    assert alone.outcome is Outcome.VALID, alone.verdict.failures
    assert [c.name for c in alone.checks] == [*TOKEN_CHECKS, *RECORD_CHECKS]
    assert all(alone.verdict[n].status is CheckStatus.NOT_RUN for n in RECORD_CHECKS[6:])
    held = _verify_record(log, log.held())
    assert held.outcome is Outcome.VALID, held.verdict.failures
    assert [c.name for c in held.checks] == [*TOKEN_CHECKS, *RECORD_CHECKS]
    assert held.receipt is not None and held.receipt.ok  # verify_receipt's own verdict


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"entry_id": "entry-3"}, {CHECK_RECEIPT_MATCHES}),
        ({"proof": ()}, {CHECK_RECEIPT_INCLUSION}),
        ({"checkpoint": "garbage"}, {CHECK_RECEIPT_CHECKPOINT}),
        ({"leaf_index": INDEX + 1}, {CHECK_RECEIPT_MATCHES, CHECK_RECEIPT_INCLUSION}),
    ],
)
def test_record_with_a_bad_held_receipt(
    log: Log, changes: dict[str, Any], expected: set[str]
) -> None:
    result = _verify_record(log, log.held(**changes))
    assert result.outcome is Outcome.INVALID
    assert failed(result) == expected


# ---------------------------------------------------------- court-verify receipt (edge)


@pytest.fixture
def files(log: Log, pki_p256: Path, tmp_path: Path) -> dict[str, Path]:
    receipt = log.receipt_message()
    paths = {
        "receipt": tmp_path / "receipt.pb",
        "doc": tmp_path / "contract.pdf",
        "other": tmp_path / "other.pdf",
        "ca": pki_p256 / "root-ca.pem",
        "vkey": tmp_path / "log.vkey",
    }
    paths["receipt"].write_bytes(receipt.SerializeToString())
    paths["doc"].write_bytes(DOCUMENT)
    paths["other"].write_bytes(b"another document")
    paths["vkey"].write_text(log.vkey + "\n")
    return paths


def _cli(files: dict[str, Path], *args: str, receipt: str = "receipt") -> list[str]:
    return [
        "receipt",
        str(files[receipt]),
        "--ca",
        str(files["ca"]),
        "--log-key",
        str(files["vkey"]),
        *args,
    ]


def test_cli_valid_invalid_and_every_check_printed(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert court_verify(_cli(files, "--file", str(files["doc"]))) == 0
    out = capsys.readouterr().out.splitlines()
    for name in (*TOKEN_CHECKS, *RECEIPT_CHECKS):
        assert any(line[6:].startswith(name) for line in out), name
    assert out[-1].startswith(f"VALID: entry entry-{INDEX} of loan loan-42")
    digest = hashlib.sha256(DOCUMENT).hexdigest()
    assert court_verify(_cli(files, "--digest", digest)) == 0
    capsys.readouterr()
    assert court_verify(_cli(files, "--file", str(files["other"]))) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == f"INVALID: {CHECK_IMPRINT}"
    assert f"FAIL  {CHECK_LEAF_DIGEST}" in "\n".join(out)


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (lambda f: f["receipt"].write_bytes(b"\xff\xff\xff"), (), "not a serialized"),
        (lambda f: f["receipt"].write_bytes(b""), (), "no leaf, timestamp_token"),
        (lambda f: f["receipt"].unlink(), (), "cannot read receipt"),
        (lambda f: f["vkey"].write_text("not a key\n"), (), "holds no C2SP verifier key"),
        (None, ("--digest", "zz"), "must be hexadecimal"),
        (None, ("--digest", "00" * 20), "matches no SHA-2 size"),
        (None, ("--digest", "00" * 32, "--hash", "sha512"), "cannot verify with these"),
    ],
)
def test_cli_input_errors_exit_2(
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    setup: Callable[[dict[str, Path]], object] | None,
    args: tuple[str, ...],
    message: str,
) -> None:
    if setup is not None:
        setup(files)
    what = args or ("--file", str(files["doc"]))
    assert court_verify(_cli(files, *what)) == 2
    assert message in capsys.readouterr().err


def test_cli_receipt_contradicting_itself_exits_2(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = common_pb2.Receipt.FromString(files["receipt"].read_bytes())
    receipt.leaf_index = INDEX + 1
    files["receipt"].write_bytes(receipt.SerializeToString())
    assert court_verify(_cli(files, "--file", str(files["doc"]))) == 2
    assert "contradicts itself" in capsys.readouterr().err
