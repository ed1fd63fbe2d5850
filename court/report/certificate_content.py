"""What the certificate says, laid out by nobody yet: one model for the PDF and the HTML.

:func:`certificate_content` turns a :class:`CertificateData` into
:class:`Content`: bilingual labels, values formatted and sanitised, rows of
the check and record tables. Every string taken from the input goes through
:func:`clean` (non-printable characters escaped as in every court report,
:mod:`court.report.escape`, and at most :data:`MAX_VALUE_CHARS` shown), so the
renderers only lay text out (the HTML renderer also HTML-escapes it).
"""

# ruff: noqa: RUF001  (Chinese text uses full-width punctuation)

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from court.files import InputError
from court.report import certificate_text as t
from court.report.certificate_data import CertificateData, CertificateRecord
from court.report.certificate_text import Bi
from court.report.check_names import check_name_zh
from court.report.escape import escape_text
from court.verify.result import CheckStatus

__all__ = [
    "MAX_VALUE_CHARS",
    "CaseRow",
    "CheckRow",
    "Content",
    "RecordRow",
    "Row",
    "Section",
    "certificate_content",
    "clean",
]

#: At most this many characters of one value from the input are shown.
MAX_VALUE_CHARS: Final = 400
#: At most this many distinct TSAs are listed for a dossier.
MAX_TSAS: Final = 5
#: Hash prefix length in the dossier's record table.
HASH_PREFIX_CHARS: Final = 16
_BEIJING: Final = timezone(timedelta(hours=8))  # China Standard Time, no daylight saving


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled value; ``mono`` for hexadecimal and other machine values."""

    label: Bi
    value: str
    mono: bool = False


@dataclass(frozen=True, slots=True)
class Section:
    title: Bi
    rows: tuple[Row, ...]


@dataclass(frozen=True, slots=True)
class CheckRow:
    status: CheckStatus
    status_text: Bi
    #: The Chinese name, "" when the check name has no translation.
    name_zh: str
    name_en: str
    detail: str


@dataclass(frozen=True, slots=True)
class RecordRow:
    sequence: str
    kind: Bi
    gen_time: str
    hash_prefix: str
    notes: Bi


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One row of the case history: the case (number, or id, and body), the event and the
    status after it (Chinese and English), when, the amount, the record (#sequence)."""

    case: str
    event: Bi
    status: Bi
    occurred: str
    amount: str
    record: str


@dataclass(frozen=True, slots=True)
class Content:
    subject: str
    outcome: str
    outcome_text: Bi
    outcome_note: Bi
    sections: tuple[Section, ...]
    #: The dossier's table of records (empty for a bundle).
    records: tuple[RecordRow, ...]
    #: None when the input holds no anchor.
    anchor: Section | None
    checks: tuple[CheckRow, ...]
    limits: tuple[Bi, ...]
    run: Section
    #: The QR code's text: the input file's SHA-256, lowercase hexadecimal.
    qr_text: str
    input_name: str
    #: When the verification ran (UTC, timezone-aware).
    verified_at: datetime
    #: The case history (judicial case events of the loan), empty when there is none.
    case_history: tuple[CaseRow, ...] = ()


def clean(value: str, limit: int = MAX_VALUE_CHARS) -> str:
    """A value from the input as the certificate shows it: escaped, at most ``limit`` chars."""
    text = escape_text(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]} …[{t.TRUNCATED.zh} {t.TRUNCATED.en}: {len(text)} chars]"


def time_text(when: datetime | None) -> Bi:
    """A UTC time as (Beijing time, UTC); naive times are taken as UTC."""
    if when is None:
        return t.UNKNOWN
    utc = _utc(when)
    fraction = f".{utc.microsecond:06d}".rstrip("0") if utc.microsecond else ""
    beijing = utc.astimezone(_BEIJING).strftime("%Y-%m-%d %H:%M:%S") + fraction
    plain = utc.strftime("%Y-%m-%d %H:%M:%S") + fraction
    return Bi(f"{beijing} {t.BEIJING.zh}（UTC+8）", f"{plain} UTC")


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _times(when: datetime | None) -> str:
    text = time_text(when)
    return text.en if text is t.UNKNOWN else f"{text.zh} / {text.en}"


def _kind(kind: str) -> Bi:
    if not kind:
        return Bi("", "")
    return Bi(t.KIND_ZH.get(kind, ""), clean(kind, 60))


