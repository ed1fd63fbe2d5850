"""`gateway` command line: parsing and the one place errors are printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import build_parser, main


def test_serve_parses_config_and_flag() -> None:
    args = build_parser().parse_args(["serve", "--config", "g.toml", "--insecure-dev"])
    assert args.config == Path("g.toml") and args.insecure_dev is True


def test_missing_config_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--config", "no/such.toml"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gateway: config file") and "does not exist" in err


def test_without_the_flag_tls_files_are_required(
    tmp_path: Path,
    pki_p256: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GATEWAY_INSECURE_DEV", raising=False)
    config = tmp_path / "g.toml"
    config.write_text(
        f'data_dir = "d"\n[tsa]\npki_dir = "{pki_p256}"\n[tls]\ncert_file = "missing.pem"\n'
    )
    assert main(["serve", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"TLS certificate {tmp_path / 'missing.pem'} does not exist" in err
    assert "set [tls] cert_file" in err and "--insecure-dev" in err


def test_usage_error_exits_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--bogus"])
    assert info.value.code == 2
