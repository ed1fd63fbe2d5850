"""court.chainrpc against a hostile local HTTP server: bounded, strict, escaped, no redirects."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from court.chainrpc import MAX_RESPONSE_BYTES, ChainRpc, ChainRpcError, parse_address

Reply = tuple[int, dict[str, str], bytes]


@pytest.fixture
def node() -> Iterator[Callable[[Callable[[dict[str, object]], Reply]], str]]:
    """A local HTTP server answering each JSON-RPC request with ``answer(request)``."""
    servers: list[ThreadingHTTPServer] = []
    threads: list[threading.Thread] = []

    def start(answer: Callable[[dict[str, object]], Reply]) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, headers, body = answer(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append(server)
        threads.append(thread)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    for thread in threads:
        thread.join(timeout=5)


def _result(value: object) -> Callable[[dict[str, object]], Reply]:
    def answer(request: dict[str, object]) -> Reply:
        body = {"jsonrpc": "2.0", "id": request["id"], "result": value}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    return answer


def test_quantities_and_call_data_are_read(node: Callable[..., str]) -> None:
    seen: list[dict[str, object]] = []

    def answer(request: dict[str, object]) -> Reply:
        seen.append(request)
        result = {"eth_chainId": "0x7a69", "eth_blockNumber": "0x0", "eth_call": "0x00ff"}
        return _result(result[str(request["method"])])(request)

    rpc = ChainRpc(node(answer))
    assert rpc.chain_id() == 31337
    assert rpc.block_number() == 0
    assert rpc.eth_call("0x" + "Ab" * 20, b"\x01\x02") == b"\x00\xff"
    assert seen[-1]["params"] == [{"to": "0x" + "ab" * 20, "data": "0x0102"}, "latest"]


@pytest.mark.parametrize(
    "value", ["0x", "0x01x", "12", "0x00", "0x" + "f" * 65, 17, None, ["0x1"], "0x1 "]
)
def test_malformed_quantities_are_refused(node: Callable[..., str], value: object) -> None:
    with pytest.raises(ChainRpcError, match="hex quantity"):
        ChainRpc(node(_result(value))).block_number()


@pytest.mark.parametrize("value", ["0x0", "0xabc", "ab", "0xzz", 5, None])
def test_malformed_call_data_is_refused(node: Callable[..., str], value: object) -> None:
    with pytest.raises(ChainRpcError, match="hex data"):
        ChainRpc(node(_result(value))).eth_call("0x" + "11" * 20, b"")


def test_an_oversized_answer_is_refused(node: Callable[..., str]) -> None:
    big = "0x" + "00" * (MAX_RESPONSE_BYTES // 2 + 10)
    with pytest.raises(ChainRpcError, match="exceeds"):
        ChainRpc(node(_result(big))).eth_call("0x" + "11" * 20, b"")


@pytest.mark.parametrize(
    "body",
    [b"not json \x1b[2J", b"[1, 2]", b'{"jsonrpc": "2.0", "id": 1}', b"[" * 100_000],
)
def test_garbage_answers_are_refused_escaped(node: Callable[..., str], body: bytes) -> None:
    url = node(lambda request: (200, {}, body))
    with pytest.raises(ChainRpcError) as caught:
        ChainRpc(url).block_number()
    assert "\x1b" not in str(caught.value)


def test_an_error_answer_is_quoted_escaped(node: Callable[..., str]) -> None:
    def answer(request: dict[str, object]) -> Reply:
        error = {"code": -32000, "message": "evil\x1b[2J\nsecond line" + "x" * 1000}
        body = {"jsonrpc": "2.0", "id": request["id"], "error": error}
        return 200, {}, json.dumps(body).encode()

    with pytest.raises(ChainRpcError) as caught:
        ChainRpc(node(answer)).block_number()
    message = str(caught.value)
    assert "evil" in message and "\x1b" not in message and "\n" not in message
    assert len(message) < 400


def test_redirects_are_not_followed(node: Callable[..., str]) -> None:
    followed: list[object] = []
    target = node(lambda request: (followed.append(request), *_result("0x1")(request))[1:])  # type: ignore[return-value]
    url = node(lambda request: (307, {"Location": target}, b""))
    with pytest.raises(ChainRpcError, match="HTTP 307"):
        ChainRpc(url).block_number()
    assert followed == []


def test_http_errors_and_unreachable_nodes(node: Callable[..., str]) -> None:
    with pytest.raises(ChainRpcError, match="HTTP 503"):
        ChainRpc(node(lambda request: (503, {}, b"busy"))).block_number()
    from tests.support.procs import free_port

    with pytest.raises(ChainRpcError, match="cannot reach"):
        ChainRpc(f"http://127.0.0.1:{free_port()}", timeout=2).block_number()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x", "127.0.0.1:8545", ""])
def test_only_http_urls(url: str) -> None:
    with pytest.raises(ChainRpcError, match="http:// or https://"):
        ChainRpc(url)


@pytest.mark.parametrize("address", ["0x1234", "11" * 20, "0x" + "g" * 40, "0x" + "1" * 41])
def test_addresses_are_checked(address: str) -> None:
    with pytest.raises(ChainRpcError, match="40 hex digits"):
        parse_address(address)
