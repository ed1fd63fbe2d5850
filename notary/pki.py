"""Development PKI: the certificates and keys that ``notary pki init`` creates.

One folder holds everything (see :class:`PkiPaths`):

* ``root-ca.pem`` / ``root-ca.key``   self-signed root CA that issues the rest;
* ``tsa.pem`` / ``tsa.key``           RFC 3161 TSA certificate (EKU timeStamping only,
  critical, RFC 3161 section 2.3);
* ``server.pem`` / ``server.key``     TLS server certificate of the gateway
  (localhost, 127.0.0.1, ::1, and the names ``--server-name`` adds);
* ``operator.pem`` / ``operator.key`` operator client certificate (role in the OU);
* ``log-signing.key`` / ``log.vkey``  Ed25519 key that signs log checkpoints and its
  C2SP signed-note verifier key (https://c2sp.org/signed-note);
* ``tsa-chain.pem``                   tsa.pem followed by root-ca.pem, for tools.

What goes into each certificate (subjects, validity, key usages, key types) is the
profile documented in ``certs/dev-pki.toml``; :data:`DEFAULT_PROFILE` is the embedded
copy of the same values and a unit test keeps the two equal.

Writing is crash-safe: everything is generated into a private temporary folder inside
the target folder and then moved into place with ``tsa.pem`` last, so a folder that
has ``tsa.pem`` holds a complete PKI.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal, get_args

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from court.verify.checkpoint import CheckpointError, encode_verifier_key, parse_verifier_key
from notary.errors import NotaryError

__all__ = [
    "DEFAULT_KEY_TYPE",
    "DEFAULT_LOG_ORIGIN",
    "DEFAULT_PROFILE",
    "KEY_TYPES",
    "CertProfile",
    "CertSummary",
    "DevPkiProfile",
    "KeyType",
    "KeyTypeProfile",
    "LogKeyProfile",
    "LogVerifierKey",
    "PkiError",
    "PkiPaths",
    "TsaPrivateKey",
    "describe_pki",
    "init_pki",
    "load_log_signing_key",
    "load_log_verifier_key",
    "load_tsa_signing_material",
    "pki_paths",
]


class PkiError(NotaryError):
    """The PKI folder cannot be created or read; the message says what to do."""


KeyType = Literal["p256", "rsa3072"]
KEY_TYPES: Final[tuple[KeyType, ...]] = get_args(KeyType)

#: Private key types the dev PKI uses for certificates (root, TSA, server, operator).
TsaPrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


# --------------------------------------------------------------------------- profile


@dataclass(frozen=True)
class KeyTypeProfile:
    """How a ``--key-type`` choice is generated and signed with."""

    algorithm: Literal["ecdsa", "rsa"]
    signature_algorithm: str
    curve: str | None = None
    key_size: int | None = None
    public_exponent: int | None = None


@dataclass(frozen=True)
class CertProfile:
    """One certificate of the dev PKI. Names follow RFC 5280."""

    file_stem: str
    common_name: str
    validity_days: int
    is_ca: bool
    key_usage: tuple[str, ...]
    extended_key_usage: tuple[str, ...] = ()
    extended_key_usage_critical: bool = False
    organizational_unit: str | None = None
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class LogKeyProfile:
    """The Ed25519 key that signs log checkpoints (C2SP signed-note)."""

    origin: str
    key_type: Literal["ed25519"]
    key_file: str
    verifier_key_file: str


@dataclass(frozen=True)
class DevPkiProfile:
    """Everything ``init_pki`` puts into the dev PKI; mirrors ``certs/dev-pki.toml``."""

    organization: str
    country: str
    default_key_type: KeyType
    signature_hash: Literal["sha256"]
    backdate_seconds: int
    chain_file: str
    key_types: Mapping[str, KeyTypeProfile]
    root: CertProfile
    tsa: CertProfile
    server: CertProfile
    operator: CertProfile
    log: LogKeyProfile

    def certificates(self) -> dict[str, CertProfile]:
        """The certificate profiles by role, in issuing order (root first)."""
        return {
            "root": self.root,
            "tsa": self.tsa,
            "server": self.server,
            "operator": self.operator,
        }

    def to_toml_dict(self) -> dict[str, Any]:
        """The profile in the shape of ``certs/dev-pki.toml`` (as ``tomllib`` reads it)."""
        return {
            "pki": {
                "organization": self.organization,
                "country": self.country,
                "default_key_type": self.default_key_type,
                "signature_hash": self.signature_hash,
                "backdate_seconds": self.backdate_seconds,
                "chain_file": self.chain_file,
            },
            "key_types": {name: _dataclass_dict(kt) for name, kt in self.key_types.items()},
            "certificates": {
                role: _dataclass_dict(cert) for role, cert in self.certificates().items()
            },
            "log": _dataclass_dict(self.log),
        }


def _dataclass_dict(obj: KeyTypeProfile | CertProfile | LogKeyProfile) -> dict[str, Any]:
    """Fields as TOML holds them: tuples become lists; ``None``, empty lists and an
    EKU criticality without EKUs are left out."""
    out: dict[str, Any] = {}
    for name in obj.__dataclass_fields__:
        value = getattr(obj, name)
        if value is None or value == ():
            continue
        out[name] = list(value) if isinstance(value, tuple) else value
    if "extended_key_usage" not in out:
        out.pop("extended_key_usage_critical", None)
    return out


DEFAULT_LOG_ORIGIN: Final = "evidence-gateway.localhost/log"
DEFAULT_KEY_TYPE: Final[KeyType] = "p256"

#: Embedded copy of ``certs/dev-pki.toml``. Change both together (a test compares them).
DEFAULT_PROFILE: Final = DevPkiProfile(
    organization="Court Evidence Gateway (development)",
    country="CN",
    default_key_type=DEFAULT_KEY_TYPE,
    signature_hash="sha256",
    backdate_seconds=300,
    chain_file="tsa-chain.pem",
    key_types={
        "p256": KeyTypeProfile(
            algorithm="ecdsa",
            curve="secp256r1",
            signature_algorithm="ecdsa-with-SHA256",
        ),
        "rsa3072": KeyTypeProfile(
            algorithm="rsa",
            key_size=3072,
            public_exponent=65537,
            signature_algorithm="sha256WithRSAEncryption",
        ),
    },
    root=CertProfile(
        file_stem="root-ca",
        common_name="Court Evidence Gateway Development Root CA",
        validity_days=3650,
        is_ca=True,
        key_usage=("keyCertSign", "cRLSign"),
    ),
    tsa=CertProfile(
        file_stem="tsa",
        common_name="Court Evidence Gateway Development TSA",
        validity_days=1826,
        is_ca=False,
        key_usage=("digitalSignature", "nonRepudiation"),
        extended_key_usage=("timeStamping",),
        extended_key_usage_critical=True,
    ),
    server=CertProfile(
        file_stem="server",
        common_name="localhost",
        validity_days=825,
        is_ca=False,
        key_usage=("digitalSignature",),
        extended_key_usage=("serverAuth",),
        dns_names=("localhost",),
        ip_addresses=("127.0.0.1", "::1"),
    ),
    operator=CertProfile(
        file_stem="operator",
        common_name="operator",
        organizational_unit="operator",
        validity_days=825,
        is_ca=False,
        key_usage=("digitalSignature",),
        extended_key_usage=("clientAuth",),
    ),
    log=LogKeyProfile(
        origin=DEFAULT_LOG_ORIGIN,
        key_type="ed25519",
        key_file="log-signing.key",
        verifier_key_file="log.vkey",
    ),
)

_EKU_OIDS: Final[dict[str, ObjectIdentifier]] = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timeStamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "OCSPSigning": ExtendedKeyUsageOID.OCSP_SIGNING,
}
_EKU_NAMES: Final[dict[ObjectIdentifier, str]] = {oid: name for name, oid in _EKU_OIDS.items()}

# RFC 5280 key usage names -> cryptography.x509.KeyUsage keyword arguments.
_KEY_USAGE_ARGS: Final[dict[str, str]] = {
    "digitalSignature": "digital_signature",
    "nonRepudiation": "content_commitment",
    "keyEncipherment": "key_encipherment",
    "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement",
    "keyCertSign": "key_cert_sign",
    "cRLSign": "crl_sign",
}


# --------------------------------------------------------------------------- paths


@dataclass(frozen=True)
class PkiPaths:
    """File names inside a PKI folder."""

    directory: Path
    root: Path  # root-ca.pem
    root_key: Path  # root-ca.key
    tsa: Path  # tsa.pem
    tsa_key: Path  # tsa.key
    server: Path  # server.pem
    server_key: Path  # server.key
    operator: Path  # operator.pem
    operator_key: Path  # operator.key
    log_signing_key: Path  # log-signing.key (Ed25519, PKCS#8 PEM)
    log_vkey: Path  # log.vkey (C2SP signed-note verifier key)
    tsa_chain: Path  # tsa-chain.pem (tsa.pem then root-ca.pem)

    def private_keys(self) -> tuple[Path, ...]:
        """The files that hold private keys (written with mode 0600)."""
        return (
            self.root_key,
            self.tsa_key,
            self.server_key,
            self.operator_key,
            self.log_signing_key,
        )

    def certificates(self) -> tuple[Path, ...]:
        """The four certificate files, root first."""
        return (self.root, self.tsa, self.server, self.operator)

    def all_files(self) -> tuple[Path, ...]:
        """Every file ``init_pki`` writes, in the order it moves them into place.

        ``tsa.pem`` comes last: its presence marks a complete PKI.
        """
        return (
            *self.private_keys(),
            self.log_vkey,
            self.root,
            self.server,
            self.operator,
            self.tsa_chain,
            self.tsa,
        )


def pki_paths(directory: Path) -> PkiPaths:
    """The paths of the PKI files inside ``directory`` (nothing is read or created)."""
    d = Path(directory)
    p = DEFAULT_PROFILE
    return PkiPaths(
        directory=d,
        root=d / f"{p.root.file_stem}.pem",
        root_key=d / f"{p.root.file_stem}.key",
        tsa=d / f"{p.tsa.file_stem}.pem",
        tsa_key=d / f"{p.tsa.file_stem}.key",
        server=d / f"{p.server.file_stem}.pem",
        server_key=d / f"{p.server.file_stem}.key",
        operator=d / f"{p.operator.file_stem}.pem",
        operator_key=d / f"{p.operator.file_stem}.key",
        log_signing_key=d / p.log.key_file,
        log_vkey=d / p.log.verifier_key_file,
        tsa_chain=d / p.chain_file,
    )


# --------------------------------------------------------------------------- signed-note keys


# The signed-note rules (key name syntax, key ID, verifier key format) live once, in
# the court's verification library; the PKI only maps their errors to PkiError.


def _raw_ed25519(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _log_verifier_key_line(origin: str, public_key: Ed25519PublicKey) -> str:
    """``<origin>+<key ID hex>+<base64(0x01 || public key)>`` (c2sp.org/signed-note)."""
    try:
        return encode_verifier_key(origin, _raw_ed25519(public_key))
    except CheckpointError as exc:
        raise PkiError(
            f"log origin {origin!r} cannot be a signed-note key name ({exc}): pass a "
            f"non-empty name without spaces or '+', like {DEFAULT_LOG_ORIGIN!r}"
        ) from exc


@dataclass(frozen=True)
class LogVerifierKey:
    """The log's checkpoint verifier key as read from ``log.vkey``."""

    origin: str
    key_id: bytes
    public_key: Ed25519PublicKey = field(compare=False)
    line: str


