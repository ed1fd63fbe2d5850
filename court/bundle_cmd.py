"""`court-verify bundle` and `court-verify dossier`: options, the run, the printed report.

Both read the file (:mod:`court.bundles`) and the trust directory
(:mod:`court.trust`), optionally read the anchor contract from a chain node
(``--rpc URL``, with the trust directory's ``chain.json``), run the pure
checks (:mod:`court.verify.bundle`, :mod:`court.verify.dossier`), print every
named check (text or ``--json``) and, with ``--report OUT.pdf|OUT.html``,
write the bilingual verification certificate.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import sys
from pathlib import Path

from court.bundles import read_bundle_file, read_dossier_file
from court.errors import CourtError
from court.files import InputError, read_file
from court.report.certificate_data import CertificateData
from court.report.certificate_of import bundle_certificate, dossier_certificate
from court.report.escape import escape_text
from court.report.output import write_report
from court.report.text import invalid_line
from court.tokens import digest_algorithm
from court.trust import Trust, read_trust_dir
from court.verify.anchor import ChainView
from court.verify.bundle import BundleAnchor, BundleVerification, verify_bundle
from court.verify.checkpoint import parse_checkpoint
from court.verify.dossier import DossierVerification, verify_dossier, withheld_line
from court.verify.growth import LogGrowth, log_growth
from court.verify.steps import Outcome

__all__ = ["add_bundle_options", "add_dossier_options", "run_bundle", "run_dossier"]

_TRUST_HELP = (
    "trust directory: log.vkey (the log's C2SP verifier key), the TSA root certificate(s) "
    "(*.pem, *.crt, *.der) and optionally chain.json (docs/court-verify.md)"
)
_EXIT = (
    "exit codes: 0 valid; 1 invalid (the last line names the first failed check) or "
    "inconclusive; 2 usage or input error."
)
BUNDLE_HELP = f"""\
Verify an evidence bundle (application/vnd.court-evidence.bundle.v1+json) offline,
trusting only the trust directory: the RFC 3161 token (every check of
`court-verify token`), the leaf and its opening, the document (--file or --digest),
the checkpoint's signature, the inclusion proof, and the anchored checkpoint with
the consistency proof to it; with --rpc also the anchor on chain.

{_EXIT}
"""
DOSSIER_HELP = f"""\
Verify a dossier (application/vnd.court-evidence.dossier.v1+json) offline: every
record as a bundle's, then that they are all of one loan, chained from sequence 1
without gaps, and that the last one is the loan's head in the loan map the
checkpoint signs (no later record left out); with --rpc also the anchor on chain
and how far the log has grown past the dossier's checkpoint (its latest anchor).
A withheld record (no opening) proves only its place in the chain: the report
says how many were not opened; --require-opened makes any a failed check.

{_EXIT}
"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust", type=Path, required=True, metavar="DIR", help=_TRUST_HELP)
    parser.add_argument(
        "--rpc",
        metavar="URL",
        help="JSON-RPC endpoint of a node of the chain in the trust directory's chain.json: "
        "adds the anchor checks on chain (eth_call)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument(
        "--report",
        type=Path,
        metavar="OUT.pdf|OUT.html",
        help="also write the bilingual verification certificate (核验报告)",
    )


def add_bundle_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path, metavar="FILE", help="the bundle (JSON)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--file", type=Path, metavar="DOC", help="the document the bundle is for")
    what.add_argument("--digest", metavar="HEX", help="the document's digest, hexadecimal")
    parser.add_argument(
        "--hash",
        choices=("sha256", "sha384", "sha512", "sm3"),
        help="algorithm of --digest (default: SHA-2 of its length, so an SM3 digest needs "
        "--hash sm3) or to hash --file with (default: the one the leaf names)",
    )
    _common(parser)


def add_dossier_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dossier", type=Path, metavar="FILE", help="the dossier (JSON)")
    parser.add_argument(
        "--require-opened",
        action="store_true",
        help="fail the check 'Every record opened' when a record is withheld (no opening): "
        "for a dossier a lender hands in about its own loan, whose records it can all open",
    )
    _common(parser)