def _given(value: str, limit: int = MAX_VALUE_CHARS) -> str:
    return clean(value, limit) if value else f"{t.NOT_GIVEN.zh} {t.NOT_GIVEN.en}"


def _record_section(record: CertificateRecord) -> Section:
    rows = [
        Row(t.LABEL_ENTRY, clean(record.entry_id), mono=True),
        Row(t.LABEL_LEAF_INDEX, str(record.leaf_index)),
        Row(t.LABEL_SEQUENCE, str(record.loan_sequence)),
    ]
    if record.withheld:
        rows.append(Row(t.LABEL_KIND, f"{t.WITHHELD.zh} {t.WITHHELD.en}"))
        rows.append(Row(t.LABEL_HASH, f"{t.RECORD_WITHHELD_NOTE.zh} {t.RECORD_WITHHELD_NOTE.en}"))
    else:
        kind = _kind(record.kind)
        rows.append(Row(t.LABEL_KIND, f"{kind.zh} {kind.en}".strip() or t.UNKNOWN.en))
        algorithm = clean(record.hash_algorithm, 40) or "?"
        rows.append(Row(t.LABEL_HASH, f"{algorithm}: {_given(record.document_hash)}", mono=True))
    rows.append(Row(t.LABEL_GEN_TIME, _times(record.gen_time)))
    rows.append(Row(t.LABEL_TSA, _given(record.tsa)))
    if record.superseded_by:  # a bundle's: as the file states it, unchecked
        ids = ", ".join(clean(e) for e in record.superseded_by)
        note = t.SUPERSEDED_UNCHECKED
        rows.append(Row(t.LABEL_SUPERSEDED, f"{ids} {note.zh} {note.en}"))
    return Section(t.SECTION_RECORD, tuple(rows))


def _record_rows(records: tuple[CertificateRecord, ...]) -> tuple[RecordRow, ...]:
    sequence_of = {r.entry_id: r.loan_sequence for r in records}
    rows: list[RecordRow] = []
    for record in records:
        notes_zh: list[str] = []
        notes_en: list[str] = []
        if record.withheld:
            notes_zh.append(t.WITHHELD.zh)
            notes_en.append(t.WITHHELD.en)
        if record.superseded_by:
            by = ", ".join(
                f"#{sequence_of[e]}" if e in sequence_of else clean(e, 40)
                for e in record.superseded_by[:4]
            ) + (" …" if len(record.superseded_by) > 4 else "")
            notes_zh.append(f"{t.SUPERSEDED.zh} → {by}")
            notes_en.append(f"{t.SUPERSEDED.en} → {by}")
        digest = clean(record.document_hash, HASH_PREFIX_CHARS)[:HASH_PREFIX_CHARS]
        rows.append(
            RecordRow(
                sequence=str(record.loan_sequence),
                kind=_kind(record.kind),
                gen_time=_short_beijing(record.gen_time),
                hash_prefix=digest,
                notes=Bi("；".join(notes_zh), "; ".join(notes_en)),
            )
        )
    return tuple(rows)


def _short_beijing(when: datetime | None) -> str:
    if when is None:
        return "—"
    utc = _utc(when)
    return utc.astimezone(_BEIJING).strftime("%Y-%m-%d %H:%M:%S")


#: ISO 4217 currencies whose minor unit is not a hundredth (others: two decimals).
_DECIMALS: Final = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "UGX": 0, "PYG": 0}
_DECIMALS3: Final = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def amount_text(currency: str, minor_units: int) -> str:
    """An amount in minor units as a decimal with its currency, e.g. "CNY 2,500.00"."""
    if not currency:
        return ""
    places = 3 if currency in _DECIMALS3 else _DECIMALS.get(currency, 2)
    whole, part = divmod(minor_units, 10**places)
    return f"{clean(currency, 3)} {whole:,}" + (f".{part:0{places}d}" if places else "")


def _case_rows(data: CertificateData) -> tuple[CaseRow, ...]:
    rows = []
    for e in data.case_history:
        case = clean(e.case_number, 80) if e.case_number else clean(e.case_id, 64)
        rows.append(
            CaseRow(
                case=f"{case}\n{clean(e.body, 128)}",
                event=Bi(t.CASE_EVENTS_ZH.get(e.event, ""), clean(e.event.replace("_", " "), 40)),
                status=Bi(
                    t.CASE_STATUSES_ZH.get(e.status_after, ""),
                    clean(e.status_after.replace("_", " "), 40),
                ),
                occurred=_short_beijing(e.occurred_at),
                amount=amount_text(e.currency, e.minor_units),
                record=f"#{e.loan_sequence}",
            )
        )
    return tuple(rows)