# --------------------------------------------------------------------------- init


def init_pki(
    directory: Path,
    *,
    key_type: KeyType = "p256",
    force: bool = False,
    log_origin: str = DEFAULT_LOG_ORIGIN,
    now: datetime | None = None,
    validity_days: Mapping[str, int] | None = None,
    server_names: Sequence[str] = (),
) -> PkiPaths:
    """Create the development PKI in ``directory`` (created if missing) and return its paths.

    ``key_type`` chooses the keys of the four certificates (ECDSA P-256 with
    ecdsa-with-SHA256, or RSA-3072 with sha256WithRSAEncryption); the log key is
    always Ed25519. Existing files are never replaced unless ``force`` is true.
    ``validity_days`` overrides the profile's validity of some certificates, by
    role (``{"tsa": 10}``: a TSA certificate that expires in ten days).
    ``server_names`` (DNS names or IP addresses) are added to the server
    certificate's subjectAltName, after localhost, 127.0.0.1 and ::1: the names
    clients reach the gateway by (a client checks the name it dialled).
    """
    profile = _with_server_names(_with_validity(DEFAULT_PROFILE, validity_days or {}), server_names)
    if key_type not in KEY_TYPES:
        raise PkiError(
            f"unknown key type {key_type!r}: choose one of {', '.join(KEY_TYPES)} (--key-type)"
        )
    log_key = Ed25519PrivateKey.generate()
    log_vkey_line = _log_verifier_key_line(log_origin, log_key.public_key())
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)

    directory = Path(directory)
    paths = pki_paths(directory)
    if directory.exists() and not directory.is_dir():
        raise PkiError(f"{directory} exists and is not a folder: choose another --out")
    if not force:
        for target in paths.all_files():
            if target.exists() or target.is_symlink():
                raise PkiError(
                    f"{target} already exists: pass --force to replace the whole PKI in "
                    f"{directory}, or choose another --out folder"
                )
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise PkiError(
            f"cannot create the PKI folder {directory} ({exc.strerror}): "
            "choose a writable --out folder"
        ) from exc

    try:
        with _staging_folder(directory) as staging:
            staged = pki_paths(staging)
            _generate_into(staged, profile, key_type, log_key, log_vkey_line, now)
            if force:
                # Remove the completion marker first: a crash while the files are being
                # replaced must not leave an old tsa.pem that makes a mixed folder look whole.
                paths.tsa.unlink(missing_ok=True)
            for source, target in zip(staged.all_files(), paths.all_files(), strict=True):
                os.replace(source, target)
            _fsync_directory(directory)
    except OSError as exc:
        raise PkiError(
            f"writing the PKI into {directory} failed ({exc}): fix the cause and run "
            "`notary pki init` again with --force"
        ) from exc
    return paths


