"""`notary trust export`: the trust folder a court verifies with, from a `notary pki init`
folder, and a real receipt verified with nothing but that folder's files."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from notary.pki import init_pki
from tests.support.procs import BIN
from tests.support.receipt_log import DOCUMENT, build_log_on_pki
from tests.support.tsa import make_engine

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=60, check=False
    )


def test_export_writes_the_log_key_the_tsa_root_and_the_chain(
    pki_p256: Path, tmp_path: Path
) -> None:
    out = tmp_path / "trust"
    result = run(
        "notary", "trust", "export", "--pki", str(pki_p256), "--out", str(out),
        "--chain-id", "31337", "--contract", CONTRACT, "--confirmations", "3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["chain.json", "log.vkey", "tsa-root.pem"]
    assert (out / "log.vkey").read_text() == (pki_p256 / "log.vkey").read_text().strip() + "\n"
    root = x509.load_pem_x509_certificate((out / "tsa-root.pem").read_bytes())
    assert root == x509.load_pem_x509_certificate((pki_p256 / "root-ca.pem").read_bytes())
    assert json.loads((out / "chain.json").read_text()) == {
        "chain_id": 31337,
        "contract": CONTRACT.lower(),
        "confirmations": 3,
    }
    # The fingerprints printed are the ones to publish.
    assert root.fingerprint(hashes.SHA256()).hex() in result.stdout
    assert not list(out.glob(".*"))  # no temporary file left
    # With chain.json, the command a court runs names --rpc (the chain check needs it).
    assert f"court-verify bundle FILE --trust {out} [--rpc URL]" in result.stdout
    assert "a JSON-RPC node of chain 31337" in result.stdout


def test_a_receipt_verifies_with_the_exported_files_alone(pki_p256: Path, tmp_path: Path) -> None:
    out = tmp_path / "trust"
    assert (
        run("notary", "trust", "export", "--pki", str(pki_p256), "--out", str(out)).returncode == 0
    )
    assert not (out / "chain.json").exists()
    said = run("notary", "trust", "export", "--pki", str(pki_p256), "--out", str(tmp_path / "t2"))
    assert said.stdout.rstrip().endswith(f"court-verify bundle FILE --trust {tmp_path / 't2'}")
    assert "--rpc" not in said.stdout  # no chain.json: --rpc would be a usage error
    log = build_log_on_pki(make_engine(pki_p256, tmp_path / "tsa-state"), pki_p256)
    receipt = tmp_path / "receipt.pb"
    receipt.write_bytes(log.receipt_message().SerializeToString())
    result = run(
        "court-verify", "receipt", str(receipt), "--digest", hashlib.sha256(DOCUMENT).hexdigest(),
        "--ca", str(out / "tsa-root.pem"), "--log-key", str(out / "log.vkey"),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_external_tsa_root_is_added(pki_p256: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-pki"
    init_pki(other, key_type="p256")
    out = tmp_path / "trust"
    result = run(
        "notary", "trust", "export", "--pki", str(pki_p256), "--out", str(out),
        "--tsa-ca", str(other / "root-ca.pem"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    added = x509.load_pem_x509_certificate((out / "tsa-root-1.pem").read_bytes())
    assert added == x509.load_pem_x509_certificate((other / "root-ca.pem").read_bytes())
    # A TSA certificate is not a root: refused, naming the file.
    bad = run(
        "notary", "trust", "export", "--pki", str(pki_p256), "--out", str(tmp_path / "t2"),
        "--tsa-ca", str(other / "tsa.pem"),
    )  # fmt: skip
    assert bad.returncode == 2
    assert "holds 0 self-signed certificates" in bad.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--chain-id", "31337"], "--chain-id and --contract go together"),
        (["--chain-id", "31337", "--contract", "0x12"], "--contract: contract address"),
        (["--chain-id", "0", "--contract", CONTRACT], "--chain-id must be a positive"),
        (["--confirmations", "2"], "--confirmations goes with"),
        (["--chain-id", "1", "--contract", CONTRACT, "--confirmations", "0"], "from 1 to"),
    ],
)
def test_wrong_chain_options_are_usage_errors(
    pki_p256: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    out = tmp_path / "trust"
    result = run("notary", "trust", "export", "--pki", str(pki_p256), "--out", str(out), *extra)
    assert result.returncode == 2
    assert message in result.stderr
    assert not out.exists()


def test_an_existing_folder_is_replaced_only_with_force(pki_p256: Path, tmp_path: Path) -> None:
    out = tmp_path / "trust"
    chain = ["--chain-id", "31337", "--contract", CONTRACT]
    base = ["notary", "trust", "export", "--pki", str(pki_p256), "--out", str(out)]
    assert run(*base, *chain).returncode == 0
    again = run(*base)
    assert again.returncode == 2
    assert "already holds log.vkey, tsa-root.pem, chain.json" in again.stderr
    assert run(*base, "--force").returncode == 0
    assert not (out / "chain.json").exists()  # not left from the earlier export
