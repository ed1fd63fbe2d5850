"""Write the example verification certificate of docs/ (PDF, HTML and a PNG of page 1).

    PYTHONPATH=. .venv/bin/python scripts/example_certificate.py [OUT_DIR]

The data is the realistic sample of tests/support/certificate_samples.py (a
valid bundle of one repayment record, anchored and read on chain). Once
`court-verify bundle … --report` exists, an example made from a real bundle
can replace it. The PNG is rendered with pypdfium2 (a development dependency).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pypdfium2 as pdfium

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from court.report.certificate import write_certificate  # noqa: E402
from tests.support.certificate_samples import bundle  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "examples"
    out.mkdir(parents=True, exist_ok=True)
    pdf_path = out / "verification-certificate.pdf"
    write_certificate(bundle(), pdf_path)
    write_certificate(bundle(), out / "verification-certificate.html")
    pdf = pdfium.PdfDocument(pdf_path)
    try:
        image = pdf[0].render(scale=1.6).to_pil()
        image.save(out / "verification-certificate-page1.png", optimize=True)
    finally:
        pdf.close()
    print(f"wrote {pdf_path} and its page 1 as PNG, and the HTML form")


if __name__ == "__main__":
    main()
