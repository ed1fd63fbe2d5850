"""The gateway's HTTP token source against a real `notary serve` process, with fail-over."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from court.verify.token import verify_timestamp
from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc
from gateway.errors import Unavailable
from gateway.tsa import HttpTokenSource
from notary.pki import init_pki, load_tsa_signing_material
from tests.support.gateway_proc import GatewayProcess, make_pki, write_config
from tests.support.grpc_client import rich_status, submission
from tests.support.procs import free_port, notary_server


@pytest.fixture(scope="module")
def url(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with notary_server(pki_p256, tmp_path_factory.mktemp("notary") / "state") as base:
        yield base


def test_fails_over_to_a_working_tsa_and_verifies_fully(url: str, pki_p256: Path) -> None:
    roots = load_tsa_signing_material(pki_p256)[2]
    dead = f"http://127.0.0.1:{free_port()}/"
    source = HttpTokenSource([dead, url], roots, timeout=2.0)
    try:
        digests = [hashlib.sha256(bytes([i])).digest() for i in range(20)]
        out = source.stamp_batch([("sha256", d) for d in digests])
        for digest, token in zip(digests, out, strict=True):
            assert isinstance(token, bytes)
            result = verify_timestamp(token, roots=roots, digest=digest, hash_algorithm="sha256")
            assert result.ok, result.first_failure
        assert source.healthy()
    finally:
        source.close()


def test_tokens_from_an_untrusted_tsa_are_refused(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    init_pki(tmp_path / "other")
    other_roots = load_tsa_signing_material(tmp_path / "other")[2]
    source = HttpTokenSource([url], other_roots, timeout=2.0)
    try:
        with pytest.raises(Unavailable) as refused:
            source.stamp("sha256", hashlib.sha256(b"x").digest())
    finally:
        source.close()
    assert refused.value.message == "time-stamp authority unavailable; retry later"
    assert f"TSA {url} failed: token fails verification" in caplog.text


def test_callers_learn_no_tsa_address_or_connection_error(tmp_path: Path) -> None:
    """A gateway whose HTTP TSA goes down: UNAVAILABLE with a generic text; the detail is logged."""
    pki = tmp_path / "data" / "pki"
    make_pki(pki)
    with contextlib.ExitStack() as notary:
        url = notary.enter_context(notary_server(pki, tmp_path / "notary" / "state"))
        tsa = {"urls": [url], "ca_files": [str(pki / "root-ca.pem")]}
        proc = GatewayProcess(write_config(tmp_path, sections={"tsa": tsa}), tmp_path)
        proc.start()
        try:
            with proc.channel() as channel:
                stub = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
                request = ev.SubmitEvidenceRequest(submission=submission("loan-tsa-down"))
                assert stub.SubmitEvidence(request, timeout=30).receipt.entry_id
                notary.close()  # the TSA goes away
                with pytest.raises(grpc.RpcError) as failed:
                    stub.SubmitEvidence(
                        ev.SubmitEvidenceRequest(submission=submission("loan-tsa-down")),
                        timeout=30,
                    )
        finally:
            assert proc.stop() == 0
    error = failed.value
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert error.details() == "time-stamp authority unavailable; retry later"
    status = rich_status(error)
    assert status.message == error.details()
    port = url.rsplit(":", 1)[1].strip("/")
    caller_sees = status.SerializeToString()
    for secret in ("127.0.0.1", port, "http", "refused", "rrno", "111"):
        assert secret.encode() not in caller_sees, secret
    log = proc.log_path.read_text()
    assert f"TSA {url} failed" in log and "Connection refused" in log
