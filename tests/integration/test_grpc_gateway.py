"""The gRPC API against a real `gateway serve` process (real ledger, SQLite, in-process TSA).

One gateway per module, on a free loopback port, with a tmp data dir and a
PKI made by `notary pki init`. Tests use distinct loan refs, so they do not
depend on each other's records.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import pytest
from google.rpc import code_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from court.evidence.leaf_v2 import PublicLeaf
from court.evidence.opening import decode_any_leaf
from court.verify.checkpoint import verify_checkpoint
from court.verify.merkle import verify_consistency, verify_inclusion
from court.verify.rfc6962 import leaf_hash
from court.verify.token import verify_timestamp
from evidence_gateway.v1 import admin_service_pb2 as ad
from evidence_gateway.v1 import (
    common_pb2,
    evidence_service_pb2_grpc,
    log_service_pb2_grpc,
    verification_service_pb2_grpc,
)
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import log_service_pb2 as lg
from evidence_gateway.v1 import verification_service_pb2 as vf
from gateway.api.errors import violations_of
from gateway.authz.roles import Role
from notary.client_certs import issue_client_certificate
from notary.pki import load_tsa_signing_material
from tests.support.authz_matrix import WHO, Stubs, dev_headers, mismatches
from tests.support.gateway_proc import GatewayProcess, make_pki, write_config
from tests.support.grpc_client import error_fields, rich_status, submission
from tests.support.opened import opened
from tests.support.procs import BIN, free_port


@dataclass
class Gateway:
    proc: GatewayProcess
    pki: Path
    vkey: str
    channel: grpc.Channel
    evidence: evidence_service_pb2_grpc.EvidenceServiceStub
    log: log_service_pb2_grpc.LogServiceStub
    verification: verification_service_pb2_grpc.VerificationServiceStub

    def submit(self, s: common_pb2.EvidenceSubmission, institution: str = "") -> common_pb2.Receipt:
        metadata = (("x-institution", institution),) if institution else None
        request = ev.SubmitEvidenceRequest(submission=s)
        return self.evidence.SubmitEvidence(request, metadata=metadata, timeout=30).receipt


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("gateway")
    pki = folder / "data" / "pki"
    make_pki(pki)
    proc = GatewayProcess(write_config(folder), folder)
    proc.start()
    channel = proc.channel()
    try:
        yield Gateway(
            proc=proc,
            pki=pki,
            vkey=(pki / "log.vkey").read_text().strip(),
            channel=channel,
            evidence=evidence_service_pb2_grpc.EvidenceServiceStub(channel),
            log=log_service_pb2_grpc.LogServiceStub(channel),
            verification=verification_service_pb2_grpc.VerificationServiceStub(channel),
        )
    finally:
        channel.close()
        assert proc.stop() == 0, proc.log_path.read_text()
        assert "gateway: stopped" in proc.log_path.read_text()


def loan() -> str:
    return f"loan-{uuid.uuid4().hex[:12]}"


def check_receipt(gw: Gateway, s: common_pb2.EvidenceSubmission, r: common_pb2.Receipt) -> None:
    """What a court holding the document, the receipt and the public keys checks."""
    roots = [load_tsa_signing_material(gw.pki)[2][0]]
    token = verify_timestamp(
        r.timestamp_token, roots=roots, digest=s.digest, hash_algorithm="sha256"
    )
    assert token.ok, token.failures
    cp = verify_checkpoint(r.checkpoint.signed_note, gw.vkey)
    assert cp.size == r.checkpoint.size == r.inclusion_proof.tree_size > r.leaf_index
    verify_inclusion(
        r.leaf_index, cp.size, leaf_hash(r.leaf), list(r.inclusion_proof.hashes), cp.root_hash
    )
    leaf = opened(r)
    assert leaf.entry_id == r.entry_id and leaf.digest == s.digest
    assert leaf.token_sha256 == hashlib.sha256(r.timestamp_token).digest()
    assert leaf.loan_ref == s.loan_ref and leaf.loan_sequence == r.loan_sequence


# ------------------------------------------------------------------ EvidenceService


def test_submit_evidence_receipt_is_complete_and_checkable(gw: Gateway) -> None:
    s = submission(loan(), metadata={"channel": "sms"})
    r = gw.submit(s)
    check_receipt(gw, s, r)
    assert r.loan_sequence == 1 and r.previous_leaf_hash == b""
    assert opened(r).owner == "dev-bank"


def _openssl_verifies(gw: Gateway, token: Path, digest: bytes, *untrusted: str) -> None:
    result = subprocess.run(
        [
            "openssl", "ts", "-verify", "-token_in", "-in", str(token),
            "-digest", digest.hex(), "-CAfile", str(gw.pki / "root-ca.pem"), *untrusted,
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stderr


def test_token_verifies_with_stock_openssl(gw: Gateway, tmp_path: Path) -> None:
    s = submission(loan())
    r = gw.submit(s)
    token = tmp_path / "token.der"
    token.write_bytes(r.timestamp_token)
    _openssl_verifies(gw, token, s.digest, "-untrusted", str(gw.pki / "tsa.pem"))
    # The store keeps the token without its certificate (gateway.store.token_pack) ...
    with contextlib.closing(sqlite3.connect(gw.pki.parent / "gateway.sqlite3")) as db:
        ((stored,),) = db.execute("SELECT token FROM entries WHERE entry_id = ?", (r.entry_id,))
    assert stored[0] == 0x00 and len(stored) < len(r.timestamp_token) - 400
    # ... and reads give it back byte for byte, the signer's certificate in it: openssl
    # needs nothing but the root.
    record = gw.evidence.GetEvidence(ev.GetEvidenceRequest(entry_id=r.entry_id)).record
    assert record.receipt.timestamp_token == r.timestamp_token
    token.write_bytes(record.receipt.timestamp_token)
    _openssl_verifies(gw, token, s.digest)


def test_loan_hash_chain_and_institution_header(gw: Gateway) -> None:
    ref = loan()
    first = gw.submit(submission(ref))
    second = gw.submit(submission(ref))
    assert second.loan_sequence == 2 and second.previous_leaf_hash == leaf_hash(first.leaf)
    # The same loan_ref at another institution is another loan.
    other = gw.submit(submission(ref), institution="bank-b")
    assert other.loan_sequence == 1
    assert opened(other).owner == "bank-b"


def test_idempotency(gw: Gateway) -> None:
    s = submission(loan())
    first = gw.submit(s)
    assert gw.submit(s) == first
    changed = common_pb2.EvidenceSubmission()
    changed.CopyFrom(s)
    changed.metadata["note"] = "changed"
    with pytest.raises(grpc.RpcError) as info:
        gw.submit(changed)
    assert info.value.code() is grpc.StatusCode.ALREADY_EXISTS
    assert rich_status(info.value).code == code_pb2.ALREADY_EXISTS
    # The same request_id from another institution is another key.
    assert gw.submit(s, institution="bank-c").entry_id != first.entry_id


def test_all_algorithms_are_accepted(gw: Gateway) -> None:
    for alg, name in (
        (common_pb2.HASH_ALGORITHM_SHA256, "sha256"),
        (common_pb2.HASH_ALGORITHM_SHA384, "sha384"),
        (common_pb2.HASH_ALGORITHM_SHA512, "sha512"),
        (common_pb2.HASH_ALGORITHM_SM3, "sm3"),
    ):
        digest = hashlib.new(name, name.encode()).digest()
        r = gw.submit(submission(loan(), hash_algorithm=alg, digest=digest))
        assert opened(r).hash_algorithm == name


def _bad(**changes: object) -> common_pb2.EvidenceSubmission:
    s = submission(loan())
    for name, value in changes.items():
        if name == "occurred_at":
            s.ClearField("occurred_at")
        elif name == "metadata":
            s.metadata.update(value)  # type: ignore[call-overload]
        else:
            setattr(s, name, value)
    return s


BAD_SUBMISSIONS = [
    ({"request_id": ""}, "request_id"),
    ({"request_id": "bad id"}, "request_id"),
    ({"loan_ref": ""}, "loan_ref"),
    ({"loan_ref": "张三"}, "loan_ref"),
    ({"kind": common_pb2.EVIDENCE_KIND_UNSPECIFIED}, "kind"),
    ({"hash_algorithm": common_pb2.HASH_ALGORITHM_UNSPECIFIED}, "hash_algorithm"),
    ({"digest": b"\x01" * 20}, "digest"),
    ({"hash_algorithm": common_pb2.HASH_ALGORITHM_SHA512}, "digest"),
    ({"occurred_at": None}, "occurred_at"),
    ({"metadata": {"UPPER": "x"}}, "metadata[UPPER]"),
    ({"metadata": {"k": "é" * 129}}, "metadata[k]"),
    ({"metadata": {f"k{i:02}": "v" for i in range(17)}}, "metadata"),
    ({"supersedes": "no such entry"}, "supersedes"),
    ({"supersedes": "aaaaaaaaaaaaaaaaaaaaaaaaaa"}, "supersedes"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_SUBMISSIONS)
def test_submit_bad_input_names_the_field(
    gw: Gateway, changes: dict[str, object], field: str
) -> None:
    s = _bad(**changes)
    with pytest.raises(grpc.RpcError) as info:
        gw.submit(s)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(info.value) == [f"submission.{field}"]
    # Nothing was registered under that request_id: a corrected resubmission is new.
    if field != "request_id":
        assert gw.submit(submission(loan(), request_id=s.request_id)).loan_sequence == 1


def test_batch_results_in_order_with_per_item_errors(gw: Gateway) -> None:
    ref = loan()
    items = [submission(ref) for _ in range(6)]
    items[2] = _bad(loan_ref="")
    items[4] = _bad(digest=b"x")
    response = gw.evidence.BatchSubmitEvidence(
        ev.BatchSubmitEvidenceRequest(submissions=items), timeout=30
    )
    assert [r.request_id for r in response.results] == [s.request_id for s in items]
    assert [r.WhichOneof("result") for r in response.results] == [
        "receipt", "receipt", "error", "receipt", "error", "receipt",
    ]  # fmt: skip
    assert [f for f, _ in violations_of(response.results[2].error)] == ["loan_ref"]
    assert [f for f, _ in violations_of(response.results[4].error)] == ["digest"]
    receipts = [r.receipt for r in response.results if r.HasField("receipt")]
    assert [r.loan_sequence for r in receipts] == [1, 2, 3, 4]
    for s, r in zip([items[0], items[1], items[3], items[5]], receipts, strict=True):
        check_receipt(gw, s, r)
    # One group commit: the items share one checkpoint.
    assert len({r.checkpoint.signed_note for r in receipts}) == 1


def test_batch_of_1000(gw: Gateway) -> None:
    items = [submission(loan()) for _ in range(1000)]
    response = gw.evidence.BatchSubmitEvidence(
        ev.BatchSubmitEvidenceRequest(submissions=items), timeout=60
    )
    assert len(response.results) == 1000
    assert all(r.HasField("receipt") for r in response.results)
    indices = [r.receipt.leaf_index for r in response.results]
    assert indices == sorted(indices) and len(set(indices)) == 1000
    with pytest.raises(grpc.RpcError) as info:
        gw.evidence.BatchSubmitEvidence(
            ev.BatchSubmitEvidenceRequest(submissions=[*items, submission()]), timeout=30
        )
    assert error_fields(info.value) == ["submissions"]


def test_batch_repeated_request_id_and_conflict(gw: Gateway) -> None:
    s = submission(loan())
    changed = common_pb2.EvidenceSubmission()
    changed.CopyFrom(s)
    changed.loan_ref = loan()
    response = gw.evidence.BatchSubmitEvidence(
        ev.BatchSubmitEvidenceRequest(submissions=[s, s, changed]), timeout=30
    )
    a, b, c = response.results
    assert a.receipt.entry_id == b.receipt.entry_id
    assert c.error.code == code_pb2.ALREADY_EXISTS


def test_stream_in_order(gw: Gateway) -> None:
    ref = loan()
    items = [submission(ref) for _ in range(200)]
    items[50] = _bad(kind=0)
    responses = list(
        gw.evidence.SubmitEvidenceStream(
            (ev.SubmitEvidenceStreamRequest(submission=s) for s in items), timeout=60
        )
    )
    assert [r.request_id for r in responses] == [s.request_id for s in items]
    assert [f for f, _ in violations_of(responses[50].error)] == ["kind"]
    receipts = [r.receipt for r in responses if r.HasField("receipt")]
    assert [r.loan_sequence for r in receipts] == list(range(1, 200))
    check_receipt(gw, items[199], receipts[-1])


def test_get_evidence(gw: Gateway) -> None:
    s = submission(loan(), metadata={"agency": "a-17"})
    r = gw.submit(s)
    record = gw.evidence.GetEvidence(ev.GetEvidenceRequest(entry_id=r.entry_id)).record
    s.owner = "dev-bank"  # an empty owner is the submitter: the record names it
    assert record.submission == s
    assert record.receipt.entry_id == r.entry_id
    assert record.receipt.leaf == r.leaf and record.receipt.timestamp_token == r.timestamp_token
    assert record.institution == "dev-bank"
    with pytest.raises(grpc.RpcError) as info:
        gw.evidence.GetEvidence(ev.GetEvidenceRequest(entry_id="unknown-entry"))
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as info:
        gw.evidence.GetEvidence(ev.GetEvidenceRequest(entry_id="not valid!"))
    assert error_fields(info.value) == ["entry_id"]


def test_supersession(gw: Gateway) -> None:
    ref = loan()
    original = gw.submit(submission(ref, kind=common_pb2.EVIDENCE_KIND_OTHER))
    with pytest.raises(grpc.RpcError) as info:
        gw.submit(submission(loan(), supersedes=original.entry_id))
    assert error_fields(info.value) == ["submission.supersedes"]
    fix1 = gw.submit(submission(ref, supersedes=original.entry_id))
    fix2 = gw.submit(submission(ref, supersedes=original.entry_id))
    record = gw.evidence.GetEvidence(ev.GetEvidenceRequest(entry_id=original.entry_id)).record
    assert list(record.superseded_by) == [fix1.entry_id, fix2.entry_id]
    assert opened(fix1).supersedes == original.entry_id
    correction = gw.evidence.GetEvidence(ev.GetEvidenceRequest(entry_id=fix1.entry_id)).record
    assert correction.submission.supersedes == original.entry_id
    assert list(correction.superseded_by) == []


def test_find_evidence_pagination(gw: Gateway) -> None:
    digest = hashlib.sha256(uuid.uuid4().bytes).digest()
    ids = [gw.submit(submission(loan(), digest=digest)).entry_id for _ in range(5)]
    seen: list[str] = []
    token = ""
    for _ in range(10):
        page = gw.evidence.FindEvidence(
            ev.FindEvidenceRequest(
                hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256,
                digest=digest,
                page_size=2,
                page_token=token,
            )
        )
        assert len(page.records) <= 2
        seen += [r.receipt.entry_id for r in page.records]
        token = page.next_page_token
        if not token:
            break
    assert seen == ids


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"hash_algorithm": 0, "digest": b"\0" * 32}, "hash_algorithm"),
        ({"hash_algorithm": 2, "digest": b"\0" * 32}, "digest"),
        ({"hash_algorithm": 1, "digest": b"\0" * 32, "page_size": -1}, "page_size"),
        ({"hash_algorithm": 1, "digest": b"\0" * 32, "page_token": "bogus"}, "page_token"),
    ],
)
def test_find_evidence_bad_input(gw: Gateway, fields: dict[str, object], expected: str) -> None:
    with pytest.raises(grpc.RpcError) as info:
        gw.evidence.FindEvidence(ev.FindEvidenceRequest(**fields))  # type: ignore[arg-type]
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_fields(info.value) == [expected]


def test_list_evidence_pagination_is_stable(gw: Gateway) -> None:
    ref = loan()
    for _ in range(5):
        gw.submit(submission(ref))
    first = gw.evidence.ListEvidence(ev.ListEvidenceRequest(loan_ref=ref, page_size=3))
    assert [r.receipt.loan_sequence for r in first.records] == [1, 2, 3]
    gw.submit(submission(ref))  # a new record appears on a later page
    rest = gw.evidence.ListEvidence(
        ev.ListEvidenceRequest(loan_ref=ref, page_size=3, page_token=first.next_page_token)
    )
    assert [r.receipt.loan_sequence for r in rest.records] == [4, 5, 6]
    assert rest.next_page_token == ""
    explicit = gw.evidence.ListEvidence(
        ev.ListEvidenceRequest(loan_ref=ref, institution="dev-bank")
    )
    assert len(explicit.records) == 6
    other = gw.evidence.ListEvidence(ev.ListEvidenceRequest(loan_ref=ref, institution="bank-x"))
    assert list(other.records) == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"loan_ref": ""}, "loan_ref"),
        ({"loan_ref": "a b"}, "loan_ref"),
        ({"loan_ref": "ok", "institution": "no spaces"}, "institution"),
        ({"loan_ref": "ok", "page_size": -1}, "page_size"),
        ({"loan_ref": "ok", "page_token": "bogus"}, "page_token"),
    ],
)
def test_list_evidence_bad_input(gw: Gateway, fields: dict[str, object], expected: str) -> None:
    with pytest.raises(grpc.RpcError) as info:
        gw.evidence.ListEvidence(ev.ListEvidenceRequest(**fields))  # type: ignore[arg-type]
    assert error_fields(info.value) == [expected]


# ----------------------------------------------------------------------- LogService


def test_log_service(gw: Gateway) -> None:
    r = gw.submit(submission(loan()))
    old = gw.log.GetCheckpoint(lg.GetCheckpointRequest()).checkpoint
    verified = verify_checkpoint(old.signed_note, gw.vkey)
    assert (verified.size, verified.root_hash) == (old.size, old.root_hash)
    for _ in range(3):
        gw.submit(submission(loan()))
    by_index = gw.log.GetInclusionProof(lg.GetInclusionProofRequest(leaf_index=r.leaf_index))
    new = by_index.checkpoint
    assert new.size >= old.size + 3
    verify_inclusion(
        r.leaf_index, new.size, leaf_hash(r.leaf), list(by_index.inclusion_proof.hashes),
        new.root_hash,
    )  # fmt: skip
    by_hash = gw.log.GetInclusionProof(
        lg.GetInclusionProofRequest(leaf_hash=leaf_hash(r.leaf), tree_size=old.size)
    )
    assert by_hash.inclusion_proof.leaf_index == r.leaf_index
    assert not by_hash.HasField("checkpoint")
    verify_inclusion(
        r.leaf_index, old.size, leaf_hash(r.leaf), list(by_hash.inclusion_proof.hashes),
        old.root_hash,
    )  # fmt: skip
    consistency = gw.log.GetConsistencyProof(lg.GetConsistencyProofRequest(from_size=old.size))
    latest = consistency.checkpoint
    verify_consistency(
        old.size, latest.size, list(consistency.consistency_proof.hashes), old.root_hash,
        latest.root_hash,
    )  # fmt: skip
    entries = gw.log.GetEntries(lg.GetEntriesRequest(start=r.leaf_index, end=latest.size)).entries
    assert entries[0].leaf_index == r.leaf_index and entries[0].leaf == r.leaf
    assert [e.leaf_index for e in entries] == list(range(r.leaf_index, latest.size))


def test_get_entries_caps_at_1000(gw: Gateway) -> None:
    gw.evidence.BatchSubmitEvidence(
        ev.BatchSubmitEvidenceRequest(submissions=[submission(loan()) for _ in range(1001)][:1000]),
        timeout=60,
    )
    size = gw.log.GetCheckpoint(lg.GetCheckpointRequest()).checkpoint.size
    assert size > 1000
    entries = gw.log.GetEntries(lg.GetEntriesRequest(start=0, end=size)).entries
    assert len(entries) == 1000 and entries[-1].leaf_index == 999


def test_get_entries_serves_leaves_that_reveal_nothing(gw: Gateway) -> None:
    ref = loan()
    first = submission(ref, metadata={"agency": "collector-x", "channel": "sms-gateway-7"})
    first_receipt = gw.submit(first)
    second = submission(
        ref, kind=common_pb2.EVIDENCE_KIND_COLLECTION_CALL, supersedes=first_receipt.entry_id
    )
    second_receipt = gw.submit(second)
    third = submission(ref)  # the same loan_ref at another lender: another loan
    third_receipt = gw.submit(third, institution="bank-b")
    size = gw.log.GetCheckpoint(lg.GetCheckpointRequest()).checkpoint.size
    start = first_receipt.leaf_index
    served = gw.log.GetEntries(lg.GetEntriesRequest(start=start, end=size)).entries
    leaves = {e.leaf_index: e.leaf for e in served}
    ours = [first_receipt, second_receipt, third_receipt]
    private = [
        b"dev-bank",
        b"bank-b",
        ref.encode(),
        b"collector-x",
        b"sms-gateway-7",
        first_receipt.entry_id.encode(),  # named by the second record's supersedes
        *(s.digest for s in (first, second, third)),
    ]  # (the kind has no place in a version 2 leaf: its structure is checked below)
    for receipt in ours:
        leaf = leaves[receipt.leaf_index]
        assert leaf == receipt.leaf
        public = decode_any_leaf(leaf)
        assert isinstance(public, PublicLeaf) and public.version == 2
        found = [p for p in private if p in leaf and p != public.entry_id.encode()]
        assert not found, f"leaf {receipt.leaf_index} shows {found}"
    keys = [decode_any_leaf(leaves[r.leaf_index]).loan_key for r in ours]  # type: ignore[union-attr]
    assert keys[0] == keys[1] != keys[2]  # one opaque key per loan, linkable only with the salt
    # The owner's opening opens the public leaf: the record it commits to is the one submitted.
    record = opened(second_receipt)
    assert (record.owner, record.loan_ref, record.digest) == ("dev-bank", ref, second.digest)
    assert record.supersedes == first_receipt.entry_id and record.kind == "collection_call"
    # Every leaf served is a public version 2 leaf.
    for entry in gw.log.GetEntries(lg.GetEntriesRequest(start=0, end=min(size, 1000))).entries:
        assert isinstance(decode_any_leaf(entry.leaf), PublicLeaf)


@pytest.mark.parametrize(
    ("rpc", "fields", "expected", "code"),
    [
        ("GetInclusionProof", {}, ["leaf"], grpc.StatusCode.INVALID_ARGUMENT),
        ("GetInclusionProof", {"leaf_hash": b"\0" * 31}, ["leaf_hash"], None),
        ("GetInclusionProof", {"leaf_index": 10**12}, ["leaf_index"], None),
        ("GetInclusionProof", {"leaf_index": 0, "tree_size": 10**12}, ["tree_size"], None),
        ("GetInclusionProof", {"leaf_hash": b"\0" * 32}, [], grpc.StatusCode.NOT_FOUND),
        ("GetConsistencyProof", {"from_size": 0}, ["from_size"], None),
        ("GetConsistencyProof", {"from_size": 3, "to_size": 2}, ["from_size"], None),
        ("GetConsistencyProof", {"from_size": 1, "to_size": 10**12}, ["to_size"], None),
        ("GetEntries", {"start": 5, "end": 5}, ["start"], None),
        ("GetEntries", {"start": 0, "end": 10**12}, ["end"], None),
    ],
)
def test_log_bad_input(
    gw: Gateway,
    rpc: str,
    fields: dict[str, object],
    expected: list[str],
    code: grpc.StatusCode | None,
) -> None:
    gw.submit(submission(loan()))
    request_type = {
        "GetInclusionProof": lg.GetInclusionProofRequest,
        "GetConsistencyProof": lg.GetConsistencyProofRequest,
        "GetEntries": lg.GetEntriesRequest,
    }[rpc]
    with pytest.raises(grpc.RpcError) as info:
        getattr(gw.log, rpc)(request_type(**fields))
    assert info.value.code() is (code or grpc.StatusCode.INVALID_ARGUMENT)
    if expected:
        assert error_fields(info.value) == expected


# -------------------------------------------------------------- VerificationService


def test_verify_evidence_by_digest_with_receipt(gw: Gateway) -> None:
    s = submission(loan())
    r = gw.submit(s)
    for _ in range(2):
        gw.submit(submission(loan()))
    response = gw.verification.VerifyEvidence(
        vf.VerifyEvidenceRequest(
            digest=vf.Digest(hash_algorithm=s.hash_algorithm, value=s.digest), receipt=r
        )
    )
    assert response.verdict == vf.VERDICT_VALID, response.checks
    names = [c.name for c in response.checks]
    assert len(names) == len(set(names))
    assert {"Signature valid", "Imprint matches", "Chain valid at genTime"} <= set(names)
    assert all(c.status == vf.CHECK_STATUS_PASSED for c in response.checks if "Receipt" in c.name)
    m = response.material
    assert m.timestamp_token == r.timestamp_token and m.leaf == r.leaf
    assert m.consistency_proof.from_size == r.checkpoint.size
    assert m.consistency_proof.to_size == m.checkpoint.size == m.inclusion_proof.tree_size
    # The caller re-checks the material itself.
    latest = verify_checkpoint(m.checkpoint.signed_note, gw.vkey)
    hashes = list(m.inclusion_proof.hashes)
    verify_inclusion(r.leaf_index, latest.size, leaf_hash(m.leaf), hashes, latest.root_hash)
    verify_consistency(
        r.checkpoint.size, latest.size, list(m.consistency_proof.hashes), r.checkpoint.root_hash,
        latest.root_hash,
    )  # fmt: skip


def test_verify_evidence_by_entry_id_forged_receipt_and_not_found(gw: Gateway) -> None:
    r = gw.submit(submission(loan()))
    ok = gw.verification.VerifyEvidence(vf.VerifyEvidenceRequest(entry_id=r.entry_id))
    assert ok.verdict == vf.VERDICT_VALID
    forged = common_pb2.Receipt()
    forged.CopyFrom(r)
    forged.inclusion_proof.hashes[0] = b"\0" * 32 if r.inclusion_proof.hashes else b""
    if not r.inclusion_proof.hashes:
        forged.leaf = r.leaf + b"\0"
    bad = gw.verification.VerifyEvidence(
        vf.VerifyEvidenceRequest(entry_id=r.entry_id, receipt=forged)
    )
    assert bad.verdict == vf.VERDICT_INVALID
    failed = {c.name for c in bad.checks if c.status == vf.CHECK_STATUS_FAILED}
    assert failed & {"Receipt inclusion proof valid", "Receipt matches record"}
    missing = gw.verification.VerifyEvidence(vf.VerifyEvidenceRequest(entry_id="nonexistent"))
    assert missing.verdict == vf.VERDICT_NOT_FOUND


@pytest.mark.parametrize(
    ("request_message", "expected"),
    [
        (vf.VerifyEvidenceRequest(), ["subject"]),
        (vf.VerifyEvidenceRequest(entry_id="bad id!"), ["entry_id"]),
        (vf.VerifyEvidenceRequest(digest=vf.Digest(value=b"\0" * 32)), ["digest.hash_algorithm"]),
        (
            vf.VerifyEvidenceRequest(digest=vf.Digest(hash_algorithm=1, value=b"\0" * 3)),
            ["digest.value"],
        ),
        (
            vf.VerifyEvidenceRequest(
                entry_id="abc",
                receipt=common_pb2.Receipt(entry_id="abc", leaf=b"l", timestamp_token=b"t"),
            ),
            ["receipt.checkpoint.signed_note"],
        ),
    ],
)
def test_verify_evidence_bad_input(
    gw: Gateway, request_message: vf.VerifyEvidenceRequest, expected: list[str]
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        gw.verification.VerifyEvidence(request_message)
    assert error_fields(info.value) == expected


# ------------------------------------------------------------ health and reflection


def test_health_serving(gw: Gateway) -> None:
    stub = health_pb2_grpc.HealthStub(gw.channel)
    for service in (
        "",
        "evidence_gateway.v1.EvidenceService",
        "evidence_gateway.v1.LogService",
        "evidence_gateway.v1.VerificationService",
        "evidence_gateway.v1.AccessService",
    ):
        status = stub.Check(health_pb2.HealthCheckRequest(service=service)).status
        assert status == health_pb2.HealthCheckResponse.SERVING, service
    with pytest.raises(grpc.RpcError) as info:
        stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
    assert info.value.code() is grpc.StatusCode.NOT_FOUND


def test_reflection_lists_the_services(gw: Gateway) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(gw.channel)
    (response,) = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = {s.name for s in response.list_services_response.service}
    assert names == {
        "evidence_gateway.v1.AdminService",
        "evidence_gateway.v1.EvidenceService",
        "evidence_gateway.v1.LogService",
        "evidence_gateway.v1.VerificationService",
        "evidence_gateway.v1.AccessService",
        "evidence_gateway.v1.CaseService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }


# ------------------------------------------------------------------- the command


def _serve(
    folder: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "gateway"), "serve", *args],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=30,
        check=False,
    )


def test_serve_without_the_flag_needs_its_tls_files(tmp_path: Path) -> None:
    # Without --insecure-dev the gateway serves mutual TLS, never plaintext: no key, no start.
    make_pki(tmp_path / "data" / "pki")
    (tmp_path / "data" / "pki" / "server.key").unlink()
    config = write_config(tmp_path)
    result = _serve(tmp_path, "--config", str(config))
    assert result.returncode == 1
    key = tmp_path / "data" / "pki" / "server.key"
    assert f"TLS private key {key} does not exist" in result.stderr
    assert "set [tls] key_file" in result.stderr and "--insecure-dev" in result.stderr


def test_serve_refuses_plaintext_on_a_non_loopback_address(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('listen = "0.0.0.0:50051"\ninsecure_dev = true\n')
    result = _serve(tmp_path, "--config", str(config))
    assert result.returncode == 1
    assert "loopback" in result.stderr


def test_serve_without_a_pki_says_how_to_make_one(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = _serve(tmp_path, "--config", str(config), "--insecure-dev")
    assert result.returncode == 1
    assert "notary pki init" in result.stderr


def test_serve_announces_address_key_and_example(gw: Gateway) -> None:
    out = gw.proc.log_path.read_text()
    assert f"gRPC listening on {gw.proc.address}" in out
    assert "data/pki/log.vkey" in out and gw.vkey in out
    assert "SubmitEvidence" in out and "hashlib.sha256" in out


# ------------------------------------------------- an external TSA over HTTP, going down


def _start_notary(pki: Path, port: int, state: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                str(BIN / "notary"), "serve", "--pki", str(pki), "--listen", f"127.0.0.1:{port}",
                "--state-dir", str(state),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)


def _wait_health(channel: grpc.Channel, want: int, timeout: float = 20.0) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout
    while True:
        status = stub.Check(health_pb2.HealthCheckRequest()).status
        if status == want or time.monotonic() > deadline:
            return int(status)
        time.sleep(0.1)


def test_http_tsa_down_is_unavailable_and_not_serving(tmp_path: Path) -> None:
    pki = tmp_path / "data" / "pki"
    make_pki(pki)
    port = free_port()
    notary_log = tmp_path / "notary.log"
    notary = _start_notary(pki, port, tmp_path / "notary", notary_log)
    config = write_config(tmp_path)
    with config.open("a") as fh:
        fh.write(
            f'[tsa]\nurls = ["http://127.0.0.1:{port}/"]\nca_files = ["data/pki/root-ca.pem"]\n'
        )
    proc = GatewayProcess(config, tmp_path)
    try:
        proc.start()
        with proc.channel() as channel:
            stub = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
            s = submission(loan())
            r = stub.SubmitEvidence(ev.SubmitEvidenceRequest(submission=s)).receipt
            verification = verification_service_pb2_grpc.VerificationServiceStub(channel)
            verdict = verification.VerifyEvidence(vf.VerifyEvidenceRequest(entry_id=r.entry_id))
            assert verdict.verdict == vf.VERDICT_VALID, verdict.checks

            notary.terminate()
            notary.wait(10)
            retry = submission(loan())
            with pytest.raises(grpc.RpcError) as info:
                stub.SubmitEvidence(ev.SubmitEvidenceRequest(submission=retry), timeout=30)
            assert info.value.code() is grpc.StatusCode.UNAVAILABLE
            assert _wait_health(channel, health_pb2.HealthCheckResponse.NOT_SERVING) == (
                health_pb2.HealthCheckResponse.NOT_SERVING
            )

            notary = _start_notary(pki, port, tmp_path / "notary", notary_log)
            assert _wait_health(channel, health_pb2.HealthCheckResponse.SERVING) == (
                health_pb2.HealthCheckResponse.SERVING
            )
            # Retrying with the same request_id is safe: it registers once.
            again = stub.SubmitEvidence(ev.SubmitEvidenceRequest(submission=retry)).receipt
            assert again.leaf_index == r.leaf_index + 1
    finally:
        assert proc.stop() == 0
        notary.terminate()
        notary.wait(10)


# ------------------------------------------------------------------ authorization


def test_role_x_rpc_matrix_on_gateway_serve(gw: Gateway) -> None:
    """Every RPC as every role against the real process (development identities for
    now: the same table and interceptor serve the identities of client certificates)."""
    stubs = Stubs.of(gw.channel)
    # Grants go only to registered institutions of the right role: register the matrix's.
    for role in (Role.COLLECTOR, Role.COURT, Role.ARBITRATION):
        pem = issue_client_certificate(gw.pki, WHO[role], role.value).pem
        stubs.admin.RegisterInstitution(
            ad.RegisterInstitutionRequest(name=WHO[role], role=role.value, certificate=pem),
            metadata=dev_headers(Role.ADMIN),
            timeout=30,
        )
    wrong = mismatches(lambda role: replace(stubs, metadata=dev_headers(role)), admin=True)
    assert not wrong, "\n".join(wrong)
    assert "denied: caller court-1 (role court) called" in gw.proc.log_path.read_text()
