"""`court-verify audit-log`: replay a gateway's log and audit its checkpoints.

Pages LogService.ListCheckpoints (from ``--from`` on, 100 a page) and
LogService.GetEntries (at most 1,000 leaves a call, from index 0: the tree
root and the loan map of a checkpoint depend on every leaf below its size),
asks GetConsistencyProof between consecutive checkpoints, and hands all of it
to :class:`court.verify.log_audit.LogAuditor`, which holds only the tree's
right border and one head per loan. The named checks are printed as for any
verification.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from court.files import InputError, read_file
from court.gateway_rpc import GatewayConnection, GatewayError, GatewayInputError, GatewayTarget
from court.report.output import write_report
from court.report.text import invalid_line
from court.verify.checkpoint import (
    CheckpointError,
    VerifierKey,
    parse_checkpoint,
    parse_verifier_key,
)
from court.verify.log_audit import CHECK_LISTED, LogAuditor

__all__ = ["CHECKPOINT_PAGE", "ENTRIES_PAGE", "audit_log", "load_log_key"]

CHECKPOINT_PAGE = 100
ENTRIES_PAGE = 1000
#: A verifier key file is one line; anything much longer is not one.
_MAX_VKEY_BYTES = 4096


def load_log_key(trust: Path | None, log_key: Path | None) -> VerifierKey:
    """The log's verifier key from ``--log-key FILE`` or ``--trust DIR`` (its log.vkey)."""
    if (trust is None) == (log_key is None):
        raise InputError("give the log's key: --trust DIR (with log.vkey) or --log-key FILE")
    path = log_key if log_key is not None else trust / "log.vkey"  # type: ignore[operator]
    data = read_file(path, "--log-key file" if log_key is not None else "--trust log.vkey")
    if len(data) > _MAX_VKEY_BYTES:
        raise InputError(f"{path} is {len(data)} bytes: not a C2SP verifier key")
    try:
        return parse_verifier_key(data.decode("utf-8").strip())
    except (UnicodeDecodeError, CheckpointError) as exc:
        raise InputError(f"{path} is not a C2SP verifier key: {exc}") from None


class _Log:
    """The gateway's LogService, paged."""

    def __init__(self, connection: GatewayConnection) -> None:
        from evidence_gateway.v1 import log_service_pb2 as pb
        from evidence_gateway.v1 import log_service_pb2_grpc as pb_grpc

        self._pb = pb
        self._stub = pb_grpc.LogServiceStub(connection.channel)  # type: ignore[no-untyped-call]
        self._connection = connection

    def _call(self, method: Any, request: Any) -> Any:
        try:
            return self._connection.call(method, request)
        except GatewayInputError as exc:
            # The auditor asks only for what the gateway's own checkpoints name: a refusal
            # is the gateway's fault, not the user's.
            raise GatewayError(exc.code, str(exc)) from None

    def checkpoints(self, from_size: int) -> Iterator[str]:
        """The listed checkpoints; a page that does not move past the previous one's last
        size (empty with a next page, or repeating sizes) ends the listing with an error, so
        a hostile gateway cannot keep the auditor paging forever."""
        token = ""
        last = -1
        while True:
            request = self._pb.ListCheckpointsRequest(
                from_size=from_size, page_size=CHECKPOINT_PAGE, page_token=token
            )
            page = self._call(self._stub.ListCheckpoints, request)
            if len(page.checkpoints) > CHECKPOINT_PAGE:
                raise GatewayError("OK", "the gateway sent a longer page than asked for")
            token = page.next_page_token
            if token and not page.checkpoints:
                raise GatewayError("OK", "the gateway sent an empty page with a next page")
            for checkpoint in page.checkpoints:
                try:
                    size = parse_checkpoint(checkpoint.signed_note).size
                except CheckpointError:
                    size = last + 1  # unreadable: the auditor reports it
                if size <= last:
                    raise GatewayError(
                        "OK",
                        f"the gateway listed a checkpoint of size {size} after size {last}: "
                        "ListCheckpoints must list sizes in strictly ascending order",
                    )
                last = size
                yield checkpoint.signed_note
            if not token:
                return

    def latest(self) -> str:
        """The latest checkpoint the gateway signed (GetCheckpoint)."""
        response = self._call(self._stub.GetCheckpoint, self._pb.GetCheckpointRequest())
        note: str = response.checkpoint.signed_note
        return note

    def entries(self, start: int, end: int) -> Iterator[tuple[int, list[bytes]]]:
        """(first index, leaves) pages covering [start, end)."""
        while start < end:
            stop = min(end, start + ENTRIES_PAGE)
            request = self._pb.GetEntriesRequest(start=start, end=stop)
            entries = self._call(self._stub.GetEntries, request).entries
            if not entries or len(entries) > stop - start:
                raise GatewayError(
                    "OK", f"the gateway sent {len(entries)} leaves for [{start}, {stop})"
                )
            first = entries[0].leaf_index
            for offset, entry in enumerate(entries):
                if entry.leaf_index != first + offset:
                    raise GatewayError("OK", f"the gateway sent leaves out of order at {start}")
            yield first, [bytes(e.leaf) for e in entries]
            start += len(entries)

    def consistency(self, from_size: int, to_size: int) -> list[bytes]:
        request = self._pb.GetConsistencyProofRequest(from_size=from_size, to_size=to_size)
        proof = self._call(self._stub.GetConsistencyProof, request).consistency_proof
        return [bytes(h) for h in proof.hashes]


