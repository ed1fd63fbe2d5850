"""court/rpchttp.py, the one bounded transport of both chain clients, against hostile nodes.

The adversary's tests (tests/unit/test_anchor_hostile_node.py) cover a huge
answer, a trickling body, redirects and secrets in error messages through the
two clients; these cover what the transport does beyond them: the deadline
over the status line and headers too, a ``Content-Length`` past the cap
refused before the body is read, chunked answers, basic authentication from
the URL, ``abort``, and https (the TLS handshake under the deadline too).
"""

from __future__ import annotations

import base64
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from court.rpchttp import (
    RpcAnswerTooLarge,
    RpcHttpStatus,
    RpcTransportError,
    RpcUnreachable,
    check_url,
    post,
)
from tests.support.hostile_node import Body, HostileNode

_RESULT = b'{"jsonrpc":"2.0","id":1,"result":"0x1"}'
_BODY = b'{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}'


@pytest.fixture
def hostile() -> Iterator[Callable[[Body], HostileNode]]:
    nodes: list[HostileNode] = []

    def start(body: Body) -> HostileNode:
        node = HostileNode(body)
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.close()


def test_an_ordinary_answer_is_returned(hostile: Callable[[Body], HostileNode]) -> None:
    node = hostile(lambda: [_RESULT])
    assert post(node.url, _BODY, timeout=5.0, max_bytes=1 << 20) == _RESULT
    assert node.requests[0].startswith(b"POST / HTTP/1.1\r\n")
    assert node.requests[0].endswith(_BODY)


def test_a_chunked_answer_is_read(hostile: Callable[[Body], HostileNode]) -> None:
    node = hostile(
        lambda: [
            b"5\r\n" + _RESULT[:5] + b"\r\n",
            b"%x\r\n" % (len(_RESULT) - 5),
            _RESULT[5:] + b"\r\n0\r\n\r\n",
        ]
    )
    node.headers = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    assert post(node.url, _BODY, timeout=5.0, max_bytes=1 << 20) == _RESULT


def test_a_user_and_password_in_the_url_are_sent_as_basic_authentication(
    hostile: Callable[[Body], HostileNode],
) -> None:
    node = hostile(lambda: [_RESULT])
    url = node.url.replace("http://", "http://alice:p%40ss@") + "/rpc/KEY?x=1"
    assert post(url, _BODY, timeout=5.0, max_bytes=1 << 20) == _RESULT
    head = node.requests[0].split(b"\r\n\r\n")[0].decode()
    assert head.startswith("POST /rpc/KEY?x=1 HTTP/1.1")
    expected = base64.b64encode(b"alice:p@ss").decode()
    assert f"Authorization: Basic {expected}" in head.split("\r\n")


def test_the_deadline_covers_trickling_headers(hostile: Callable[[Body], HostileNode]) -> None:
    """urllib and requests wait for each header byte afresh; the deadline is for the whole."""

    def headers() -> Iterator[bytes]:
        yield b"HTTP/1.1 200 OK\r\n"
        for _ in range(60):
            time.sleep(0.1)
            yield b"X: y\r\n"

    node = hostile(headers)
    node.headers = b""
    with pytest.raises(RpcUnreachable, match=r"no complete answer within 0\.5 s"):
        post(node.url, _BODY, timeout=0.5, max_bytes=1 << 20)
    assert node.sent < 30 * len(b"X: y\r\n")


def test_an_announced_length_past_the_cap_is_refused_unread(
    hostile: Callable[[Body], HostileNode],
) -> None:
    node = hostile(lambda: [b"0" * (1 << 20) for _ in range(32)])
    node.headers = b"HTTP/1.1 200 OK\r\nContent-Length: 33554432\r\n\r\n"
    with pytest.raises(RpcAnswerTooLarge, match="announces 33554432 bytes"):
        post(node.url, _BODY, timeout=5.0, max_bytes=1 << 20)
    assert node.sent < 16 << 20


def test_an_error_status_is_not_read_further(hostile: Callable[[Body], HostileNode]) -> None:
    node = hostile(lambda: [b"<html>down</html>"])
    node.headers = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n"
    with pytest.raises(RpcHttpStatus) as caught:
        post(node.url, _BODY, timeout=5.0, max_bytes=1 << 20)
    assert caught.value.status == 503 and "redirect" not in str(caught.value)


def test_abort_ends_a_request_under_way(hostile: Callable[[Body], HostileNode]) -> None:
    """The anchoring worker stopping: the request ends at once, not at its deadline."""
    abort = threading.Event()

    def trickle() -> Iterator[bytes]:
        for i in range(600):
            if i == 5:
                abort.set()
            time.sleep(0.1)
            yield b" "

    node = hostile(trickle)
    with pytest.raises(RpcUnreachable, match="stopping"):
        post(node.url, _BODY, timeout=60.0, max_bytes=1 << 20, abort=abort)
    assert node.sent < 30


@pytest.mark.parametrize(
    "url",
    [
        "ftp://alice:s3cret@127.0.0.1/",
        "http:///s3cret",
        "http://127.0.0.1:99999/s3cret",
        "http://127.0.0.1/s3cret path",
        "http://127.0.0.1/s3cret\r\nX: y",
        "file:///etc/s3cret",
    ],
)
def test_a_url_it_cannot_use_is_refused_without_its_secrets(url: str) -> None:
    with pytest.raises(RpcTransportError) as caught:
        check_url(url)
    assert "s3cret" not in str(caught.value)
    with pytest.raises(RpcTransportError) as caught:
        post(url, _BODY, timeout=1.0, max_bytes=1 << 20)
    assert "s3cret" not in str(caught.value)


def _tls_pair(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client) TLS contexts: a self-signed certificate for 127.0.0.1, trusted by
    the client's context only."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chain node")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "node.pem", tmp_path / "node.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


def test_an_https_node_is_asked_over_tls(tmp_path: Path) -> None:
    server_tls, client_tls = _tls_pair(tmp_path)

    class Node(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(len(_RESULT)))
            self.end_headers()
            self.wfile.write(_RESULT)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Node)
    httpd.socket = server_tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{httpd.server_address[1]}/"
        assert post(url, _BODY, timeout=5.0, max_bytes=1 << 20, tls=client_tls) == _RESULT
        # Without the node's certificate in the trust store: refused.
        with pytest.raises(RpcUnreachable, match="SSLCertVerificationError"):
            post(url, _BODY, timeout=5.0, max_bytes=1 << 20)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_the_deadline_covers_a_tls_handshake_never_answered(
    hostile: Callable[[Body], HostileNode], tmp_path: Path
) -> None:
    """The node takes the connection and says nothing (it waits for an HTTP request)."""
    node = hostile(lambda: [_RESULT])
    _, client_tls = _tls_pair(tmp_path)
    url = node.url.replace("http://", "https://")
    with pytest.raises(RpcUnreachable, match=r"no complete answer within 0\.5 s"):
        post(url, _BODY, timeout=0.5, max_bytes=1 << 20, tls=client_tls)
    assert node.requests == []
