"""CaseService from a bank's Node.js client, against a real `gateway serve` over mutual TLS.

The institutions are registered as an operator does it (`notary institution
add`); tests/integration/node/case_client.js (@grpc/grpc-js +
@grpc/proto-loader with docs/bundles.md's options) is written from
docs/cases.md and case_service.proto only: it files a case, follows it on
WatchCases, disconnects after two events and resumes with the last cursor while
the court records three more, pages through ListCases and collects the errors a
client handles (FAILED_PRECONDITION naming the status, NOT_FOUND, ALREADY_EXISTS,
PERMISSION_DENIED, INVALID_ARGUMENT) and the heartbeats of an idle stream.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.gateway_proc import GatewayProcess, make_pki, write_config
from tests.support.node_clients import run_node_client

ROOT = Path(__file__).resolve().parents[2]
NODE_CLIENT = "case_client.js"
CASES_DOC = ROOT / "docs" / "cases.md"
BUF = "node_modules/.bin/buf"
INSTITUTIONS = (("bank-n", "lender"), ("court-a", "court"), ("court-o", "court"))
#: The gateway's [cases] heartbeat_seconds here (30 by default): the idle stream's
#: heartbeat is measured without waiting half a minute.
HEARTBEAT_SECONDS = 2
Seen = dict[str, object]


@dataclass
class Site:
    folder: Path  # data/pki and data/institutions, as `make run` has them
    gateway: GatewayProcess


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("case-clients")
    make_pki(folder / "data" / "pki")
    config = write_config(folder, sections={"cases": {"heartbeat_seconds": HEARTBEAT_SECONDS}})
    gateway = GatewayProcess(config, folder, mtls=True)
    gateway.start()
    try:
        for name, role in (*INSTITUTIONS, ("arb-n", "arbitration")):
            gateway.add_institution(name, role, folder / "data" / "institutions")
        yield Site(folder, gateway)
    finally:
        assert gateway.stop() == 0, gateway.log_text()


@pytest.fixture(scope="module")
def seen(site: Site) -> Seen:
    # By name, as docs/gateway.md advises (an IP address makes Node.js warn).
    address = site.gateway.address.replace("127.0.0.1", "localhost")
    ids = site.folder / "data" / "institutions"
    out: Seen
    out, stderr = run_node_client(
        NODE_CLIENT,
        address,
        str(site.gateway.pki / "root-ca.pem"),
        str(ids),
        str(HEARTBEAT_SECONDS),
        timeout=180,
        context=site.gateway.log_text,
    )
    assert "DeprecationWarning" not in stderr, stderr
    return out


def _refusal(seen: Seen, key: str) -> tuple[str, str]:
    error = seen[key]
    assert isinstance(error, dict), (key, error)
    return str(error["name"]), str(error["message"])


def test_watch_resumed_with_the_last_cursor_loses_nothing_and_repeats_nothing(
    seen: Seen,
) -> None:
    events = seen["events"]
    assert isinstance(events, list)
    assert [e["number"] for e in events] == [1, 2, 3, 4, 5], events  # a uint32: a JSON number
    assert [e["type"] for e in events] == [
        "CASE_EVENT_TYPE_FILED",
        "CASE_EVENT_TYPE_ACCEPTED",
        "CASE_EVENT_TYPE_JUDGMENT",
        "CASE_EVENT_TYPE_ENFORCEMENT_STARTED",
        "CASE_EVENT_TYPE_AMOUNT_RECOVERED",
    ]
    assert {e["caseId"] for e in events} == {seen["case_id"]}
    assert len({e["cursor"] for e in events}) == 5  # each event moves the cursor
    # The resumed stream starts with the cursor it was given (a cursor-only message).
    assert seen["resumed_first_cursor"] == seen["resume_cursor"] == events[1]["cursor"]
    assert seen["disconnect"] == {
        "code": 1,
        "name": "CANCELLED",
        "message": "Cancelled on client",
    }
    assert seen["recovered_total"] == {"currencyCode": "CNY", "minorUnits": "1000000"}


def test_every_stream_starts_with_a_cursor_and_an_idle_one_beats_as_configured(
    seen: Seen,
) -> None:
    first = seen["first_message"]
    assert isinstance(first, dict) and "event" not in first and first["cursor"], first
    idle = seen["idle"]
    assert isinstance(idle, dict)
    messages = idle["messages"]
    assert len(messages) == 2 and not any(m["hasEvent"] for m in messages), idle
    assert HEARTBEAT_SECONDS * 750 <= idle["gapMs"] <= HEARTBEAT_SECONDS * 1000 + 1500, idle


def test_the_errors_a_bank_handles(seen: Seen) -> None:
    name, message = _refusal(seen, "award_by_court")
    assert name == "FAILED_PRECONDITION"
    assert "the case is CASE_STATUS_ENFORCEMENT" in message
    assert "the body may record next: CASE_EVENT_TYPE_PROPERTY_FROZEN" in message
    assert _refusal(seen, "accept_by_lender") == (
        "PERMISSION_DENIED",
        "role lender may not call AcceptCase",
    )
    # Another court: the same answer as for a case that does not exist.
    other_name, other_message = _refusal(seen, "get_by_other_court")
    unknown_name, unknown_message = _refusal(seen, "get_unknown")
    assert other_name == unknown_name == "NOT_FOUND"
    assert other_message.replace(str(seen["case_id"]), "ID") == unknown_message.replace(
        "no-such-case", "ID"
    )
    name, message = _refusal(seen, "bad_cursor")
    assert name == "INVALID_ARGUMENT" and message.startswith("cursor: ")
    name, message = _refusal(seen, "file_open_case")
    assert name == "FAILED_PRECONDITION" and str(seen["case_id"]) in message


def test_filing_is_idempotent_by_request_id(seen: Seen) -> None:
    filed = seen["filed"]
    assert isinstance(filed, dict)
    assert seen["file_again"] == filed["caseId"] == seen["case_id"]
    assert filed["status"] == "CASE_STATUS_FILED"
    assert filed["nextEvents"] == ["CASE_EVENT_TYPE_WITHDRAWN", "CASE_EVENT_TYPE_SETTLED"]
    name, _ = _refusal(seen, "file_reused_id")
    assert name == "ALREADY_EXISTS"


def test_file_case_answers_the_case_with_its_filing_event(seen: Seen) -> None:
    """FileCaseResponse.case: "The new case, in CASE_STATUS_FILED, with its filing
    event" -- the lender archives the filing's receipt as it does a submission's."""
    filed = seen["filed"]
    assert isinstance(filed, dict)
    assert filed["events"] == 1, filed