def _tsas(records: tuple[CertificateRecord, ...]) -> str:
    """The distinct TSAs of the records (at most :data:`MAX_TSAS` shown)."""
    names = list(dict.fromkeys(r.tsa for r in records if r.tsa))
    if not names:
        return f"{t.UNKNOWN.zh} {t.UNKNOWN.en}"
    shown = "\n".join(clean(name) for name in names[:MAX_TSAS])
    more = len(names) - MAX_TSAS
    return shown + (f"\n… +{more}" if more > 0 else "")


def _anchor(data: CertificateData) -> Section | None:
    anchor = data.anchor
    if anchor is None:
        return None
    on_chain = t.ON_CHAIN_YES if anchor.checked_on_chain else t.ON_CHAIN_NO
    return Section(
        t.SECTION_ANCHOR,
        (
            Row(t.LABEL_CHAIN_ID, str(anchor.chain_id)),
            Row(t.LABEL_CONTRACT, clean(anchor.contract), mono=True),
            Row(t.LABEL_TX, clean(anchor.transaction_hash), mono=True),
            Row(t.LABEL_BLOCK, str(anchor.block_number)),
            Row(t.LABEL_ANCHORED_SIZE, str(anchor.tree_size)),
            Row(t.LABEL_ON_CHAIN, f"{on_chain.zh} / {on_chain.en}"),
        ),
    )


def _withheld_note(note: Bi, data: CertificateData) -> Bi:
    """The outcome note, saying prominently how many records of a dossier were withheld."""
    withheld = sum(1 for r in data.records if r.withheld)
    if data.subject != "dossier" or not withheld:
        return note
    more = _format(t.OUTCOME_WITHHELD, withheld=withheld, total=len(data.records))
    return Bi(f"{note.zh}{more.zh}", f"{note.en} {more.en}")


def _format(text: Bi, **values: int) -> Bi:
    return Bi(text.zh.format(**values), text.en.format(**values))


def _dossier_limits(data: CertificateData) -> list[Bi]:
    limits = [_format(t.LIMIT_DOSSIER, size=data.checkpoint_size)]
    latest = data.latest_anchored_size
    if latest is not None and latest > data.checkpoint_size:
        limits.append(_format(t.LIMIT_GROWN, latest=latest, grown=latest - data.checkpoint_size))
    withheld = sum(1 for r in data.records if r.withheld)
    if withheld:
        limits.append(_format(t.LIMIT_WITHHELD, withheld=withheld))
    return limits


def _latest_anchored(data: CertificateData) -> Row | None:
    latest = data.latest_anchored_size
    if data.subject != "dossier" or latest is None:
        return None
    if latest == 0:
        return Row(t.LABEL_LATEST_ANCHORED, f"{t.NO_ANCHOR_YET.zh} / {t.NO_ANCHOR_YET.en}")
    note = _format(
        t.LATEST_ANCHORED,
        block=data.latest_anchor_block,
        grown=max(0, latest - data.checkpoint_size),
    )
    return Row(t.LABEL_LATEST_ANCHORED, f"{latest} {note.zh} {note.en}")


def _outcome_note(data: CertificateData) -> Bi:
    return _withheld_note(_failure_note(data), data)


def _failure_note(data: CertificateData) -> Bi:
    note = t.OUTCOME_NOTES[data.outcome]
    if data.outcome != "invalid":
        return note
    failed = next((c for c in data.checks if c.status is CheckStatus.FAILED), None)
    if failed is None:
        return note
    zh = check_name_zh(failed.name)
    name = clean(failed.name, 120)
    return Bi(f"{note.zh}{zh or name}", f"{note.en}{name}")


def _validate(data: CertificateData) -> None:
    if data.subject not in t.SUBJECTS:
        raise InputError(f"certificate subject must be bundle or dossier, got {data.subject!r}")
    if data.outcome not in t.OUTCOMES:
        raise InputError(
            f"certificate outcome must be valid, invalid or inconclusive, got {data.outcome!r}"
        )
    if len(data.input_sha256) != 32:
        raise InputError(f"certificate input_sha256 must be 32 bytes, got {len(data.input_sha256)}")
    if data.subject == "bundle" and len(data.records) != 1:
        raise InputError(f"a bundle certificate shows one record, got {len(data.records)}")


