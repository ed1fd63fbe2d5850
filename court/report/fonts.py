"""The CJK font of the verification certificate: where it is found, and how to subset it.

The certificate (:mod:`court.report.certificate_pdf`) embeds a TrueType font
with Chinese glyphs; no system font is used. :func:`find_font` looks, in order:

1. the file named by the environment variable ``COURT_VERIFY_FONT``;
2. package data ``court/report/fonts/*.ttf`` (the ``court-verify`` distribution
   ships a subset there, made with :func:`subset_font`);
3. in a checkout of the repository, the pinned npm package
   ``@expo-google-fonts/noto-sans-sc`` (``node_modules/.../NotoSansSC_400Regular.ttf``,
   installed by ``make setup``), found from this package's location.

Loading the full 10 MB Noto Sans SC file into fpdf2 takes about 0.15 s (fpdf2
embeds only the glyphs a certificate uses), so no cache is kept.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from fontTools import subset

from court.files import InputError

__all__ = ["FONT_ENV", "FontError", "find_font", "subset_font"]

FONT_ENV: Final = "COURT_VERIFY_FONT"
_PACKAGE_FONTS: Final = Path(__file__).resolve().parent / "fonts"
_NPM_FONT: Final = Path(
    "node_modules/@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf"
)
# How far above this package a repository checkout may hold node_modules.
_MAX_PARENTS: Final = 4
# Always kept by subset_font: printable ASCII and Latin-1.
_BASE_CODEPOINTS: Final = frozenset([*range(0x20, 0x7F), *range(0xA0, 0x100)])


class FontError(InputError):
    """No usable font for the certificate (the message says what to install)."""


def find_font() -> Path:
    """The TrueType font to embed in the certificate (see the module docstring)."""
    named = os.environ.get(FONT_ENV, "")
    if named:
        path = Path(named)
        if not path.is_file():
            raise FontError(f"{FONT_ENV}={named!r} is not a font file")
        return path
    shipped = sorted(_PACKAGE_FONTS.glob("*.ttf"))
    if shipped:
        return shipped[0]
    for parent in Path(__file__).resolve().parents[:_MAX_PARENTS]:
        candidate = parent / _NPM_FONT
        if candidate.is_file():
            return candidate
    raise FontError(
        "no font with Chinese glyphs for the certificate: install the court-verify "
        "distribution (it ships one), run `make setup` in the repository (npm package "
        f"@expo-google-fonts/noto-sans-sc), or set {FONT_ENV} to a TrueType font with "
        "Chinese glyphs such as NotoSansSC-Regular.ttf"
    )


def subset_font(src: Path, dst: Path, text: str) -> None:
    """Write to ``dst`` the glyphs of ``src`` for printable ASCII, Latin-1 and ``text``.

    For a font the certificate can use, pass the certificate's own characters:
    ``subset_font(src, dst, court.report.certificate_text.template_characters())``
    (plus any characters the shipped font should cover beyond that). Characters
    of the input missing from the font are shown escaped (``\\uXXXX``) by the
    certificate, never as empty boxes.
    """
    codepoints = set(_BASE_CODEPOINTS) | {ord(ch) for ch in text if ch.isprintable()}
    options = subset.Options()
    options.name_IDs = ["*"]  # keep the font's names and licence text
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.layout_features = ["*"]
    try:
        font = subset.load_font(str(src), options)
    except OSError as exc:
        raise FontError(f"cannot read font {src}: {exc.strerror or exc}") from exc
    try:
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=sorted(codepoints))
        subsetter.subset(font)
        subset.save_font(font, str(dst), options)
    finally:
        font.close()
