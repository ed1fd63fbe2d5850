"""`notary serve`: wire the PKI, the engine and the HTTP endpoint together."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from notary.errors import UsageError
from notary.http import make_app, parse_listen
from notary.pki import load_tsa_signing_material, pki_paths
from notary.tsa.config import TsaConfig
from notary.tsa.engine import TimeStampAuthority
from notary.tsa.serial import LeasedSerials
from notary.tsa.signer import KeySigner


def build_authority(
    pki_dir: Path, state_dir: Path, *, accept_sm3: bool = False, policy: str | None = None
) -> TimeStampAuthority:
    """A TSA engine from a PKI folder (see `notary pki init`)."""
    key, cert, _chain = load_tsa_signing_material(pki_dir)
    config = TsaConfig(accept_sm3=accept_sm3)
    if policy:
        config = TsaConfig(policy=policy, accept_sm3=accept_sm3)
    return TimeStampAuthority(KeySigner(key, cert), LeasedSerials(state_dir), config)


def try_it_command(url: str, pki_dir: Path) -> str:
    """A copy-paste line that stamps a file with stock openssl + curl and verifies it."""
    paths = pki_paths(pki_dir)
    root, tsa = shlex.quote(str(paths.root)), shlex.quote(str(paths.tsa))
    return (
        "openssl ts -query -data README.md -sha256 -cert -out /tmp/q.tsq && "
        f"curl -sS -H 'Content-Type: application/timestamp-query' --data-binary @/tmp/q.tsq "
        f"{url} -o /tmp/r.tsr && "
        f"openssl ts -verify -in /tmp/r.tsr -queryfile /tmp/q.tsq -CAfile {root} -untrusted {tsa}"
    )


def serve(
    *,
    pki_dir: Path,
    listen: str,
    state_dir: Path,
    accept_sm3: bool = False,
    policy: str | None = None,
    access_log: bool = False,
) -> None:
    """Run the HTTP TSA until interrupted."""
    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    tsa = build_authority(pki_dir, state_dir, accept_sm3=accept_sm3, policy=policy)
    # RSA-3072 signing takes milliseconds and releases the GIL: sign in threads.
    rsa_key = isinstance(tsa.signer.certificate.public_key(), rsa.RSAPublicKey)
    threads = 2 if rsa_key else 0
    app = make_app(tsa, signing_threads=threads)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    def announce(_: object) -> None:
        print(f"notary: RFC 3161 TSA listening on {url} (policy {tsa.config.policy})")
        print(f"notary: trust anchor {pki_paths(pki_dir).root}; TSA cert {pki_paths(pki_dir).tsa}")
        print("notary: try it:\n  " + try_it_command(url, pki_dir), flush=True)

    web.run_app(
        app,
        host=host,
        port=port,
        print=announce,
        access_log=logging.getLogger("aiohttp.access") if access_log else None,
    )
