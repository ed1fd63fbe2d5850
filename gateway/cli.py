"""`gateway`: serve the evidence gateway's gRPC API.

Exit codes: 0 stopped normally (every call ended within the grace period);
1 the gateway could not start or failed; 2 usage error; 3 stopped, but calls
still running had to be ended (the grace period ran out, a second signal, or
closing took longer than ``_CLOSE_SECONDS``): nothing acknowledged is lost.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway.errors import GatewayError

#: Once the calls have ended, how long stopping the anchoring worker and closing the
#: ledger may take before the process exits anyway (code 3).
_CLOSE_SECONDS = 10.0

_EXAMPLE = """\
import hashlib, uuid, grpc
from google.protobuf.timestamp_pb2 import Timestamp
from evidence_gateway.v1 import common_pb2, evidence_service_pb2 as ev, evidence_service_pb2_grpc
stub = evidence_service_pb2_grpc.EvidenceServiceStub(grpc.insecure_channel("{address}"))
ts = Timestamp(); ts.GetCurrentTime()
receipt = stub.SubmitEvidence(ev.SubmitEvidenceRequest(submission=common_pb2.EvidenceSubmission(
    request_id=str(uuid.uuid4()), loan_ref="loan-0001",
    kind=common_pb2.EVIDENCE_KIND_LOAN_CONTRACT,
    hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256,
    digest=hashlib.sha256(open("README.md", "rb").read()).digest(), occurred_at=ts))).receipt
print(receipt.entry_id, receipt.leaf_index, receipt.checkpoint.signed_note)"""


def _announce(info: object) -> None:
    from gateway.server import ServingInfo

    assert isinstance(info, ServingInfo)
    mode = (
        "plaintext, development mode only"
        if info.insecure
        else "mutual TLS: clients need a registered certificate"
    )
    print(f"gateway: gRPC listening on {info.address} ({mode})")
    print(f"gateway: log checkpoint verifier key {info.log_vkey_path}")
    print(f"  {info.log_verifier_key}")
    print("gateway: health (grpc.health.v1) and server reflection are on")
    if info.insecure:
        print("gateway: submit a hash from Python (run in the repository, with the venv):")
        for line in _EXAMPLE.format(address=info.address).splitlines():
            print("  " + line)
    else:
        print(
            f"gateway: server certificate {info.server_cert_path} (clients check it against "
            "the CA that issued it); register an institution with"
        )
        pki = shlex.quote(str(info.pki_dir.absolute()))
        out = shlex.quote(str(info.institutions_dir.absolute()))
        print(
            f"  notary institution add NAME --role lender --gateway {info.address} "
            f"--pki {pki} --out {out}"
        )
        print("  (it prints the certificate's paths and a Python example; see docs/onboarding.md)")
    sys.stdout.flush()


def _cmd_serve(args: argparse.Namespace) -> int:
    from gateway.config import load_config
    from gateway.logsetup import configure_logging
    from gateway.server import run
    from gateway.stopping import EXIT_FORCED

    config = load_config(args.config, insecure_dev=True if args.insecure_dev else None)
    configure_logging(config.logging_format, verbose=args.verbose)
    if asyncio.run(run(config, _announce, hard_exit_seconds=_CLOSE_SECONDS)):
        print("gateway: stopped")
        return 0
    print("gateway: stopped, ending calls that were still running (see the log)")
    return EXIT_FORCED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway", description="Court e-evidence gateway: the gRPC API."
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {importlib.metadata.version('court-evidence-gateway')}",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="serve the gRPC API until SIGTERM or Ctrl-C")
    serve.add_argument(
        "--config", type=Path, help="TOML config file (GATEWAY_* environment variables override it)"
    )
    serve.add_argument(
        "--insecure-dev",
        action="store_true",
        help="development only: serve plaintext gRPC (the listen address must be loopback)",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    serve.set_defaults(handler=_cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except GatewayError as exc:
        print(f"gateway: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
