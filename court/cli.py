"""`court-verify`: the court-side verification client. Parses, dispatches, picks the exit code.

Exit codes: 0 the evidence is valid; 1 it is invalid; 2 usage or input error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from court.errors import CourtError
from court.files import InputError
from court.tokens import verify_token_file

__all__ = ["add_token_options", "main", "run_token"]


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
        choices=("sha256", "sha384", "sha512", "sm3"),
        help="algorithm of --digest (default: from its length, SHA-2)",
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


def run_token(args: argparse.Namespace) -> int:
    """Verify the token the options name; print the checks; 0 valid, 1 invalid."""
    digest = None
    if args.digest is not None:
        try:
            digest = bytes.fromhex(args.digest)
        except ValueError as exc:
            raise InputError(f"--digest must be hexadecimal, got {args.digest!r}") from exc
    ok = verify_token_file(
        args.token,
        digest=digest,
        data_file=args.file,
        hash_name=args.hash,
        ca_files=args.ca,
        untrusted_files=args.untrusted,
        nonce=args.nonce,
        policy=args.policy,
        tsa_cert_file=args.tsa_cert,
        tsa_name=args.tsa_name,
        out=sys.stdout,
    )
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="court-verify",
        description="Verify e-evidence offline, trusting only the TSA certificate (and the chain).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    token = commands.add_parser("token", help="verify an RFC 3161 time-stamp token")
    add_token_options(token)
    token.set_defaults(handler=run_token)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except InputError as exc:
        print(f"court-verify: {exc}", file=sys.stderr)
        return 2
    except CourtError as exc:
        print(f"court-verify: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
