"""Fuzzing: whatever the input, the court's parsers raise only the court's own errors.

Every parser and verifier of the court library that takes evidence (signed
notes and checkpoints, verifier keys, the canonical leaf, receipt files and
receipt verification, Merkle proofs) gets random input and mutations of valid
input. Allowed outcomes: a result, or a :class:`court.errors.CourtError`
(subclass) with a message. `court-verify` on garbage files exits 2 with one
``court-verify: ...`` line (or 1 with an INVALID report, when the garbage
still parses), never with a traceback. The token verifier and ``court/der.py``
have their own fuzz tests.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import subprocess
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from court.cli import main as court_verify
from court.errors import CourtError
from court.evidence.leaf import HASH_OIDS, KIND_NUMBERS, decode_leaf, encode_leaf
from court.evidence.leaf_v2 import decode_private_record, encode_private_record, encode_public_leaf
from court.evidence.opening import LeafOpening, decode_any_leaf, open_leaf
from court.receipts import read_receipt, receipt_copies
from court.verify.checkpoint import (
    parse_checkpoint,
    parse_checkpoint_body,
    parse_signed_note,
    parse_verifier_key,
    verify_checkpoint,
    verify_note,
)
from court.verify.merkle import (
    root_from_consistency_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from court.verify.receipt import ReceiptCopies, verify_receipt
from evidence_gateway.v1 import common_pb2
from gateway.log.checkpoint import sign_note
from tests.support.leaf import LOAN_SALT, RECORD, hand_der, sample_leaf, sample_public_leaf
from tests.support.procs import BIN
from tests.support.receipt_log import DOCUMENT, Log

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_court_errors(call: Callable[[], object]) -> None:
    """Run ``call``; a CourtError with a message is fine, any other exception fails the test."""
    try:
        call()
    except CourtError as exc:
        assert str(exc), f"{type(exc).__name__} without a message"


@st.composite
def mutated(draw: st.DrawFn, valid: bytes, alphabet: st.SearchStrategy[bytes]) -> bytes:
    """``valid`` with up to 4 random edits: a slice replaced, removed, or grown."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(data)))
        stop = draw(st.integers(start, min(len(data), start + 8)))
        data[start:stop] = draw(alphabet)
    return bytes(data)


_NOTE_PIECES = st.one_of(
    st.binary(max_size=8),
    st.sampled_from([b"\n", b"\n\n", b" ", b"\xe2\x80\x94 ", b"+", b"=", b"0", b"\t", b"\r"]),
    st.integers(0, 6000).map(lambda n: b"9" * n),  # tree sizes of any number of digits
)


_SIZE_LINES = st.one_of(
    st.integers(0, 1 << 70).map(str),
    st.integers(0, 30).map(lambda n: "1" + "0" * n),
    st.integers(4290, 6000).map(lambda n: "9" * n),  # around Python's 4,300-digit limit
    st.text(alphabet="0123456789 +-\uff11", max_size=30),
    st.text(max_size=10),
)


def _root_lines(root: str) -> st.SearchStrategy[str]:
    encoded = st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode())
    return st.one_of(st.just(root), st.text(max_size=50), encoded)


def _root_lines(root: str) -> st.SearchStrategy[str]:
    encoded = st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode())
    return st.one_of(st.just(root), st.text(max_size=50), encoded)


@st.composite
def signed_notes(draw: st.DrawFn, log: Log, signed: bool | None = None) -> str:
    """A checkpoint note built from random lines, usually signed by the log's real key,
    so that every parser gets past the signature to the lines themselves."""
    root = base64.b64encode(parse_checkpoint(log.checkpoint).root_hash).decode()
    lines = [
        draw(st.one_of(st.just(log.origin), st.text(max_size=20))),
        draw(_SIZE_LINES),
        draw(_root_lines(root)),
        *draw(st.lists(st.text(max_size=20), max_size=3)),
    ]
    body = "\n".join(lines) + "\n"
    if signed if signed is not None else draw(st.booleans()):
        signature = sign_note(body, log.log_key, log.origin)[len(body) + 1 :]
    else:
        signature = draw(st.text(max_size=120))
    return body + "\n" + signature


