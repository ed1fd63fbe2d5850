"""The submitter's key file: made once with mode 0600, read back only when private."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gateway.anchor.keys import KeyFileError, create_key_file, load_account


def test_created_key_is_private_and_loads_to_the_same_address(tmp_path: Path) -> None:
    path = tmp_path / "anchor" / "submitter.key"
    address = create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("0x") and len(text.strip()) == 66
    assert load_account(path).address == address


def test_two_keys_differ(tmp_path: Path) -> None:
    assert create_key_file(tmp_path / "a.key") != create_key_file(tmp_path / "b.key")


def test_an_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "submitter.key"
    address = create_key_file(path)
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        create_key_file(path)
    assert path.read_bytes() == before
    assert load_account(path).address == address


def test_the_file_is_made_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "submitter.key"
        create_key_file(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o610])
def test_a_key_readable_by_others_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "submitter.key"
    create_key_file(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError) as caught:
        load_account(path)
    assert f"chmod 600 {path}" in caught.value.message


def test_a_missing_key_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="notary anchor init"):
        load_account(tmp_path / "nowhere.key")


@pytest.mark.parametrize(
    "content",
    [
        "",
        "0x1234",
        "0x" + "zz" * 32,
        "-----BEGIN PRIVATE KEY-----\n",
        "0x" + "00" * 32,  # zero is no key
        "0x" + "ff" * 32,  # beyond the curve order
        "\x1b[2J" + "0" * 62,
    ],
)
def test_malformed_keys_are_refused_without_echoing_them(tmp_path: Path, content: str) -> None:
    path = tmp_path / "submitter.key"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError) as caught:
        load_account(path)
    assert "\x1b" not in caught.value.message
    if content.strip():
        assert content.strip() not in caught.value.message


def test_a_key_without_0x_prefix_loads(tmp_path: Path) -> None:
    path = tmp_path / "submitter.key"
    address = create_key_file(path)
    path.write_text(path.read_text().removeprefix("0x"))
    assert load_account(path).address == address


def test_importing_the_chain_client_keeps_the_recursion_limit() -> None:
    """py_ecc (under eth-account) raises it to 100,000 on import; deep hostile input would
    then crash the process (C stack overflow) instead of raising RecursionError."""
    import subprocess
    import sys

    code = (
        "import sys; before = sys.getrecursionlimit()\n"
        "import gateway.anchor.chain, gateway.anchor.keys, tests.support.anvil\n"
        "import eth_account, web3, py_ecc\n"
        "print(before, sys.getrecursionlimit())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == out[1]
