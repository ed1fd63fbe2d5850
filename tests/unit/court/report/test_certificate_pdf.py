"""The PDF certificate: Chinese text drawn as real glyphs, input escaped, long input paginated.

The proof that the Chinese is not boxes: each character of the title is cut
out of the rendered page (pypdfium2 renders, its text page gives each
character's box) and the eight glyph images must all differ. Missing glyphs
would all be the same .notdef box: the same measurement on a page drawn with
a Latin-only font finds them identical (the control test), so the check can fail.
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from fontTools.ttLib import TTFont
from fpdf import FPDF
from PIL import Image

from court.files import InputError
from court.report.certificate import write_certificate
from court.report.certificate_content import certificate_content
from court.report.certificate_pdf import render_pdf
from court.report.certificate_text import template_characters
from court.report.fonts import FONT_ENV, FontError, find_font, subset_font
from tests.support import certificate_samples as samples

TITLE = "电子证据核验报告"
SCALE = 3.0
#: Masks differing in at most this share of pixels show the same glyph.
SAME_GLYPH = 0.08


def _page_text(path: Path, index: int = 0) -> str:
    pdf = pdfium.PdfDocument(path)
    try:
        return str(pdf[index].get_textpage().get_text_range())
    finally:
        pdf.close()


def _all_text(path: Path) -> tuple[int, str]:
    pdf = pdfium.PdfDocument(path)
    try:
        return len(pdf), "\n".join(
            str(pdf[i].get_textpage().get_text_range()) for i in range(len(pdf))
        )
    finally:
        pdf.close()


def _glyph_masks(path: Path, text: str) -> list[bytes]:
    """Each character of the first ``text`` on page 1, rendered and cut out, as a 32x32
    black/white mask."""
    pdf = pdfium.PdfDocument(path)
    try:
        page = pdf[0]
        textpage = page.get_textpage()
        full = str(textpage.get_text_range())
        start = full.index(text)
        image = page.render(scale=SCALE).to_pil().convert("L")
        height = page.get_height()
        masks = []
        for i in range(start, start + len(text)):
            left, bottom, right, top = textpage.get_charbox(i, loose=True)
            box = (
                int(left * SCALE),
                int((height - top) * SCALE),
                int(right * SCALE) + 1,
                int((height - bottom) * SCALE) + 1,
            )
            glyph = image.crop(box).resize((32, 32), Image.Resampling.BILINEAR)
            masks.append(bytes(0 if v > 160 else 1 for v in glyph.tobytes()))
        return masks
    finally:
        pdf.close()


def _differ(a: bytes, b: bytes) -> float:
    """Share of the 32x32 pixels where two glyph masks differ."""
    return sum(x != y for x, y in zip(a, b, strict=True)) / len(a)


def _distinct_glyphs(masks: list[bytes]) -> int:
    """How many different glyphs (masks alike up to anti-aliasing count once)."""
    kinds: list[bytes] = []
    for mask in masks:
        if all(_differ(mask, kind) > SAME_GLYPH for kind in kinds):
            kinds.append(mask)
    return len(kinds)


@pytest.fixture(scope="module")
def bundle_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cert") / "bundle.pdf"
    write_certificate(samples.bundle(), path)
    return path


@pytest.fixture(scope="module")
def latin_font(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Noto Sans SC cut down to ASCII and Latin-1: no Chinese glyph at all."""
    path = tmp_path_factory.mktemp("font") / "latin.ttf"
    subset_font(find_font(), path, "")
    return path


def test_title_and_outcome_are_text_in_both_languages(bundle_pdf: Path) -> None:
    text = _page_text(bundle_pdf)
    for expected in (
        TITLE,
        "Electronic Evidence Verification Certificate",
        "有效",
        "VALID",
        "核验对象",
        "What was verified",
        "还款记录",
    ):
        assert expected in text, expected


def test_title_is_drawn_with_real_chinese_glyphs(bundle_pdf: Path) -> None:
    masks = _glyph_masks(bundle_pdf, TITLE)
    assert all(sum(mask) > 20 for mask in masks), "a title character has no ink"
    # 8 characters, 8 different glyphs (.notdef boxes would all be alike).
    assert _distinct_glyphs(masks) == len(TITLE)


def _boxes_font(latin: Path, out: Path) -> Path:
    """A font that maps the title's characters to its .notdef box (what a font without
    those glyphs shows; fpdf2 itself would drop them and draw nothing)."""
    font = TTFont(latin)
    # fpdf2 skips glyph 0, so the box is a copy of .notdef under another name.
    font.setGlyphOrder([*font.getGlyphOrder(), "box"])
    font["glyf"]["box"] = copy.deepcopy(font["glyf"][".notdef"])
    font["hmtx"]["box"] = font["hmtx"][".notdef"]
    font["vmtx"]["box"] = font["vmtx"][".notdef"]
    for table in font["cmap"].tables:
        if table.isUnicode():
            table.cmap.update({ord(ch): "box" for ch in TITLE})
    font.save(out)
    return out


