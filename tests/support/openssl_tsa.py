"""A small PKI and RFC 3161 tokens made with the stock ``openssl`` command line.

Tests use these to check our verifier (and later our own TSA) against tokens
that OpenSSL itself produced (``openssl ts -query`` / ``openssl ts -reply``)
and to cross-check verdicts with ``openssl ts -verify``.

Everything happens in a folder the caller gives (a pytest ``tmp_path``). Keys
are made with ``openssl genpkey``, certificates with ``openssl req -x509`` and
``openssl x509 -req``. Certificates whose validity must lie in the past or the
future (``openssl x509`` 3.0 cannot set arbitrary dates) are made with
``cryptography`` by :func:`make_dated_pki`; OpenSSL then signs tokens with them
like with any other certificate.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from asn1crypto import core, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "TSA_EXTENSIONS",
    "Issued",
    "KeyKind",
    "TestPki",
    "issue_certificate",
    "make_dated_pki",
    "make_key",
    "make_query",
    "make_reply",
    "make_root_ca",
    "make_tsa_pki",
    "openssl",
    "openssl_verify",
    "write_tsa_config",
]

KeyKind = Literal["ec", "ec-p384", "rsa2048", "rsa3072", "ed25519"]

_GENPKEY: dict[str, list[str]] = {
    "ec": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "ec-p384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    "rsa2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "rsa3072": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
    "ed25519": ["-algorithm", "ED25519"],
}

CA_EXTENSIONS = """\
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

#: What RFC 3161 2.3 asks of a TSA certificate: EKU critical, timeStamping only.
TSA_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def openssl(*args: str | Path, cwd: Path | None = None) -> bytes:
    """Run ``openssl args...``; return stdout, raise with stderr on failure."""
    exe = shutil.which("openssl")
    if exe is None:  # pragma: no cover - openssl is a test prerequisite
        raise RuntimeError("the openssl command is not on PATH")
    proc = subprocess.run(
        [exe, *(str(a) for a in args)], cwd=cwd, capture_output=True, check=False, timeout=60
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"openssl {' '.join(str(a) for a in args)} failed ({proc.returncode}):\n"
            + proc.stderr.decode(errors="replace")
        )
    return proc.stdout


@dataclass(frozen=True)
class Issued:
    """A private key file and the certificate for it."""

    key: Path
    cert: Path

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert.read_bytes())

    def private_key(self) -> PrivateKeyTypes:
        return serialization.load_pem_private_key(self.key.read_bytes(), password=None)


@dataclass(frozen=True)
class TestPki:
    """Root CA -> (intermediate CA) -> TSA certificate, all files under ``folder``."""

    __test__ = False  # not a pytest test class

    folder: Path
    root: Issued
    intermediate: Issued | None
    tsa: Issued

    @property
    def chain_pem(self) -> Path:
        """PEM file with the intermediate(s), for ``-chain`` / ``-untrusted``."""
        path = self.folder / "chain.pem"
        if not path.exists():
            parts = [self.intermediate.cert.read_bytes()] if self.intermediate else []
            path.write_bytes(b"".join(parts))
        return path

    @property
    def untrusted(self) -> list[x509.Certificate]:
        """Every certificate but the root (TSA first)."""
        certs = [self.tsa.certificate]
        if self.intermediate is not None:
            certs.append(self.intermediate.certificate)
        return certs


def make_key(path: Path, kind: KeyKind) -> Path:
    openssl("genpkey", *_GENPKEY[kind], "-out", path)
    return path


def _digest_args(kind: KeyKind) -> list[str]:
    return [] if kind == "ed25519" else ["-sha256"]


def make_root_ca(
    folder: Path, name: str, *, kind: KeyKind = "ec", subject: str, days: int = 3650
) -> Issued:
    """A self-signed CA certificate (``openssl req -x509``)."""
    folder.mkdir(parents=True, exist_ok=True)
    key = make_key(folder / f"{name}.key", kind)
    ext = folder / f"{name}.ext"
    ext.write_text(
        "[req]\ndistinguished_name = dn\n[dn]\n[v3]\n"
        + CA_EXTENSIONS.replace("authorityKeyIdentifier = keyid\n", "")
    )
    cert = folder / f"{name}.pem"
    openssl(
        "req", "-x509", "-new", "-key", key, "-subj", subject, "-days", str(days),
        *_digest_args(kind), "-config", ext, "-extensions", "v3", "-out", cert,
    )  # fmt: skip
    return Issued(key, cert)


