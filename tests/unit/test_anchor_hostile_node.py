"""Review of issue 9 (adversary): the chain clients against a hostile JSON-RPC node.

Both clients talk to a node the operator (gateway) or the court names; the
node may be hostile or sit behind a hostile network. These tests say what a
bounded, discreet client does: it refuses an answer past a size bound, gives
up on an answer that trickles in past its time-out, maps every hostile answer
to its own error, and never repeats the secret parts of an RPC URL (basic-auth
password, API key in the path or query) in a message that reaches logs,
``notary anchor status`` or a court's terminal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from court.chainrpc import ChainRpc, ChainRpcError
from gateway.anchor.chain import ChainClient, ChainError, ChainUnavailable
from tests.support.hostile_node import Body, HostileNode
from tests.support.procs import free_port

_RESULT = b'{"jsonrpc":"2.0","id":1,"result":"0x1"}'


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


# ------------------------------------------------------------------ size


_HUGE_MIB = 64


def _huge() -> Iterator[bytes]:
    """A well-formed answer whose result is a 64 MiB hex quantity."""
    yield b'{"jsonrpc":"2.0","id":1,"result":"0x1'
    for _ in range(_HUGE_MIB):
        yield b"0" * (1 << 20)
    yield b'"}'


def test_gateway_chain_client_refuses_a_huge_answer(
    hostile: Callable[[Body], HostileNode],
) -> None:
    """The chain client runs inside the process that writes the log: a node (or whoever
    sits between it and the gateway on plain http) that answers gigabytes must not get
    them into the gateway's memory. The court's client stops at 1 MiB; the gateway's
    reads the whole answer (web3's HTTPProvider: ``response.content``) and hands back a
    64-million-digit block number."""
    node = hostile(_huge)
    with pytest.raises(ChainError):
        ChainClient(node.url, timeout=5.0).head()
    assert node.sent < 16 << 20, f"the client read {node.sent >> 20} MiB of one answer"


# ------------------------------------------------------------------ trickle


_TRICKLE_BYTES = 60
_TRICKLE_PAUSE = 0.1


def _trickle() -> Iterator[bytes]:
    """Leading JSON whitespace, one byte at a time, then a valid answer: each byte
    comes well within a per-read time-out, the whole far beyond it."""
    for _ in range(_TRICKLE_BYTES):
        time.sleep(_TRICKLE_PAUSE)
        yield b" "
    yield _RESULT


def test_gateway_chain_client_gives_up_on_a_trickling_answer(
    hostile: Callable[[Body], HostileNode],
) -> None:
    """``timeout`` is per socket read (requests), not per request: a node that sends one
    byte every 0.1 s holds the anchoring worker's single thread -- and so every other
    chain it anchors to ("one being down does not hold the others") -- for as long as it
    likes. A client with a 0.5 s deadline gives up after a handful of bytes."""
    node = hostile(_trickle)
    with pytest.raises(ChainUnavailable):
        ChainClient(node.url, timeout=0.5).head()
    assert node.sent < _TRICKLE_BYTES // 2, f"the client waited for {node.sent} bytes"


def test_court_rpc_gives_up_on_a_trickling_answer(
    hostile: Callable[[Body], HostileNode],
) -> None:
    """court/chainrpc.py documents "every request times out"; urllib's timeout is per
    socket read too, so ``court-verify`` waits on a trickling node without end."""
    node = hostile(_trickle)
    with pytest.raises(ChainRpcError):
        ChainRpc(node.url, timeout=0.5).block_number()
    assert node.sent < _TRICKLE_BYTES // 2, f"the client waited for {node.sent} bytes"


# ------------------------------------------------------------------ nesting


def test_gateway_chain_client_maps_deeply_nested_json_to_its_error(
    hostile: Callable[[Body], HostileNode],
) -> None:
    """A deeply nested answer escapes the client as a bare ``RecursionError``: the
    worker logs a traceback every poll without backing off, and ``notary anchor status``
    (which catches ``ChainError``) dies with a traceback. The court's client maps it."""
    depth = 100_000
    node = hostile(lambda: [b'{"jsonrpc":"2.0","id":1,"result":' + b"[" * depth + b"]" * depth])
    with pytest.raises(ChainError):
        ChainClient(node.url, timeout=5.0).head()


# ------------------------------------------------------------------ secrets


_SECRETS = ("s3cretPW", "APIKEYabc123", "tokenXYZ789")


def _secret_urls() -> list[str]:
    port = free_port()  # nothing listens: the request fails at once
    return [
        f"http://alice:{_SECRETS[0]}@127.0.0.1:{port}/",
        f"http://127.0.0.1:{port}/v3/{_SECRETS[1]}",
        f"http://127.0.0.1:{port}/rpc?apikey={_SECRETS[2]}",
    ]


def test_gateway_chain_errors_do_not_show_rpc_url_secrets() -> None:
    """``ChainUnavailable``'s message quotes ``rpc_url`` whole; the worker logs it
    ("chain %s is unreachable (%s)"), keeps it as the chain's ``error`` (logged again with
    the lag warning) and ``notary anchor status`` prints it. Node providers put the API
    key in the path or query, and a proxy in front of Besu takes a basic-auth password in
    the URL: the message should name the node by scheme, host and port only."""
    for url in _secret_urls():
        with pytest.raises(ChainError) as caught:
            ChainClient(url, "0x" + "11" * 20, timeout=2.0).head()
        message = caught.value.message
        assert "127.0.0.1" in message
        assert not any(secret in message for secret in _SECRETS), message


def test_court_chain_errors_do_not_show_rpc_url_secrets() -> None:
    """The same for ``court-verify``: its message (stderr, often pasted into a court's
    record of the verification) quotes ``--rpc`` whole."""
    for url in _secret_urls():
        with pytest.raises(ChainRpcError) as caught:
            ChainRpc(url, timeout=2.0).block_number()
        message = str(caught.value)
        assert "127.0.0.1" in message
        assert not any(secret in message for secret in _SECRETS), message


# ------------------------------------------------------------------ redirects


@pytest.mark.parametrize("status", [302, 307, 308])
def test_gateway_chain_client_does_not_follow_redirects(status: int) -> None:
    """The court's client answers a redirect as the HTTP error it is; the gateway's
    follows it (requests' default; 307 and 308 keep the POST and its body, 302 turns it
    into a GET): the node, or anyone on a plain-http path to it, sends the gateway's
    JSON-RPC requests -- signed transactions included -- to any URL the gateway can
    reach (an internal service, another chain's node), and the gateway takes that
    server's answer as the chain's."""
    followed: list[str] = []

    class Target(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            followed.append(f"{self.command} {self.path}")
            body = _RESULT
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST  # a 302 is followed as a GET

        def log_message(self, *args: object) -> None:
            pass

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(status)
            self.send_header("Location", f"http://127.0.0.1:{target.server_address[1]}/internal")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    target = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    redirect = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (target, redirect)]
    for thread in threads:
        thread.start()
    try:
        with pytest.raises(ChainError):
            ChainClient(f"http://127.0.0.1:{redirect.server_address[1]}", timeout=5.0).head()
        assert followed == []
    finally:
        for server in (target, redirect):
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join(timeout=5)
