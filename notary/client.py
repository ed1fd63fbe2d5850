"""A client for any RFC 3161 TSA over HTTP, built on rfc3161ng.

rfc3161ng's `make_timestamp_request(data=...)` hashes with SHA-1 whatever
`hashname` says (see DESIGN.md), so we always hash ourselves and pass `digest=`.
"""

from __future__ import annotations

import hashlib
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import rfc3161ng

from notary.errors import NotaryError
from notary.tsa.status import TimeStampResp

STAMP_HASHES = ("sha256", "sha384", "sha512")
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"


class StampError(NotaryError):
    """The TSA could not be reached or did not grant the time-stamp."""


@dataclass(frozen=True)
class StampResult:
    response: bytes
    request: bytes
    nonce: int
    serial_number: int
    gen_time: str


def hash_file(path: Path, hash_name: str) -> bytes:
    """Digest of a file, read in chunks."""
    digest = hashlib.new(hash_name)
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise StampError(f"cannot read {path}: {exc.strerror}; check the --file path") from exc
    return digest.digest()


def build_request(digest: bytes, hash_name: str, *, nonce: int, cert_req: bool = True) -> bytes:
    """DER TimeStampReq for a digest, via rfc3161ng."""
    request = rfc3161ng.make_timestamp_request(
        digest=digest, hashname=hash_name, include_tsa_certificate=cert_req, nonce=nonce
    )
    return bytes(rfc3161ng.encode_timestamp_request(request))


def stamp(url: str, digest: bytes, hash_name: str, *, timeout: float = 10.0) -> StampResult:
    """Ask the TSA at `url` for a token over `digest`; raise StampError unless granted."""
    if hash_name not in STAMP_HASHES:
        raise StampError(f"--hash must be one of {', '.join(STAMP_HASHES)}")
    expected = hashlib.new(hash_name).digest_size
    if len(digest) != expected:
        raise StampError(f"a {hash_name} digest is {expected} bytes, got {len(digest)}")
    nonce = secrets.randbits(64)
    request = build_request(digest, hash_name, nonce=nonce)
    http_request = urllib.request.Request(
        url, data=request, method="POST", headers={"Content-Type": QUERY_TYPE}
    )
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as reply:
            body: bytes = reply.read()
            content_type = reply.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        raise StampError(f"TSA at {url} answered HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise StampError(f"cannot reach the TSA at {url}: {exc}; is it running?") from exc
    if content_type != REPLY_TYPE:
        raise StampError(f"TSA at {url} answered {content_type}, not {REPLY_TYPE}")
    return _check_reply(body, request, nonce, digest)


def _check_reply(body: bytes, request: bytes, nonce: int, digest: bytes) -> StampResult:
    try:
        response = TimeStampResp.load(body, strict=True)
        status = response["status"]
        state = status["status"].native
    except ValueError as exc:
        raise StampError(f"the TSA's reply is not a TimeStampResp: {exc}") from exc
    if state not in ("granted", "granted_with_mods"):
        text = "; ".join(status["status_string"].native or [])
        fail = ", ".join(sorted(status["fail_info"].native or []))
        raise StampError(f"TSA refused the request ({state}; failInfo {fail or 'none'}): {text}")
    tst = response["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    if tst["nonce"].native != nonce:
        raise StampError("the TSA's token does not echo our nonce; do not use it")
    if tst["message_imprint"]["hashed_message"].native != digest:
        raise StampError("the TSA's token is over another digest; do not use it")
    return StampResult(
        response=body,
        request=request,
        nonce=nonce,
        serial_number=tst["serial_number"].native,
        gen_time=tst["gen_time"].native.isoformat(),
    )
