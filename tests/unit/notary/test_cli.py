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
