"""`notary`: the operator's admin CLI. It parses, dispatches and picks the exit code.

Exit codes: 0 success; 1 the operation failed (for `verify`: the token is
invalid; for `institution`: the gateway refused or could not be reached; for
`anchor`: the chain or the gateway refused or could not be reached); 2 usage
or input error.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Sequence
from pathlib import Path

from notary.errors import NotaryError, UsageError

DEFAULT_LISTEN = "127.0.0.1:3180"


def _hex_digest(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise UsageError(f"--digest must be hexadecimal, got {value!r}") from exc


def _cmd_pki_init(args: argparse.Namespace) -> int:
    from notary.pki import describe_pki, init_pki

    paths = init_pki(
        args.out,
        key_type=args.key_type,
        force=args.force,
        log_origin=args.log_origin,
        server_names=args.server_name,
    )
    print(f"Development PKI written to {args.out} (private keys mode 0600, never commit them).")
    for summary in describe_pki(args.out):
        print(f"  {summary.role:<9} {summary.subject}")
    print(f"Verifiers need: {paths.root} (-CAfile) and {paths.tsa} (-untrusted).")
    return 0


def _cmd_pki_show(args: argparse.Namespace) -> int:
    from notary.pki import describe_pki, load_log_verifier_key, pki_paths

    for summary in describe_pki(args.dir):
        print(f"{summary.role}: {summary.path}")
        print(f"  subject      {summary.subject}")
        print(f"  issuer       {summary.issuer}")
        print(f"  key          {summary.key_type}")
        print(f"  serial       {summary.serial:x}")
        print(
            f"  valid        {summary.not_before:%Y-%m-%d %H:%M:%SZ} .. "
            f"{summary.not_after:%Y-%m-%d %H:%M:%SZ}"
        )
        print(f"  sha256       {summary.sha256_fingerprint}")
        if summary.extended_key_usage:
            print(f"  eku          {', '.join(summary.extended_key_usage)}")
    vkey = load_log_verifier_key(args.dir)
    print(f"log checkpoint verifier key: {pki_paths(args.dir).log_vkey}\n  {vkey.line}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from notary.serve import serve

    serve(
        pki_dir=args.pki,
        listen=args.listen,
        state_dir=args.state_dir or args.pki.parent / "notary",
        accept_sm3=args.accept_sm3,
        policy=args.policy,
        access_log=args.access_log,
    )
    return 0


def _cmd_stamp(args: argparse.Namespace) -> int:
    from notary.client import hash_file, stamp

    digest = _hex_digest(args.digest) if args.digest else hash_file(args.file, args.hash)
    result = stamp(args.url, digest, args.hash)
    try:
        args.out.write_bytes(result.response)
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror}") from exc
    print(f"granted: serial {result.serial_number:x}, genTime {result.gen_time}")
    print(
        f"token written to {args.out}; check it with: notary verify {args.out} --digest "
        f"{digest.hex()} --hash {args.hash} --ca ROOT.pem"
    )
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from court.cli import run_token
    from court.errors import CourtError

    try:
        return run_token(args)
    except CourtError as exc:
        raise UsageError(str(exc)) from exc


def build_parser() -> argparse.ArgumentParser:
    from court.cli import add_token_options
    from notary.anchor_cmd import add_anchor_commands
    from notary.institution_cmd import add_institution_commands
    from notary.trust_cmd import add_trust_commands

    parser = argparse.ArgumentParser(
        prog="notary", description="Time-stamp authority and admin tools of the evidence gateway."
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {importlib.metadata.version('court-evidence-gateway')}",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pki = commands.add_parser("pki", help="development PKI").add_subparsers(
        dest="pki_command", required=True, metavar="PKI_COMMAND"
    )
    init = pki.add_parser("init", help="create root CA, TSA, TLS, operator and log keys")
    init.add_argument("--out", type=Path, required=True, help="folder to write the PKI into")
    init.add_argument("--key-type", choices=("p256", "rsa3072"), default="p256")
    init.add_argument("--force", action="store_true", help="replace existing keys")
    init.add_argument(
        "--log-origin",
        default="evidence-gateway.localhost/log",
        help="origin line of the log's checkpoints (C2SP)",
    )
    init.add_argument(
        "--server-name",
        action="append",
        default=[],
        metavar="NAME",
        help="a DNS name or IP address clients reach the gateway by, added to the server "
        "certificate next to localhost, 127.0.0.1 and ::1 (repeatable)",
    )
    init.set_defaults(handler=_cmd_pki_init)
    show = pki.add_parser("show", help="subjects, fingerprints and validity of a PKI folder")
    show.add_argument("dir", type=Path)
    show.set_defaults(handler=_cmd_pki_show)

    serve = commands.add_parser("serve", help="serve the RFC 3161 TSA over HTTP")
    serve.add_argument("--pki", type=Path, required=True, help="PKI folder (notary pki init)")
    serve.add_argument("--listen", default=DEFAULT_LISTEN, help=f"HOST:PORT ({DEFAULT_LISTEN})")
    serve.add_argument("--state-dir", type=Path, help="serial-number state (PKI/../notary)")
    serve.add_argument("--policy", help="TSA policy OID written into tokens")
    serve.add_argument("--accept-sm3", action="store_true", help="also accept SM3 imprints")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(handler=_cmd_serve)

    stamp = commands.add_parser("stamp", help="get a token from any RFC 3161 TSA")
    what = stamp.add_mutually_exclusive_group(required=True)
    what.add_argument("--digest", help="hex digest to time-stamp")
    what.add_argument("--file", type=Path, help="file to hash and time-stamp")
    stamp.add_argument("--hash", default="sha256", choices=("sha256", "sha384", "sha512"))
    stamp.add_argument("--url", required=True, help="TSA URL, e.g. http://127.0.0.1:3180/")
    stamp.add_argument("--out", type=Path, required=True, help="where to write the .tsr")
    stamp.set_defaults(handler=_cmd_stamp)

    verify = commands.add_parser("verify", help="verify a token; prints every named check")
    add_token_options(verify)
    verify.set_defaults(handler=_cmd_verify)
    add_institution_commands(commands)
    add_anchor_commands(commands)
    add_trust_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except NotaryError as exc:
        from court.report.escape import escape_text

        # The text may quote input (a path, a value read from a token): printed escaped.
        print(f"notary: {escape_text(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