def _with_validity(profile: DevPkiProfile, validity_days: Mapping[str, int]) -> DevPkiProfile:
    roles = profile.certificates()
    for role, days in validity_days.items():
        if role not in roles:
            raise PkiError(f"no certificate role {role!r}: choose among {', '.join(roles)}")
        if days < 1:
            raise PkiError(f"the validity of the {role} certificate must be at least 1 day")
    for role, days in validity_days.items():
        changed = dataclasses.replace(roles[role], validity_days=days)
        profile = dataclasses.replace(profile, **{role: changed})  # type: ignore[arg-type]
    return profile


#: A DNS name a server certificate may carry: dot-separated labels of letters, digits
#: and inner hyphens, the first may be ``*`` (a wildcard), at most 253 characters.
_DNS_NAME: Final = re.compile(
    r"(?=.{1,253}$)(\*|[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
    r"(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


def _with_server_names(profile: DevPkiProfile, names: Sequence[str]) -> DevPkiProfile:
    dns, ips = list(profile.server.dns_names), list(profile.server.ip_addresses)
    for name in names:
        try:
            address = str(ipaddress.ip_address(name))
        except ValueError:
            if not _DNS_NAME.fullmatch(name) or name == "*":
                raise PkiError(
                    f"--server-name {name!r} is neither an IP address nor a DNS name "
                    "(e.g. gateway.example.cn, 10.0.0.5)"
                ) from None
            if name.lower() not in (d.lower() for d in dns):
                dns.append(name)
            continue
        if address not in ips:
            ips.append(address)
    server = dataclasses.replace(profile.server, dns_names=tuple(dns), ip_addresses=tuple(ips))
    return dataclasses.replace(profile, server=server)


@contextlib.contextmanager
def _staging_folder(directory: Path) -> Iterator[Path]:
    """A private (0700) temporary folder inside ``directory``, removed afterwards."""
    staging = Path(tempfile.mkdtemp(prefix=".pki-init-", dir=directory))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _generate_into(
    paths: PkiPaths,
    profile: DevPkiProfile,
    key_type: KeyType,
    log_key: Ed25519PrivateKey,
    log_vkey_line: str,
    now: datetime,
) -> None:
    kt = profile.key_types[key_type]

    root_key = _generate_key(kt)
    root_cert = _build_certificate(
        profile, profile.root, root_key.public_key(), None, root_key, now
    )
    issuer = (root_cert, root_key)
    leaves: dict[str, tuple[TsaPrivateKey, x509.Certificate]] = {}
    for role in ("tsa", "server", "operator"):
        cert_profile = profile.certificates()[role]
        key = _generate_key(kt)
        leaves[role] = (
            key,
            _build_certificate(profile, cert_profile, key.public_key(), issuer, root_key, now),
        )

    _write_private_key(paths.root_key, root_key)
    _write_private_key(paths.tsa_key, leaves["tsa"][0])
    _write_private_key(paths.server_key, leaves["server"][0])
    _write_private_key(paths.operator_key, leaves["operator"][0])
    _write_private_key(paths.log_signing_key, log_key)
    _write_public(paths.log_vkey, log_vkey_line + "\n")

    root_pem = _pem(root_cert)
    tsa_pem = _pem(leaves["tsa"][1])
    _write_public(paths.root, root_pem)
    _write_public(paths.server, _pem(leaves["server"][1]))
    _write_public(paths.operator, _pem(leaves["operator"][1]))
    _write_public(paths.tsa_chain, tsa_pem + root_pem)
    _write_public(paths.tsa, tsa_pem)


def _generate_key(kt: KeyTypeProfile) -> TsaPrivateKey:
    if kt.algorithm == "ecdsa":
        if kt.curve != "secp256r1":
            raise PkiError(f"unsupported curve {kt.curve!r} in the PKI profile: use secp256r1")
        return ec.generate_private_key(ec.SECP256R1())
    if kt.key_size is None or kt.public_exponent is None:
        raise PkiError("the RSA key type of the PKI profile needs key_size and public_exponent")
    return rsa.generate_private_key(public_exponent=kt.public_exponent, key_size=kt.key_size)


def _subject(profile: DevPkiProfile, cert: CertProfile) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, profile.country),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, profile.organization),
    ]
    if cert.organizational_unit is not None:
        attributes.append(
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, cert.organizational_unit)
        )
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, cert.common_name))
    return x509.Name(attributes)


