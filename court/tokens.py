"""Verify a time-stamp token file and print every named check (shared by both CLIs)."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from court.files import InputError, load_certificates, read_file
from court.report.output import write_report
from court.report.text import invalid_line
from court.verify.token import verify_timestamp

__all__ = ["digest_algorithm", "verify_token_file"]

_BY_LENGTH = {32: "sha256", 48: "sha384", 64: "sha512"}


def digest_algorithm(digest: bytes | None, hash_name: str | None) -> str | None:
    """`hash_name`, or for a bare digest the SHA-2 function of its length.

    Raises InputError when a digest's length matches no SHA-2 size.
    """
    if digest is None or hash_name is not None:
        return hash_name
    inferred = _BY_LENGTH.get(len(digest))
    if inferred is None:
        raise InputError(
            f"a {len(digest)}-byte --digest matches no SHA-2 size; give --hash explicitly"
        )
    return inferred


def verify_token_file(
    token_file: Path,
    *,
    digest: bytes | None,
    data_file: Path | None,
    hash_name: str | None,
    ca_files: list[Path],
    untrusted_files: list[Path],
    nonce: int | None,
    policy: str | None,
    tsa_cert_file: Path | None,
    tsa_name: str | None,
    out: TextIO,
    as_json: bool = False,
) -> bool:
    """Verify, print every named check to `out`, and return whether all passed.

    Raises InputError when an input cannot be read or the options make no sense.
    Without `hash_name`, a digest's algorithm follows from its length (SHA-2).
    With `as_json` the report is one JSON document (court.report.json_report).
    """
    token = read_file(token_file, "token")
    data = read_file(data_file, "--file") if data_file is not None else None
    roots = [cert for path in ca_files for cert in load_certificates(path, "--ca file")]
    untrusted = [
        cert for path in untrusted_files for cert in load_certificates(path, "--untrusted file")
    ]
    pinned = load_certificates(tsa_cert_file, "--tsa-cert")[0] if tsa_cert_file else None
    hash_name = digest_algorithm(digest, hash_name)
    try:
        result = verify_timestamp(
            token,
            roots=roots,
            untrusted=untrusted,
            digest=digest,
            hash_algorithm=hash_name,
            data=data,
            nonce=nonce,
            policy=policy,
            tsa_certificate=pinned,
            tsa_name=tsa_name,
        )
    except ValueError as exc:
        raise InputError(f"cannot verify with these options: {exc}") from exc
    if result.ok:
        when = result.gen_time.isoformat() if result.gen_time else "?"
        serial = f"{result.serial_number:x}" if result.serial_number is not None else "?"
        signer = result.signer.subject.rfc4514_string() if result.signer else "?"
        summary = f"VALID: time-stamped at {when} (serial {serial}) by {signer}"
    else:
        summary = invalid_line(result.checks)
    outcome = "valid" if result.ok else "invalid"
    write_report(out, result.checks, summary, outcome=outcome, as_json=as_json)
    return result.ok
