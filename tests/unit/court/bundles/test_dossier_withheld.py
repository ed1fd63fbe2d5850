"""Withheld records of a dossier: what is and is not checked, said in every report.

A withheld record (no opening, and from the gateway no token either) proves its
place in the loan's chain, not its content. The dossier stays VALID for what it
proves, but the summary, the JSON and the certificate say how many records
were not opened; ``--require-opened`` makes any of them a failed check; a
correction is shown only as far as the correcting record's opening proves it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from court.bundles import read_dossier
from court.cli import main
from court.report import certificate_text as t
from court.report.certificate_content import Content, certificate_content
from court.report.certificate_of import dossier_certificate
from court.trust import read_trust_dir
from court.verify.anchor import OnChainAnchor
from court.verify.dossier import CHECK_ALL_OPENED, CHECK_SUPERSESSION, verify_dossier
from court.verify.growth import LogGrowth
from court.verify.result import CheckStatus
from court.verify.steps import Outcome
from evidence_gateway.v1 import bundle_pb2
from tests.support.bundle_builder import to_json, write
from tests.unit.court.bundles.conftest import Made
from tests.unit.court.bundles.test_dossier_verify import fails_on, run


def _withhold(message: bundle_pb2.Dossier, *positions: int) -> bundle_pb2.Dossier:
    for i in positions:
        message.records[i].ClearField("opening")
        message.records[i].ClearField("timestamp_token")
    return message


def _cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().out


def _content(made: Made, message: bundle_pb2.Dossier, growth: LogGrowth | None = None) -> Content:
    data = to_json(message)
    dossier = read_dossier(data)
    trust = read_trust_dir(made.trust)
    result = verify_dossier(dossier, roots=trust.roots, log_key=trust.log_key)
    return certificate_content(
        dossier_certificate(
            result,
            dossier,
            input_name="d.json",
            input_sha256=hashlib.sha256(data).digest(),
            growth=growth,
        )
    )


# --- the verifier ------------------------------------------------------------------------


def test_a_fake_correction_by_a_withheld_record_is_inconclusive_and_says_why(made: Made) -> None:
    message = _withhold(made.dossier_copy(), 3)
    message.records[0].superseded_by.append(message.records[3].entry_id)
    result = run(made, message)
    check = result.verdict[CHECK_SUPERSESSION]
    assert check.status is CheckStatus.NOT_RUN
    assert "record #4 is withheld" in check.detail and "cannot be checked" in check.detail
    assert result.outcome is Outcome.INCONCLUSIVE


def test_a_listed_correction_by_a_withheld_record_is_not_run_even_if_real(made: Made) -> None:
    # #6 really corrects #2, but with #6 withheld nothing in the file shows it
    result = run(made, _withhold(made.dossier_copy(), 5))
    assert result.verdict[CHECK_SUPERSESSION].status is CheckStatus.NOT_RUN
    assert result.outcome is Outcome.INCONCLUSIVE


def test_a_hidden_correction_is_said_to_be_possible(made: Made) -> None:
    message = _withhold(made.dossier_copy(), 5)
    message.records[1].ClearField("superseded_by")
    result = run(made, message)
    check = result.verdict[CHECK_SUPERSESSION]
    assert check.passed  # nothing the file shows is inconsistent ...
    assert "0 correction(s) of opened records" in check.detail
    assert "1 record(s) withheld (#6)" in check.detail  # ... but the check says what it missed
    assert "may correct another record" in check.detail
    assert result.ok and result.withheld == (5,)


def test_require_opened_fails_on_a_withheld_record(made: Made) -> None:
    trust = read_trust_dir(made.trust)
    whole = read_dossier(to_json(made.dossier))
    opened = verify_dossier(whole, roots=trust.roots, log_key=trust.log_key, require_opened=True)
    assert opened.ok and opened.verdict[CHECK_ALL_OPENED].detail == "all 6 records opened"
    assert CHECK_ALL_OPENED in opened.required
    assert CHECK_ALL_OPENED not in run(made, made.dossier).verdict  # only when asked for
    stripped = read_dossier(to_json(_withhold(made.dossier_copy(), 1, 2, 3, 4, 5)))
    plain = verify_dossier(stripped, roots=trust.roots, log_key=trust.log_key)
    assert plain.withheld == (1, 2, 3, 4, 5)
    strict = verify_dossier(stripped, roots=trust.roots, log_key=trust.log_key, require_opened=True)
    fails_on(strict, CHECK_ALL_OPENED)
    detail = strict.verdict[CHECK_ALL_OPENED].detail
    assert detail.startswith("record #2 (entry ") and "5 of 6 records withheld" in detail


# --- the command -------------------------------------------------------------------------


def test_five_of_six_withheld_is_said_in_the_summary_and_the_json(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = _withhold(made.dossier_copy(), 1, 2, 3, 4, 5)
    message.records[1].ClearField("superseded_by")  # the lender also hides the correction
    path = write(message, tmp_path / "d.json")
    code, out = _cli(capsys, "dossier", path, "--trust", made.trust)
    assert code == 0, out
    last = out.splitlines()[-1]
    assert last.startswith("VALID: ")
    assert "5 of 6 records withheld (not opened): their content was not checked" in last
    assert "complete only up to the checkpoint" in last
    assert "how far the log has grown since was not read (--rpc)" in last
    code, out = _cli(capsys, "dossier", path, "--trust", made.trust, "--json")
    document = json.loads(out)
    assert document["dossier"] == {
        "records": 6,
        "withheld": 5,
        "withheld_records": [2, 3, 4, 5, 6],
        "checkpoint_size": made.size,
        "log_growth": None,
    }
    code, out = _cli(capsys, "dossier", path, "--trust", made.trust, "--require-opened")
    assert code == 1 and out.splitlines()[-1] == "INVALID: Every record opened"


def test_require_opened_passes_a_fully_opened_dossier(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(made.dossier, tmp_path / "d.json")
    code, out = _cli(capsys, "dossier", path, "--trust", made.trust, "--require-opened")
    assert code == 0, out
    line = next(x for x in out.splitlines() if "Every record opened" in x)
    assert line.startswith("PASS  ") and line.endswith("all 6 records opened"), line
    assert "withheld" not in out.splitlines()[-1]


# --- the certificate ---------------------------------------------------------------------


def _notes(content: Content) -> list[str]:
    return [row.notes.en for row in content.records]


def test_the_certificate_shows_only_checked_corrections(made: Made) -> None:
    assert _notes(_content(made, made.dossier))[1] == "superseded → #6"
    fake = _withhold(made.dossier_copy(), 3)
    fake.records[0].superseded_by.append(fake.records[3].entry_id)  # "#1 was corrected by #4"
    notes = _notes(_content(made, fake))
    assert "superseded" not in notes[0] and notes[3] == "withheld"
    hidden = _withhold(made.dossier_copy(), 5)  # the real correction #6, withheld
    assert all("superseded" not in n for n in _notes(_content(made, hidden)))


def test_the_certificate_says_prominently_how_many_records_were_withheld(made: Made) -> None:
    content = _content(made, _withhold(made.dossier_copy(), 1, 2))
    assert content.outcome == "valid"
    assert content.outcome_note.en.endswith(
        "2 of 6 records withheld (not opened): their content was not checked."
    )
    assert "共 6 条记录中有 2 条已隐去（未公开）" in content.outcome_note.zh  # noqa: RUF001
    limits_en = [limit.en for limit in content.limits]
    assert any(
        "content of the 2 withheld" in text and "may correct another record" in text
        for text in limits_en
    )
    # no limit claims a withheld record's time-stamp was checked (the gateway withholds it)
    assert not any("and the time-stamp were checked" in text for text in limits_en)
    assert f"complete only up to its checkpoint (log size {made.size})" in " ".join(limits_en)
    assert "2 条已隐去" not in _content(made, made.dossier).outcome_note.zh


def test_the_certificate_says_how_far_the_log_grew(made: Made) -> None:
    latest = OnChainAnchor(
        number=7,
        tree_size=made.size + 40,
        root_hash=bytes(32),
        checkpoint_hash=bytes(32),
        block_time=0,
        block_number=321,
    )
    content = _content(made, made.dossier, LogGrowth(made.size, latest))
    rows = {row.label: row.value for s in content.sections for row in s.rows}
    assert rows[t.LABEL_LATEST_ANCHORED].startswith(f"{made.size + 40} ")
    assert "40 entries past this dossier's checkpoint" in rows[t.LABEL_LATEST_ANCHORED]
    assert "block 321" in rows[t.LABEL_LATEST_ANCHORED]
    assert any("40 past this dossier's checkpoint" in limit.en for limit in content.limits)
    none_yet = _content(made, made.dossier, LogGrowth(made.size, None))
    rows = {row.label: row.value for s in none_yet.sections for row in s.rows}
    assert "no anchor of this log on chain yet" in rows[t.LABEL_LATEST_ANCHORED]
    assert not any("past this dossier's checkpoint" in limit.en for limit in none_yet.limits)
    unread = _content(made, made.dossier)
    assert t.LABEL_LATEST_ANCHORED not in {row.label for s in unread.sections for row in s.rows}


def test_log_growth_sentences() -> None:
    def anchor(size: int) -> OnChainAnchor:
        return OnChainAnchor(3, size, bytes(32), bytes(32), 0, 99)

    grown = LogGrowth(10, anchor(25))
    assert grown.grown == 15
    assert "15 entries after the checkpoint's 10" in grown.sentence()
    assert grown.as_json()["entries_past_checkpoint"] == 15
    assert LogGrowth(10, anchor(8)).grown == 0
    assert "not past the dossier's checkpoint (size 10)" in LogGrowth(10, anchor(10)).sentence()
    assert "no anchor of this log yet" in LogGrowth(10, None).sentence()