def _chain_view(
    trust: Trust,
    rpc_url: str | None,
    anchor: BundleAnchor | None,
    *,
    latest_past: int | None = None,
) -> ChainView | None:
    """What the chain node says of the file's anchor (None without --rpc, or without
    anchor unless ``latest_past``, a dossier's checkpoint size: then also the log's
    latest anchor, read even when the file has no anchor)."""
    if rpc_url is None:
        return None
    if trust.chain is None:
        raise InputError(
            "--rpc needs chain.json in the trust directory (the chain id and contract the "
            "operator publishes)"
        )
    if anchor is None and latest_past is None:
        return None
    from court.chainrpc import ChainRpc, ChainRpcError, read_chain_view

    chain = trust.chain
    if anchor is None:
        size, number = latest_past or 0, None
    else:
        if anchor.contract and anchor.contract.lower() != chain.contract.lower():
            raise InputError(
                f"the file's anchor is in contract {escape_text(anchor.contract)}, not "
                f"{chain.contract} (chain.json): check the address the operator publishes"
            )
        if anchor.chain_id != chain.chain_id:
            raise InputError(
                f"the file's anchor is on chain id {anchor.chain_id} "
                f"({escape_text(repr(anchor.chain_name))}), not {chain.chain_id} (chain.json): "
                "fetch the file anchored on that chain, or use the trust folder of this one"
            )
        number = anchor.anchor_number
        try:
            size = parse_checkpoint(anchor.note).size
        except CourtError:
            size = anchor.tree_size  # the anchor checks say what is wrong with the note
    try:
        rpc = ChainRpc(rpc_url, timeout=10.0)
        return read_chain_view(
            rpc,
            trust.chain.contract,
            trust.log_key,
            size,
            number,
            chain_id=trust.chain.chain_id,
            latest=latest_past is not None,
        )
    except ChainRpcError as exc:
        raise InputError(f"the anchor could not be checked: {exc}") from exc


def _confirmations(trust: Trust) -> int:
    return trust.chain.confirmations if trust.chain is not None else 1


