"""The fuzz targets: one per parser of hostile bytes, each with its documented error.

A target takes the fuzzer's bytes, calls its parser and checks what came back
(a decoded value that re-encodes to the same bytes, where the format is
canonical). The parser's documented error type is a clean rejection; any other
exception propagates and is a crash. :func:`run_one` adds the bounds: an input
taking longer than :data:`TIME_LIMIT_SECONDS`, or raising the process's peak
memory by more than :data:`MEMORY_LIMIT_BYTES`, is a crash too.

Import this module inside ``atheris.instrument_imports()`` (as :mod:`fuzz.__main__`
does) so that the parser modules are instrumented for coverage.
"""

from __future__ import annotations

import hashlib
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from google.protobuf.message import DecodeError

from court.bundles import read_bundle, read_dossier
from court.evidence.case_event import CaseEventError, decode_case_event, encode_case_event
from court.evidence.fields import LeafError
from court.evidence.leaf import LeafFields, encode_leaf
from court.evidence.leaf_v2 import decode_private_record, encode_private_record, encode_public_leaf
from court.evidence.opening import decode_any_leaf
from court.files import InputError
from court.trust import read_trust_dir
from court.verify.bundle import verify_bundle
from court.verify.checkpoint import (
    CheckpointError,
    encode_signed_note,
    format_checkpoint_body,
    parse_checkpoint,
    verify_checkpoint,
)
from court.verify.dossier import verify_dossier
from court.verify.loanmap import (
    LoanHead,
    LoanHeadProof,
    LoanMapError,
    root_from_proof,
    verify_loan_head,
)
from evidence_gateway.v1 import bundle_pb2
from notary.tsa.config import DEFAULT_HASHES, DEFAULT_POLICY_OID
from notary.tsa.request import MAX_NONCE_BITS, parse_request
from notary.tsa.status import Rejection

__all__ = [
    "CORPUS",
    "MEMORY_LIMIT_BYTES",
    "TARGETS",
    "TIME_LIMIT_SECONDS",
    "BoundExceeded",
    "Target",
    "run_one",
]

CORPUS: Final = Path(__file__).resolve().parent / "corpus"
TIME_LIMIT_SECONDS: Final = 1.0
"""The most CPU time one input may take (parsers take microseconds, a whole bundle
verification tens of milliseconds)."""
MEMORY_LIMIT_BYTES: Final = 256 << 20
"""The most one input may raise the process's peak resident memory."""


class BoundExceeded(Exception):
    """An input took too long or too much memory: a crash, not a rejection."""


@dataclass(frozen=True)
class Target:
    """A parser under fuzzing: ``call`` runs it, ``rejects`` is its documented error."""

    name: str
    call: Callable[[bytes], None]
    rejects: tuple[type[Exception], ...]
    max_len: int
    """The longest input the fuzzer makes (libFuzzer's -max_len)."""
    seeds: str = ""
    """The folder of fuzz/corpus/ with its seeds (default: ``name``)."""

    @property
    def corpus(self) -> Path:
        return CORPUS / (self.seeds or self.name)


# ------------------------------------------------------------------ the targets

_ACCEPTED_HASHES: Final = DEFAULT_HASHES | {"sm3"}
_ACCEPTED_POLICIES: Final = frozenset({DEFAULT_POLICY_OID, "1.2.3.4.1"})


def tsa_request(data: bytes) -> None:
    """notary.tsa.request.parse_request: a TimeStampReq, or Rejection."""
    req = parse_request(
        data, accepted_hashes=_ACCEPTED_HASHES, accepted_policies=_ACCEPTED_POLICIES
    )
    assert req.hash_algorithm.name in _ACCEPTED_HASHES
    assert len(req.digest) == req.hash_algorithm.digest_size
    assert req.imprint_der in data and req.nonce_der in data
    assert req.nonce is None or 0 <= req.nonce < 1 << MAX_NONCE_BITS
    assert req.policy is None or req.policy in _ACCEPTED_POLICIES


def leaf(data: bytes) -> None:
    """court.evidence.opening.decode_any_leaf: a version 1 or 2 leaf, or LeafError."""
    decoded = decode_any_leaf(data)
    again = encode_leaf(decoded) if isinstance(decoded, LeafFields) else encode_public_leaf(decoded)
    assert again == data, "a decoded leaf re-encodes to other bytes"


def private_record(data: bytes) -> None:
    """court.evidence.leaf_v2.decode_private_record: a private record, or LeafError."""
    assert encode_private_record(decode_private_record(data)) == data


#: The court's trust directory for the seeds: the log key and TSA root they were made with.
_TRUST: Final = read_trust_dir(Path(__file__).resolve().parent / "trust")


