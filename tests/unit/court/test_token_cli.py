"""`court-verify token` and `notary verify`: a usage slip is exit 2 with what to do, not INVALID.

A token stamps a digest under one algorithm. When the user asks about a digest
under another (a bare 32-byte --digest is taken as SHA-256; an SM3 token needs
--hash sm3), the comparison cannot be made: that is a usage error (exit 2)
saying which option to give, not "Imprint matches: FAIL" (exit 1), which is
kept for a token that stamps another digest under the same algorithm.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from court.cli import main as court_verify
from notary.cli import main as notary
from notary.tsa.config import TsaConfig
from tests.support.tsa import make_engine

DOCUMENT = "还款记录 repayment record".encode()


@pytest.fixture(scope="module")
def files(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("token-cli")
    engine = make_engine(pki_p256, work / "serials", TsaConfig(accept_sm3=True))
    out = {"ca": pki_p256 / "root-ca.pem", "doc": work / "document.bin"}
    out["doc"].write_bytes(DOCUMENT)
    for name in ("sha256", "sm3"):
        out[name] = work / f"{name}.tsr"
        out[name].write_bytes(engine.issue(name, hashlib.new(name, DOCUMENT).digest()).response)
    return out


def run(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], token: str, *options: str
) -> tuple[int, str, str]:
    code = court_verify(["token", str(files[token]), "--ca", str(files["ca"]), *options])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_sm3_token_with_a_bare_digest_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    digest = hashlib.new("sm3", DOCUMENT).hexdigest()
    code, out, err = run(capsys, files, "sm3", "--digest", digest)
    assert code == 2
    assert "Imprint matches" not in out and "INVALID" not in out
    assert "the token stamps a sm3 digest" in err
    assert "was taken as sha256 (from its length): give --hash sm3" in err
    # Doing what the message says verifies.
    code, out, _ = run(capsys, files, "sm3", "--digest", digest, "--hash", "sm3")
    assert code == 0 and out.splitlines()[-1].startswith("VALID")


def test_digest_of_another_size_than_the_tokens_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    code, out, err = run(capsys, files, "sha256", "--digest", hashlib.sha384(DOCUMENT).hexdigest())
    assert code == 2 and out == ""
    assert "the token stamps a sha256 digest (32 bytes), but the 48-byte --digest" in err


def test_explicit_hash_other_than_the_tokens_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    digest = hashlib.sha256(DOCUMENT).hexdigest()
    code, _, err = run(capsys, files, "sm3", "--digest", digest, "--hash", "sha256")
    assert code == 2
    assert "the token stamps a sm3 digest, not sha256: give the document's sm3 digest" in err
    code, _, err = run(capsys, files, "sha256", "--file", str(files["doc"]), "--hash", "sha512")
    assert code == 2
    assert "leave out --hash, and --file is hashed with sha256" in err


def test_another_digest_under_the_tokens_algorithm_is_invalid_evidence(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    """Control: the same algorithm and another digest is a failed check, exit 1."""
    other = hashlib.new("sm3", b"another document").hexdigest()
    code, out, err = run(capsys, files, "sm3", "--digest", other, "--hash", "sm3")
    assert code == 1 and err == ""
    assert any(line.startswith("FAIL") and "Imprint matches" in line for line in out.splitlines())
    code, _, _ = run(capsys, files, "sha256", "--digest", other)  # 32 bytes: sha256
    assert code == 1


def test_notary_verify_says_the_same(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    digest = hashlib.new("sm3", DOCUMENT).hexdigest()
    code = notary(["verify", str(files["sm3"]), "--digest", digest, "--ca", str(files["ca"])])
    captured = capsys.readouterr()
    assert code == 2
    assert "give --hash sm3" in captured.err and "Imprint matches" not in captured.out
