"""The certificate as one self-contained HTML file (inline CSS and SVG, no script).

Layout only: the content comes from :mod:`court.report.certificate_content`,
already sanitised; here every text is HTML-escaped as well. A Content Security
Policy forbids scripts and external resources, so the file shows the same
thing offline, years later.
"""

from __future__ import annotations

from html import escape
from typing import Final

import segno

from court.report import certificate_text as t
from court.report.certificate_content import Content, Row, Section
from court.report.certificate_text import Bi

__all__ = ["render_html"]

_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_STYLE: Final = """
body{font-family:"Noto Sans SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;
 color:#141414;max-width:52em;margin:2em auto;padding:0 1.5em;line-height:1.45;font-size:14px}
h1{color:#163460;text-align:center;margin:0;font-size:1.9em;letter-spacing:.08em}
.en-title{text-align:center;color:#606060;margin:.2em 0 1em;font-size:1.05em}
hr.double{border:0;border-top:3px double #163460;margin:0 0 1.2em}
h2{color:#163460;font-size:1.15em;border-left:4px solid #163460;padding-left:.5em;
 margin:1.6em 0 .5em}
h2 .en,.label .en,th .en{color:#606060;font-weight:normal;font-size:.82em;margin-left:.5em}
.outcome{border:2px solid;border-left-width:8px;padding:.7em 1em;display:flex;gap:2em;
 align-items:center}
.outcome .verdict{font-size:1.8em;font-weight:bold;white-space:nowrap}
.outcome.valid{border-color:#1b6e30;background:#e8f5ea;color:#1b6e30}
.outcome.invalid{border-color:#b02020;background:#fceaea;color:#b02020}
.outcome.inconclusive{border-color:#966400;background:#fff6de;color:#966400}
.outcome .note{color:#282828}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #c8cdd4;padding:.3em .5em;text-align:left;vertical-align:top;
 overflow-wrap:anywhere;white-space:pre-line}
th{background:#163460;color:#fff;font-weight:normal}th .en{color:#dde}
.label{width:13em;color:#606060;font-size:.9em}.label .en{display:block;margin:0}
.mono{font-family:ui-monospace,"DejaVu Sans Mono",Consolas,monospace;font-size:.92em}
.passed{color:#1b6e30}.failed{color:#b02020;font-weight:bold}.not_run{color:#6e6e6e}
.detail{font-size:.85em;color:#3c3c3c}.zh-name{display:block}.en-name{color:#505050}
.notes{color:#965000}.subject{display:flex;gap:1.5em;align-items:flex-start}
.subject table{flex:1}.qr{text-align:center;font-size:.75em;color:#606060;width:12em}
.qr .mono{color:#000;word-break:break-all;display:block;margin:.3em 0}
p.en{color:#606060;font-size:.9em;margin-top:.1em}p.zh{margin-bottom:0}
footer{margin-top:2em;border-top:1px solid #c8cdd4;color:#606060;font-size:.8em;padding-top:.5em}
"""


def _bi(text: Bi) -> str:
    return f'{escape(text.zh)}<span class="en">{escape(text.en)}</span>'


def _rows(rows: tuple[Row, ...]) -> str:
    out = ["<table>"]
    for row in rows:
        mono = ' class="mono"' if row.mono else ""
        out.append(
            f'<tr><td class="label">{_bi(row.label)}</td><td{mono}>{escape(row.value)}</td></tr>'
        )
    out.append("</table>")
    return "\n".join(out)


def _section(section: Section) -> str:
    return f"<h2>{_bi(section.title)}</h2>\n{_rows(section.rows)}"


def _qr(text: str) -> str:
    svg = segno.make(text, error="m", micro=False).svg_inline(scale=4, border=2)
    return (
        f'<div class="qr">{svg}<span class="mono">{escape(text)}</span>'
        f"{escape(t.LABEL_QR.zh)}<br>{escape(t.LABEL_QR.en)}</div>"
    )


def _checks(content: Content) -> str:
    head = "".join(f"<th>{_bi(c)}</th>" for c in (t.COL_RESULT, t.COL_CHECK, t.COL_DETAIL))
    out = [f"<h2>{_bi(t.SECTION_CHECKS)}</h2>", f"<table><tr>{head}</tr>"]
    for check in content.checks:
        zh = f'<span class="zh-name">{escape(check.name_zh)}</span>' if check.name_zh else ""
        out.append(
            f'<tr><td class="{check.status.value}">{escape(check.status_text.zh)}<br>'
            f"{escape(check.status_text.en)}</td>"
            f'<td>{zh}<span class="en-name">{escape(check.name_en)}</span></td>'
            f'<td class="detail">{escape(check.detail)}</td></tr>'
        )
    out.append("</table>")
    return "\n".join(out)