def _digest(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise InputError(f"--digest must be hexadecimal, got {value[:80]!r}") from exc


def _closing(outcome: Outcome, result: BundleVerification | DossierVerification) -> str | None:
    """INVALID / INCONCLUSIVE line, or None when valid."""
    if outcome is Outcome.INVALID:
        return invalid_line(result.checks)
    if outcome is Outcome.INCONCLUSIVE:
        missing = next(
            (c for c in result.checks if c.name in result.required and not c.passed), None
        )
        name = missing.name if missing else "a token check"
        detail = f": {missing.detail}" if missing else ""
        return f"INCONCLUSIVE: {name}{detail}"
    return None


def _anchored(result: BundleVerification | DossierVerification) -> str:
    if result.on_chain is not None:
        a = result.on_chain
        return (
            f"; anchored on chain as anchor {a.number} (size {a.tree_size}, block {a.block_number})"
        )
    if result.anchored is not None:
        return f"; anchored checkpoint of size {result.anchored.size} (chain not read)"
    return ""


def _bundle_summary(result: BundleVerification) -> str:
    closing = _closing(result.outcome, result)
    if closing is not None:
        return closing
    leaf, held, token = result.record.opened, result.checkpoint, result.record.token
    assert leaf is not None and held is not None and token is not None
    when = token.gen_time.isoformat() if token.gen_time else "?"
    signer = token.signer.subject.rfc4514_string() if token.signer else "?"
    return (
        f"VALID: entry {leaf.entry_id} of loan {leaf.loan_ref} ({leaf.owner}, {leaf.kind}, "
        f"#{leaf.loan_sequence}) time-stamped at {when} by {signer}; in {held.origin} at size "
        f"{held.size}{_anchored(result)}"
    )


def _dossier_summary(result: DossierVerification, growth: LogGrowth | None) -> str:
    closing = _closing(result.outcome, result)
    if closing is not None:
        return closing
    held = result.checkpoint
    assert held is not None
    opened = next((r.opened for r in result.records if r.opened is not None), None)
    loan = f"loan {opened.loan_ref} of {opened.owner}" if opened else "the loan"
    total = len(result.records)
    withheld = result.withheld
    shown = f" ({withheld_line(len(withheld), total)})" if withheld else ""
    grown = (
        f"; {growth.sentence()}"
        if growth is not None
        else "; how far the log has grown since was not read (--rpc)"
    )
    return (
        f"VALID: {loan}: all {total} records{shown}, complete only up to the checkpoint of "
        f"{held.origin} at size {held.size}{grown}{_anchored(result)}"
    )


def _dossier_json(result: DossierVerification, growth: LogGrowth | None) -> dict[str, object]:
    """The ``"dossier"`` key of the JSON report (docs/court-verify.md)."""
    seq = [i + 1 for i in result.withheld]
    return {
        "dossier": {
            "records": len(result.records),
            "withheld": len(seq),
            "withheld_records": seq,
            "checkpoint_size": result.checkpoint.size if result.checkpoint else None,
            "log_growth": growth.as_json() if growth is not None else None,
        }
    }


def _certificate(args: argparse.Namespace, data: CertificateData) -> None:
    """Write the certificate (court.report.certificate: fpdf2 and the font, loaded only
    when a report is asked for)."""
    module = importlib.import_module("court.report.certificate")
    module.write_certificate(data, args.report)


def _check_report(path: Path | None) -> None:
    if path is not None and path.suffix.lower() not in (".pdf", ".html"):
        raise InputError(f"--report {path}: the certificate is written as .pdf or .html")


def run_bundle(args: argparse.Namespace) -> int:
    """Verify the bundle the options name; print the checks; 0 valid, 1 otherwise."""
    _check_report(args.report)
    bundle, raw = read_bundle_file(args.bundle)
    trust = read_trust_dir(args.trust)
    digest = _digest(args.digest)
    hash_name = digest_algorithm(digest, args.hash)
    data = read_file(args.file, "--file") if args.file is not None else None
    view = _chain_view(trust, args.rpc, bundle.anchor)
    result = verify_bundle(
        bundle,
        roots=trust.roots,
        log_key=trust.log_key,
        digest=digest,
        hash_algorithm=hash_name,
        data=data,
        view=view,
        confirmations=_confirmations(trust),
    )
    outcome = result.outcome
    write_report(
        sys.stdout, result.checks, _bundle_summary(result), outcome=outcome.value, as_json=args.json
    )
    if args.report is not None:
        cert = bundle_certificate(
            result,
            bundle,
            input_name=args.bundle.name,
            input_sha256=hashlib.sha256(raw).digest(),
            document_name=args.file.name if args.file is not None else "",
        )
        _certificate(args, cert)
    return 0 if outcome is Outcome.VALID else 1


def run_dossier(args: argparse.Namespace) -> int:
    """Verify the dossier the options name; print the checks; 0 valid, 1 otherwise."""
    _check_report(args.report)
    dossier, raw = read_dossier_file(args.dossier)
    trust = read_trust_dir(args.trust)
    try:
        size = parse_checkpoint(dossier.checkpoint.note).size
    except CourtError:
        size = dossier.checkpoint.size  # the checkpoint check says what is wrong
    view = _chain_view(trust, args.rpc, dossier.anchor, latest_past=size)
    result = verify_dossier(
        dossier,
        roots=trust.roots,
        log_key=trust.log_key,
        view=view,
        confirmations=_confirmations(trust),
        require_opened=args.require_opened,
    )
    held = result.checkpoint
    growth = log_growth(view, held.size) if held is not None else None
    outcome = result.outcome
    write_report(
        sys.stdout,
        result.checks,
        _dossier_summary(result, growth),
        outcome=outcome.value,
        as_json=args.json,
        extra=_dossier_json(result, growth),
    )
    if args.report is not None:
        cert = dossier_certificate(
            result,
            dossier,
            input_name=args.dossier.name,
            input_sha256=hashlib.sha256(raw).digest(),
            growth=growth,
        )
        _certificate(args, cert)
    return 0 if outcome is Outcome.VALID else 1
