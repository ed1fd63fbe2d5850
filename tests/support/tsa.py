"""Shared helpers for tests of our TSA: a PKI folder and engines built on it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from asn1crypto import algos, core, tsp

from notary.pki import init_pki, load_tsa_signing_material
from notary.tsa.config import TsaConfig
from notary.tsa.engine import TimeStampAuthority
from notary.tsa.serial import LeasedSerials
from notary.tsa.signer import KeySigner


def make_engine(
    pki_dir: Path, state_dir: Path, config: TsaConfig | None = None, **kwargs: object
) -> TimeStampAuthority:
    """An engine on the PKI in `pki_dir` (made there by `notary pki init` if missing)."""
    if not (pki_dir / "tsa.pem").exists():
        init_pki(pki_dir)
    key, cert, _ = load_tsa_signing_material(pki_dir)
    return TimeStampAuthority(KeySigner(key, cert), LeasedSerials(state_dir), config, **kwargs)  # type: ignore[arg-type]


def make_request(
    data: bytes = b"hello",
    *,
    hash_name: str = "sha256",
    digest: bytes | None = None,
    nonce: int | None = 0x1234_5678_9ABC,
    cert_req: bool = True,
    policy: str | None = None,
    version: int = 1,
    null_params: bool = True,
) -> bytes:
    """A DER TimeStampReq built field by field with asn1crypto."""
    if digest is None:
        digest = hashlib.new(hash_name, data).digest()
    algorithm: dict[str, object] = {"algorithm": hash_name}
    if null_params:
        algorithm["parameters"] = core.Null()
    fields: dict[str, object] = {
        "version": version,
        "message_imprint": {
            "hash_algorithm": algos.DigestAlgorithm(algorithm),
            "hashed_message": digest,
        },
    }
    if policy is not None:
        fields["req_policy"] = policy
    if nonce is not None:
        fields["nonce"] = nonce
    if cert_req:
        fields["cert_req"] = True
    return bytes(tsp.TimeStampReq(fields).dump())
