"""Client certificates of institutions, issued by the PKI's root CA.

``notary institution add`` and ``rotate`` call :func:`issue_client_certificate`:
a new key (same key types as the PKI, :data:`notary.pki.KEY_TYPES`) and a
certificate for TLS client authentication whose subject names the
institution (CN) and its role (OU), signed by ``root-ca.key``.
:func:`write_client_files` puts them at ``DIR/NAME.pem`` and ``DIR/NAME.key``
(mode 0600), never over existing files.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from notary.pki import (
    DEFAULT_PROFILE,
    CertProfile,
    KeyType,
    PkiError,
    TsaPrivateKey,
    _build_certificate,
    _generate_key,
    _read_certificate,
    _read_private_key,
    _write_new,
    pki_paths,
)

__all__ = [
    "DEFAULT_CLIENT_DAYS",
    "ClientFiles",
    "IssuedCertificate",
    "issue_client_certificate",
    "write_client_files",
]

#: Validity of an institution's client certificate unless told otherwise.
DEFAULT_CLIENT_DAYS = 397


@dataclass(frozen=True)
class IssuedCertificate:
    """A new client key and its certificate."""

    key: TsaPrivateKey
    certificate: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def sha256(self) -> bytes:
        return self.certificate.fingerprint(hashes.SHA256())


@dataclass(frozen=True)
class ClientFiles:
    """Where an institution's certificate and key are written."""

    certificate: Path
    key: Path
    #: The folder :func:`write_client_files` created for them, if it did.
    made_directory: Path | None = None


def client_files(directory: Path, name: str) -> ClientFiles:
    return ClientFiles(certificate=directory / f"{name}.pem", key=directory / f"{name}.key")


def issue_client_certificate(
    pki_dir: Path,
    name: str,
    role: str,
    *,
    days: int = DEFAULT_CLIENT_DAYS,
    key_type: KeyType = "p256",
    now: datetime | None = None,
) -> IssuedCertificate:
    """A key and a client certificate for institution ``name`` from the PKI's root CA.

    ``now`` may lie in the past (a certificate that is already expired, for tests).
    """
    if days < 1:
        raise PkiError("a client certificate must be valid for at least 1 day (--days)")
    paths = pki_paths(pki_dir)
    root = _read_certificate(paths.root, paths)
    root_key = _read_private_key(paths.root_key, paths)
    if not isinstance(root_key, TsaPrivateKey):
        raise PkiError(f"{paths.root_key} is not an ECDSA or RSA key: it cannot issue certificates")
    profile = CertProfile(
        file_stem=name,
        common_name=name,
        organizational_unit=role,
        validity_days=days,
        is_ca=False,
        key_usage=("digitalSignature",),
        extended_key_usage=("clientAuth",),
    )
    key = _generate_key(DEFAULT_PROFILE.key_types[key_type])
    cert = _build_certificate(
        DEFAULT_PROFILE,
        profile,
        key.public_key(),
        (root, root_key),
        root_key,
        (now or datetime.now(UTC)).astimezone(UTC),
    )
    return IssuedCertificate(key=key, certificate=cert)


def write_client_files(issued: IssuedCertificate, directory: Path, name: str) -> ClientFiles:
    """Write ``NAME.pem`` (0644) and ``NAME.key`` (0600) into ``directory`` (made 0700)."""
    files = client_files(directory, name)
    for path in (files.certificate, files.key):
        if path.exists() or path.is_symlink():
            raise PkiError(f"{path} already exists: move it away, or choose another --out folder")
    try:
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True)
            files = ClientFiles(files.certificate, files.key, made_directory=directory)
        _write_new(files.key, issued.key_pem, 0o600)
        try:
            _write_new(files.certificate, issued.pem, 0o644)
        except BaseException:
            files.key.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise PkiError(
            f"cannot write the certificate and key into {directory} ({exc.strerror}): "
            "choose a writable --out folder"
        ) from exc
    return files


def remove_client_files(files: ClientFiles) -> None:
    """Undo :func:`write_client_files` (the registration failed)."""
    for path in (files.certificate, files.key):
        path.unlink(missing_ok=True)
    if files.made_directory is not None:
        with contextlib.suppress(OSError):  # only if nothing else is in it
            files.made_directory.rmdir()


def set_aside(files: ClientFiles) -> ClientFiles:
    """Rename an institution's current files to ``NAME.previous.pem``/``.key`` (rotation)."""
    previous = ClientFiles(
        certificate=files.certificate.with_suffix(".previous.pem"),
        key=files.key.with_suffix(".previous.key"),
    )
    for source, target in ((files.certificate, previous.certificate), (files.key, previous.key)):
        if source.exists():
            os.replace(source, target)
    return previous
