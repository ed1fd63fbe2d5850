"""`notary trust export`: the trust folder a court verifies bundles and dossiers with.

``court-verify bundle|dossier --trust DIR`` reads (docs/court-verify-fetch.md):

* ``log.vkey``: the log's C2SP verifier key (the PKI's ``log.vkey``);
* ``tsa-root.pem``: the root certificate of the PKI's TSA, and
  ``tsa-root-N.pem`` for each ``--tsa-ca`` file (roots of external TSAs the
  gateway uses; ``[tsa] ca_files``): every ``*.pem`` is a trusted TSA root;
* ``chain.json`` with ``--chain-id`` and ``--contract``:
  ``{"chain_id": N, "contract": "0x...", "confirmations": K}``, the anchor
  contract a court checks with ``--rpc URL``.

Only public files of the PKI are read. The folder is new, or holds none of these
names (``--force`` replaces them); each file is written whole or not at all.
The command prints the SHA-256 fingerprints to publish beside the folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from court.chainrpc import ChainRpcError, parse_address
from court.files import InputError, load_certificates, write_atomically
from notary.errors import UsageError
from notary.pki import _read_certificate, load_log_verifier_key, pki_paths

__all__ = ["add_trust_commands", "export_trust"]

DEFAULT_CONFIRMATIONS = 1
#: The most confirmations court-verify accepts in chain.json.
MAX_CONFIRMATIONS = 1_000_000
LOG_KEY = "log.vkey"
TSA_ROOT = "tsa-root.pem"
CHAIN = "chain.json"


def _root_of(path: Path) -> x509.Certificate:
    """The one self-signed certificate in a --tsa-ca file."""
    try:
        certificates = load_certificates(path, "--tsa-ca file")
    except InputError as exc:
        raise UsageError(str(exc)) from None
    roots = [c for c in certificates if c.subject == c.issuer]
    if len(roots) != 1:
        raise UsageError(
            f"--tsa-ca file {path} holds {len(roots)} self-signed certificates: give one file "
            "per TSA root (the trust anchor itself, not the TSA's own certificate)"
        )
    return roots[0]


def _chain(chain_id: int | None, contract: str | None, confirmations: int | None) -> bytes | None:
    if chain_id is None and contract is None:
        if confirmations is not None:
            raise UsageError("--confirmations goes with --chain-id and --contract")
        return None
    if chain_id is None or contract is None:
        raise UsageError("--chain-id and --contract go together (the chain the log is anchored on)")
    if chain_id < 1:
        raise UsageError(f"--chain-id must be a positive chain id, got {chain_id}")
    try:
        address = parse_address(contract)
    except ChainRpcError as exc:
        raise UsageError(f"--contract: {exc}") from None
    k = DEFAULT_CONFIRMATIONS if confirmations is None else confirmations
    if not 1 <= k <= MAX_CONFIRMATIONS:
        raise UsageError(f"--confirmations must be from 1 to {MAX_CONFIRMATIONS:,}, got {k}")
    document = {"chain_id": chain_id, "contract": address, "confirmations": k}
    return (json.dumps(document, indent=2) + "\n").encode("ascii")


def export_trust(
    pki: Path,
    out: Path,
    *,
    tsa_cas: list[Path] | None = None,
    chain_id: int | None = None,
    contract: str | None = None,
    confirmations: int | None = None,
    force: bool = False,
) -> dict[str, str]:
    """Write the trust folder; return file name -> SHA-256 fingerprint (hex) of what it
    holds (the certificate's, the verifier key line's, the chain file's)."""
    paths = pki_paths(pki)
    vkey = load_log_verifier_key(pki)
    roots = [_read_certificate(paths.root, paths)]
    roots += [_root_of(path) for path in tsa_cas or []]
    chain = _chain(chain_id, contract, confirmations)
    files: dict[str, bytes] = {LOG_KEY: (vkey.line + "\n").encode("utf-8")}
    seen: set[bytes] = set()
    for number, root in enumerate(roots):
        fingerprint = root.fingerprint(hashes.SHA256())
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        name = TSA_ROOT if number == 0 else f"tsa-root-{number}.pem"
        files[name] = root.public_bytes(serialization.Encoding.PEM)
    if chain is not None:
        files[CHAIN] = chain
    stale = out / CHAIN if chain is None and (out / CHAIN).exists() else None
    existing = [name for name in [*files, *([CHAIN] if stale else [])] if (out / name).exists()]
    if existing and not force:
        raise UsageError(
            f"{out} already holds {', '.join(existing)}: choose a new --out folder, or pass "
            "--force to replace them"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --out folder {out}: {exc.strerror}") from None
    if stale is not None:  # --force without a chain: no chain check from an old export
        stale.unlink()
    summary: dict[str, str] = {}
    for name, data in files.items():
        try:
            write_atomically(out / name, data, "trust file")
        except InputError as exc:
            raise UsageError(str(exc)) from None
        if name.endswith(".pem"):
            cert = x509.load_pem_x509_certificate(data)
            summary[name] = cert.fingerprint(hashes.SHA256()).hex()
        else:
            summary[name] = _sha256(data)
    return summary


def _sha256(data: bytes) -> str:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize().hex()


def _cmd_export(args: argparse.Namespace) -> int:
    summary = export_trust(
        args.pki,
        args.out,
        tsa_cas=args.tsa_ca,
        chain_id=args.chain_id,
        contract=args.contract,
        confirmations=args.confirmations,
        force=args.force,
    )
    print(f"Trust folder written to {args.out}; publish these SHA-256 fingerprints with it:")
    for name, fingerprint in summary.items():
        print(f"  {name:<16} {fingerprint}")
    rpc = " [--rpc URL]" if CHAIN in summary else ""
    print(f"A court verifies with: court-verify bundle FILE --trust {args.out}{rpc}")
    if rpc:
        print(
            f"  (--rpc URL: a JSON-RPC node of chain {args.chain_id} of the court's choice, "
            f"to read the anchor on chain as {CHAIN} names it)"
        )
    return 0


def add_trust_commands(commands: Any) -> None:
    """`notary trust export`."""
    trust = commands.add_parser("trust", help="the trust folder courts verify with").add_subparsers(
        dest="trust_command", required=True, metavar="TRUST_COMMAND"
    )
    export = trust.add_parser(
        "export",
        help="write log.vkey, the TSA root(s) and optionally chain.json for court-verify --trust",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("--pki", type=Path, required=True, help="PKI folder (notary pki init)")
    export.add_argument("--out", type=Path, required=True, help="the trust folder to write")
    export.add_argument(
        "--tsa-ca",
        type=Path,
        action="append",
        default=[],
        metavar="ROOT.pem",
        help="root certificate of an external TSA the gateway accepts tokens of; repeatable",
    )
    export.add_argument("--chain-id", type=int, metavar="N", help="the anchoring chain's id")
    export.add_argument("--contract", metavar="ADDRESS", help="the EvidenceAnchor contract")
    export.add_argument(
        "--confirmations",
        type=int,
        metavar="K",
        help=f"blocks an anchor needs, its own included (default {DEFAULT_CONFIRMATIONS})",
    )
    export.add_argument("--force", action="store_true", help="replace the folder's trust files")
    export.set_defaults(handler=_cmd_export)