def _note_inputs(log: Log) -> st.SearchStrategy[Any]:
    note = log.checkpoint.encode()
    return st.one_of(
        st.text(),
        st.binary(),
        signed_notes(log),
        signed_notes(log).map(lambda n: n.encode("utf-8", errors="surrogatepass")),
        mutated(note, _NOTE_PIECES),
        mutated(note, _NOTE_PIECES).map(lambda b: b.decode("utf-8", errors="replace")),
    )


# --------------------------------------------------------------------------- checkpoint


def test_signed_checkpoints(log: Log) -> None:
    """Notes with a good signature by the log key: the body's lines are what is fuzzed."""

    @settings(FUZZ, max_examples=300)
    @given(signed_notes(log, signed=True))
    def run(note: str) -> None:
        only_court_errors(lambda: parse_checkpoint(note))
        only_court_errors(lambda: verify_checkpoint(note, log.vkey))

    run()


def test_checkpoint_parsers(log: Log) -> None:
    @FUZZ
    @given(_note_inputs(log))
    def run(note: Any) -> None:
        only_court_errors(lambda: parse_signed_note(note))
        only_court_errors(lambda: parse_checkpoint(note))
        only_court_errors(lambda: verify_note(note, log.vkey))
        only_court_errors(lambda: verify_checkpoint(note, log.vkey))
        if isinstance(note, str):
            only_court_errors(lambda: parse_checkpoint_body(note))
            only_court_errors(lambda: parse_verifier_key(note))

    run()


def test_verifier_key_parser(log: Log) -> None:
    @FUZZ
    @given(st.one_of(st.text(), mutated(log.vkey.encode(), _NOTE_PIECES).map(
        lambda b: b.decode("utf-8", errors="replace"))))  # fmt: skip
    def run(key: str) -> None:
        only_court_errors(lambda: parse_verifier_key(key))
        only_court_errors(lambda: verify_checkpoint(log.checkpoint, key))

    run()


# --------------------------------------------------------------------------- leaf

_LEAF = encode_leaf(sample_leaf())
_DER_PIECES = st.one_of(
    st.binary(max_size=6),
    st.sampled_from([b"\x30", b"\x80", b"\x81\xff", b"\x84\xff\xff\xff\xff", b"\x00", b"\x02"]),
)


_WILD_INT = st.one_of(
    st.integers(-(1 << 70), 1 << 70), st.integers(0, 20_000).map(lambda n: 1 << n)
)  # up to 6,000 digits: past Python's 4,300-digit int-to-string limit
_WILD_TEXT = st.text(st.characters(codec=None), max_size=300)
_WILD_OIDS = st.one_of(
    st.sampled_from(["2.16.840.1.101.3.4.2.1", "1.2.156.10197.1.401", "1.2.840.113549.2.5"]),
    st.lists(st.integers(0, 1 << 64), min_size=1, max_size=5).map(
        lambda arcs: "1.2." + ".".join(map(str, arcs))
    ),
    st.integers(1, 3000).map(lambda n: b"\x81" * n + b"\x01"),  # an arc of thousands of digits
)


@st.composite
def wild_leaves(draw: st.DrawFn) -> bytes:
    """Well-formed DER of the leaf's structure holding any values at all."""
    fields = sample_leaf(
        version=draw(st.one_of(st.just(1), _WILD_INT)),
        entry_id=draw(_WILD_TEXT),
        loan_ref=draw(_WILD_TEXT),
        kind=draw(st.one_of(st.sampled_from(sorted(KIND_NUMBERS)), _WILD_INT)),
        hash_algorithm=draw(st.one_of(st.sampled_from(sorted(HASH_OIDS)), _WILD_OIDS)),
        digest=draw(st.binary(max_size=70)),
        occurred_at=draw(st.datetimes(timezones=st.just(UTC))),
        token_sha256=draw(st.binary(max_size=40)),
        metadata=draw(st.lists(st.tuples(_WILD_TEXT, _WILD_TEXT), max_size=18).map(tuple)),
        loan_sequence=draw(_WILD_INT),
        previous_leaf_hash=draw(st.none() | st.binary(max_size=40)),
        supersedes=draw(st.none() | _WILD_TEXT),
    )
    return hand_der(fields)


@FUZZ
@given(st.one_of(st.binary(), mutated(_LEAF, _DER_PIECES), wild_leaves()))
def test_leaf_decoder(data: bytes) -> None:
    only_court_errors(lambda: decode_leaf(data))