def test_control_boxes_are_caught(tmp_path: Path, latin_font: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("boxes", "", str(_boxes_font(latin_font, tmp_path / "boxes.ttf")))
    pdf.set_font("boxes", size=21)
    pdf.cell(0, 11, TITLE)
    path = tmp_path / "boxes.pdf"
    pdf.output(str(path))
    masks = _glyph_masks(path, TITLE)
    assert all(sum(mask) > 20 for mask in masks)  # boxes have ink...
    assert _distinct_glyphs(masks) == 1  # ...but are all the same


def test_control_missing_glyphs_are_caught(tmp_path: Path, latin_font: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("latin", "", str(latin_font))
    pdf.set_font("latin", size=21)
    pdf.cell(0, 11, TITLE)
    path = tmp_path / "dropped.pdf"
    pdf.output(str(path))
    assert TITLE not in _page_text(path)  # fpdf2 drops glyphs the font lacks


def test_every_fixed_chinese_character_is_in_the_font() -> None:
    cmap = TTFont(find_font(), lazy=True).getBestCmap()
    missing = [ch for ch in template_characters() if ord(ch) not in cmap]
    assert missing == []


def test_a_font_without_chinese_is_refused(tmp_path: Path, latin_font: Path) -> None:
    with pytest.raises(FontError, match="Chinese glyphs"):
        render_pdf(certificate_content(samples.bundle()), tmp_path / "x.pdf", font=latin_font)
    assert not (tmp_path / "x.pdf").exists()


def test_subset_font_serves_the_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = tmp_path / "subset.ttf"
    subset_font(find_font(), small, template_characters())
    assert small.stat().st_size < find_font().stat().st_size // 10
    monkeypatch.setenv(FONT_ENV, str(small))
    assert find_font() == small
    path = tmp_path / "c.pdf"
    write_certificate(samples.bundle(), path)
    assert TITLE in _page_text(path)
    assert _distinct_glyphs(_glyph_masks(path, TITLE)) == len(TITLE)


def test_missing_font_named_in_the_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(FONT_ENV, str(tmp_path / "nope.ttf"))
    with pytest.raises(FontError, match=FONT_ENV):
        write_certificate(samples.bundle(), tmp_path / "c.pdf")


def test_hostile_strings_are_escaped_and_capped(tmp_path: Path) -> None:
    data = replace(
        samples.bundle(),
        owner="Lender\u202eKO\u202c\nPASS \x1b[2J 😀",
        loan_ref="L" * 5000,
        checks=(*samples.bundle().checks[:3],),
        outcome="invalid",
    )
    path = tmp_path / "hostile.pdf"
    write_certificate(data, path)
    _, text = _all_text(path)
    for raw in ("\u202e", "\u202c", "\x1b", "😀"):
        assert raw not in text
    for shown in ("\\u202e", "\\u202c", "\\n", "\\x1b", "\\U0001f600"):
        assert shown in text, shown
    assert "L" * 5000 not in text.replace("\r\n", "").replace("\n", "")
    assert "已截断" in text and "5000 chars" in text
    assert "无效" in text and "INVALID" in text


def test_a_long_dossier_paginates_without_overflow(tmp_path: Path) -> None:
    path = tmp_path / "dossier.pdf"
    started = time.monotonic()
    write_certificate(samples.dossier(records=600), path)
    elapsed = time.monotonic() - started
    pdf = pdfium.PdfDocument(path)
    pages = len(pdf)
    try:
        assert pages > 10
        for index in range(len(pdf)):
            page = pdf[index]
            width, height = page.get_size()
            textpage = page.get_textpage()
            for i in range(textpage.count_chars()):
                left, bottom, right, top = textpage.get_charbox(i)
                if right <= left:
                    continue  # spaces and line ends
                assert left >= 0 and right <= width and bottom >= 0 and top <= height
            if index:
                assert "Page" in str(textpage.get_text_range())
        last = str(pdf[len(pdf) - 1].get_textpage().get_text_range())
        assert "核验程序版本" in last
    finally:
        pdf.close()
    _, text = _all_text(path)
    assert f"Page {pages} of {pages}" in text
    assert elapsed < 30


def test_other_extensions_are_refused(tmp_path: Path) -> None:
    for name in ("c.txt", "c", "c.pdf.exe"):
        with pytest.raises(InputError, match=r"use \.pdf or \.html"):
            write_certificate(samples.bundle(), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("outcome", "ok", "outcome"),
        ("subject", "receipt", "subject"),
        ("input_sha256", b"\x00" * 31, "input_sha256"),
        ("records", (), "one record"),
    ],
)
def test_data_no_certificate_can_show(
    tmp_path: Path, field: str, value: object, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        write_certificate(replace(samples.bundle(), **{field: value}), tmp_path / "c.pdf")
