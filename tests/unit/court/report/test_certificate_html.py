"""The HTML certificate: self-contained, both languages, QR code, everything escaped."""

# ruff: noqa: RUF001

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import segno

from court.report.certificate import write_certificate
from court.report.certificate_data import CertificateData, CertificateRecord
from court.verify.result import Check, CheckStatus
from tests.support import certificate_samples as samples


def _html(tmp_path: Path, data: CertificateData | None = None) -> str:
    path = tmp_path / "c.html"
    write_certificate(data or samples.bundle(), path)
    return path.read_text(encoding="utf-8")


def test_both_languages_outcome_and_legal_basis(tmp_path: Path) -> None:
    html = _html(tmp_path)
    for expected in (
        "电子证据核验报告",
        "Electronic Evidence Verification Certificate",
        "有效",
        "VALID",
        "《人民法院在线诉讼规则》第十六条至第十九条",
        "《中华人民共和国电子签名法》第八条",
        "本报告不能证明的事项",
        "What this certificate does not prove",
        "时间戳签名有效",  # a check name's translation
        "Signature valid",
        "2024-06-18 10:15:07.412 北京时间",
        "2024-06-18 02:15:07.412 UTC",
        "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    ):
        assert expected in html, expected


def test_qr_code_holds_the_input_sha256(tmp_path: Path) -> None:
    data = samples.bundle()
    html = _html(tmp_path, data)
    digest = data.input_sha256.hex()
    expected = segno.make(digest, error="m", micro=False).svg_inline(scale=4, border=2)
    assert expected in html
    assert html.count(digest) >= 2  # printed under the code and among the fields


def test_self_contained(tmp_path: Path) -> None:
    html = _html(tmp_path)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)


def test_input_is_escaped(tmp_path: Path) -> None:
    hostile = '<script>alert(1)</script>"\u202eevil\n<img src=x onerror=alert(2)>'
    record = replace(samples.bundle().records[0], tsa=hostile, entry_id="<b>id</b>")
    data = replace(
        samples.bundle(),
        owner=hostile,
        loan_ref="&amp;",
        records=(record,),
        checks=(Check("<i>made-up check</i>", CheckStatus.FAILED, hostile),),
        outcome="invalid",
    )
    html = _html(tmp_path, data)
    assert "<script>" not in html and "<img" not in html and "<i>" not in html
    assert "<b>id" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\u202e" not in html and "\\u202e" in html
    assert "&amp;amp;" in html
    # An unknown check name is shown in English only, escaped.
    assert "&lt;i&gt;made-up check&lt;/i&gt;" in html
    assert "无效" in html and "INVALID" in html


def test_dossier_table_marks_withheld_and_superseded(tmp_path: Path) -> None:
    data = samples.dossier()
    html = _html(tmp_path, data)
    assert "一笔贷款的全部记录（卷宗）" in html and "All records of one loan (dossier)" in html
    assert "HT-2023-0815" in html and "示例小额贷款有限公司" in html
    assert "已隐去" in html and "withheld" in html
    assert "已被替代 → #9" in html and "superseded → #9" in html
    for record in data.records:
        if record.document_hash:
            assert record.document_hash[:16] in html
    assert "Records added after the checkpoint" in html


def test_unknown_kind_and_missing_time(tmp_path: Path) -> None:
    record = CertificateRecord(
        entry_id="e1",
        leaf_index=3,
        loan_sequence=1,
        kind="NEW_KIND",
        hash_algorithm="SHA-256",
        document_hash="ab" * 32,
        gen_time=None,
        tsa="",
    )
    html = _html(tmp_path, replace(samples.bundle(), records=(record,), anchor=None))
    assert "NEW_KIND" in html
    assert "unknown" in html
    assert "输入文件未载有区块链锚定信息" in html
    assert "not checked on chain" in html


def test_whether_a_document_was_compared(tmp_path: Path) -> None:
    # A dossier compares no document; a bundle's certificate names the compared one.
    dossier = _html(tmp_path, samples.dossier(records=2))
    assert "文件比对" in dossier and "Document compared" in dossier
    assert "No, not compared: this certificate does not tie any particular file to the " in dossier
    assert "本报告未将任何具体文件与卷宗中的记录比对" in dossier
    compared = replace(
        samples.bundle(),
        document_compared=True,
        document_name="<b>contract</b>.pdf",
        document_hash="ab" * 32,
        document_hash_algorithm="SHA-256",
    )
    html = _html(tmp_path, compared)
    assert "Yes, compared with the record" in html
    assert "&lt;b&gt;contract&lt;/b&gt;.pdf" in html and "<b>contract" not in html
    assert f"SHA-256: {'ab' * 32}" in html
    assert "not compared" not in html


def test_the_anchor_transaction_is_shown_as_the_file_states_it(tmp_path: Path) -> None:
    """court-verify reads the anchor from the contract, not the transaction: the
    certificate must not present the file's transaction hash as checked on chain."""
    data = samples.bundle()
    assert data.anchor is not None and data.anchor.checked_on_chain
    out = tmp_path / "c.html"
    write_certificate(data, out)
    text = out.read_text()
    assert "Transaction (as the file states it; not read on chain)" in text
    assert "交易哈希（文件所述，未经链上核对）" in text