_LEAF_V2 = encode_public_leaf(sample_public_leaf())
_RECORD_V2 = encode_private_record(RECORD)


@FUZZ
@given(
    st.one_of(
        st.binary(), mutated(_LEAF_V2, _DER_PIECES), mutated(_LEAF, _DER_PIECES), wild_leaves()
    )
)
def test_any_leaf_decoder(data: bytes) -> None:
    only_court_errors(lambda: decode_any_leaf(data))


@FUZZ
@given(
    st.one_of(st.binary(), mutated(_RECORD_V2, _DER_PIECES)),
    st.one_of(st.just(LOAN_SALT), st.binary(max_size=40)),
)
def test_opening(record: bytes, loan_salt: bytes) -> None:
    leaf = sample_public_leaf()
    only_court_errors(lambda: decode_private_record(record))
    only_court_errors(lambda: open_leaf(leaf, LeafOpening(record, loan_salt)))


# --------------------------------------------------------------------------- merkle

_ANY = st.one_of(
    st.integers(),
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.just(10**5000),  # beyond Python's int-to-string limit
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True),
    st.text(max_size=4),
    st.binary(max_size=40),
)
_HASHISH = st.one_of(st.binary(min_size=32, max_size=32), st.binary(max_size=40), _ANY)
_PROOF = st.one_of(st.lists(_HASHISH, max_size=70), _ANY)


@FUZZ
@given(_ANY, _ANY, _HASHISH, _PROOF, _HASHISH)
def test_merkle_proof_checks(index: Any, size: Any, leaf: Any, proof: Any, root: Any) -> None:
    only_court_errors(lambda: root_from_inclusion_proof(index, size, leaf, proof))
    only_court_errors(lambda: verify_inclusion(index, size, leaf, proof, root))
    only_court_errors(lambda: root_from_consistency_proof(index, size, proof, leaf))
    only_court_errors(lambda: verify_consistency(index, size, proof, leaf, root))


@FUZZ
@given(st.integers(0, 1 << 64), st.integers(0, 1 << 64), st.lists(_HASHISH, max_size=70))
def test_merkle_proof_checks_in_range(index: int, size: int, proof: list[Any]) -> None:
    only_court_errors(lambda: verify_inclusion(index, size, b"\0" * 32, proof, b"\1" * 32))
    only_court_errors(lambda: verify_consistency(index, size, proof, b"\0" * 32, b"\1" * 32))


# --------------------------------------------------------------------------- receipts


def _receipt_bytes(log: Log) -> bytes:
    return log.receipt_message().SerializeToString()


def test_receipt_verification(log: Log) -> None:
    """verify_receipt reports bad evidence as failed checks: it never raises for it."""
    leaf_bytes = st.one_of(st.binary(max_size=300), mutated(log.leaf, _DER_PIECES))
    token_bytes = st.one_of(st.binary(max_size=300), mutated(log.token, _DER_PIECES))
    notes = _note_inputs(log).filter(lambda n: isinstance(n, str))
    copies = st.builds(
        ReceiptCopies,
        entry_id=st.text(),
        loan_sequence=st.integers(0, (1 << 64) - 1),
        previous_leaf_hash=st.binary(max_size=40),
        received_at_ns=st.none() | st.integers(-(1 << 80), 1 << 80),
        checkpoint_origin=st.text(),
        checkpoint_size=st.integers(0, (1 << 64) - 1),
        checkpoint_root_hash=st.binary(max_size=40),
    )

    @FUZZ
    @given(
        leaf_bytes,
        token_bytes,
        notes,
        st.integers(0, (1 << 64) - 1),
        st.integers(0, (1 << 64) - 1),
        st.lists(st.binary(max_size=40), max_size=70),
        copies,
        st.none() | notes,
    )
    def run(
        leaf: bytes,
        token: bytes,
        note: str,
        index: int,
        size: int,
        proof: list[bytes],
        copies: ReceiptCopies,
        newer: str | None,
    ) -> None:
        result = verify_receipt(
            **log.kwargs(
                leaf=leaf,
                token=token,
                checkpoint=note,
                leaf_index=index,
                tree_size=size,
                inclusion_proof=proof,
                copies=copies,
                newer_checkpoint=newer,
            )
        )
        assert result.checks

    run()


