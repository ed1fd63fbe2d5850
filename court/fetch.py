"""`court-verify fetch`: get an evidence bundle or a loan's dossier from the gateway.

``--entry ID`` or ``--digest HEX`` asks VerificationService.GetEvidenceBundle
for one record; ``--loan REF`` asks GetDossier for every record of a loan
(``--owner NAME``: the lender that owns it, which a court names). The answer
is written to ``--out`` in protobuf's JSON mapping, whole or not at all, as
``court-verify bundle`` and ``court-verify dossier`` read it. Nothing here
checks the evidence: fetching trusts the gateway for nothing, the
verification afterwards does the checking.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from court.files import InputError, write_atomically
from court.gateway_rpc import GatewayConnection, GatewayError, GatewayTarget

__all__ = [
    "BUNDLE_MEDIA_TYPE",
    "DOSSIER_MEDIA_TYPE",
    "FetchRequest",
    "digest_algorithm",
    "fetch",
    "request_from_args",
]

BUNDLE_MEDIA_TYPE = "application/vnd.court-evidence.bundle.v1+json"
DOSSIER_MEDIA_TYPE = "application/vnd.court-evidence.dossier.v1+json"
_BY_LENGTH = {32: "sha256", 48: "sha384", 64: "sha512"}
_LENGTHS = {"sha256": 32, "sha384": 48, "sha512": 64, "sm3": 32}
_MAX_LOAN_REF = 256


@dataclass(frozen=True)
class FetchRequest:
    """What to fetch: exactly one of entry_id, digest (with its algorithm) and loan_ref."""

    entry_id: str | None = None
    digest: tuple[str, bytes] | None = None
    loan_ref: str | None = None
    owner: str = ""
    tree_size: int = 0


def digest_algorithm(digest: bytes, hash_name: str | None) -> str:
    """The algorithm of ``digest``: ``hash_name``, or SHA-2 of its length."""
    if hash_name is None:
        name = _BY_LENGTH.get(len(digest))
        if name is None:
            raise InputError(
                f"--digest is {len(digest)} bytes: a SHA-256, SHA-384 or SHA-512 digest has "
                "32, 48 or 64 (an SM3 digest needs --hash sm3)"
            )
        return name
    if len(digest) != _LENGTHS[hash_name]:
        raise InputError(
            f"--digest is {len(digest)} bytes, but a {hash_name} digest has {_LENGTHS[hash_name]}"
        )
    return hash_name


def request_from_args(args: argparse.Namespace) -> FetchRequest:
    """The fetch request the options name; :class:`InputError` for a wrong combination."""
    if args.loan is None and args.owner is not None:
        raise InputError("--owner goes with --loan (a dossier), not with a single record")
    if args.hash is not None and args.digest is None:
        raise InputError("--hash goes with --digest")
    tree_size = 0 if args.tree_size is None else args.tree_size
    if tree_size < 0:
        raise InputError(f"--tree-size must be a checkpoint's size (>= 1), got {tree_size}")
    if args.entry is not None:
        if not args.entry.strip() or len(args.entry) > _MAX_LOAN_REF:
            raise InputError("--entry must be a record's entry id (as on its receipt)")
        return FetchRequest(entry_id=args.entry, tree_size=tree_size)
    if args.digest is not None:
        try:
            digest = bytes.fromhex(args.digest)
        except ValueError:
            raise InputError(f"--digest must be hexadecimal, got {args.digest!r}") from None
        return FetchRequest(
            digest=(digest_algorithm(digest, args.hash), digest), tree_size=tree_size
        )
    loan = args.loan
    if not loan or len(loan) > _MAX_LOAN_REF or not loan.isprintable():
        raise InputError(f"--loan must be a loan reference of 1 to {_MAX_LOAN_REF} characters")
    return FetchRequest(loan_ref=loan, owner=args.owner or "", tree_size=tree_size)


def _call(connection: GatewayConnection, request: FetchRequest) -> tuple[Any, str]:
    """The message to write and its media type."""
    from evidence_gateway.v1 import verification_service_pb2 as vs
    from evidence_gateway.v1 import verification_service_pb2_grpc

    stub = verification_service_pb2_grpc.VerificationServiceStub(connection.channel)  # type: ignore[no-untyped-call]
    if request.loan_ref is not None:
        dossier_request = vs.GetDossierRequest(
            owner=request.owner, loan_ref=request.loan_ref, tree_size=request.tree_size
        )
        response = connection.call(stub.GetDossier, dossier_request)
        return response.dossier, DOSSIER_MEDIA_TYPE
    bundle_request = vs.GetEvidenceBundleRequest(tree_size=request.tree_size)
    if request.entry_id is not None:
        bundle_request.entry_id = request.entry_id
    else:
        assert request.digest is not None
        algorithm, value = request.digest
        bundle_request.digest.CopyFrom(
            vs.Digest(
                hash_algorithm=f"HASH_ALGORITHM_{algorithm.upper()}",
                value=value,
            )
        )
    response = connection.call(stub.GetEvidenceBundle, bundle_request)
    return response.bundle, BUNDLE_MEDIA_TYPE


def fetch(target: GatewayTarget, request: FetchRequest, out: Path) -> str:
    """Fetch, write ``out`` atomically; return a one-line summary (unescaped)."""
    from google.protobuf import json_format

    with GatewayConnection(target) as connection:
        message, media_type = _call(connection, request)
    if message.media_type != media_type:
        raise GatewayError(
            "OK",
            f"the gateway's answer is not a {media_type} (its media_type is "
            f"{message.media_type[:100]!r}): is {target.address} an evidence gateway of this "
            "version?",
        )
    text = json_format.MessageToJson(message, indent=2) + "\n"
    write_atomically(out, text.encode("utf-8"), "--out file")
    if media_type == DOSSIER_MEDIA_TYPE:
        what = f"dossier of loan {request.loan_ref!r}: {len(message.records)} records"
        verify = "court-verify dossier"
    else:
        what = f"bundle of entry {message.record.entry_id!r}"
        verify = "court-verify bundle"
    size = message.checkpoint.size
    return (
        f"{what} at checkpoint size {size}, written to {out} ({len(text)} bytes); "
        f"check it with: {verify} {out} --trust DIR"
    )