def issue_certificate(
    folder: Path,
    name: str,
    *,
    issuer: Issued,
    subject: str,
    extensions: str,
    kind: KeyKind = "ec",
    key: Path | None = None,
    days: int = 3650,
    serial: int | None = None,
    issuer_kind: KeyKind = "ec",
) -> Issued:
    """A certificate for a new (or the given) key, signed by ``issuer`` (``openssl x509 -req``).

    ``extensions`` is the body of an OpenSSL extension section, e.g.
    :data:`TSA_EXTENSIONS`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if key is None:
        key = make_key(folder / f"{name}.key", kind)
    csr = folder / f"{name}.csr"
    openssl("req", "-new", "-key", key, "-subj", subject, "-out", csr)
    ext = folder / f"{name}.ext"
    ext.write_text("[v3]\n" + extensions)
    cert = folder / f"{name}.pem"
    serial = serial if serial is not None else secrets.randbits(120) | (1 << 120)
    openssl(
        "x509", "-req", "-in", csr, "-CA", issuer.cert, "-CAkey", issuer.key,
        "-set_serial", str(serial), "-days", str(days), *_digest_args(issuer_kind),
        "-extfile", ext, "-extensions", "v3", "-out", cert,
    )  # fmt: skip
    return Issued(key, cert)


def make_tsa_pki(
    folder: Path, kind: KeyKind, *, intermediate: bool = True, label: str = "Test"
) -> TestPki:
    """Root CA, optional intermediate CA and a TSA certificate, all with ``kind`` keys."""
    root = make_root_ca(folder, "root", kind=kind, subject=f"/O={label} PKI/CN={label} Root CA")
    issuer = root
    inter: Issued | None = None
    if intermediate:
        inter = issue_certificate(
            folder, "intermediate", issuer=root, kind=kind, issuer_kind=kind,
            subject=f"/O={label} PKI/CN={label} Intermediate CA",
            extensions=CA_EXTENSIONS.replace("CA:TRUE", "CA:TRUE, pathlen:0"),
        )  # fmt: skip
        issuer = inter
    tsa = issue_certificate(
        folder, "tsa", issuer=issuer, kind=kind, issuer_kind=kind,
        subject=f"/O={label} PKI/CN={label} TSA", extensions=TSA_EXTENSIONS,
    )  # fmt: skip
    return TestPki(folder, root, inter, tsa)


def make_dated_pki(
    folder: Path,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    label: str = "Dated",
) -> TestPki:
    """An EC P-256 root + TSA pair valid only from ``not_before`` to ``not_after``.

    Made with ``cryptography`` because ``openssl x509`` 3.0 cannot set dates in
    the past; the files are ordinary PEM that OpenSSL signs tokens with.
    """
    folder.mkdir(parents=True, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP256R1())
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{label} PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{label} Root CA"),
        ]
    )
    tsa_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{label} PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{label} TSA"),
        ]
    )
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root_cert = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(root_ski, critical=False)
        .sign(root_key, hashes.SHA256())
    )
    tsa_cert = (
        x509.CertificateBuilder()
        .subject_name(tsa_name)
        .issuer_name(root_name)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    files = {}
    for name, key, cert in (("root", root_key, root_cert), ("tsa", tsa_key, tsa_cert)):
        (folder / f"{name}.key").write_bytes(key.private_bytes(pem, pkcs8, none))
        (folder / f"{name}.pem").write_bytes(cert.public_bytes(pem))
        files[name] = Issued(folder / f"{name}.key", folder / f"{name}.pem")
    return TestPki(folder, files["root"], None, files["tsa"])


def write_tsa_config(
    path: Path,
    *,
    policy: str = "1.2.3.4.1",
    digests: Sequence[str] = ("sha256", "sha384", "sha512"),
    signer_digest: str = "sha256",
    ess_cert_id_alg: str | None = "sha256",
    certs: Path | None = None,
    tsa_name: bool = True,
    accuracy: str = "secs:1",
) -> Path:
    """An ``openssl ts`` configuration file (section ``tsa_config1``).

    ``ess_cert_id_alg=None`` leaves OpenSSL's default (SHA-1 ESSCertID, i.e. the
    v1 ``signingCertificate`` attribute); any other value gives
    ``signingCertificateV2``. ``certs`` is a PEM file of extra certificates to
    embed (intermediates).
    """
    serial = path.with_suffix(".serial")
    if not serial.exists():
        serial.write_text("01\n")
    lines = [
        "[ tsa ]",
        "default_tsa = tsa_config1",
        "[ tsa_config1 ]",
        f"serial = {serial.name}",
        "crypto_device = builtin",
        f"signer_digest = {signer_digest}",
        f"default_policy = {policy}",
        f"digests = {', '.join(digests)}",
        f"accuracy = {accuracy}",
        "ordering = no",
        f"tsa_name = {'yes' if tsa_name else 'no'}",
        "ess_cert_id_chain = no",
    ]
    if ess_cert_id_alg is not None:
        lines.append(f"ess_cert_id_alg = {ess_cert_id_alg}")
    if certs is not None:
        lines.append(f"certs = {certs.name}")
    path.write_text("\n".join(lines) + "\n")
    return path


def make_query(
    path: Path,
    *,
    digest: bytes,
    hash_name: str = "sha256",
    cert_req: bool = True,
    nonce: bool = True,
    policy: str | None = None,
) -> Path:
    """A TimeStampReq for a precomputed digest (``openssl ts -query -digest``)."""
    args: list[str | Path] = ["ts", "-query", "-digest", digest.hex(), f"-{hash_name}"]
    if cert_req:
        args.append("-cert")
    if not nonce:
        args.append("-no_nonce")
    if policy is not None:
        args += ["-tspolicy", policy]
    openssl(*args, "-out", path)
    return path


def make_reply(
    query: Path,
    *,
    config: Path,
    signer: Issued,
    out: Path,
    token_only: bool = False,
    expect_granted: bool = True,
) -> bytes:
    """Sign ``query`` with ``openssl ts -reply``; return the DER response (or bare token).

    ``openssl ts -reply`` exits 0 even when it answers with a rejection, so the
    status is checked here unless ``expect_granted`` is false.
    """
    response = out.with_suffix(".tsr")
    openssl(
        "ts", "-reply", "-queryfile", query, "-config", config.name,
        "-inkey", signer.key, "-signer", signer.cert, "-out", response,
        cwd=config.parent,
    )  # fmt: skip
    der = response.read_bytes()
    status = int(tsp.PKIStatusInfo.load(_first_element(der))["status"])
    if expect_granted and status not in (0, 1):
        raise RuntimeError(f"openssl ts -reply did not grant the request (status {status})")
    if not token_only:
        out.write_bytes(der)
        return der
    token = out.with_suffix(".tst")
    openssl("ts", "-reply", "-in", response, "-token_out", "-out", token)
    return token.read_bytes()


def _first_element(der: bytes) -> bytes:
    """The DER of the first element inside the outer SEQUENCE (PKIStatusInfo)."""
    return bytes(core.Asn1Value.load(core.Sequence.load(der).contents).dump())


def openssl_verify(
    response: Path,
    *,
    ca_file: Path,
    untrusted: Path | None = None,
    digest: bytes | None = None,
    queryfile: Path | None = None,
    attime: dt.datetime | None = None,
    token_in: bool = False,
) -> bool:
    """``openssl ts -verify``: True on "Verification: OK"."""
    args: list[str | Path] = ["ts", "-verify", "-in", response, "-CAfile", ca_file]
    if token_in:
        args.append("-token_in")
    if digest is not None:
        args += ["-digest", digest.hex()]
    if queryfile is not None:
        args += ["-queryfile", queryfile]
    if untrusted is not None:
        args += ["-untrusted", untrusted]
    if attime is not None:
        args += ["-attime", str(int(attime.timestamp()))]
    try:
        out = openssl(*args)
    except RuntimeError:
        return False
    return b"Verification: OK" in out
