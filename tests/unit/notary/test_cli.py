"""The notary CLI's errors: input quoted in them is printed escaped, with a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest

from notary.cli import main


def test_a_path_with_terminal_escapes_is_printed_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = tmp_path / "token\x1b[2K\nPASS.der"
    code = main(["verify", str(token), "--digest", "00" * 32, "--ca", str(tmp_path / "ca.pem")])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("notary: ")
    assert "\\x1b[2K\\nPASS.der" in err
    assert "\x1b" not in err and err.count("\n") == 1


def test_pki_init_takes_server_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cryptography import x509

    out = tmp_path / "pki"
    args = ["pki", "init", "--out", str(out)]
    assert main([*args, "--server-name", "gw.example", "--server-name", "10.1.2.3"]) == 0
    server = x509.load_pem_x509_certificate((out / "server.pem").read_bytes())
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "gw.example" in san.get_values_for_type(x509.DNSName)
    capsys.readouterr()
    assert main(["pki", "init", "--out", str(tmp_path / "bad"), "--server-name", "a b"]) != 0
    assert "--server-name 'a b' is neither an IP address nor a DNS name" in capsys.readouterr().err
