"""`notary institution add|list|show|suspend|reinstate|revoke|rotate|history`.

Each command is a client of the gateway's AdminService (:mod:`notary.admin`),
authenticated with the PKI's operator certificate. ``add`` and ``rotate``
issue the institution's client certificate and key from the PKI's root CA
first (:mod:`notary.client_certs`), and remove them again if the gateway
refuses the registration. ``history`` lists the log's records of registry
changes (each admin's ``:institutions`` chain) and saves their receipts.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from court.evidence.registry import change_document
from court.report.escape import escape_text
from evidence_gateway.v1 import admin_service_pb2 as pb
from evidence_gateway.v1 import common_pb2
from notary.admin import AdminClient
from notary.client_certs import (
    DEFAULT_CLIENT_DAYS,
    ClientFiles,
    client_files,
    issue_client_certificate,
    remove_client_files,
    set_aside,
    write_client_files,
)
from notary.errors import UsageError

__all__ = ["add_institution_commands", "python_example"]

DEFAULT_GATEWAY = "127.0.0.1:50051"
ROLES = ("lender", "collector", "court", "arbitration", "regulator", "admin")
_STATUS = {
    pb.INSTITUTION_STATUS_ACTIVE: "active",
    pb.INSTITUTION_STATUS_SUSPENDED: "suspended",
    pb.INSTITUTION_STATUS_REVOKED: "revoked",
}

_CHANNEL = """\
credentials = grpc.ssl_channel_credentials(
    root_certificates=open("{ca}", "rb").read(),
    private_key=open("{key}", "rb").read(),
    certificate_chain=open("{cert}", "rb").read())
channel = grpc.secure_channel("{address}", credentials)
"""

#: The example each role gets: a call that role may make, which works as printed once
#: the lender named in it (``dev-bank``, as ``make run`` registers) has recorded,
#: delegated or shared ``loan-0001``.
_EXAMPLES = {
    "lender": """\
import hashlib, uuid, grpc
from google.protobuf.timestamp_pb2 import Timestamp
from evidence_gateway.v1 import common_pb2, evidence_service_pb2 as ev, evidence_service_pb2_grpc
{channel}stub = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
ts = Timestamp(); ts.GetCurrentTime()
receipt = stub.SubmitEvidence(ev.SubmitEvidenceRequest(submission=common_pb2.EvidenceSubmission(
    request_id=str(uuid.uuid4()), loan_ref="loan-0001",
    kind=common_pb2.EVIDENCE_KIND_LOAN_CONTRACT,
    hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256,
    digest=hashlib.sha256(open("README.md", "rb").read()).digest(), occurred_at=ts))).receipt
print(receipt.entry_id, receipt.leaf_index, receipt.checkpoint.signed_note)""",
    # A court or arbitration body reads the loans a lender shared with it (ShareLoan).
    "court": """\
import grpc
from evidence_gateway.v1 import common_pb2, evidence_service_pb2 as ev, evidence_service_pb2_grpc
{channel}stub = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
# The lender that owns the loan (its institution id) and the loan it shared with you.
lender, loan_ref = "dev-bank", "loan-0001"
response = stub.ListEvidence(ev.ListEvidenceRequest(institution=lender, loan_ref=loan_ref))
for record in response.records:
    print(record.receipt.entry_id, common_pb2.EvidenceKind.Name(record.submission.kind),
          record.institution)
print(len(response.records), "records of", loan_ref, "of", lender)""",
    # A collection agency records collection kinds for a loan a lender delegated to it.
    "collector": """\
import hashlib, uuid, grpc
from google.protobuf.timestamp_pb2 import Timestamp
from evidence_gateway.v1 import common_pb2, evidence_service_pb2 as ev, evidence_service_pb2_grpc
{channel}stub = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
# The lender that owns the loan (its institution id) and the loan it delegated to you.
lender, loan_ref = "dev-bank", "loan-0001"
ts = Timestamp(); ts.GetCurrentTime()
receipt = stub.SubmitEvidence(ev.SubmitEvidenceRequest(submission=common_pb2.EvidenceSubmission(
    request_id=str(uuid.uuid4()), owner=lender, loan_ref=loan_ref,
    kind=common_pb2.EVIDENCE_KIND_COLLECTION_CALL,
    hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256,
    digest=hashlib.sha256(b"the call's recording").digest(), occurred_at=ts))).receipt
