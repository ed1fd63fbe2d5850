"""The `court-verify` distribution, installed alone into a fresh virtual environment.

scripts/build_court_verify.py builds the wheel; a new venv gets the wheel's
dependencies at the exact versions and hashes of requirements.lock (from the
package index, no cache) and the wheel itself. There, nothing of the gateway's
stack can be imported (no grpc, SQL, HTTP server or chain library, no `gateway`
or `notary`), and `court-verify` verifies real evidence, made by the notary
engine and signed with the log key of a `notary pki init` folder.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from notary.pki import load_tsa_signing_material
from tests.support.bundle_builder import bundle_from_receipt, trust_dir, write
from tests.support.receipt_log import DOCUMENT, Log, build_log_on_pki
from tests.support.tsa import make_engine

ROOT = Path(__file__).resolve().parents[2]
#: What a court's verifier must not pull in.
ABSENT = ("grpc", "sqlalchemy", "sqlmodel", "psycopg", "aiohttp", "web3", "gateway", "notary")


@dataclass(frozen=True)
class Env:
    """The fresh virtual environment with only court-verify (and its dependencies)."""

    root: Path
    wheel: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def run(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """A program of the venv, isolated from this checkout (no PYTHONPATH)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PYTHON") and k != "COURT_VERIFY_FONT"
        }
        return subprocess.run(
            [str(self.root / "bin" / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=60,
            check=False,
        )


def _closure(requirements: list[str]) -> set[str]:
    """The names of ``requirements`` and of everything they need, as installed here."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        todo += [Requirement(r) for r in importlib.metadata.requires(name) or []]
    return seen


def _locked(names: set[str]) -> str:
    """The blocks of requirements.lock (pin and hashes) of ``names``."""
    blocks = re.split(r"\n(?=\S)", (ROOT / "requirements.lock").read_text())
    chosen = []
    for block in blocks:
        head = block.split("==", 1)[0].strip()
        if "==" in block and canonicalize_name(head) in names:
            chosen.append(block.rstrip())
    found = {canonicalize_name(b.split("==", 1)[0]) for b in chosen}
    assert found == names, f"not pinned in requirements.lock: {sorted(names - found)}"
    return "\n".join(chosen) + "\n"


def _pip(python: Path, *args: str) -> None:
    result = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "--no-cache-dir", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def court_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    folder = tmp_path_factory.mktemp("court-verify-dist")
    built = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_court_verify.py"), "--out", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    wheel = Path(built.stdout.strip())
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        requires = Parser().parsestr(archive.read(metadata).decode()).get_all("Requires-Dist")
    lock = folder / "requirements.txt"
    lock.write_text(_locked(_closure(requires or [])))
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    _pip(python, "install", "--only-binary", ":all:", "--require-hashes", "-r", str(lock))
    _pip(python, "install", "--no-deps", str(wheel))
    _pip(python, "check")  # the wheel's dependencies are all there
    yield Env(venv, wheel)


def test_the_wheel_holds_the_verifier_the_messages_and_the_font_only(court_env: Env) -> None:
    with zipfile.ZipFile(court_env.wheel) as archive:
        names = archive.namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"court", "evidence_gateway"}
    assert "evidence_gateway/v1/bundle_pb2.py" in names
    assert not [n for n in names if n.endswith("_pb2_grpc.py")]
    assert "court/report/fonts/OFL.txt" in names
    fonts = [n for n in names if n.startswith("court/report/fonts/") and n.endswith(".ttf")]
    assert len(fonts) == 1
    version = importlib.metadata.version("court-evidence-gateway")
    assert court_env.wheel.name == f"court_verify-{version}-py3-none-any.whl"


def test_nothing_of_the_gateway_is_importable(court_env: Env, tmp_path: Path) -> None:
    probe = (
        "import importlib.util, sys\n"
        f"for name in {ABSENT!r} + ('court.cli', 'evidence_gateway.v1.bundle_pb2'):\n"
        "    print(name, importlib.util.find_spec(name) is not None)\n"
    )
    result = court_env.run("python", "-I", "-c", probe, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    found = dict(line.split() for line in result.stdout.splitlines())
    assert found == {
        **{name: "False" for name in ABSENT},
        "court.cli": "True",
        "evidence_gateway.v1.bundle_pb2": "True",
    }
    font = court_env.run(
        "python",
        "-I",
        "-c",
        "import importlib.resources as r; "
        "print(sorted(p.name for p in (r.files('court.report') / 'fonts').iterdir()))",
        cwd=tmp_path,
    )
    assert font.stdout.strip() == "['NotoSansSC-Regular-subset.ttf', 'OFL.txt']", font.stderr


def test_version_names_the_distribution(court_env: Env, tmp_path: Path) -> None:
    result = court_env.run("court-verify", "--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"court-verify {importlib.metadata.version('court-evidence-gateway')}\n"


@pytest.fixture(scope="module")
def log(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> Log:
    return build_log_on_pki(make_engine(pki_p256, tmp_path_factory.mktemp("tsa-state")), pki_p256)


def test_the_lone_verifier_checks_a_real_receipt(
    court_env: Env, log: Log, pki_p256: Path, tmp_path: Path
) -> None:
    evidence = tmp_path / "receipt.pb"
    evidence.write_bytes(log.receipt_message().SerializeToString())
    trust = ["--ca", str(pki_p256 / "root-ca.pem"), "--log-key", str(pki_p256 / "log.vkey")]
    good = hashlib.sha256(DOCUMENT).hexdigest()
    valid = court_env.run(
        "court-verify", "receipt", str(evidence), "--digest", good, *trust, cwd=tmp_path
    )
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert re.search(r"^PASS +Receipt inclusion proof valid", valid.stdout, re.M), valid.stdout
    other = hashlib.sha256(b"another document").hexdigest()
    invalid = court_env.run(
        "court-verify", "receipt", str(evidence), "--digest", other, *trust, cwd=tmp_path
    )
    assert invalid.returncode == 1, invalid.stdout + invalid.stderr
    assert re.search(r"^FAIL +Imprint matches", invalid.stdout, re.M), invalid.stdout


def test_the_lone_verifier_checks_a_real_bundle_and_writes_its_certificate(
    court_env: Env, log: Log, pki_p256: Path, tmp_path: Path
) -> None:
    tsa_cert = load_tsa_signing_material(pki_p256)[1].public_bytes(Encoding.DER)
    bundle = write(bundle_from_receipt(log.receipt_message(), [tsa_cert]), tmp_path / "b.json")
    trust = trust_dir(pki_p256, tmp_path / "trust")
    document = tmp_path / "document.bin"
    document.write_bytes(DOCUMENT)
    report = tmp_path / "certificate.pdf"
    args = ["court-verify", "bundle", str(bundle), "--trust", str(trust)]
    valid = court_env.run(*args, "--file", str(document), "--report", str(report), cwd=tmp_path)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert re.search(r"^PASS +Inclusion proof valid", valid.stdout, re.M), valid.stdout
    text = pdfium.PdfDocument(report)[0].get_textpage().get_text_range()
    assert "电子证据核验报告" in text and "VALID" in text
    document.write_bytes(DOCUMENT + b"!")
    invalid = court_env.run(*args, "--file", str(document), cwd=tmp_path)
    assert invalid.returncode == 1, invalid.stdout + invalid.stderr
    assert re.search(r"^FAIL +Imprint matches", invalid.stdout, re.M), invalid.stdout


def test_fetch_and_audit_log_without_grpcio_say_how_to_install_it(
    court_env: Env, tmp_path: Path
) -> None:
    for command in (
        ["fetch", "--entry", "e-1", "--out", str(tmp_path / "bundle.json")],
        ["audit-log", "--log-key", str(tmp_path / "log.vkey")],
    ):
        result = court_env.run(
            "court-verify", command[0], "--gateway", "127.0.0.1:50051", "--insecure-loopback",
            *command[1:], cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 2, result.stdout + result.stderr
        assert "pip install 'court-verify[fetch]'" in result.stderr


def test_the_certificate_uses_the_shipped_font_subset(court_env: Env, tmp_path: Path) -> None:
    # The sample data of the certificate tests imports only court: run it in the lone venv.
    samples = ROOT / "tests" / "support" / "certificate_samples.py"
    (tmp_path / "certificate_samples.py").write_text(samples.read_text())
    program = (
        "import sys; sys.path.insert(0, '.')\n"
        "from pathlib import Path\n"
        "from certificate_samples import bundle\n"
        "from court.report.certificate import write_certificate\n"
        "from court.report.fonts import find_font\n"
        "print(find_font())\n"
        "write_certificate(bundle(), Path('certificate.pdf'))\n"
    )
    result = court_env.run("python", "-c", program, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    font = Path(result.stdout.strip())
    assert font.name == "NotoSansSC-Regular-subset.ttf"
    assert font.is_relative_to(court_env.root)  # package data, not the repository's node_modules
    pdf = pdfium.PdfDocument(tmp_path / "certificate.pdf")
    try:
        text = pdf[0].get_textpage().get_text_range()
    finally:
        pdf.close()
    assert "电子证据核验报告" in text
