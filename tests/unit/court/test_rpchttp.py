"""court/rpchttp.py, the one bounded transport of both chain clients, against hostile nodes.

The adversary's tests (tests/unit/test_anchor_hostile_node.py) cover a huge
answer, a trickling body, redirects and secrets in error messages through the
two clients; these cover what the transport does beyond them: the deadline
over the status line and headers too, a ``Content-Length`` past the cap
refused before the body is read, chunked answers, basic authentication from
the URL, and ``abort``.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator

import pytest

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
