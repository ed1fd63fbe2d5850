#!/usr/bin/env python3
"""Build the ``court-verify`` wheel: the court's verifier without the gateway.

A court installs only this distribution (``dist/court-verify/pyproject.toml``):
the package ``court``, the protobuf messages it reads (the ``*_pb2.py`` and
``*_pb2.pyi`` modules of ``evidence_gateway``, never the ``*_pb2_grpc.py``
ones, which need grpcio) and, as package data of ``court.report``, a subset
of the Noto Sans SC font for the bilingual certificate, cut from the pinned
npm package with fontTools::

    .venv/bin/python scripts/build_court_verify.py --out dist/wheels

The script stages those files in a temporary folder, refuses a ``court``
module that imports a package the distribution does not depend on (grpc only
inside a function, for ``court-verify fetch``), writes the main project's
version into the staging folder and builds the wheel with the setuptools of
the running interpreter, offline (no build isolation). It prints the wheel's
path. Standard library, setuptools, and the repository's court.report.fonts
(fontTools) for the subset.
"""

from __future__ import annotations

import argparse
import ast
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # court.report.fonts and certificate_text, from this checkout
    sys.path.insert(0, str(ROOT))
DIST = ROOT / "dist" / "court-verify"
FONT_PACKAGE = ROOT / "node_modules" / "@expo-google-fonts" / "noto-sans-sc"
FONT = FONT_PACKAGE / "400Regular" / "NotoSansSC_400Regular.ttf"
FONT_LICENSE = FONT_PACKAGE / "LICENSE_FONT"
#: Where the font subset goes inside the package (court/report/fonts.py looks there).
FONT_DIR = Path("court", "report", "fonts")
FONT_NAME = "NotoSansSC-Regular-subset.ttf"

#: Third-party modules the staged code may import at module level (top-level names;
#: two levels for the google namespace): the distribution's dependencies (fontTools and
#: PIL come with fpdf2; google.rpc with googleapis-common-protos).
ALLOWED = frozenset(
    {"court", "evidence_gateway", "cryptography", "asn1crypto", "fpdf", "segno"}
    | {"google.protobuf", "google.rpc", "fontTools", "PIL"}
)
#: Modules of the "fetch" extra: imported only inside functions, so that everything
#: else works without them.
LAZY = frozenset({"grpc"})


class BuildError(Exception):
    """The distribution cannot be built; the message says why."""


def project_version(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The main project's version (the court-verify wheel carries the same)."""
    with pyproject.open("rb") as f:
        version = tomllib.load(f)["project"]["version"]
    if not isinstance(version, str):
        raise BuildError(f"{pyproject}: [project] version is not a string")
    return version


def _imports(tree: ast.Module) -> Iterator[tuple[str, bool]]:
    """(top-level module, imported inside a function) of every import in ``tree``."""
    nested: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            nested.update(id(inner) for inner in ast.walk(node) if inner is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            top = ".".join(parts[:2]) if parts[0] == "google" else parts[0]
            yield top, id(node) in nested


def check_imports(package: Path) -> None:
    """Refuse a module of ``package`` importing what the distribution does not install."""
    problems = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for top, lazy in _imports(tree):
            if top in sys.stdlib_module_names or top in ALLOWED or (lazy and top in LAZY):
                continue
            where = path.relative_to(package.parent)
            problems.append(f"{where} imports {top}")
    if problems:
        raise BuildError(
            "the court-verify distribution does not install what these imports need (add a "
            "dependency to dist/court-verify/pyproject.toml, or import grpc inside the function "
            "that needs it): " + "; ".join(sorted(set(problems)))
        )


def _gb2312() -> str:
    """Every character of GB 2312 (symbols and the 6,763 common hanzi): names of
    institutions and people printed on a certificate are almost always in it."""
    chars = []
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                chars.append(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return "".join(chars)


def font_text(package: Path) -> str:
    """The characters the subset keeps beyond printable ASCII and Latin-1 (which
    court.report.fonts.subset_font always keeps): the certificate's fixed text
    (court.report.certificate_text.template_characters), every non-ASCII character of
    the package's sources, general and CJK punctuation, fullwidth forms and GB 2312."""
    from court.report.certificate_text import template_characters

    ranges = [(0x2010, 0x2060), (0x3000, 0x3040), (0xFF01, 0xFF5F)]
    chars = {chr(c) for start, end in ranges for c in range(start, end)}
    chars.update(_gb2312())
    chars.update(template_characters())
    for path in package.rglob("*.py"):
        chars.update(c for c in path.read_text(encoding="utf-8") if ord(c) >= 0x80)
    return "".join(sorted(c for c in chars if c.isprintable()))


def stage(staging: Path, font: Path, font_license: Path) -> None:
    """Put the distribution's files into ``staging``."""
    shutil.copytree(
        ROOT / "court",
        staging / "court",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.ttf"),
    )
    stubs = ROOT / "evidence_gateway"
    for path in sorted(stubs.rglob("*")):
        name = path.name
        if "__pycache__" in path.parts or not path.is_file():
            continue
        if name == "__init__.py" or name.endswith(("_pb2.py", "_pb2.pyi")):
            target = staging / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    check_imports(staging / "court")
    check_imports(staging / "evidence_gateway")
    for source in (font, font_license):
        if not source.is_file():
            raise BuildError(
                f"{source} is missing: install the pinned npm packages first (`make setup`, "
                "or `npm ci`), or pass --font and --font-license"
            )
    fonts = staging / FONT_DIR
    fonts.mkdir(parents=True, exist_ok=True)
    from court.report.fonts import FontError, subset_font

    try:
        subset_font(font, fonts / FONT_NAME, font_text(staging / "court"))
    except FontError as exc:
        raise BuildError(str(exc)) from None
    shutil.copy2(font_license, fonts / "OFL.txt")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(DIST / name, staging / name)
    (staging / "VERSION").write_text(project_version() + "\n", encoding="utf-8")


def build_wheel(staging: Path, out: Path) -> Path:
    """Build the wheel of the staged distribution into ``out`` with this interpreter's
    setuptools (no isolation, no network)."""
    out.mkdir(parents=True, exist_ok=True)
    code = "import sys, setuptools.build_meta as backend; print(backend.build_wheel(sys.argv[1]))"
    result = subprocess.run(
        [sys.executable, "-c", code, str(out.resolve())],
        cwd=staging,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BuildError(f"setuptools could not build the wheel:\n{result.stdout}{result.stderr}")
    name = result.stdout.strip().splitlines()[-1]
    return out.resolve() / name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "wheels", metavar="DIR")
    parser.add_argument("--font", type=Path, default=FONT, help="Noto Sans SC TrueType file")
    parser.add_argument("--font-license", type=Path, default=FONT_LICENSE, metavar="FILE")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="court-verify-") as tmp:
            staging = Path(tmp)
            stage(staging, args.font, args.font_license)
            wheel = build_wheel(staging, args.out)
    except BuildError as exc:
        print(f"build_court_verify: {exc}", file=sys.stderr)
        return 1
    print(wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
