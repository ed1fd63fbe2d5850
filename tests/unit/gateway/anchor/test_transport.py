"""The gateway chain client's provider (gateway/anchor/transport.py) against hostile answers
that the adversary's tests do not cover: quantities past 256 bits, answers that are not
JSON-RPC responses, and an error's text naming the node without its URL's secrets."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from gateway.anchor.chain import ChainClient, ChainError, ChainUnavailable
from tests.support.hostile_node import Body, HostileNode


@pytest.fixture
def node() -> Iterator[Callable[[object], HostileNode]]:
    nodes: list[HostileNode] = []

    def start(result: object) -> HostileNode:
        answer = json.dumps({"jsonrpc": "2.0", "id": 0, "result": result}).encode()
        body: Body = lambda: [answer]  # noqa: E731
        started = HostileNode(body)
        nodes.append(started)
        return started

    yield start
    for started in nodes:
        started.close()


def test_a_sane_quantity_is_read(node: Callable[[object], HostileNode]) -> None:
    assert ChainClient(node("0x10").url, timeout=5.0).head() == 16


@pytest.mark.parametrize("result", ["0x1" + "0" * 64, "0x01", "0x", "16", 16, None, ["0x1"]])
def test_a_block_number_that_is_not_a_quantity_is_refused(
    node: Callable[[object], HostileNode], result: object
) -> None:
    with pytest.raises(ChainError, match="not a quantity"):
        ChainClient(node(result).url, timeout=5.0).head()


def test_a_block_with_a_huge_number_is_refused(node: Callable[[object], HostileNode]) -> None:
    block = {"number": "0x1" + "0" * 100_000, "hash": "0x" + "22" * 32}
    with pytest.raises(ChainError, match="the number of the answer"):
        ChainClient(node(block).url, timeout=5.0).block_hash(1)


def test_an_answer_that_is_not_a_json_rpc_response_is_refused() -> None:
    for answer in (b"[1, 2]", b"not json", b"\xff\xfe"):
        hostile = HostileNode(lambda answer=answer: [answer])  # type: ignore[misc]
        try:
            with pytest.raises(ChainError) as caught:
                ChainClient(hostile.url, timeout=5.0).head()
            assert not isinstance(caught.value, ChainUnavailable)
        finally:
            hostile.close()


def test_an_error_names_the_node_by_scheme_host_and_port(
    node: Callable[[object], HostileNode],
) -> None:
    url = node("0x1" + "0" * 64).url.replace("http://", "http://alice:s3cret@") + "/v3/APIKEY"
    with pytest.raises(ChainError) as caught:
        ChainClient(url, timeout=5.0).head()
    message = caught.value.message
    assert url.split("@")[1].split("/")[0] in message
    assert "s3cret" not in message and "APIKEY" not in message
