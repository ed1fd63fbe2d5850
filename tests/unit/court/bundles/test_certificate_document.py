"""A clerk files the certificate beside a document: it must say whether that document was
compared. `court-verify bundle` without `--file`/`--digest` checks the token against the
digest the leaf names, and is VALID; the certificate's "What was verified" says that no
document was compared, and with `--file`/`--digest` which one was (its name and digest).
"""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path

import pytest

from court.cli import main
from tests.support.bundle_builder import write
from tests.unit.court.bundles.conftest import Made

NOT_COMPARED = "this certificate does not tie any particular file to the record"


def _certificate_text(made: Made, tmp_path: Path, *extra: str, bundle_code: int = 0) -> str:
    bundle = write(made.bundle, tmp_path / "b.json")
    report = tmp_path / "c.html"
    code = main(
        ["bundle", str(bundle), "--trust", str(made.trust), *extra, "--report", str(report)]
    )
    assert code == bundle_code
    return html.unescape(re.sub(r"<[^>]+>", " ", report.read_text()))


def _what_was_verified(text: str) -> str:
    """The certificate's text from "What was verified" up to the checks table."""
    return text[text.index("What was verified") : text.index("Checks")]


def _document(made: Made) -> bytes:
    return made.documents[made.loan1[1].entry_id]


def test_a_certificate_made_without_the_document_says_it_was_not_compared(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    without = _certificate_text(made, tmp_path)
    doc = tmp_path / "doc"
    doc.write_bytes(_document(made))
    with_file = _certificate_text(made, tmp_path, "--file", str(doc))
    capsys.readouterr()
    checks_at = without.index("Checks")  # the section before the checks table
    assert "not compared" in without[:checks_at].lower()
    assert "not compared" not in with_file[: with_file.index("Checks")].lower()


def test_not_compared_is_said_in_both_languages(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    section = _what_was_verified(_certificate_text(made, tmp_path))
    capsys.readouterr()
    assert "文件比对" in section and "Document compared" in section
    assert "本报告未将任何具体文件与该记录比对" in section
    assert NOT_COMPARED in section


def test_a_compared_file_is_named_with_its_digest(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "loan-2-repayment.pdf"
    doc.write_bytes(_document(made))
    section = _what_was_verified(_certificate_text(made, tmp_path, "--file", str(doc)))
    capsys.readouterr()
    assert "Yes, compared with the record" in section
    assert "loan-2-repayment.pdf" in section
    assert f"SHA-256: {hashlib.sha256(_document(made)).hexdigest()}" in section
    assert NOT_COMPARED not in section


def test_a_given_digest_is_shown_as_given(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = hashlib.sha256(_document(made)).hexdigest()
    section = _what_was_verified(_certificate_text(made, tmp_path, "--digest", digest))
    capsys.readouterr()
    assert "Yes, compared with the record" in section
    assert "digest given to the verifier" in section
    assert f"SHA-256: {digest}" in section


def test_a_different_document_is_compared_and_the_certificate_is_invalid(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "other.txt"
    doc.write_bytes(b"not the document the record is for")
    text = _certificate_text(made, tmp_path, "--file", str(doc), bundle_code=1)
    capsys.readouterr()
    section = _what_was_verified(text)
    assert f"SHA-256: {hashlib.sha256(doc.read_bytes()).hexdigest()}" in section
    assert "INVALID" in text


def test_the_file_name_is_escaped(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "invoice\u202efdp.exe"
    doc.write_bytes(_document(made))
    section = _what_was_verified(_certificate_text(made, tmp_path, "--file", str(doc)))
    capsys.readouterr()
    assert "\u202e" not in section
    assert "invoice\\u202efdp.exe" in section
