"""The connection and request options of `court-verify fetch` and `audit-log` (no network)."""

from __future__ import annotations

import pytest

from court.cli import build_parser
from court.fetch import FetchRequest, request_from_args
from court.files import InputError
from court.gateway_rpc import is_loopback, split_address, target_from_args

PLAIN = ["--gateway", "127.0.0.1:50051", "--insecure-loopback"]


def fetch_args(*args: str):  # type: ignore[no-untyped-def]
    return build_parser().parse_args(["fetch", *args, "--out", "x.json"])


@pytest.mark.parametrize(
    ("address", "host", "port"),
    [
        ("127.0.0.1:50051", "127.0.0.1", 50051),
        ("[::1]:1", "::1", 1),
        ("gw.example:443", "gw.example", 443),
    ],
)
def test_addresses(address: str, host: str, port: int) -> None:
    assert split_address(address) == (host, port)


@pytest.mark.parametrize("address", ["50051", "host:", "host:0", "host:70000", "::1:5", "[::1]5"])
def test_bad_addresses_name_the_option(address: str) -> None:
    with pytest.raises(InputError, match="--gateway"):
        split_address(address)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("localhost", True), ("127.0.0.1", True), ("127.9.9.9", True), ("::1", True),
     ("10.0.0.1", False), ("gw.example", False), ("0.0.0.0", False)],
)  # fmt: skip
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_tls_needs_all_three_files_and_plaintext_none() -> None:
    with pytest.raises(InputError, match="give --cert and --key"):
        target_from_args(fetch_args("--gateway", "gw:1", "--ca", "ca.pem", "--entry", "e"))
    with pytest.raises(InputError, match="takes no --ca"):
        target_from_args(fetch_args(*PLAIN, "--ca", "ca.pem", "--entry", "e"))
    with pytest.raises(InputError, match="refusing plaintext"):
        target_from_args(
            fetch_args("--gateway", "10.1.2.3:1", "--insecure-loopback", "--entry", "e")
        )
    assert target_from_args(fetch_args(*PLAIN, "--entry", "e")).insecure_loopback


def test_requests() -> None:
    assert request_from_args(fetch_args(*PLAIN, "--entry", "e-1")) == FetchRequest(entry_id="e-1")
    digest = "ab" * 48
    assert request_from_args(fetch_args(*PLAIN, "--digest", digest)).digest == (
        "sha384",
        bytes.fromhex(digest),
    )
    loan = request_from_args(
        fetch_args(*PLAIN, "--loan", "L-1", "--owner", "bank", "--tree-size", "9")
    )
    assert loan == FetchRequest(loan_ref="L-1", owner="bank", tree_size=9)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--digest", "zz"], "--digest must be hexadecimal"),
        (["--digest", "ab" * 20], "--digest is 20 bytes"),
        (["--digest", "ab" * 48, "--hash", "sha256"], "a sha256 digest has 32"),
        (["--entry", "e", "--owner", "bank"], "--owner goes with --loan"),
        (["--entry", "e", "--hash", "sha256"], "--hash goes with --digest"),
        (["--loan", "L\n1"], "--loan must be a loan reference"),
        (["--entry", "e", "--tree-size", "-1"], "--tree-size must be"),
    ],
)
def test_wrong_requests_name_the_option(args: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        request_from_args(fetch_args(*PLAIN, *args))