def test_receipt_file_reader(log: Log, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("fuzz-receipts")
    path = folder / "receipt.pb"
    pieces = st.one_of(st.binary(max_size=6), st.sampled_from([b"\x0a", b"\x2a\xff", b"\x80"]))

    @FUZZ
    @given(st.one_of(st.binary(max_size=400), mutated(_receipt_bytes(log), pieces)))
    def run(data: bytes) -> None:
        path.write_bytes(data)
        try:
            receipt = read_receipt(path)
        except CourtError as exc:
            assert str(exc)
            return
        copies = receipt_copies(receipt)
        assert isinstance(copies, ReceiptCopies)

    run()


# --------------------------------------------------------------------------- court-verify


def _cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = court_verify(args)
    return code, out.getvalue(), err.getvalue()


def _check_exit(code: int, out: str, err: str) -> None:
    if code == 2:
        assert out == ""
        lines = err.split("\n")
        assert len(lines) == 2 and lines[1] == "" and lines[0].startswith("court-verify: ")
        assert lines[0].isprintable()
    else:
        assert code in (0, 1), code
        assert err == ""
        last = out.splitlines()[-1]
        assert last.startswith("VALID: " if code == 0 else "INVALID: ")


def test_court_verify_on_garbage_files(
    log: Log, pki_p256: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("fuzz-cli")
    files = {name: folder / name for name in ("receipt.pb", "token.tst", "ca.pem", "log.vkey")}
    good = {
        "receipt.pb": _receipt_bytes(log),
        "token.tst": log.token,
        "ca.pem": (pki_p256 / "root-ca.pem").read_bytes(),
        "log.vkey": (log.vkey + "\n").encode(),
    }
    pieces = st.one_of(
        st.binary(max_size=6), st.sampled_from([b"\n", b"-----BEGIN CERTIFICATE-----\n", b"+"])
    )
    contents = st.fixed_dictionaries(
        {
            name: st.one_of(st.just(data), st.binary(max_size=200), mutated(data, pieces))
            for name, data in good.items()
        }
    )
    digest = hashlib.sha256(DOCUMENT).hexdigest()

    @FUZZ
    @given(contents)
    def run(written: dict[str, bytes]) -> None:
        for name, data in written.items():
            files[name].write_bytes(data)
        ca = ["--ca", str(files["ca.pem"])]
        receipt = ["receipt", str(files["receipt.pb"]), "--digest", digest, *ca]
        _check_exit(*_cli([*receipt, "--log-key", str(files["log.vkey"])]))
        _check_exit(*_cli(["token", str(files["token.tst"]), "--digest", digest, *ca]))

    run()


def test_court_verify_process_prints_no_traceback(tmp_path: Path, pki_p256: Path) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x0a\x05hello\xff\xfe" * 10)
    vkey = tmp_path / "log.vkey"
    vkey.write_bytes(b"\xff\xfe not a key")
    for args in (
        ["receipt", str(garbage), "--digest", "00" * 32, "--ca", str(garbage)],
        ["receipt", str(garbage), "--digest", "00" * 32, "--ca", str(pki_p256 / "root-ca.pem")],
        ["token", str(garbage), "--digest", "00" * 32, "--ca", str(garbage)],
    ):
        if args[0] == "receipt":
            args += ["--log-key", str(vkey)]
        proc = subprocess.run(
            [str(BIN / "court-verify"), *args], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.startswith("court-verify: ") and proc.stderr.count("\n") == 1


def test_the_helpers_see_a_valid_receipt(log: Log, tmp_path: Path, pki_p256: Path) -> None:
    """The fuzzing starts from valid files: check that they are."""
    (tmp_path / "r.pb").write_bytes(_receipt_bytes(log))
    (tmp_path / "k").write_text(log.vkey)
    digest = hashlib.sha256(DOCUMENT).hexdigest()
    args = ["receipt", str(tmp_path / "r.pb"), "--digest", digest]
    code, out, err = _cli(
        [*args, "--ca", str(pki_p256 / "root-ca.pem"), "--log-key", str(tmp_path / "k")]
    )
    assert code == 0, out + err
    assert replace(receipt_copies(common_pb2.Receipt.FromString(_receipt_bytes(log)))) == log.copies
