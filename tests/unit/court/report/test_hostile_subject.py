"""A signer's certificate subject cannot forge a report (text, --json, stderr).

The token is real: signed by a TSA whose certificate, issued by the
development root CA, has a subject with a newline, a fake ``PASS`` line and a
fake ``VALID`` verdict, terminal escapes and bidi / invisible characters
(``tests.support.hostile_pki``). Every report line must be exactly the
expected one, with each of those characters shown escaped, and exactly one
verdict line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from court.cli import main as court_verify
from court.verify.receipt import RECEIPT_CHECKS, verify_receipt
from court.verify.result import Check, CheckStatus
from court.verify.token import TOKEN_CHECKS, verify_timestamp
from tests.support.hostile_pki import (
    FORGED_CN,
    FORGED_O,
    FORGED_OU,
    expected_escape,
    hostile_engine,
    hostile_subject,
)
from tests.support.receipt_log import DOCUMENT, Log, build_log_on_pki

_MARKS = {CheckStatus.PASSED: "PASS", CheckStatus.FAILED: "FAIL", CheckStatus.NOT_RUN: "----"}
SUBJECT = hostile_subject().rfc4514_string()


@pytest.fixture(scope="module")
def hostile(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> Log:
    return build_log_on_pki(hostile_engine(pki_p256, tmp_path_factory.mktemp("hostile")), pki_p256)


@pytest.fixture
def files(hostile: Log, pki_p256: Path, tmp_path: Path) -> dict[str, Path]:
    paths = {
        "token": tmp_path / "token.tst",
        "receipt": tmp_path / "receipt.pb",
        "vkey": tmp_path / "log.vkey",
        "ca": pki_p256 / "root-ca.pem",
    }
    paths["token"].write_bytes(hostile.token)
    paths["receipt"].write_bytes(hostile.receipt_message().SerializeToString())
    paths["vkey"].write_text(hostile.vkey + "\n")
    return paths


def expected_lines(checks: tuple[Check, ...], closing: str) -> list[str]:
    """The report as it must read, built without the code under test."""
    width = max(len(c.name) for c in checks)
    rows = [f"{_MARKS[c.status]}  {c.name:<{width}}  {expected_escape(c.detail)}" for c in checks]
    return [row.rstrip() for row in rows] + [expected_escape(closing)]


def assert_one_verdict(lines: list[str], verdict: str) -> None:
    for line in lines:
        assert line.isprintable(), repr(line)
        for raw in (FORGED_O, FORGED_OU, FORGED_CN):
            assert raw not in line
    verdicts = [x for x in lines if x.startswith(("VALID", "INVALID"))]
    assert verdicts == [lines[-1]] and lines[-1].startswith(verdict + ":")


def test_the_subject_holds_what_it_should(hostile: Log) -> None:
    """The test material is what it claims: the token verifies and names that subject."""
    result = verify_timestamp(
        hostile.token, roots=hostile.roots, digest=hashlib.sha256(DOCUMENT).digest(),
        hash_algorithm="sha256",
    )  # fmt: skip
    assert result.ok and result.signer is not None
    assert result.signer.subject.rfc4514_string() == SUBJECT
    for needle in ("\n  PASS  ", "\nVALID: ", "\x1b[2K", "\x1b]0\\;", "\x9b", "\u202e", "\u2066"):
        assert needle in SUBJECT


def _token(files: dict[str, Path], document: bytes, *extra: str) -> list[str]:
    digest = hashlib.sha256(document).hexdigest()
    return ["token", str(files["token"]), "--digest", digest, "--ca", str(files["ca"]), *extra]


@pytest.mark.parametrize(("document", "code"), [(DOCUMENT, 0), (b"another document", 1)])
def test_token_report_lines_are_exactly_the_expected_ones(
    hostile: Log,
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    document: bytes,
    code: int,
) -> None:
    assert court_verify(_token(files, document)) == code
    out = capsys.readouterr().out
    lines = out.split("\n")
    assert lines[-1] == "" and "\r" not in out
    lines = lines[:-1]
    result = verify_timestamp(
        hostile.token, roots=hostile.roots, digest=hashlib.sha256(document).digest(),
        hash_algorithm="sha256",
    )  # fmt: skip
    if code == 0:
        when = result.gen_time.isoformat() if result.gen_time else "?"
        closing = f"VALID: time-stamped at {when} (serial {result.serial_number:x}) by {SUBJECT}"
    else:
        closing = "INVALID: Imprint matches"
    assert lines == expected_lines(result.checks, closing)
    assert [line[6:].split("  ")[0] for line in lines[:-1]] == list(TOKEN_CHECKS)
    assert_one_verdict(lines, "VALID" if code == 0 else "INVALID")
    signer = next(x for x in lines if x.startswith("PASS  Signer certificate found"))
    assert "O=Evil TSA\\n  PASS  Chain valid at genTime  ok\\nVALID: time-stamped" in signer
    assert "OU=\\x1b[2K\\x1b[1A\\r\\x1b]0\\;owned\\x07\\x9b2K" in signer
    assert "CN=\\u202eDILAV\\u2066x\\u2069\\u200bz\\u2028\\ufeff\\t\\x7f" in signer


def _json_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_json_strings(k), *_json_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _json_strings(v)]
    return []


@pytest.mark.parametrize(("document", "code"), [(DOCUMENT, 0), (b"another document", 1)])
def test_token_json_report_is_escaped(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], document: bytes, code: int
) -> None:
    assert court_verify(_token(files, document)) == code
    text_lines = capsys.readouterr().out.splitlines()
    assert court_verify(_token(files, document, "--json")) == code
    raw = capsys.readouterr().out
    assert all(ch.isprintable() or ch in "\n" for ch in raw)  # the JSON text itself
    report = json.loads(raw)
    assert all(s.isprintable() for s in _json_strings(report))  # and every decoded string
    assert report["outcome"] == ("valid" if code == 0 else "invalid")
    assert [c["name"] for c in report["checks"]] == list(TOKEN_CHECKS)
    assert report["summary"] == text_lines[-1]
    for check, line in zip(report["checks"], text_lines, strict=False):
        assert line.endswith(check["detail"])
    signer = next(c for c in report["checks"] if c["name"] == "Signer certificate found")
    assert "\\n  PASS  Chain valid" in signer["detail"]  # the two characters \ and n
    assert "\\u202e" in signer["detail"]


@pytest.mark.parametrize(("document", "code"), [(DOCUMENT, 0), (b"another document", 1)])
def test_receipt_report_lines_are_exactly_the_expected_ones(
    hostile: Log,
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    document: bytes,
    code: int,
) -> None:
    digest = hashlib.sha256(document).hexdigest()
    args = ["receipt", str(files["receipt"]), "--digest", digest, "--ca", str(files["ca"])]
    assert court_verify([*args, "--log-key", str(files["vkey"])]) == code
    lines = capsys.readouterr().out.splitlines()
    result = verify_receipt(**hostile.kwargs(digest=hashlib.sha256(document).digest()))
    assert result.ok is (code == 0)
    if code == 0:
        assert lines[-1].endswith(
            f"by {expected_escape(SUBJECT)}; leaf 2 in {hostile.origin} at size 5"
        )
        closing = lines[-1]  # its other parts are the leaf's, checked in test_receipt.py
    else:
        closing = "INVALID: Imprint matches"
    assert lines == expected_lines(result.checks, closing)
    assert len(lines) == len(TOKEN_CHECKS) + len(RECEIPT_CHECKS) + 1
    assert_one_verdict(lines, "VALID" if code == 0 else "INVALID")

    assert court_verify([*args, "--log-key", str(files["vkey"]), "--json"]) == code
    report = json.loads(capsys.readouterr().out)
    assert all(s.isprintable() for s in _json_strings(report))
    assert report["summary"] == lines[-1]
    assert [c["name"] for c in report["checks"]] == [*TOKEN_CHECKS, *RECEIPT_CHECKS]


def test_error_messages_are_escaped(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile_name = tmp_path / "root\nPASS  everything\x1b[2K\u202e.pem"
    args = _token(files, DOCUMENT)
    args[args.index("--ca") + 1] = str(hostile_name)
    assert court_verify(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.split("\n")
    assert err[-1] == "" and len(err) == 2, captured.err
    assert err[0].isprintable()
    assert "root\\nPASS  everything\\x1b[2K\\u202e.pem" in err[0]
