"""The certificate as PDF (fpdf2), with the CJK font embedded as a subset.

Layout only: the content comes from :mod:`court.report.certificate_content`.
Every text is drawn with the embedded font (:func:`court.report.fonts.find_font`);
a character the font has no glyph for is shown escaped (``\\uXXXX``), never
as an empty box. Tables break across pages and repeat their headings; long
values wrap (and are capped by :func:`court.report.certificate_content.clean`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import segno
from fpdf import FPDF, FontFace
from fpdf.enums import TableBordersLayout, TextMode, VAlign, XPos, YPos
from fpdf.table import Table

from court.report import certificate_text as t
from court.report.certificate_content import Content, Row, Section
from court.report.certificate_text import Bi
from court.report.escape import escape_char
from court.report.fonts import FontError, find_font
from court.verify.result import CheckStatus

__all__ = ["FONT_FAMILY", "render_pdf"]

FONT_FAMILY: Final = "NotoSansSC"
_MONO: Final = "Courier"
_NAVY: Final = (22, 52, 96)
_GREY: Final = (96, 96, 96)
_RULE: Final = (200, 205, 212)
_OUTCOME_COLOURS: Final = {
    "valid": ((27, 110, 48), (232, 245, 234)),
    "invalid": ((176, 32, 32), (252, 234, 234)),
    "inconclusive": ((150, 100, 0), (255, 246, 222)),
}
_STATUS_COLOURS: Final = {
    CheckStatus.PASSED: (27, 110, 48),
    CheckStatus.FAILED: (176, 32, 32),
    CheckStatus.NOT_RUN: (110, 110, 110),
}
_QR_SIZE: Final = 34.0  # mm
_LABEL_WIDTH: Final = 46.0  # mm


class _Document(FPDF):
    """A4 pages with the certificate's running header and footer."""

    def __init__(self, qr_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.qr_text = qr_text
        self.glyphs: frozenset[int] = frozenset()

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font(FONT_FAMILY, size=7.5)
        self.set_text_color(*_GREY)
        self.cell(0, 4, f"{t.TITLE.zh}  {t.TITLE.en}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*_RULE)
        self.line(self.l_margin, self.get_y() + 1, self.w - self.r_margin, self.get_y() + 1)
        self.ln(5)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_draw_color(*_RULE)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(1.5)
        self.set_font(FONT_FAMILY, size=7)
        self.set_text_color(*_GREY)
        page = str(self.page_no())
        pages = f"{t.FOOTER.zh}  {t.FOOTER.en}".format(page=page, pages=self.str_alias_nb_pages)
        self.cell(0, 4, f"SHA-256 {self.qr_text[:16]}…", align="L")
        self.set_x(self.l_margin)
        self.cell(0, 4, pages, align="R")


def _shown(pdf: _Document, text: str) -> str:
    """``text`` with every character the embedded font cannot draw escaped."""
    if all(ord(ch) in pdf.glyphs or ch == "\n" for ch in text):
        return text
    return "".join(ch if ord(ch) in pdf.glyphs or ch == "\n" else escape_char(ch) for ch in text)


def _face(size: float, colour: tuple[int, int, int] = (0, 0, 0), mono: bool = False) -> FontFace:
    return FontFace(family=_MONO if mono else FONT_FAMILY, emphasis="", size_pt=size, color=colour)


@contextmanager
def _bold(pdf: FPDF) -> Iterator[None]:
    """Fake bold (fill and stroke) for the one regular-weight font."""
    with pdf.local_context(text_mode=TextMode.FILL_STROKE, line_width=0.12):
        yield


def _heading(pdf: _Document, title: Bi) -> None:
    if pdf.will_page_break(24):
        pdf.add_page()
    pdf.ln(3)
    y = pdf.get_y()
    pdf.set_fill_color(*_NAVY)
    pdf.rect(pdf.l_margin, y + 0.8, 1.6, 5.2, style="F")
    pdf.set_x(pdf.l_margin + 3.5)
    pdf.set_text_color(*_NAVY)
    pdf.set_draw_color(*_NAVY)
    pdf.set_font(FONT_FAMILY, size=12)
    with _bold(pdf):
        pdf.cell(pdf.get_string_width(title.zh) + 3, 7, title.zh)
    pdf.set_font(FONT_FAMILY, size=9.5)
    pdf.set_text_color(*_GREY)
    pdf.cell(0, 7.4, title.en, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.set_fill_color(255, 255, 255)  # tables fill their cells with the current colour


def _rows(pdf: _Document, rows: tuple[Row, ...], width: float | None = None) -> None:
    width = width or pdf.epw
    with pdf.table(
        width=width,
        align="LEFT",
        col_widths=(_LABEL_WIDTH, width - _LABEL_WIDTH),
        first_row_as_headings=False,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        text_align="LEFT",
        v_align=VAlign.T,
        line_height=4.4,
        padding=(1.2, 1.5, 1.2, 1.5),
    ) as table:
        pdf.set_draw_color(*_RULE)
        pdf.set_line_width(0.2)
        for row in rows:
            cells = table.row()
            cells.cell(f"{row.label.zh}\n{row.label.en}", style=_face(8, _GREY))
            mono = row.mono and row.value.isascii()
            cells.cell(_shown(pdf, row.value), style=_face(8.5 if mono else 9, mono=mono))


def _section(pdf: _Document, section: Section) -> None:
    _heading(pdf, section.title)
    _rows(pdf, section.rows)


def _title(pdf: _Document, content: Content) -> None:
    pdf.set_text_color(*_NAVY)
    pdf.set_draw_color(*_NAVY)
    pdf.set_font(FONT_FAMILY, size=21)
    with _bold(pdf):
        pdf.cell(0, 11, t.TITLE.zh, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, size=11.5)
    pdf.set_text_color(*_GREY)
    pdf.cell(0, 7, t.TITLE.en, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(*_NAVY)
    pdf.set_line_width(0.6)
    y = pdf.get_y() + 2
    pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
    pdf.set_line_width(0.2)
    pdf.line(pdf.l_margin, y + 1, pdf.w - pdf.r_margin, y + 1)
    pdf.set_y(y + 5)

    ink, fill = _OUTCOME_COLOURS[content.outcome]
    note = content.outcome_note
    pdf.set_font(FONT_FAMILY, size=8.5)
    note_text = _shown(pdf, f"{note.zh}\n{note.en}")
    note_lines = pdf.multi_cell(pdf.epw - 70, 4.2, note_text, dry_run=True, output="LINES")
    assert isinstance(note_lines, list)
    height = max(22.0, 8.0 + 4.2 * len(note_lines))
    top = pdf.get_y()
    pdf.set_fill_color(*fill)
    pdf.set_draw_color(*ink)
    pdf.set_line_width(0.5)
    pdf.rect(pdf.l_margin, top, pdf.epw, height, style="DF")
    pdf.set_fill_color(*ink)
    pdf.rect(pdf.l_margin, top, 2.5, height, style="F")
    pdf.set_xy(pdf.l_margin + 6, top + 3)
    pdf.set_font(FONT_FAMILY, size=8.5)
    pdf.set_text_color(*_GREY)
    pdf.cell(60, 4.5, f"{t.OUTCOME_HEADING.zh}  {t.OUTCOME_HEADING.en}")
    pdf.set_xy(pdf.l_margin + 6, top + 8.5)
    pdf.set_text_color(*ink)
    pdf.set_draw_color(*ink)
    pdf.set_font(FONT_FAMILY, size=20)
    with _bold(pdf):
        pdf.cell(60, 10, f"{content.outcome_text.zh}  {content.outcome_text.en}")
    pdf.set_xy(pdf.l_margin + 66, top + 4)
    pdf.set_text_color(40, 40, 40)
    pdf.set_font(FONT_FAMILY, size=8.5)
    pdf.multi_cell(pdf.epw - 70, 4.2, note_text, align="L")
    pdf.set_y(top + height + 2)


def _qr(pdf: _Document, x: float, y: float, text: str) -> None:
    """The QR code of ``text`` as vector squares, its text printed below it."""
    code = segno.make(text, error="m", micro=False)
    matrix = code.matrix
    module = _QR_SIZE / (len(matrix) + 2)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, _QR_SIZE, _QR_SIZE, style="F")
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            pdf.rect(
                x + (start + 1) * module, y + (r + 1) * module, (c - start) * module, module, "F"
            )
    pdf.set_xy(x - 4, y + _QR_SIZE + 0.5)
    pdf.set_font(_MONO, size=5.6)
    pdf.set_text_color(0, 0, 0)
    half = len(text) // 2
    pdf.multi_cell(_QR_SIZE + 8, 2.8, f"{text[:half]}\n{text[half:]}", align="C")
    pdf.set_x(x - 4)
    pdf.set_font(FONT_FAMILY, size=6.5)
    pdf.set_text_color(*_GREY)
    pdf.multi_cell(_QR_SIZE + 8, 3, f"{t.LABEL_QR.zh}\n{t.LABEL_QR.en}", align="C")


def _subject(pdf: _Document, content: Content) -> None:
    section = content.sections[0]
    _heading(pdf, section.title)
    top = pdf.get_y()
    gap = 6.0
    _rows(pdf, section.rows, width=pdf.epw - _QR_SIZE - gap - 4)
    bottom = pdf.get_y()
    _qr(pdf, pdf.w - pdf.r_margin - _QR_SIZE - 2, top + 1, content.qr_text)
    pdf.set_y(max(bottom, pdf.get_y()) + 1)


@contextmanager
def _table(
    pdf: _Document,
    columns: Sequence[Bi],
    col_widths: tuple[float, ...],
    *,
    size_pt: float = 7.5,
    line_height: float = 3.8,
    padding: tuple[float, float, float, float] = (1, 1.5, 1, 1.5),
    heading_break: str = "\n",
) -> Iterator[Table]:
    """A full-width table with a navy heading row of the bilingual ``columns`` (zh, then
    ``heading_break``, then en), repeated on every page; the caller adds the rows."""
    heading = FontFace(
        family=FONT_FAMILY, emphasis="", size_pt=size_pt, color=(255, 255, 255), fill_color=_NAVY
    )
    with pdf.table(
        width=pdf.epw,
        col_widths=col_widths,
        headings_style=heading,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        text_align="LEFT",
        v_align=VAlign.T,
        line_height=line_height,
        padding=padding,
        repeat_headings=1,
    ) as table:
        pdf.set_draw_color(*_RULE)
        header = table.row()
        for column in columns:
            header.cell(f"{column.zh}{heading_break}{column.en}")
        yield table


def _checks(pdf: _Document, content: Content) -> None:
    _heading(pdf, t.SECTION_CHECKS)
    with _table(
        pdf,
        (t.COL_RESULT, t.COL_CHECK, t.COL_DETAIL),
        (20, 64, pdf.epw - 84),
        size_pt=8,
        line_height=3.9,
        padding=(1.1, 1.5, 1.1, 1.5),
        heading_break=" ",
    ) as table:
        for check in content.checks:
            cells = table.row()
            colour = _STATUS_COLOURS[check.status]
            cells.cell(f"{check.status_text.zh}\n{check.status_text.en}", style=_face(8, colour))
            name = f"{check.name_zh}\n{check.name_en}" if check.name_zh else check.name_en
            cells.cell(_shown(pdf, name), style=_face(8))
            cells.cell(_shown(pdf, check.detail), style=_face(7, (60, 60, 60)))


def _records(pdf: _Document, content: Content) -> None:
    _heading(pdf, t.SECTION_RECORDS)
    columns = (t.COL_SEQ, t.COL_KIND, t.COL_TIME, t.COL_HASH, t.COL_NOTES)
    with _table(pdf, columns, (14, 40, 36, 36, pdf.epw - 126)) as table:
        for record in content.records:
            cells = table.row()
            cells.cell(record.sequence, style=_face(8))
            kind = "\n".join(part for part in record.kind if part) or "—"
            cells.cell(_shown(pdf, kind), style=_face(7.5))
            cells.cell(record.gen_time, style=_face(7.5))
            digest = record.hash_prefix or "—"
            cells.cell(_shown(pdf, digest), style=_face(7.5, mono=digest.isascii()))
            notes = "\n".join(part for part in record.notes if part)
            cells.cell(_shown(pdf, notes), style=_face(7.5, (150, 60, 0)))


def _case_history(pdf: _Document, content: Content) -> None:
    """案件进程 Case history: one row per case event, in the loan's order."""
    _heading(pdf, t.SECTION_CASES)
    pdf.set_font(FONT_FAMILY, size=7.8)
    pdf.set_text_color(*_GREY)
    pdf.multi_cell(0, 3.8, f"{t.CASES_NOTE.zh}\n{t.CASES_NOTE.en}", new_x=XPos.LMARGIN)
    pdf.ln(1)
    columns = (
        t.COL_CASE,
        t.COL_EVENT,
        t.COL_STATUS_AFTER,
        t.COL_OCCURRED,
        t.COL_AMOUNT,
        t.COL_RECORD,
    )
    with _table(pdf, columns, (44, 30, 30, 30, pdf.epw - 146, 12)) as table:
        for row in content.case_history:
            cells = table.row()
            cells.cell(_shown(pdf, row.case), style=_face(7.5))
            cells.cell(_shown(pdf, "\n".join(p for p in row.event if p)), style=_face(7.5))
            cells.cell(_shown(pdf, "\n".join(p for p in row.status if p)), style=_face(7.5))
            cells.cell(row.occurred, style=_face(7.5))
            cells.cell(_shown(pdf, row.amount or "—"), style=_face(7.5))
            cells.cell(row.record, style=_face(7.5))


def _paragraphs(pdf: _Document, title: Bi, items: tuple[Bi, ...]) -> None:
    """Numbered bilingual paragraphs with a hanging indent."""
    _heading(pdf, title)
    indent = 7.0
    for number, item in enumerate(items, start=1):
        if pdf.will_page_break(16):
            pdf.add_page()
        pdf.set_font(FONT_FAMILY, size=8.8)
        pdf.set_text_color(20, 20, 20)
        pdf.set_x(pdf.l_margin + 1)
        pdf.cell(indent - 1, 4.6, f"{number}.")
        pdf.multi_cell(pdf.epw - indent, 4.6, item.zh, align="J", new_x=XPos.LEFT)
        pdf.set_font(FONT_FAMILY, size=7.8)
        pdf.set_text_color(*_GREY)
        pdf.multi_cell(pdf.epw - indent, 3.8, item.en, align="J", new_x=XPos.LMARGIN)
        pdf.ln(1.8)


def render_pdf(content: Content, path: Path, font: Path | None = None) -> None:
    """Write the certificate of ``content`` to ``path`` as PDF."""
    font_path = font or find_font()
    pdf = _Document(content.qr_text)
    try:
        pdf.add_font(FONT_FAMILY, "", str(font_path))
    except Exception as exc:  # fpdf2/fontTools raise many kinds for a bad font file
        raise FontError(f"cannot load font {font_path}: {type(exc).__name__}: {exc}") from exc
    glyphs = frozenset(pdf.fonts[FONT_FAMILY.lower()].cmap)  # type: ignore[union-attr]
    missing = sorted({ch for ch in t.template_characters() if ord(ch) not in glyphs})
    if missing:
        raise FontError(
            f"font {font_path} has no glyphs for {''.join(missing[:12])!r}: the certificate "
            "needs a font with Chinese glyphs such as Noto Sans SC"
        )
    pdf.glyphs = glyphs
    pdf.set_lang("zh-CN")
    pdf.set_title(f"{t.TITLE.zh} {t.TITLE.en}")
    pdf.set_creator("court-verify")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_creation_date(content.verified_at)  # the same data gives the same file
    pdf.add_page()
    _title(pdf, content)
    _subject(pdf, content)
    for section in content.sections[1:]:
        _section(pdf, section)
    if content.records:
        _records(pdf, content)
    if content.case_history:
        _case_history(pdf, content)
    if content.anchor is not None:
        _section(pdf, content.anchor)
    else:
        _heading(pdf, t.SECTION_ANCHOR)
        pdf.set_font(FONT_FAMILY, size=8.8)
        pdf.set_text_color(20, 20, 20)
        pdf.multi_cell(0, 4.6, f"{t.NO_ANCHOR.zh} {t.NO_ANCHOR.en}")
    _checks(pdf, content)
    _paragraphs(pdf, t.SECTION_LEGAL, t.LEGAL)
    _paragraphs(pdf, t.SECTION_LIMITS, content.limits)
    _section(pdf, content.run)
    pdf.output(str(path))
