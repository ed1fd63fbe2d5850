"""The `court-verify` commands that call a gateway: `fetch` and `audit-log`.

Both need grpcio (the ``fetch`` extra of the court-verify distribution); without
it they exit 2 saying how to install it. Their connection options are in
:mod:`court.gateway_rpc`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from court.report.escape import escape_text

__all__ = ["add_remote_commands"]

_FETCH_HELP = """\
Fetch the evidence bundle of one record (--entry or --digest) or the dossier
of one loan (--loan) from an evidence gateway, and write it to --out in
protobuf's JSON mapping, as `court-verify bundle` and `court-verify dossier`
read it. The gateway gives only what your institution may read: anything
else is NOT_FOUND, whether or not it exists.

exit codes: 0 written; 1 the gateway did not give it (NOT_FOUND,
PERMISSION_DENIED, UNAUTHENTICATED, RESOURCE_EXHAUSTED, UNAVAILABLE, ...; the
message names the gRPC code); 2 usage or input error, including a request the
gateway refused as malformed (INVALID_ARGUMENT) and grpcio not installed.
"""


def _run_fetch(args: argparse.Namespace) -> int:
    from court.fetch import fetch, request_from_args
    from court.gateway_rpc import grpc_module, target_from_args

    grpc_module()  # without grpcio, say so first
    request = request_from_args(args)
    summary = fetch(target_from_args(args), request, args.out)
    print(escape_text(summary))
    return 0


def _add_fetch(commands: Any) -> None:
    from court.gateway_rpc import add_gateway_options

    fetch = commands.add_parser(
        "fetch",
        help="fetch a bundle or a loan's dossier from a gateway (needs court-verify[fetch])",
        description=_FETCH_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_gateway_options(fetch)
    what = fetch.add_mutually_exclusive_group(required=True)
    what.add_argument("--entry", metavar="ID", help="the record's entry id (on its receipt)")
    what.add_argument("--digest", metavar="HEX", help="the document's digest: its first record")
    what.add_argument("--loan", metavar="REF", help="the loan reference: the loan's dossier")
    fetch.add_argument(
        "--hash",
        choices=("sha256", "sha384", "sha512", "sm3"),
        help="algorithm of --digest (default: SHA-2 of its length)",
    )
    fetch.add_argument(
        "--owner", metavar="NAME", help="with --loan: the lender that owns the loan (for a court)"
    )
    fetch.add_argument(
        "--tree-size",
        type=int,
        metavar="N",
        help="the checkpoint to prove against (a size the log signed with its loan map; "
        "default the latest)",
    )
    fetch.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to write")
    fetch.set_defaults(handler=_run_fetch)


_AUDIT_HELP = """\
Audit an evidence gateway's log by replaying it, as a regulator or a court's
technician does: list its signed checkpoints (from tree size --from on) and
read every leaf from index 0 (the tree root and the loan map of a checkpoint
depend on all leaves below its size). Each checkpoint must be signed by the
log key (--trust DIR holding log.vkey, or --log-key FILE), extend the one
before it (the gateway's consistency proof), have the root of the replayed
leaves, and carry the loan map root the replayed leaves give (docs/loan-map.md).
Memory: the tree's right border and one head per loan; pages of at most 100
checkpoints and 1,000 leaves.

exit codes: 0 every check passed, or no checkpoint of size --from or more
exists yet (nothing new: the latest checkpoint's signature is checked, the
rest is not run); 1 a check failed (the last line names the first), or the
gateway refused or could not be reached; 2 usage or input error, including
grpcio not installed.
"""


def _run_audit(args: argparse.Namespace) -> int:
    from court.audit_log import audit_log, load_log_key
    from court.gateway_rpc import grpc_module, target_from_args

    grpc_module()  # without grpcio, say so first
    target = target_from_args(args)
    key = load_log_key(args.trust, args.log_key)
    ok = audit_log(target, args.from_size, key, sys.stdout, as_json=args.json)
    return 0 if ok else 1


def _add_audit(commands: Any) -> None:
    from court.gateway_rpc import add_gateway_options

    audit = commands.add_parser(
        "audit-log",
        help="replay a gateway's log: every checkpoint's signature, consistency, tree root "
        "and loan map root (needs court-verify[fetch])",
        description=_AUDIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_gateway_options(audit)
    audit.add_argument(
        "--from",
        dest="from_size",
        type=int,
        default=0,
        metavar="N",
        help="audit the checkpoints of tree size N and more (default 0: all)",
    )
    key = audit.add_mutually_exclusive_group(required=True)
    key.add_argument("--trust", type=Path, metavar="DIR", help="trust folder holding log.vkey")
    key.add_argument(
        "--log-key", type=Path, metavar="log.vkey", help="the log's C2SP verifier key file"
    )
    audit.add_argument(
        "--json",
        action="store_true",
        help="print the report as one JSON object (outcome, checks, summary) instead of text",
    )
    audit.set_defaults(handler=_run_audit)


def add_remote_commands(commands: Any) -> None:
    """Add `fetch` and `audit-log` to court-verify's subcommands."""
    _add_fetch(commands)
    _add_audit(commands)
