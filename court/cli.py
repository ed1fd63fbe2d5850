"""`court-verify`: the court-side verification client. Parses, dispatches, picks the exit code.

Exit codes: 0 the evidence is valid; 1 it is invalid; 2 usage or input error.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Sequence
from pathlib import Path

from court.cli_remote import add_remote_commands
from court.errors import CourtError
from court.files import InputError
from court.report.escape import escape_text
from court.tokens import verify_token_file

__all__ = ["add_receipt_options", "add_token_options", "main", "run_receipt", "run_token"]

_HASHES = ("sha256", "sha384", "sha512", "sm3")
#: Blocks an anchor's block must have (itself included) when --confirmations is not given.
DEFAULT_CONFIRMATIONS = 1


def _int(value: str) -> int:
    return int(value, 0)


def add_token_options(parser: argparse.ArgumentParser) -> None:
    """The options of a token verification (shared with `notary verify`)."""
    parser.add_argument("token", type=Path, help="TimeStampResp (.tsr) or bare token (DER)")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--digest", help="expected digest, hexadecimal")
    what.add_argument("--file", type=Path, help="the time-stamped file")
    parser.add_argument(
        "--hash",
        choices=_HASHES,
        help="algorithm of --digest (default: SHA-2 of its length, so an SM3 digest needs "
        "--hash sm3); a token that stamps another algorithm is a usage error (exit 2)",
    )
    parser.add_argument(
        "--ca",
        type=Path,
        action="append",
        required=True,
        help="trusted root certificate(s), PEM or DER; repeatable",
    )
    parser.add_argument(
        "--untrusted",
        type=Path,
        action="append",
        default=[],
        help="extra certificates (intermediates, TSA cert); repeatable",
    )
    parser.add_argument("--nonce", type=_int, help="expected nonce (decimal or 0x hex)")
    parser.add_argument("--policy", help="expected TSA policy OID")
    parser.add_argument("--tsa-cert", type=Path, help="pin: the signer must be this certificate")
    parser.add_argument("--tsa-name", help="pin: the signer's subject (RFC 4514)")
    _add_json_option(parser)


def _add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the report as one JSON object (outcome, checks, summary) instead of text",
    )


def _digest(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise InputError(f"--digest must be hexadecimal, got {value!r}") from exc


def run_token(args: argparse.Namespace) -> int:
    """Verify the token the options name; print the checks; 0 valid, 1 invalid."""
    ok = verify_token_file(
        args.token,
        digest=_digest(args.digest),
        data_file=args.file,
        hash_name=args.hash,
        ca_files=args.ca,
        untrusted_files=args.untrusted,
        nonce=args.nonce,
        policy=args.policy,
        tsa_cert_file=args.tsa_cert,
        tsa_name=args.tsa_name,
        out=sys.stdout,
        as_json=args.json,
    )
    return 0 if ok else 1


_RECEIPT_HELP = """\
Verify a receipt of the evidence gateway offline, trusting only the TSA's root
certificate and the log's public key: the time-stamp token (every check of
`court-verify token`), the canonical leaf (well-formed; for version 2, opened
with the receipt's opening, which must match its commitment and loan key;
naming the document's digest and the token), the log checkpoint's signature
and the leaf's inclusion proof. Every check is printed by name.

RECEIPT is a file holding one evidence_gateway.v1.Receipt protobuf message in
binary wire format, as a lender's system archives it, e.g. in Python:
  Path("receipt.pb").write_bytes(response.receipt.SerializeToString())

With --anchor, --rpc, --contract and --chain-id the receipt's checkpoint is
also checked against the log's anchor on an EVM chain, read from the contract
by this program with eth_call on the node you name (docs/anchoring.md): the
node's chain id, the contract's code, the log key pinned on chain, the anchor
the file names covering the checkpoint, the anchored root, the consistency
proof from the receipt's checkpoint to it, and --confirmations.

exit codes: 0 the receipt is valid for the document; 1 it is not (the last
line names the first failed check, or the check that could not run); 2 usage
or input error.
"""


def add_receipt_options(parser: argparse.ArgumentParser) -> None:
    """The options of `court-verify receipt`."""
    parser.add_argument(
        "receipt",
        type=Path,
        metavar="RECEIPT",
        help="file with a serialized evidence_gateway.v1.Receipt (binary protobuf)",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--file", type=Path, metavar="DOC", help="the document the receipt is for")
    what.add_argument("--digest", metavar="HEX", help="the document's digest, hexadecimal")
    parser.add_argument(
        "--hash",
        choices=_HASHES,
        help="algorithm of --digest (default: from its length, SHA-2) or to hash --file "
        "with (default: the one the receipt's leaf names)",
    )
    parser.add_argument(
        "--ca",
        type=Path,
        action="append",
        required=True,
        metavar="ROOT.pem",
        help="trusted root certificate(s) of the TSA, PEM or DER; repeatable",
    )
    parser.add_argument(
        "--untrusted",
        type=Path,
        action="append",
        default=[],
        metavar="PEM",
        help="extra certificates (intermediates, TSA cert); repeatable",
    )
    parser.add_argument(
        "--log-key",
        type=Path,
        required=True,
        metavar="log.vkey",
        help="file with the log's C2SP verifier key (<origin>+<key id>+<key>), "
        "e.g. the gateway's pki/log.vkey",
    )
    chain = parser.add_argument_group(
        "anchor on chain",
        "check that the log the receipt belongs to is the one the gateway anchored on an EVM "
        "chain, reading the anchor contract from a chain node of your choice (eth_call); "
        "--anchor, --rpc, --contract and --chain-id go together",
    )
    chain.add_argument(
        "--anchor",
        type=Path,
        metavar="ANCHOR",
        help="file with a serialized evidence_gateway.v1.GetAnchorResponse (binary protobuf) "
        "for the receipt's checkpoint: LogService.GetAnchor with tree_size and from_tree_size "
        "both the checkpoint's size",
    )
    chain.add_argument(
        "--rpc",
        metavar="URL",
        help="JSON-RPC endpoint (http:// or https://) of a node of the chain",
    )
    chain.add_argument(
        "--contract",
        metavar="ADDRESS",
        help="address of the EvidenceAnchor contract (0x and 40 hexadecimal digits), "
        "as published by the operator",
    )
    chain.add_argument(
        "--chain-id",
        type=int,
        metavar="N",
        help="the chain's id (EIP-155), as published by the operator with the contract "
        "address: the node's eth_chainId and the anchor file's chain_id must be it",
    )
    chain.add_argument(
        "--confirmations",
        type=int,
        default=None,
        metavar="K",
        help="blocks the anchor's block must have on the chain, itself included "
        f"(default {DEFAULT_CONFIRMATIONS})",
    )
    _add_json_option(parser)


def _anchor_options(args: argparse.Namespace) -> tuple[Path, str, str, int, int] | None:
    """The --anchor, --rpc, --contract, --chain-id and --confirmations options, or None if
    not given."""
    names = ("--anchor", "--rpc", "--contract", "--chain-id")
    values = (args.anchor, args.rpc, args.contract, args.chain_id)
    given = [name for name, value in zip(names, values, strict=True) if value is not None]
    if not given:
        if args.confirmations is not None:
            raise InputError("--confirmations needs --anchor, --rpc, --contract and --chain-id")
        return None
    if len(given) < len(names):
        missing = [n for n in names if n not in given]
        raise InputError(
            f"{', '.join(given)} needs {' and '.join(missing)}: the anchor check reads the "
            "anchor file and the contract on a node of the chain the operator publishes, "
            "together"
        )
    if args.chain_id < 1:
        raise InputError(f"--chain-id must be a positive chain id, got {args.chain_id}")
    confirmations = DEFAULT_CONFIRMATIONS if args.confirmations is None else args.confirmations
    if confirmations < 1:
        raise InputError(f"--confirmations must be at least 1, got {confirmations}")
    return args.anchor, args.rpc, args.contract, args.chain_id, confirmations


def run_receipt(args: argparse.Namespace) -> int:
    """Verify the receipt the options name; print the checks; 0 valid, 1 invalid."""
    from court.receipts import verify_receipt_file  # loads the protobuf stubs

    ok = verify_receipt_file(
        args.receipt,
        digest=_digest(args.digest),
        data_file=args.file,
        hash_name=args.hash,
        ca_files=args.ca,
        untrusted_files=args.untrusted,
        log_key_file=args.log_key,
        anchor=_anchor_options(args),
        out=sys.stdout,
        as_json=args.json,
    )
    return 0 if ok else 1


#: The distributions that install this package: the whole project, or the court's own
#: (dist/court-verify, built by scripts/build_court_verify.py with the same version).
_DISTRIBUTIONS = ("court-evidence-gateway", "court-verify")


def _version() -> str:
    for name in _DISTRIBUTIONS:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="court-verify",
        description=(
            "Verify e-evidence offline, trusting only the TSA's root certificate and the log's key."
        ),
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {_version()}",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    token = commands.add_parser("token", help="verify an RFC 3161 time-stamp token")
    add_token_options(token)
    token.set_defaults(handler=run_token)
    receipt = commands.add_parser(
        "receipt",
        help="verify a gateway receipt (token, leaf, checkpoint, inclusion proof, anchor)",
        description=_RECEIPT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_receipt_options(receipt)
    receipt.set_defaults(handler=run_receipt)
    from court import bundle_cmd  # loads the protobuf stubs

    bundle = commands.add_parser(
        "bundle",
        help="verify an evidence bundle (one record with all its proofs, JSON)",
        description=bundle_cmd.BUNDLE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bundle_cmd.add_bundle_options(bundle)
    bundle.set_defaults(handler=bundle_cmd.run_bundle)
    dossier = commands.add_parser(
        "dossier",
        help="verify a dossier (every record of one loan, complete, JSON)",
        description=bundle_cmd.DOSSIER_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bundle_cmd.add_dossier_options(dossier)
    dossier.set_defaults(handler=bundle_cmd.run_dossier)
    add_remote_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except InputError as exc:
        print(f"court-verify: {escape_text(str(exc))}", file=sys.stderr)
        return 2
    except CourtError as exc:
        print(f"court-verify: {escape_text(str(exc))}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