def checkpoint(data: bytes) -> None:
    """court.verify.checkpoint: parse_checkpoint, then verify_checkpoint against the key
    the seeds were signed with; a checkpoint, or CheckpointError."""
    held = parse_checkpoint(data)
    text = format_checkpoint_body(held.origin, held.size, held.root_hash, held.extensions)
    assert encode_signed_note(text, held.signatures).encode() == data, "not a round trip"
    verify_checkpoint(data, _TRUST.log_key, origin=held.origin)


def bundle(data: bytes) -> None:
    """court.bundles.read_bundle: an evidence bundle (protobuf JSON), or InputError."""
    read_bundle(data)


def dossier(data: bytes) -> None:
    """court.bundles.read_dossier: a dossier (protobuf JSON), or InputError."""
    read_dossier(data)


def bundle_verify(data: bytes) -> None:
    """court.verify.bundle.verify_bundle on what read_bundle accepts (no chain, no document):
    a verdict, never an exception; InputError from the reader."""
    verify_bundle(read_bundle(data), roots=_TRUST.roots, log_key=_TRUST.log_key)


def dossier_verify(data: bytes) -> None:
    """court.verify.dossier.verify_dossier on what read_dossier accepts (no chain)."""
    verify_dossier(read_dossier(data), roots=_TRUST.roots, log_key=_TRUST.log_key)


def case_event(data: bytes) -> None:
    """court.evidence.case_event.decode_case_event: a document, or CaseEventError."""
    assert encode_case_event(decode_case_event(data)) == data


def loan_head_proof(data: bytes) -> None:
    """court.verify.loanmap.root_from_proof on a LoanHeadProof message (protobuf binary,
    taken as is: no bound of the bundle reader applies); a root, or LoanMapError."""
    try:
        message = bundle_pb2.LoanHeadProof.FromString(data)
    except DecodeError:
        return  # not the parser under test: protobuf's own framing
    proof = LoanHeadProof(
        head=LoanHead(
            loan_key=bytes(message.loan_key),
            loan_sequence=message.loan_sequence,
            leaf_index=message.leaf_index,
            leaf_hash=bytes(message.leaf_hash),
        ),
        siblings=tuple(bytes(s) for s in message.siblings),
    )
    root = root_from_proof(proof)
    assert len(root) == 32
    verify_loan_head(proof, root)


TARGETS: Final[dict[str, Target]] = {
    t.name: t
    for t in (
        Target("tsa_request", tsa_request, (Rejection,), 1024),
        Target("leaf", leaf, (LeafError,), 4096),
        Target("private_record", private_record, (LeafError,), 4096, seeds="record_opening"),
        Target("checkpoint", checkpoint, (CheckpointError,), 4096),
        Target("bundle", bundle, (InputError,), 64 << 10),
        Target("dossier", dossier, (InputError,), 128 << 10),
        Target("bundle_verify", bundle_verify, (InputError,), 64 << 10, seeds="bundle"),
        Target("dossier_verify", dossier_verify, (InputError,), 128 << 10, seeds="dossier"),
        Target("case_event", case_event, (CaseEventError,), 4096),
        Target("loan_head_proof", loan_head_proof, (LoanMapError,), 16 << 10),
    )
}


# ------------------------------------------------------------------ one input


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux counts KiB


def run_one(target: Target, data: bytes, findings: Path | None = None) -> None:
    """Run ``target`` on ``data``: its result or its documented error (with a message)
    within the bounds; any other exception, or a bound exceeded, propagates, and the
    input is saved in ``findings`` first (as ``TARGET-finding-<sha1>``)."""
    try:
        _bounded(target, data)
    except BaseException:
        if findings is not None:
            name = f"{target.name}-finding-{hashlib.sha1(data).hexdigest()}"
            (findings / name).write_bytes(data)
            print(f"python -m fuzz: the input is saved in {findings / name}", file=sys.stderr)
        raise


def _bounded(target: Target, data: bytes) -> None:
    peak = _peak_rss_bytes()
    start = time.process_time()  # CPU time: a loaded machine does not make an input slow
    try:
        target.call(data)
    except target.rejects as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
    elapsed = time.process_time() - start
    if elapsed > TIME_LIMIT_SECONDS:
        raise BoundExceeded(
            f"{target.name}: one input of {len(data)} bytes took {elapsed:.2f} s of CPU "
            f"(bound {TIME_LIMIT_SECONDS} s)"
        )
    grown = _peak_rss_bytes() - peak
    if grown > MEMORY_LIMIT_BYTES:
        raise BoundExceeded(
            f"{target.name}: one input of {len(data)} bytes raised peak memory by "
            f"{grown >> 20} MiB (bound {MEMORY_LIMIT_BYTES >> 20} MiB)"
        )
