"""The verification certificate (核验报告): ``write_certificate(data, path)``.

``court-verify bundle|dossier … --report OUT.pdf|OUT.html`` builds a
:class:`~court.report.certificate_data.CertificateData` and calls
:func:`write_certificate`; the file's extension chooses the format. The
content (:mod:`court.report.certificate_content`) is the same in both; the PDF
embeds a CJK font (:mod:`court.report.fonts`), the HTML is one self-contained
file (no script, no external resource).
"""

from __future__ import annotations

from pathlib import Path

from court.files import InputError
from court.report.certificate_content import certificate_content
from court.report.certificate_data import CertificateData
from court.report.certificate_html import render_html
from court.report.certificate_pdf import render_pdf

__all__ = ["FORMATS", "write_certificate"]

FORMATS = (".pdf", ".html")


def write_certificate(data: CertificateData, path: Path) -> None:
    """Write the certificate of ``data`` to ``path`` (``.pdf`` or ``.html``).

    Raises InputError for another extension, for data no certificate can show,
    and (FontError) when no font with Chinese glyphs is found for a PDF.
    """
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"--report {path}: unknown extension {path.suffix or '(none)'!r}, use .pdf or .html"
        )
    content = certificate_content(data)
    try:
        if suffix == ".pdf":
            render_pdf(content, path)
        else:
            path.write_text(render_html(content), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write --report {path}: {exc.strerror or exc}") from exc
