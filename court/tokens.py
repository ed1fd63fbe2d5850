"""Verify a time-stamp token file and print every named check (shared by both CLIs)."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from court.files import InputError, load_certificates, read_file
from court.report.output import write_report
from court.report.text import invalid_line
from court.verify.token import IMPRINT_ALGORITHMS, TokenVerification, verify_timestamp

__all__ = ["algorithm_slip", "digest_algorithm", "verify_token_file"]

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


_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64, "sm3": 32}


def algorithm_slip(
    result: TokenVerification, *, digest: bytes | None, hash_name: str | None, inferred: bool
) -> str | None:
    """What to do instead, when the question asked cannot be put to this token.

    The court compares a token's imprint with a digest under the hash the user
    named (or that a digest's length implied). When the token stamps another
    algorithm that the court accepts, the token is not invalid for the
    document: the comparison was not possible, and the user must give the
    document's digest under the token's algorithm (or the file). A token whose
    algorithm the court does not accept (SHA-1, MD5) is invalid evidence, not
    a slip. Returns ``None`` when there is no such mismatch.
    """
    token_alg = result.hash_algorithm
    if hash_name is None or token_alg is None or token_alg == hash_name:
        return None
    if token_alg not in IMPRINT_ALGORITHMS:
        return None
    if digest is None:
        return (
            f"the token stamps a {token_alg} digest, not {hash_name}: leave out --hash, "
            f"and --file is hashed with {token_alg}"
        )
    if inferred:
        taken = f"the {len(digest)}-byte --digest was taken as {hash_name} (from its length)"
        if _SIZES[token_alg] == len(digest):
            return (
                f"the token stamps a {token_alg} digest, but {taken}: give --hash {token_alg} "
                f"if it is the document's {token_alg} digest, or give --file"
            )
        return (
            f"the token stamps a {token_alg} digest ({_SIZES[token_alg]} bytes), but {taken}: "
            f"give the document's {token_alg} digest with --hash {token_alg}, or give --file"
        )
    return (
        f"the token stamps a {token_alg} digest, not {hash_name}: give the document's "
        f"{token_alg} digest with --hash {token_alg}, or give --file"
    )


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

    Raises InputError when an input cannot be read, the options make no sense,
    or the token stamps a digest under another algorithm than the one asked
    (see :func:`algorithm_slip`). Without `hash_name`, a digest's algorithm
    follows from its length (SHA-2). With `as_json` the report is one JSON
    document (court.report.json_report).
    """
    token = read_file(token_file, "token")
    data = read_file(data_file, "--file") if data_file is not None else None
    roots = [cert for path in ca_files for cert in load_certificates(path, "--ca file")]
    untrusted = [
        cert for path in untrusted_files for cert in load_certificates(path, "--untrusted file")
    ]
    pinned = load_certificates(tsa_cert_file, "--tsa-cert")[0] if tsa_cert_file else None
    inferred = hash_name is None
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
    slip = algorithm_slip(result, digest=digest, hash_name=hash_name, inferred=inferred)
    if slip is not None:
        raise InputError(slip)
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