def _key_usage(names: tuple[str, ...]) -> x509.KeyUsage:
    unknown = set(names) - _KEY_USAGE_ARGS.keys()
    if unknown:
        raise PkiError(f"unknown key usage {sorted(unknown)} in the PKI profile")
    flags = {arg: name in names for name, arg in _KEY_USAGE_ARGS.items()}
    return x509.KeyUsage(encipher_only=False, decipher_only=False, **flags)


def _build_certificate(
    profile: DevPkiProfile,
    cert: CertProfile,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    issuer: tuple[x509.Certificate, TsaPrivateKey] | None,
    signing_key: TsaPrivateKey,
    now: datetime,
) -> x509.Certificate:
    subject = _subject(profile, cert)
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer[0].subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(seconds=profile.backdate_seconds))
        .not_valid_after(now + timedelta(days=cert.validity_days))
        .add_extension(x509.BasicConstraints(ca=cert.is_ca, path_length=None), critical=True)
        .add_extension(_key_usage(cert.key_usage), critical=True)
        .add_extension(ski, critical=False)
    )
    if issuer is not None:
        issuer_ski = issuer[0].extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski.value),
            critical=False,
        )
    if cert.extended_key_usage:
        unknown = set(cert.extended_key_usage) - _EKU_OIDS.keys()
        if unknown:
            raise PkiError(f"unknown extended key usage {sorted(unknown)} in the PKI profile")
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([_EKU_OIDS[name] for name in cert.extended_key_usage]),
            critical=cert.extended_key_usage_critical,
        )
    if cert.dns_names or cert.ip_addresses:
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in cert.dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(a)) for a in cert.ip_addresses]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` (which must not exist) with ``mode`` from the start, and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write_private_key(path: Path, key: TsaPrivateKey | Ed25519PrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_new(path, data, 0o600)


def _write_public(path: Path, data: bytes | str) -> None:
    _write_new(path, data.encode("ascii") if isinstance(data, str) else data, 0o644)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class CertSummary:
    """What ``notary pki show`` prints about one certificate."""

    role: str  # "root", "tsa", "server", "operator"
    path: Path
    subject: str  # RFC 4514
    issuer: str  # RFC 4514
    sha256_fingerprint: str  # lowercase hex, 64 characters, no separators
    serial: int
    not_before: datetime  # UTC
    not_after: datetime  # UTC
    key_type: str  # e.g. "ECDSA P-256", "RSA 3072"
    extended_key_usage: tuple[str, ...]  # e.g. ("timeStamping",); () when absent
    extended_key_usage_critical: bool
    is_ca: bool

    @property
    def sha256_fingerprint_colons(self) -> str:
        """The fingerprint as ``openssl x509 -fingerprint -sha256`` prints it."""
        h = self.sha256_fingerprint.upper()
        return ":".join(h[i : i + 2] for i in range(0, len(h), 2))


def describe_pki(directory: Path) -> list[CertSummary]:
    """Summaries of the four certificates (root, tsa, server, operator) in ``directory``."""
    paths = pki_paths(directory)
    roles = ("root", "tsa", "server", "operator")
    return [
        _summarize(role, path, _read_certificate(path, paths))
        for role, path in zip(roles, paths.certificates(), strict=True)
    ]


def _summarize(role: str, path: Path, cert: x509.Certificate) -> CertSummary:
    try:
        eku_ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        ekus = tuple(_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku_ext.value)
        eku_critical = eku_ext.critical
    except x509.ExtensionNotFound:
        ekus, eku_critical = (), False
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return CertSummary(
        role=role,
        path=path,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sha256_fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        serial=cert.serial_number,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_type=_describe_key(cert.public_key()),
        extended_key_usage=ekus,
        extended_key_usage_critical=eku_critical,
        is_ca=is_ca,
    )


_CURVE_NAMES: Final = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def _describe_key(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {_CURVE_NAMES.get(key.curve.name, key.curve.name)}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, Ed25519PublicKey):
        return "Ed25519"
    return type(key).__name__


def load_tsa_signing_material(
    directory: Path,
) -> tuple[TsaPrivateKey, x509.Certificate, list[x509.Certificate]]:
    """The TSA's private key, its certificate and the rest of its chain (root CA).

    Checks that the key belongs to the certificate, that the root issued it and
    that its extended key usage is exactly timeStamping, critical (RFC 3161 2.3).
    """
    paths = pki_paths(directory)
    tsa_cert = _read_certificate(paths.tsa, paths)
    root_cert = _read_certificate(paths.root, paths)
    key = _read_private_key(paths.tsa_key, paths)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PkiError(
            f"{paths.tsa_key} holds a {_describe_key(key.public_key())} key; the TSA needs "
            f"an ECDSA or RSA key: recreate the PKI with `notary pki init --out {directory} "
            "--force`"
        )
    if _public_der(key.public_key()) != _public_der(tsa_cert.public_key()):
        raise PkiError(
            f"{paths.tsa_key} does not belong to {paths.tsa}: put the matching key and "
            f"certificate in {directory}, or recreate them with `notary pki init --force`"
        )
    try:
        tsa_cert.verify_directly_issued_by(root_cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise PkiError(
            f"{paths.tsa} was not issued by {paths.root}: put the TSA's own root CA in "
            f"{paths.root}, or recreate the PKI with `notary pki init --force`"
        ) from exc
    try:
        eku = tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        eku_ok = eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    except x509.ExtensionNotFound:
        eku_ok = False
    if not eku_ok:
        raise PkiError(
            f"{paths.tsa} cannot sign time-stamps: RFC 3161 requires a critical extended "
            "key usage of exactly timeStamping; issue a TSA certificate that has it "
            "(`notary pki init` does)"
        )
    return key, tsa_cert, [root_cert]


def load_log_signing_key(directory: Path) -> Ed25519PrivateKey:
    """The Ed25519 key that signs log checkpoints (checked against ``log.vkey`` if present)."""
    paths = pki_paths(directory)
    key = _read_private_key(paths.log_signing_key, paths)
    if not isinstance(key, Ed25519PrivateKey):
        raise PkiError(
            f"{paths.log_signing_key} is not an Ed25519 key: checkpoints are signed with "
            f"Ed25519; recreate the PKI with `notary pki init --out {directory} --force`"
        )
    if paths.log_vkey.exists():
        vkey = load_log_verifier_key(directory)
        if _public_der(vkey.public_key) != _public_der(key.public_key()):
            raise PkiError(
                f"{paths.log_signing_key} does not match {paths.log_vkey}: restore the "
                f"matching pair, or recreate the PKI with `notary pki init --force`"
            )
    return key


def load_log_verifier_key(directory: Path) -> LogVerifierKey:
    """Parse ``log.vkey`` (one line ``<origin>+<key ID hex>+<base64(0x01 || key)>``)."""
    paths = pki_paths(directory)
    text = _read_bytes(paths.log_vkey, paths).decode("utf-8", errors="replace").strip()
    redo = (
        f"{paths.log_vkey} is not a valid Ed25519 signed-note verifier key: restore it or "
        f"recreate the PKI with `notary pki init --out {directory} --force`"
    )
    try:
        parsed = parse_verifier_key(text)
    except CheckpointError as exc:
        raise PkiError(f"{redo} ({exc})") from exc
    public_key = Ed25519PublicKey.from_public_bytes(parsed.public_key)
    return LogVerifierKey(
        origin=parsed.name, key_id=parsed.key_id, public_key=public_key, line=text
    )


def _public_der(key: object) -> bytes:
    if isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | Ed25519PublicKey):
        return key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    raise PkiError(f"unsupported public key type {type(key).__name__} in the PKI")


def _read_bytes(path: Path, paths: PkiPaths) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise PkiError(
            f"{path} is missing: create the PKI with `notary pki init --out "
            f"{paths.directory}`, or point to the folder that holds it"
        ) from exc
    except OSError as exc:
        raise PkiError(
            f"cannot read {path} ({exc.strerror}): check the file's permissions"
        ) from exc


def _read_certificate(path: Path, paths: PkiPaths) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read_bytes(path, paths))
    except ValueError as exc:
        raise PkiError(
            f"{path} is not a PEM certificate: restore it, or recreate the PKI with "
            f"`notary pki init --out {paths.directory} --force`"
        ) from exc


def _read_private_key(path: Path, paths: PkiPaths) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(_read_bytes(path, paths), password=None)
    except TypeError as exc:
        raise PkiError(
            f"{path} is encrypted: store the key unencrypted (mode 0600) in the PKI folder"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise PkiError(
            f"{path} is not a PEM private key: restore it, or recreate the PKI with "
            f"`notary pki init --out {paths.directory} --force`"
        ) from exc
