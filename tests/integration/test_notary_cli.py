"""The notary and court-verify CLIs as a user runs them: output, messages, exit codes."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import BIN, free_port, notary_server

DOC = "催收通话录音 collection call recording".encode()


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def url(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with notary_server(pki_p256, tmp_path_factory.mktemp("notary-cli") / "state") as base:
        yield base


@pytest.fixture(scope="module")
def stamped(url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("stamped")
    doc = work / "recording.bin"
    doc.write_bytes(DOC)
    token = work / "recording.tsr"
    result = run("notary", "stamp", "--file", str(doc), "--url", url, "--out", str(token))
    assert result.returncode == 0, result.stderr
    assert "granted: serial" in result.stdout
    return doc, token


def test_stamp_then_verify_by_file(stamped: tuple[Path, Path], pki_p256: Path) -> None:
    doc, token = stamped
    result = run(
        "notary", "verify", str(token), "--file", str(doc), "--ca", str(pki_p256 / "root-ca.pem")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("Signature valid", "Chain valid at genTime", "Imprint matches"):
        assert any(line.startswith("PASS") and name in line for line in result.stdout.splitlines())
    assert result.stdout.splitlines()[-1].startswith("VALID: time-stamped at")


def test_verify_by_digest_with_pins(stamped: tuple[Path, Path], pki_p256: Path) -> None:
    _, token = stamped
    result = run(
        "court-verify",
        "token",
        str(token),
        "--digest",
        hashlib.sha256(DOC).hexdigest(),
        "--ca",
        str(pki_p256 / "root-ca.pem"),
        "--tsa-cert",
        str(pki_p256 / "tsa.pem"),
        "--policy",
        "2.25.74167495855605972033681777401069352886",
    )
    assert result.returncode == 0, result.stdout
    assert "PASS  TSA identity pinned" in result.stdout
    assert "PASS  Policy matches" in result.stdout


def test_verify_other_document_exits_1(
    stamped: tuple[Path, Path], pki_p256: Path, tmp_path: Path
) -> None:
    _, token = stamped
    other = tmp_path / "other"
    other.write_bytes(DOC + b"!")
    result = run(
        "notary", "verify", str(token), "--file", str(other), "--ca", str(pki_p256 / "root-ca.pem")
    )
    assert result.returncode == 1
    assert any(
        line.startswith("FAIL") and "Imprint matches" in line for line in result.stdout.splitlines()
    )
    assert result.stdout.splitlines()[-1] == "INVALID: Imprint matches"


def test_verify_with_wrong_root_exits_1(stamped: tuple[Path, Path], pki_rsa3072: Path) -> None:
    doc, token = stamped
    result = run(
        "notary", "verify", str(token), "--file", str(doc), "--ca", str(pki_rsa3072 / "root-ca.pem")
    )
    assert result.returncode == 1
    assert "FAIL  Chain valid at genTime" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--digest", "not-hex"], "--digest must be hexadecimal"),
        (["--digest", "00ff"], "give --hash explicitly"),
        (["--file", "missing.bin"], "cannot read --file missing.bin"),
        (["--file", "recording.bin", "--ca", "missing.pem"], "cannot read --ca file missing.pem"),
    ],
)
def test_verify_input_errors_exit_2(
    stamped: tuple[Path, Path], pki_p256: Path, args: list[str], message: str
) -> None:
    doc, token = stamped
    extra = [] if "--ca" in args else ["--ca", str(pki_p256 / "root-ca.pem")]
    result = run("notary", "verify", str(token), *args, *extra, cwd=doc.parent)
    assert result.returncode == 2
    assert message in result.stderr


def test_verify_missing_token_exits_2(pki_p256: Path, tmp_path: Path) -> None:
    result = run(
        "notary",
        "verify",
        str(tmp_path / "none.tsr"),
        "--digest",
        "00" * 32,
        "--ca",
        str(pki_p256 / "root-ca.pem"),
    )
    assert result.returncode == 2
    assert "cannot read token" in result.stderr


def test_verify_usage_error_exits_2() -> None:
    result = run("notary", "verify")
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_stamp_unreachable_tsa(tmp_path: Path) -> None:
    result = run(
        "notary",
        "stamp",
        "--digest",
        "00" * 32,
        "--url",
        f"http://127.0.0.1:{free_port()}/",
        "--out",
        str(tmp_path / "x.tsr"),
    )
    assert result.returncode == 1
    assert "cannot reach the TSA" in result.stderr
    assert not (tmp_path / "x.tsr").exists()


def test_stamp_refused_digest_length(url: str, tmp_path: Path) -> None:
    result = run(
        "notary", "stamp", "--digest", "00" * 20, "--url", url, "--out", str(tmp_path / "x.tsr")
    )
    assert result.returncode == 1
    assert "sha256 digest is 32 bytes" in result.stderr


def test_pki_init_refuses_to_overwrite_and_show(tmp_path: Path) -> None:
    first = run("notary", "pki", "init", "--out", str(tmp_path / "pki"))
    assert first.returncode == 0, first.stderr
    key_before = (tmp_path / "pki" / "tsa.key").read_bytes()
    again = run("notary", "pki", "init", "--out", str(tmp_path / "pki"))
    assert again.returncode == 1
    assert "--force" in again.stderr
    assert (tmp_path / "pki" / "tsa.key").read_bytes() == key_before
    shown = run("notary", "pki", "show", str(tmp_path / "pki"))
    assert shown.returncode == 0
    fingerprint = (
        subprocess.run(
            [
                "openssl",
                "x509",
                "-in",
                str(tmp_path / "pki" / "tsa.pem"),
                "-noout",
                "-fingerprint",
                "-sha256",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.split("=", 1)[1]
        .strip()
        .replace(":", "")
        .lower()
    )
    assert fingerprint in shown.stdout
    assert "timeStamping" in shown.stdout
    assert "log checkpoint verifier key" in shown.stdout


def test_serve_refuses_bad_listen(pki_p256: Path) -> None:
    result = run("notary", "serve", "--pki", str(pki_p256), "--listen", "nonsense")
    assert result.returncode == 2
    assert "HOST:PORT" in result.stderr