def _records(content: Content) -> str:
    columns = (t.COL_SEQ, t.COL_KIND, t.COL_TIME, t.COL_HASH, t.COL_NOTES)
    head = "".join(f"<th>{_bi(c)}</th>" for c in columns)
    out = [f"<h2>{_bi(t.SECTION_RECORDS)}</h2>", f"<table><tr>{head}</tr>"]
    for r in content.records:
        kind = "<br>".join(escape(part) for part in r.kind if part) or "—"
        notes = "<br>".join(escape(part) for part in r.notes if part)
        out.append(
            f"<tr><td>{escape(r.sequence)}</td><td>{kind}</td><td>{escape(r.gen_time)}</td>"
            f'<td class="mono">{escape(r.hash_prefix) or "—"}</td>'
            f'<td class="notes">{notes}</td></tr>'
        )
    out.append("</table>")
    return "\n".join(out)


def _case_history(content: Content) -> str:
    """案件进程 Case history: one row per case event, in the loan's order."""
    columns = (
        t.COL_CASE,
        t.COL_EVENT,
        t.COL_STATUS_AFTER,
        t.COL_OCCURRED,
        t.COL_AMOUNT,
        t.COL_RECORD,
    )
    head = "".join(f"<th>{_bi(c)}</th>" for c in columns)
    note = f'<p class="en">{escape(t.CASES_NOTE.zh)}<br>{escape(t.CASES_NOTE.en)}</p>'
    out = [f"<h2>{_bi(t.SECTION_CASES)}</h2>", note, f"<table><tr>{head}</tr>"]
    for r in content.case_history:
        event = "<br>".join(escape(part) for part in r.event if part)
        status = "<br>".join(escape(part) for part in r.status if part)
        out.append(
            f"<tr><td>{escape(r.case)}</td><td>{event}</td><td>{status}</td>"
            f"<td>{escape(r.occurred)}</td><td>{escape(r.amount) or '—'}</td>"
            f"<td>{escape(r.record)}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def _paragraphs(title: Bi, items: tuple[Bi, ...]) -> str:
    out = [f"<h2>{_bi(title)}</h2>", "<ol>"]
    for item in items:
        out.append(f'<li><p class="zh">{escape(item.zh)}</p><p class="en">{escape(item.en)}</p>')
    out.append("</ol>")
    return "\n".join(out)


def render_html(content: Content) -> str:
    """The certificate of ``content`` as an HTML document."""
    subject = content.sections[0]
    anchor = (
        _section(content.anchor)
        if content.anchor is not None
        else f"<h2>{_bi(t.SECTION_ANCHOR)}</h2>\n<p>{escape(t.NO_ANCHOR.zh)} "
        f"{escape(t.NO_ANCHOR.en)}</p>"
    )
    note = content.outcome_note
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        f"<title>{escape(t.TITLE.zh)} {escape(t.TITLE.en)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(t.TITLE.zh)}</h1>",
        f'<p class="en-title" lang="en">{escape(t.TITLE.en)}</p>',
        '<hr class="double">',
        f'<div class="outcome {content.outcome}"><div>{escape(t.OUTCOME_HEADING.zh)} '
        f'{escape(t.OUTCOME_HEADING.en)}<div class="verdict">'
        f"{escape(content.outcome_text.zh)} {escape(content.outcome_text.en)}</div></div>"
        f'<div class="note">{escape(note.zh)}<br>{escape(note.en)}</div></div>',
        f"<h2>{_bi(subject.title)}</h2>",
        f'<div class="subject">{_rows(subject.rows)}{_qr(content.qr_text)}</div>',
        *(_section(s) for s in content.sections[1:]),
        _records(content) if content.records else "",
        _case_history(content) if content.case_history else "",
        anchor,
        _checks(content),
        _paragraphs(t.SECTION_LEGAL, t.LEGAL),
        _paragraphs(t.SECTION_LIMITS, content.limits),
        _section(content.run),
        f"<footer>{escape(t.TITLE.zh)} · {escape(t.TITLE.en)} · SHA-256 "
        f'<span class="mono">{escape(content.qr_text)}</span></footer>',
        "</body>",
        "</html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"
