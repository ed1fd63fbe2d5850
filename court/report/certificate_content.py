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
    if record.superseded_by:
        rows.append(Row(t.LABEL_SUPERSEDED, ", ".join(clean(e) for e in record.superseded_by)))
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


def _outcome_note(data: CertificateData) -> Bi:
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
    log = Section(
        t.SECTION_LOG,
        (
            Row(t.LABEL_ORIGIN, _given(data.log_origin)),
            Row(t.LABEL_CP_SIZE, str(data.checkpoint_size)),
            Row(t.LABEL_CP_ROOT, _given(data.checkpoint_root), mono=True),
        ),
    )
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
    limits = [*t.LIMITS, t.LIMIT_BUNDLE if data.subject == "bundle" else t.LIMIT_DOSSIER]
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
    )