def _size_of(note: str, unreadable: int) -> int:
    try:
        return parse_checkpoint(note).size  # signature checked by the auditor
    except CheckpointError:
        return unreadable  # the auditor reports it


def _audit_one(log: _Log, auditor: LogAuditor, note: str) -> None:
    """Replay the leaves up to ``note``'s size, then audit it against the previous one."""
    size = _size_of(note, auditor.replayed)
    if size > auditor.replayed:
        for first, leaves in log.entries(auditor.replayed, size):
            auditor.add_leaves(first, leaves)
    previous = auditor.previous
    proof = None
    if previous is not None and 0 < previous.size < size:
        proof = log.consistency(previous.size, size)
    auditor.checkpoint(note, proof)


def audit_log(
    target: GatewayTarget, from_size: int, key: VerifierKey, out: TextIO, *, as_json: bool
) -> bool:
    """Audit the log at ``target``; print the checks; True when every check passed."""
    if from_size < 0:
        raise InputError(f"--from must be a tree size (>= 0), got {from_size}")
    auditor = LogAuditor(key)
    with GatewayConnection(target) as connection:
        log = _Log(connection)
        listed = 0
        for note in log.checkpoints(from_size):
            listed += 1
            _audit_one(log, auditor, note)
        # The listing must reach the latest checkpoint (the one receipts and bundles carry):
        # a gateway that stops listing early would otherwise hide later checkpoints.
        latest = log.latest()
        previous = auditor.previous
        try:
            same = previous is not None and parse_checkpoint(latest).body == previous.body
        except CheckpointError:
            same = False  # unreadable: the auditor reports it
        if not listed and _size_of(latest, from_size) < from_size:
            # An incremental audit with nothing new: not a failure, nothing to replay.
            auditor.nothing_from(from_size, latest)
        elif not same:
            _audit_one(log, auditor, latest)
    verdict = auditor.verdict()
    last = auditor.previous
    if verdict.ok and last is None:  # nothing_from: no checkpoint of size --from or more
        summary = f"NOTHING NEW: {verdict[CHECK_LISTED].detail}, signed by the log key"
    elif verdict.ok:
        summary = (
            f"VALID: the log {last.origin if last else ''} replayed to size "
            f"{auditor.replayed}: every checkpoint audited follows from its leaves"
        )
    else:
        summary = invalid_line(verdict)
    write_report(
        out, verdict.checks, summary, outcome="valid" if verdict.ok else "invalid", as_json=as_json
    )
    return verdict.ok