def test_list_cases_pages_in_filing_order(seen: Seen) -> None:
    loans = seen["loans"]
    assert isinstance(loans, list)
    assert seen["pages"] == [
        [[loans[0], "CASE_STATUS_ENFORCEMENT", 0], [loans[1], "CASE_STATUS_FILED", 0]],
        [[loans[2], "CASE_STATUS_FILED", 0]],
    ]
    assert _refusal(seen, "token_of_other_query")[0] == "INVALID_ARGUMENT"
    assert _refusal(seen, "negative_page_size") == (
        "INVALID_ARGUMENT",
        "page_size: must not be negative, got -1",
    )
    accept_or_reject = ["CASE_EVENT_TYPE_ACCEPTED", "CASE_EVENT_TYPE_REJECTED"]
    assert seen["court_filed"] == [
        ["bank-n", loans[1], accept_or_reject],
        ["bank-n", loans[2], accept_or_reject],
    ]


# --- a court's clerk with buf curl ---------------------------------------------------------


def _doc_lines() -> list[str]:
    found = re.search(r"<!-- buf-curl-cases -->\n```sh\n(.*?)```", CASES_DOC.read_text(), re.S)
    assert found, "docs/cases.md lost its buf curl recipe"
    return found.group(1).replace("\\\n", " ").splitlines()


def _json_objects(text: str) -> list[dict[str, object]]:
    """What buf curl prints for a stream: JSON objects one after another."""
    decoder, out, i = json.JSONDecoder(), [], 0
    while (i := len(text) - len(text[i:].lstrip())) < len(text):
        value, i = decoder.raw_decode(text, i)
        out.append(value)
    return out


def test_the_clerks_buf_curl_lines_list_accept_record_and_watch(site: Site, seen: Seen) -> None:
    """docs/cases.md's lines as written, from the gateway's folder, but for the address, the
    case and the time; the stream under `timeout`, as a clerk stops it with Ctrl-C."""
    lines = _doc_lines()
    assert len(lines) == 4, lines
    at = datetime.now(UTC).isoformat(timespec="seconds")

    def run(line: str, case_id: str = "", seconds: int = 60) -> subprocess.CompletedProcess[str]:
        assert line.startswith(f"{BUF} curl ") and line.count("https://127.0.0.1:50051") == 1
        command = (
            line.replace("https://127.0.0.1:50051", f"https://{site.gateway.address}")
            .replace(BUF, str(ROOT / BUF), 1)
            .replace("CASE_ID", case_id)
            .replace("OCCURRED_AT", at)
        )
        return subprocess.run(
            ["timeout", str(seconds), "bash", "-c", command],
            cwd=site.folder, capture_output=True, text=True, check=False,
        )  # fmt: skip

    listed = run(lines[0])
    assert listed.returncode == 0, listed.stderr
    cases = json.loads(listed.stdout)["cases"]
    loans = seen["loans"]
    assert isinstance(loans, list)
    assert [c["loanRef"] for c in cases] == loans[1:]  # the filed ones, in filing order
    assert cases[0]["claim"] == {"currencyCode": "CNY", "minorUnits": "5000000"}
    case_id = cases[0]["caseId"]
    accepted = run(lines[1], case_id)
    assert accepted.returncode == 0, accepted.stderr
    event = json.loads(accepted.stdout)["event"]
    assert event["type"] == "CASE_EVENT_TYPE_ACCEPTED"
    assert event["caseNumber"] == "(2026)京0105民初12345号"
    judged = run(lines[2], case_id)
    assert judged.returncode == 0, judged.stderr
    assert json.loads(judged.stdout)["event"]["status"] == "CASE_STATUS_JUDGMENT"

    watched = run(lines[3], seconds=5)
    assert watched.returncode == 124, watched.stderr  # still streaming when stopped
    messages = _json_objects(watched.stdout)
    assert "event" not in messages[0] and messages[0]["cursor"]
    events = [m["event"] for m in messages[1:] if "event" in m]
    assert len(events) < len(messages) - 1, "no heartbeat in 5 s (heartbeat_seconds = 2)"
    mine = [e for e in events if e["caseId"] == case_id]  # type: ignore[index]
    assert [(e["eventNumber"], e["type"]) for e in mine] == [  # type: ignore[index]
        (1, "CASE_EVENT_TYPE_FILED"),
        (2, "CASE_EVENT_TYPE_ACCEPTED"),
        (3, "CASE_EVENT_TYPE_JUDGMENT"),
    ]
