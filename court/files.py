"""Reading evidence and trust material from files (the edge of the court package)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from cryptography import x509

from court.errors import CourtError

__all__ = ["InputError", "json_hint", "load_certificates", "read_file", "write_atomically"]

_PEM_MARKER = b"-----BEGIN CERTIFICATE-----"


class InputError(CourtError):
    """An input file is missing, unreadable or not what it should be."""


def json_hint(data: bytes, message_type: str, name: str, docs: str) -> str:
    """What to do with a protobuf message saved as JSON (buf curl, grpcurl, any client's
    protobuf JSON) where the binary form is expected: ``""`` unless ``data`` looks like JSON.

    ``message_type`` is the full name (``evidence_gateway.v1.Receipt``), ``name`` the
    file's stem in the example command, ``docs`` the page that says more.
    """
    if data.lstrip()[:1] != b"{":
        return ""
    return (
        f"; it looks like JSON: convert it to binary with `buf convert protos --type "
        f"{message_type} --from {name}.json --to {name}.pb` ({docs})"
    )


def read_file(path: Path, what: str) -> bytes:
    """The bytes of `path`, or InputError naming the file and the option."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from exc


def load_certificates(path: Path, what: str = "certificate file") -> list[x509.Certificate]:
    """All certificates in a PEM file (one or more) or a single DER certificate."""
    data = read_file(path, what)
    try:
        if _PEM_MARKER in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except (ValueError, x509.InvalidVersion) as exc:
        raise InputError(
            f"{what} {path} holds no readable certificate (PEM or DER expected): {exc}"
        ) from exc


def write_atomically(path: Path, data: bytes, what: str) -> None:
    """Write ``data`` to ``path`` whole or not at all: a temporary file in the same folder,
    flushed to disk, then renamed over ``path``. InputError names the file and ``what``."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InputError(f"cannot write {what} {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise InputError(f"cannot write {what} {path}: {exc.strerror}") from exc
