"""court/urls.py: a node's URL in messages is its scheme, host and port, nothing else."""

from __future__ import annotations

import pytest

from court.urls import public_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("https://node.example", "https://node.example"),
        ("http://alice:s3cret@proxy.example:8545/", "http://proxy.example:8545"),
        ("https://node.example/v3/APIKEY", "https://node.example"),
        ("https://node.example:443/rpc?apikey=KEY#frag", "https://node.example:443"),
        ("http://[::1]:8545/KEY", "http://[::1]:8545"),
        ("http://user@Node.Example:1/", "http://node.example:1"),
    ],
)
def test_only_scheme_host_and_port_are_shown(url: str, shown: str) -> None:
    assert public_url(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        "http://alice:s3cret@host:notaport/KEY",  # an invalid port
        "http://[::1/KEY",  # an invalid IPv6 literal
        "s3cret",  # no scheme, no host
        "/v3/s3cret",
    ],
)
def test_what_cannot_be_parsed_is_not_echoed(url: str) -> None:
    shown = public_url(url)
    assert "s3cret" not in shown and "KEY" not in shown
    assert shown.startswith("(")


def test_a_host_with_control_characters_is_escaped() -> None:
    shown = public_url("http://evil\x1b\u202e.example:1/")
    assert "\x1b" not in shown and "\u202e" not in shown and "\\x1b" in shown


def test_not_a_string() -> None:
    assert public_url(None) == "(not a URL)"