print(receipt.entry_id, receipt.leaf_index, receipt.checkpoint.signed_note)""",
    # A regulator reads counts of records per institution, kind and UTC day.
    "regulator": """\
import datetime, grpc
from evidence_gateway.v1 import access_service_pb2 as ac, access_service_pb2_grpc, common_pb2
{channel}stub = access_service_pb2_grpc.AccessServiceStub(channel)
today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
response = stub.GetStatistics(ac.GetStatisticsRequest(from_day=today, to_day=today))
for count in response.counts:
    print(count.day, count.institution, common_pb2.EvidenceKind.Name(count.kind), count.count)
print(len(response.counts), "counts of", today)""",
    # The operator lists the registry (notary institution list does the same).
    "admin": """\
import grpc
from evidence_gateway.v1 import admin_service_pb2 as ad, admin_service_pb2_grpc
{channel}stub = admin_service_pb2_grpc.AdminServiceStub(channel)
for institution in stub.ListInstitutions(ad.ListInstitutionsRequest()).institutions:
    print(institution.name, institution.role)""",
}
_EXAMPLES["arbitration"] = _EXAMPLES["court"]


def python_example(address: str, ca: Path, files: ClientFiles, role: str = "lender") -> str:
    """A Python program that makes a call ``role`` may make (a lender registers a hash,
    a collection agency a collection call, a court or arbitration body lists a shared
    loan, a regulator reads today's counts, the operator lists the registry) as the
    institution of ``files``."""
    channel = _CHANNEL.format(address=address, ca=ca, cert=files.certificate, key=files.key)
    return _EXAMPLES[role].format(channel=channel)


def _when(ts: object) -> str:
    seconds = getattr(ts, "seconds", 0)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _print_institution(i: pb.Institution, *, certificates: bool) -> None:
    status = _STATUS.get(i.status, "unknown")
    print(f"{escape_text(i.name)}  role {escape_text(i.role)}  status {status}")
    if not certificates:
        return
    for c in i.certificates:
        state = "accepted" if c.accepted else "not accepted"
        if c.HasField("revoked_at"):
            state += f" (revoked {_when(c.revoked_at)})"
        print(f"  certificate sha256 {c.sha256.hex()}  {state}")
        print(f"    subject  {escape_text(c.subject)}")
        print(f"    valid    {_when(c.not_before)} .. {_when(c.valid_until)}")


def _client(args: argparse.Namespace) -> AdminClient:
    return AdminClient(args.gateway, args.pki, wait=args.wait)


def _issue(args: argparse.Namespace) -> tuple[ClientFiles, bytes]:
    issued = issue_client_certificate(args.pki, args.name, args.role, days=args.days)
    return write_client_files(issued, args.out, args.name), issued.pem


def _show_files(args: argparse.Namespace, files: ClientFiles) -> None:
    ca = args.pki / "root-ca.pem"
    print(f"  certificate  {files.certificate}")
    print(f"  key          {files.key} (mode 0600: give it to the institution only)")
    print(f"  server CA    {ca} (clients check the gateway's certificate with it)")
    role = getattr(args, "role", None)
    if role not in _EXAMPLES:
        return
    print("Call the gateway with them from Python (run in the repository, with the venv):")
    for line in python_example(args.gateway, ca, files, role).splitlines():
        print("  " + line)


def _cmd_add(args: argparse.Namespace) -> int:
    if args.role not in ROLES:
        raise UsageError(f"--role must be one of {', '.join(ROLES)}")
    with _client(args) as admin:
        files, pem = _issue(args)
        try:
            institution = admin.register(args.name, args.role, pem)
        except BaseException:
            remove_client_files(files)
            raise
    print(f"registered {escape_text(institution.name)} ({institution.role}) at {args.gateway}")
    _show_files(args, files)
    return 0


def _restore(previous: ClientFiles, files: ClientFiles) -> None:
    for source, target in ((previous.certificate, files.certificate), (previous.key, files.key)):
        if source.exists():
            source.replace(target)


def _cmd_rotate(args: argparse.Namespace) -> int:
    with _client(args) as admin:
        args.role = admin.get(args.name).role
        files = client_files(args.out, args.name)
        previous = set_aside(files)
        try:
            files, pem = _issue(args)
        except BaseException:
            _restore(previous, files)
            raise
        try:
            institution = admin.add_certificate(args.name, pem, round(args.overlap * 3600))
        except BaseException:
            remove_client_files(files)
            _restore(previous, files)
            raise
    print(
        f"rotated {escape_text(institution.name)}: new certificate registered; the previous "
        f"ones stay valid for {args.overlap:g} more hour(s) (files {previous.certificate.name}, "
        f"{previous.key.name})"
    )
    _show_files(args, files)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    with _client(args) as admin:
        for institution in admin.list():
            _print_institution(institution, certificates=False)
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    with _client(args) as admin:
        institution = admin.get(args.name)
        _print_institution(institution, certificates=True)
    args.role = institution.role
    if args.out is not None:
        files = client_files(args.out, args.name)
        if not files.certificate.exists():
            raise UsageError(f"{files.certificate} does not exist: check --out")
        _show_files(args, files)
    return 0


def _fingerprint(text: str) -> bytes:
    try:
        value = bytes.fromhex(text.replace(":", ""))
    except ValueError:
        value = b""
    if len(value) != 32:
        raise UsageError(
            f"--certificate must be a SHA-256 fingerprint (64 hex digits, as `notary "
            f"institution show` prints it), got {escape_text(text)!r}"
        )
    return value


def _cmd_status(args: argparse.Namespace) -> int:
    certificate = getattr(args, "certificate", None)
    sha256 = _fingerprint(certificate) if certificate else None
    with _client(args) as admin:
        if sha256 is not None:
            institution = admin.revoke_certificate(args.name, sha256)
        else:
            change = {
                "suspend": admin.suspend,
                "reinstate": admin.reinstate,
                "revoke": admin.revoke,
            }
            institution = change[args.institution_command](args.name)
    _print_institution(institution, certificates=sha256 is not None)
    return 0


_NAME = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _received(record: common_pb2.EvidenceRecord) -> str:
    ts = record.receipt.received_at
    when = datetime.fromtimestamp(ts.seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{when}.{ts.nanos // 1000:06d}Z"


def _save(out: Path, record: common_pb2.EvidenceRecord) -> str:
    """Save the record's receipt (``ENTRY_ID.pb``) and the document its digest is the
    SHA-256 of (``ENTRY_ID.txt``) in ``out``; what to print of them."""
    entry_id = record.receipt.entry_id  # [A-Za-z0-9_-]: a safe file name
    meta = record.submission.metadata
    document = change_document(meta.get("institution", ""), meta.get("change", ""))
    files = [(out / f"{entry_id}.pb", record.receipt.SerializeToString())]
    rebuilt = hashlib.sha256(document).digest() == record.submission.digest
    if rebuilt:
        files.append((out / f"{entry_id}.txt", document))
    for path, data in files:
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
    if rebuilt:
        return f"  receipt {files[0][0]}  document {files[1][0]}"
    digest = record.submission.digest.hex()
    return f"  receipt {files[0][0]}  document not rebuilt (digest {digest})"


def _cmd_history(args: argparse.Namespace) -> int:
    """The records of registry changes (of NAME, or all), oldest first; with --out, each
    record's receipt and document, as `court-verify receipt` takes them."""
    name: str | None = args.name
    if name is not None and not _NAME.fullmatch(name):
        raise UsageError(
            f"NAME must be an institution id (1-128 of [A-Za-z0-9._:-]), got {escape_text(name)!r}"
        )
    with _client(args) as admin:
        # Each admin's changes are in its own chain: read the chain of every admin.
        admins = sorted(i.name for i in admin.list() if i.role == "admin")
        records = [r for a in admins for r in admin.registry_records(a)]
    records.sort(key=lambda r: r.receipt.leaf_index)
    if name is not None:
        records = [r for r in records if r.submission.metadata.get("institution") == name]
    if args.out is not None:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot make --out {args.out}: {exc.strerror}") from exc
    for r in records:
        meta = r.submission.metadata
        line = (
            f"{_received(r)}  {escape_text(meta.get('change', '?')):<18}  "
            f"{escape_text(meta.get('institution', '?'))}  entry {r.receipt.entry_id}"
        )
        print(line + (_save(args.out, r) if args.out is not None else ""))
    whose = f" of {escape_text(name)}" if name is not None else ""
    print(f"{len(records)} registry change(s){whose} recorded in the log")
    if args.out is not None and records:
        print(
            "Check one offline: court-verify receipt ENTRY_ID.pb --file ENTRY_ID.txt "
            f"--ca TSA_ROOT.pem --log-key {args.pki / 'log.vkey'} (TSA_ROOT.pem: the root "
            "certificate of the gateway's TSA)"
        )
    return 0


def add_institution_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `notary institution ...` to the CLI's subcommands."""
    group = commands.add_parser(
        "institution", help="register and manage institutions (gateway AdminService)"
    ).add_subparsers(dest="institution_command", required=True, metavar="INSTITUTION_COMMAND")

    def command(name: str, help_text: str, handler: object, *, named: bool = True) -> Any:
        parser = group.add_parser(name, help=help_text)
        if named:
            parser.add_argument("name", help="the institution's id ([A-Za-z0-9._:-], 1-128)")
        parser.add_argument(
            "--gateway", default=DEFAULT_GATEWAY, help=f"HOST:PORT ({DEFAULT_GATEWAY})"
        )
        parser.add_argument(
            "--pki", type=Path, required=True, help="the gateway's PKI folder (operator.pem)"
        )
        parser.add_argument(
            "--wait", type=float, default=0.0, help="seconds to wait for the gateway to come up"
        )
        parser.set_defaults(handler=handler)
        return parser

    add = command("add", "issue a client certificate and register the institution", _cmd_add)
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--out", type=Path, required=True, help="folder for NAME.pem and NAME.key")
    add.add_argument("--days", type=int, default=DEFAULT_CLIENT_DAYS, help="certificate validity")
    command("list", "list the registered institutions", _cmd_list, named=False)
    show = command("show", "an institution and its certificates", _cmd_show)
    show.add_argument(
        "--out", type=Path, help="folder of NAME.pem and NAME.key: print them and an example"
    )
    command("suspend", "refuse the institution's calls until reinstated", _cmd_status)
    command("reinstate", "accept a suspended institution's calls again", _cmd_status)
    revoke = command("revoke", "refuse the institution's calls for good", _cmd_status)
    revoke.add_argument(
        "--certificate",
        metavar="SHA256",
        help="revoke only this certificate of the institution (its fingerprint, hex)",
    )
    history = command(
        "history",
        "the log's records of registry changes (time, change, institution, entry id)",
        _cmd_history,
        named=False,
    )
    history.add_argument(
        "name", nargs="?", help="only the changes of this institution (default: all)"
    )
    history.add_argument(
        "--out",
        type=Path,
        help="folder to save each record's receipt (ENTRY_ID.pb) and document (ENTRY_ID.txt) in",
    )
    rotate = command("rotate", "issue and register a new certificate", _cmd_rotate)
    rotate.add_argument("--out", type=Path, required=True, help="folder of NAME.pem and NAME.key")
    rotate.add_argument("--days", type=int, default=DEFAULT_CLIENT_DAYS, help="new validity")
    rotate.add_argument(
        "--overlap",
        type=float,
        default=24.0,
        help="hours the previous certificates stay valid (default 24, at most 2160)",
    )