def _document(data: CertificateData) -> Row:
    """Whether a document was compared with the record: its name and digest, or "no"."""
    if not data.document_compared:
        text = t.DOCUMENT_NOT_COMPARED[data.subject]
        return Row(t.LABEL_DOCUMENT, f"{text.zh} / {text.en}")
    what = t.DOCUMENT_COMPARED
    source = (
        f"{t.DOCUMENT_FILE.zh} / {t.DOCUMENT_FILE.en}: {clean(data.document_name)}"
        if data.document_name
        else f"{t.DOCUMENT_DIGEST_GIVEN.zh} / {t.DOCUMENT_DIGEST_GIVEN.en}"
    )
    algorithm = clean(data.document_hash_algorithm, 40) or "?"
    digest = f"{algorithm}: {_given(data.document_hash)}"
    return Row(t.LABEL_DOCUMENT, f"{what.zh} / {what.en}\n{source}\n{digest}")


def certificate_content(data: CertificateData) -> Content:
    """The certificate's content (InputError for data no certificate can show)."""
    _validate(data)
    subject = t.SUBJECTS[data.subject]
    digest = data.input_sha256.hex()
    what = [
        Row(t.LABEL_SUBJECT, f"{subject.zh} / {subject.en}"),
        Row(t.LABEL_INPUT, _given(data.input_name)),
        Row(t.LABEL_INPUT_SHA, digest, mono=True),
        _document(data),
    ]
    if data.owner or data.subject == "dossier":
        what.append(Row(t.LABEL_OWNER, _given(data.owner)))
    if data.loan_ref or data.subject == "dossier":
        what.append(Row(t.LABEL_LOAN, _given(data.loan_ref)))
    if data.subject == "dossier":
        withheld = sum(1 for r in data.records if r.withheld)
        count = str(len(data.records))
        if withheld:
            count += f"（{t.WITHHELD.zh} {withheld}） ({withheld} {t.WITHHELD.en})"
        what.append(Row(t.LABEL_COUNT, count))
        what.append(Row(t.LABEL_TSA, _tsas(data.records)))
    log_rows = [
        Row(t.LABEL_ORIGIN, _given(data.log_origin)),
        Row(t.LABEL_CP_SIZE, str(data.checkpoint_size)),
        Row(t.LABEL_CP_ROOT, _given(data.checkpoint_root), mono=True),
    ]
    latest = _latest_anchored(data)
    if latest is not None:
        log_rows.append(latest)
    log = Section(t.SECTION_LOG, tuple(log_rows))
    sections = [Section(t.SECTION_SUBJECT, tuple(what))]
    if data.subject == "bundle":
        sections.append(_record_section(data.records[0]))
    sections.append(log)
    checks = tuple(
        CheckRow(
            status=c.status,
            status_text=t.STATUSES[c.status.value],
            name_zh=check_name_zh(c.name),
            name_en=clean(c.name, 120),
            detail=clean(c.detail),
        )
        for c in data.checks
    )
    limits = [*t.LIMITS, *([t.LIMIT_BUNDLE] if data.subject == "bundle" else _dossier_limits(data))]
    if data.anchor is None or not data.anchor.checked_on_chain:
        limits.append(t.LIMIT_NOT_ON_CHAIN)
    verified = time_text(data.verified_at)
    run = Section(
        t.SECTION_RUN,
        (
            Row(t.LABEL_VERIFIED_AT, f"{verified.zh} / {verified.en}"),
            Row(t.LABEL_VERSION, _given(data.verifier_version, 80)),
        ),
    )
    return Content(
        subject=data.subject,
        outcome=data.outcome,
        outcome_text=t.OUTCOMES[data.outcome],
        outcome_note=_outcome_note(data),
        sections=tuple(sections),
        records=_record_rows(data.records) if data.subject == "dossier" else (),
        anchor=_anchor(data),
        checks=checks,
        limits=tuple(limits),
        run=run,
        qr_text=digest,
        input_name=_given(data.input_name, 120),
        verified_at=_utc(data.verified_at),
        case_history=_case_rows(data),
    )
