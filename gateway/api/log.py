"""LogService: checkpoints (the latest, or all of them a page at a time), inclusion and
consistency proofs, raw leaves, trust material, anchors on chain.

Every request that names a tree size is checked against one checkpoint read
at the start of the call, so a proof and the checkpoint returned with it
always agree even while the log grows. ``GetTrustInfo`` answers the
:class:`TrustInfo` the server was started with.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from court.report.escape import escape_text
from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import log_service_pb2 as pb
from evidence_gateway.v1 import log_service_pb2_grpc as pb_grpc
from gateway.anchor.settings import CHAIN_NAME, CHAIN_NAME_RULE
from gateway.api import convert
from gateway.api.errors import rpc_errors
from gateway.api.ports import LedgerPort
from gateway.errors import InvalidArgument, NotFound

__all__ = ["MAX_ENTRIES", "LogServicer", "TrustInfo", "TsaSource", "TsaTrust"]

MAX_ENTRIES = 1000
_HASH_SIZE = 32


class TsaSource(StrEnum):
    """Where a time-stamp authority runs (proto ``TimeStampAuthoritySource``)."""

    IN_PROCESS = "in_process"
    HTTP = "http"


@dataclass(frozen=True, slots=True)
class TsaTrust:
    """The trust material of one time-stamp authority (proto ``TimeStampAuthority``).

    ``chain`` is DER certificates, leaf first, the trust anchor last.
    """

    source: TsaSource
    chain: tuple[bytes, ...]
    policies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TrustInfo:
    """What a verifier needs besides the evidence (proto ``GetTrustInfoResponse``).

    ``hash_algorithms`` are core names (``"sha256"``, ...).
    """

    log_origin: str
    log_verifier_key: str
    tsas: tuple[TsaTrust, ...]
    hash_algorithms: tuple[str, ...]


_SOURCE = {
    TsaSource.IN_PROCESS: pb.TIME_STAMP_AUTHORITY_SOURCE_IN_PROCESS,
    TsaSource.HTTP: pb.TIME_STAMP_AUTHORITY_SOURCE_HTTP,
}


def trust_info_to_proto(trust: TrustInfo) -> pb.GetTrustInfoResponse:
    return pb.GetTrustInfoResponse(
        log_origin=trust.log_origin,
        log_verifier_key=trust.log_verifier_key,
        time_stamp_authorities=[
            pb.TimeStampAuthority(
                source=_SOURCE[tsa.source],
                certificate_chain=tsa.chain,
                policy_oids=tsa.policies,
            )
            for tsa in trust.tsas
        ],
        hash_algorithms=[
            convert.algorithm_to_proto(name)  # type: ignore[misc]
            for name in trust.hash_algorithms
        ],
    )


class LogServicer(pb_grpc.LogServiceServicer):
    """The gRPC face of the ledger's Merkle log."""

    def __init__(self, ledger: LedgerPort, trust: TrustInfo, chains: tuple[str, ...] = ()) -> None:
        """``chains``: the names of the chains the gateway is configured to anchor on."""
        self._ledger = ledger
        self._trust = trust_info_to_proto(trust)
        self._chains = chains

    async def _check_chain(self, name: str) -> None:
        """INVALID_ARGUMENT unless the gateway anchors, or anchored, on chain ``name``."""
        if name in self._chains:
            return
        stored = await asyncio.to_thread(self._ledger.anchor_chains)
        if name in stored:
            return
        known = sorted({*self._chains, *stored})
        raise InvalidArgument(
            [
                (
                    "chain",
                    f"no chain named {escape_text(repr(name))}; this gateway anchors on: "
                    + (", ".join(known) if known else "no chain")
                    + " (or leave chain empty for any)",
                )
            ]
        )

    async def _latest(self) -> common_pb2.Checkpoint:
        """The latest published checkpoint (read from the store: in a worker thread)."""
        checkpoint = common_pb2.Checkpoint()
        published = await asyncio.to_thread(self._ledger.checkpoint)
        checkpoint.CopyFrom(convert.checkpoint_to_proto(published))
        return checkpoint

    @rpc_errors()
    async def GetCheckpoint(
        self, request: pb.GetCheckpointRequest, context: Any
    ) -> pb.GetCheckpointResponse:
        return pb.GetCheckpointResponse(checkpoint=await self._latest())

    @rpc_errors()
    async def GetInclusionProof(
        self, request: pb.GetInclusionProofRequest, context: Any
    ) -> pb.GetInclusionProofResponse:
        latest = await self._latest()
        size = request.tree_size or latest.size
        which = request.WhichOneof("leaf")
        problems: list[tuple[str, str]] = []
        if request.tree_size > latest.size:
            problems.append(
                (
                    "tree_size",
                    f"is {request.tree_size}, beyond the latest checkpoint's {latest.size}",
                )
            )
        if which is None:
            problems.append(("leaf", "set leaf_index or leaf_hash"))
        elif which == "leaf_hash" and len(request.leaf_hash) != _HASH_SIZE:
            problems.append(
                ("leaf_hash", f"must be 32 bytes (SHA-256 leaf hash), got {len(request.leaf_hash)}")
            )
        elif which == "leaf_index" and request.leaf_index >= size and not problems:
            problems.append(
                ("leaf_index", f"is {request.leaf_index}, not below the tree size {size}")
            )
        if problems:
            raise InvalidArgument(problems)
        if which == "leaf_hash":
            index = await asyncio.to_thread(self._ledger.leaf_index, bytes(request.leaf_hash))
            if index >= size:
                raise NotFound(
                    f"no leaf with hash {request.leaf_hash.hex()} among the first {size} leaves"
                )
        else:
            index = request.leaf_index
        hashes = await asyncio.to_thread(self._ledger.inclusion_proof, index, size)
        response = pb.GetInclusionProofResponse(
            inclusion_proof=convert.inclusion_proof_to_proto(index, size, hashes)
        )
        if request.tree_size == 0:
            response.checkpoint.CopyFrom(latest)
        return response

    @rpc_errors()
    async def GetConsistencyProof(
        self, request: pb.GetConsistencyProofRequest, context: Any
    ) -> pb.GetConsistencyProofResponse:
        latest = await self._latest()
        to_size = request.to_size or latest.size
        problems: list[tuple[str, str]] = []
        if request.from_size == 0:
            problems.append(("from_size", "must be at least 1 (size 0 has no consistency proof)"))
        if request.to_size > latest.size:
            problems.append(
                ("to_size", f"is {request.to_size}, beyond the latest checkpoint's {latest.size}")
            )
        elif request.from_size > to_size:
            problems.append(("from_size", f"is {request.from_size}, larger than to_size {to_size}"))
        if problems:
            raise InvalidArgument(problems)
        hashes = await asyncio.to_thread(self._ledger.consistency_proof, request.from_size, to_size)
        response = pb.GetConsistencyProofResponse(
            consistency_proof=common_pb2.ConsistencyProof(
                from_size=request.from_size, to_size=to_size, hashes=hashes
            )
        )
        if request.to_size == 0:
            response.checkpoint.CopyFrom(latest)
        return response

    @rpc_errors()
    async def GetEntries(
        self, request: pb.GetEntriesRequest, context: Any
    ) -> pb.GetEntriesResponse:
        latest = await self._latest()
        problems: list[tuple[str, str]] = []
        if request.start >= request.end:
            problems.append(("start", f"is {request.start}, not below end {request.end}"))
        if request.end > latest.size:
            problems.append(
                ("end", f"is {request.end}, beyond the latest checkpoint's size {latest.size}")
            )
        if problems:
            raise InvalidArgument(problems)
        end = min(request.end, request.start + MAX_ENTRIES)
        entries = await asyncio.to_thread(self._ledger.entries, request.start, end)
        return pb.GetEntriesResponse(
            entries=[pb.LogEntry(leaf_index=i, leaf=leaf) for i, leaf in entries]
        )

    @rpc_errors()
    async def GetAnchor(self, request: pb.GetAnchorRequest, context: Any) -> pb.GetAnchorResponse:
        latest = await self._latest()
        which = request.WhichOneof("target")
        problems: list[tuple[str, str]] = []
        if which is None:
            problems.append(("target", "set tree_size or leaf_index"))
        elif which == "tree_size" and request.tree_size == 0:
            problems.append(("tree_size", "must be at least 1 (size 0 is covered by nothing)"))
        elif which == "tree_size" and request.tree_size > latest.size:
            problems.append(
                (
                    "tree_size",
                    f"is {request.tree_size}, beyond the latest checkpoint's {latest.size}",
                )
            )
        elif which == "leaf_index" and request.leaf_index >= latest.size:
            problems.append(
                (
                    "leaf_index",
                    f"is {request.leaf_index}, not below the latest checkpoint's {latest.size}",
                )
            )
        if request.chain and not CHAIN_NAME.fullmatch(request.chain):
            problems.append(("chain", f"is not a chain name ({CHAIN_NAME_RULE})"))
        if request.from_tree_size > latest.size:
            problems.append(
                (
                    "from_tree_size",
                    f"is {request.from_tree_size}, beyond the latest checkpoint's {latest.size}",
                )
            )
        if problems:
            raise InvalidArgument(problems)
        size = request.tree_size if which == "tree_size" else request.leaf_index + 1
        chain = request.chain or None
        if chain is not None:
            await self._check_chain(chain)
        anchor = await asyncio.to_thread(self._ledger.anchor_covering, size, chain)
        if anchor is None:
            what = f"tree size {size}" if which == "tree_size" else f"leaf {request.leaf_index}"
            on = "" if chain is None else f" on chain {escape_text(repr(chain))}"
            raise NotFound(
                f"no confirmed anchor{on} covers {what} yet: the log is anchored once per "
                "period and an anchor counts once it has its confirmations; retry later"
            )
        if request.from_tree_size > anchor.tree_size:
            raise InvalidArgument(
                [
                    (
                        "from_tree_size",
                        f"is {request.from_tree_size}, beyond the anchored tree size "
                        f"{anchor.tree_size}; ask for the anchor covering tree_size "
                        f"{request.from_tree_size}",
                    )
                ]
            )
        response = pb.GetAnchorResponse(anchor=convert.anchor_to_proto(anchor))
        if request.from_tree_size:
            hashes = await asyncio.to_thread(
                self._ledger.consistency_proof, request.from_tree_size, anchor.tree_size
            )
            response.consistency_proof.CopyFrom(
                common_pb2.ConsistencyProof(
                    from_size=request.from_tree_size, to_size=anchor.tree_size, hashes=hashes
                )
            )
        return response

    @rpc_errors()
    async def ListCheckpoints(
        self, request: pb.ListCheckpointsRequest, context: Any
    ) -> pb.ListCheckpointsResponse:
        notes, token = await asyncio.to_thread(
            self._ledger.checkpoints, request.from_size, request.page_size, request.page_token
        )
        return pb.ListCheckpointsResponse(
            checkpoints=[convert.checkpoint_to_proto(note) for note in notes],
            next_page_token=token,
        )

    @rpc_errors()
    async def GetTrustInfo(
        self, request: pb.GetTrustInfoRequest, context: Any
    ) -> pb.GetTrustInfoResponse:
        response = pb.GetTrustInfoResponse()
        response.CopyFrom(self._trust)
        return response
