"""`court-verify bundle|dossier`: exit codes, printed checks, hostile files and trust dirs.

Every test reads files only (the ledger behind them is closed): no gateway runs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from court.cli import main
from court.report.certificate_data import CertificateData
from tests.support.bundle_builder import to_json, write
from tests.unit.court.bundles.conftest import Made


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_bundle_valid_then_invalid(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(made.bundle, tmp_path / "b.json")
    doc = tmp_path / "doc"
    doc.write_bytes(made.documents[made.loan1[1].entry_id])
    code, out, _ = cli(capsys, "bundle", path, "--file", doc, "--trust", made.trust)
    assert code == 0, out
    assert out.splitlines()[-1].startswith("VALID: entry ")
    assert "PASS  Inclusion proof valid" in out
    doc.write_bytes(b"x" + doc.read_bytes())
    code, out, _ = cli(capsys, "bundle", path, "--file", doc, "--trust", made.trust)
    assert code == 1
    assert out.splitlines()[-1] == "INVALID: Imprint matches"


def test_bundle_json(made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(made.bundle, tmp_path / "b.json")
    code, out, _ = cli(capsys, "bundle", path, "--trust", made.trust, "--json")
    document = json.loads(out)
    assert code == 0 and document["outcome"] == "valid"
    assert {"name": "Leaf names token", "status": "passed"}.items() <= document["checks"][
        [c["name"] for c in document["checks"]].index("Leaf names token")
    ].items()


def test_dossier_valid_then_last_record_removed(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(made.dossier, tmp_path / "d.json")
    code, out, _ = cli(capsys, "dossier", path, "--trust", made.trust)
    assert code == 0, out
    assert "all 6 records" in out.splitlines()[-1]
    message = made.dossier_copy()
    del message.records[-1]
    message.records[1].ClearField("superseded_by")
    code, out, _ = cli(
        capsys, "dossier", write(message, tmp_path / "d2.json"), "--trust", made.trust
    )
    assert code == 1
    assert out.splitlines()[-1] == "INVALID: Loan head is last record"


def test_report_builds_certificate_data(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[tuple[CertificateData, Path]] = []
    import court.bundle_cmd as cmd

    monkeypatch.setattr(cmd, "_certificate", lambda args, data: written.append((data, args.report)))
    path = write(made.dossier, tmp_path / "d.json")
    code, _, _ = cli(capsys, "dossier", path, "--trust", made.trust, "--report", tmp_path / "r.pdf")
    assert code == 0
    ((data, out),) = written
    assert out == tmp_path / "r.pdf"
    assert (data.subject, data.outcome, data.input_name) == ("dossier", "valid", "d.json")
    import hashlib

    assert data.input_sha256 == hashlib.sha256(path.read_bytes()).digest()
    assert [r.loan_sequence for r in data.records] == [1, 2, 3, 4, 5, 6]
    assert data.records[1].superseded_by == (made.loan1[-1].entry_id,)
    assert data.records[0].kind == "REPAYMENT" and data.records[0].hash_algorithm == "SHA-256"
    assert (data.owner, data.loan_ref) == ("bank-a", "L-1")
    assert data.anchor is not None and not data.anchor.checked_on_chain
    assert data.checkpoint_size == made.size and data.checks
    code, _, err = cli(
        capsys, "dossier", path, "--trust", made.trust, "--report", tmp_path / "r.txt"
    )
    assert code == 2 and ".pdf or .html" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "not a JSON object"),
        (b"{" * 100_000, "not a valid"),
        (b'{"mediaType": "application/json"}', "mediaType"),
        (b'{"mediaType": "application/vnd.court-evidence.bundle.v1+json", "x": 1}', "not a valid"),
        (b'{"record": {"leafIndex": "18446744073709551616"}}', "not a valid"),
        (b'{"record": {"leafIndex": 1e400}}', "not a valid"),
        (b'{"mediaType": "\\u202e\\u001b[2J"}', "mediaType"),
    ],
)
def test_hostile_bundle_files_are_input_errors(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(content)
    code, out, err = cli(capsys, "bundle", path, "--trust", made.trust)
    assert code == 2 and out == ""
    assert message in err
    assert "\x1b" not in err and "\u202e" not in err and len(err) < 1000


def test_a_huge_file_is_refused_unread(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.json"
    with path.open("wb") as f:
        f.truncate((1 << 20) + 1)  # sparse: the bound is checked before it is parsed
    code, _, err = cli(capsys, "bundle", path, "--trust", made.trust)
    assert code == 2 and "larger than" in err


def test_absurd_but_valid_numbers_fail_a_check(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = made.bundle_copy()
    message.record.leaf_index = message.record.inclusion_proof.leaf_index = 2**64 - 1
    code, out, _ = cli(capsys, "bundle", write(message, tmp_path / "b.json"), "--trust", made.trust)
    assert code == 1 and out.splitlines()[-1] == "INVALID: Inclusion proof valid"


def test_hostile_strings_are_escaped(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = made.bundle_copy()
    message.record.entry_id = "x\n\x1b[2JPASS  forged\u202e"
    code, out, _ = cli(capsys, "bundle", write(message, tmp_path / "b.json"), "--trust", made.trust)
    assert code == 1
    assert "\x1b" not in out and "\u202e" not in out
    assert not any(line.startswith("PASS  forged") for line in out.splitlines())


def test_trust_dir_problems_are_usage_errors(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(made.bundle, tmp_path / "b.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli(capsys, "bundle", path, "--trust", empty)
    assert code == 2 and "log.vkey" in err
    keyonly = tmp_path / "keyonly"
    keyonly.mkdir()
    shutil.copy(made.trust / "log.vkey", keyonly / "log.vkey")
    code, _, err = cli(capsys, "bundle", path, "--trust", keyonly)
    assert code == 2 and "root certificate" in err
    code, _, err = cli(capsys, "bundle", path, "--trust", made.trust, "--rpc", "http://127.0.0.1:1")
    assert code == 2 and "chain.json" in err
    bad = tmp_path / "bad"
    shutil.copytree(made.trust, bad)
    (bad / "chain.json").write_text('{"chain_id": 1, "contract": "0x12"}')
    code, _, err = cli(capsys, "bundle", path, "--trust", bad)
    assert code == 2 and "contract" in err


def test_another_log_key_in_the_trust_dir(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from notary.pki import init_pki

    other = tmp_path / "other"
    init_pki(other)
    trust = tmp_path / "trust"
    shutil.copytree(made.trust, trust)
    shutil.copy(other / "log.vkey", trust / "log.vkey")
    code, out, _ = cli(capsys, "bundle", write(made.bundle, tmp_path / "b.json"), "--trust", trust)
    assert code == 1 and out.splitlines()[-1] == "INVALID: Checkpoint signature valid"


def test_a_bundle_is_not_a_dossier(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(to_json(made.bundle))
    code, _, err = cli(capsys, "dossier", path, "--trust", made.trust)
    assert code == 2 and ("not a valid" in err or "mediaType" in err)


def test_bundle_with_digest(made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import hashlib

    path = write(made.bundle, tmp_path / "b.json")
    digest = hashlib.sha256(made.documents[made.loan1[1].entry_id]).hexdigest()
    code, out, _ = cli(capsys, "bundle", path, "--digest", digest, "--trust", made.trust)
    assert code == 0, out
    code, out, _ = cli(
        capsys, "bundle", path, "--digest", digest, "--hash", "sm3", "--trust", made.trust
    )
    assert code == 1 and out.splitlines()[-1] == "INVALID: Imprint matches"
    code, _, err = cli(capsys, "bundle", path, "--digest", "zz", "--trust", made.trust)
    assert code == 2 and "hexadecimal" in err


@pytest.mark.parametrize("kind", ["bundle", "dossier"])
def test_a_tsa_certificate_of_an_unknown_x509_version_is_an_input_error(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    # Found by the fuzz target bundle_verify (fuzz/corpus/bundle/crash-x509-version-30.json):
    # cryptography raises InvalidVersion, which is not a ValueError, for a certificate
    # whose version is not v1, v2 or v3; it escaped court-verify as a traceback.
    message = made.bundle_copy() if kind == "bundle" else made.dossier_copy()
    der = bytearray(message.tsa_certificates[0])
    assert der[8:13] == b"\xa0\x03\x02\x01\x02", "the version field of the TBSCertificate"
    der[12] = 30
    message.tsa_certificates[0] = bytes(der)
    path = write(message, tmp_path / f"{kind}.json")
    code, out, err = cli(capsys, kind, path, "--trust", made.trust)
    assert (code, out) == (2, "")
    assert "tsaCertificates[0] is not a DER certificate" in err
    assert "Traceback" not in err
