"""Every check name the court package can emit has a Chinese name for the certificate.

Check names are module-level ``CHECK_*`` string constants (``court.verify``)
or string literals passed to a Checklist method; both are collected from the
source of the whole ``court`` package, so a new check without a translation
fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import court
from court.report.certificate_text import template_characters
from court.report.check_names import CHECK_NAMES_ZH, check_name_zh

_METHODS = {"passed", "failed", "not_run", "record"}


def _emitted_names() -> set[str]:
    names: set[str] = set()
    root = Path(court.__file__).parent
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            targets: list[ast.expr] = []
            value = None
            if isinstance(node, ast.Assign):
                targets, value = list(node.targets), node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            for target in targets:
                if (
                    isinstance(target, ast.Name)
                    and target.id.startswith("CHECK_")
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    names.add(value.value)
        for call in ast.walk(tree):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in _METHODS
                and call.args
                and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str)
            ):
                names.add(call.args[0].value)
    return names


def test_the_scan_finds_the_known_checks() -> None:
    names = _emitted_names()
    assert len(names) >= 40
    for known in ("Signature valid", "Inclusion proof valid", "Anchor confirmations"):
        assert known in names


def test_every_emitted_check_name_is_translated() -> None:
    missing = sorted(name for name in _emitted_names() if not check_name_zh(name))
    assert missing == []


def test_translations_are_chinese_and_distinct() -> None:
    values = list(CHECK_NAMES_ZH.values())
    assert len(set(values)) == len(values)
    for name, zh in CHECK_NAMES_ZH.items():
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), name
    assert set("".join(values)) <= set(template_characters())


def test_unknown_name_has_no_translation() -> None:
    assert check_name_zh("Something new") == ""
