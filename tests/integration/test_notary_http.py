"""`notary serve` as a real process: RFC 3161 §3.4 over HTTP and its HTTP errors."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from asn1crypto import tsp

from notary.tsa.status import TimeStampResp
from tests.support.procs import notary_server
from tests.support.tsa import make_request

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def url(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with notary_server(pki_p256, tmp_path_factory.mktemp("notary") / "state") as base:
        yield base


def _post(
    url: str,
    body: bytes,
    content_type: str | None = "application/timestamp-query",
    method: str = "POST",
) -> tuple[int, str, bytes]:
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.headers.get_content_type(), reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get_content_type(), exc.read()


def test_grants_a_token(url: str) -> None:
    status, content_type, body = _post(url, make_request(b"over http", nonce=4242))
    assert (status, content_type) == (200, "application/timestamp-reply")
    response = tsp.TimeStampResp.load(body)
    assert response["status"]["status"].native == "granted"
    tst = response["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    assert tst["nonce"].native == 4242


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_wrong_method_is_405(url: str, method: str) -> None:
    status, _, _ = _post(url, make_request() if method != "GET" else None, method=method)  # type: ignore[arg-type]
    assert status == 405


@pytest.mark.parametrize("content_type", ["application/octet-stream", "text/plain", None])
def test_wrong_content_type_is_415(url: str, content_type: str | None) -> None:
    status, _, body = _post(url, make_request(), content_type)
    assert status == 415
    assert b"application/timestamp-query" in body


def test_body_over_64_kib_is_413(url: str) -> None:
    status, _, _ = _post(url, b"\x30" * (64 * 1024 + 1))
    assert status == 413


def test_malformed_body_gets_a_rejection_reply(url: str) -> None:
    status, content_type, body = _post(url, b"\x30\x03\x02\x01")
    assert (status, content_type) == (200, "application/timestamp-reply")
    info = TimeStampResp.load(body)["status"]
    assert info["status"].native == "rejection"
    assert info["fail_info"].native == {"bad_request"}


def test_healthz(url: str) -> None:
    with urllib.request.urlopen(url + "healthz", timeout=5) as reply:
        assert reply.status == 200
        assert json.loads(reply.read())["status"] == "ok"


def test_concurrent_requests_get_distinct_serials(url: str) -> None:
    def one(i: int) -> int:
        _, _, body = _post(url, make_request(b"%d" % i, nonce=i + 1))
        tst = tsp.TimeStampResp.load(body)["time_stamp_token"]["content"]
        return int(tst["encap_content_info"]["content"].parsed["serial_number"].native)

    with ThreadPoolExecutor(16) as pool:
        serials = list(pool.map(one, range(200)))
    assert len(set(serials)) == 200


def test_readme_pipeline_verifies(url: str, pki_p256: Path, tmp_path: Path) -> None:
    """The exact `openssl ts -query | curl | openssl ts -verify` line of the README works."""
    text = README.read_text()
    match = re.search(r"^(openssl ts -query .*openssl ts -verify .*)$", text, re.MULTILINE)
    assert match, "README must hold the openssl | curl | openssl line"
    line = (
        match.group(1)
        .replace("/tmp/", f"{tmp_path}/")
        .replace("http://127.0.0.1:3180/", url)
        .replace("data/pki/", f"{pki_p256}/")
    )
    (tmp_path / "README.md").write_text("a document to time-stamp\n")
    result = subprocess.run(["bash", "-c", line], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Verification: OK" in result.stdout


def test_rsa_key_is_served_too(pki_rsa3072: Path, tmp_path: Path) -> None:
    with notary_server(pki_rsa3072, tmp_path / "state") as base:
        status, _, body = _post(base, make_request(b"rsa over http"))
    assert status == 200
    signed = tsp.TimeStampResp.load(body)["time_stamp_token"]["content"]
    assert signed["signer_infos"][0]["signature_algorithm"].signature_algo == "rsassa_pkcs1v15"
