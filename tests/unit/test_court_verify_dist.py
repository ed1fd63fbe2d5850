"""The court-verify distribution's definition (dist/court-verify) and its build script's
import guard; tests/integration/test_court_verify_dist.py builds and installs it."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_court_verify", ROOT / "scripts" / "build_court_verify.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and annotations look it up
    spec.loader.exec_module(module)
    return module


def _requirements(path: Path) -> tuple[dict[str, Requirement], dict[str, list[str]]]:
    with path.open("rb") as f:
        project = tomllib.load(f)["project"]
    deps = {Requirement(r).name: Requirement(r) for r in project["dependencies"]}
    return deps, project.get("optional-dependencies", {})


def test_dependencies_are_the_main_projects_with_the_same_specifiers() -> None:
    main, _ = _requirements(ROOT / "pyproject.toml")
    court, extras = _requirements(ROOT / "dist" / "court-verify" / "pyproject.toml")
    assert set(court) == {
        "asn1crypto",
        "cryptography",
        "fpdf2",
        "googleapis-common-protos",
        "protobuf",
        "segno",
    }
    for name, req in court.items():
        assert str(req.specifier) == str(main[name].specifier), name
    (grpcio,) = [Requirement(r) for r in extras["fetch"]]
    assert str(grpcio.specifier) == str(main["grpcio"].specifier)


def test_the_import_guard_refuses_a_server_package(tmp_path: Path) -> None:
    script = _script()
    package = tmp_path / "court"
    package.mkdir()
    (package / "ok.py").write_text(
        "import json\nfrom cryptography import x509\nfrom google.protobuf import json_format\n"
        "def fetch():\n    import grpc\n"
    )
    script.check_imports(package)  # stdlib, dependencies, grpc inside a function
    (package / "bad.py").write_text("import grpc\nfrom sqlalchemy import select\n")
    with pytest.raises(script.BuildError, match=r"court/bad\.py imports grpc.*sqlalchemy"):
        script.check_imports(package)
    (package / "bad.py").write_text("from google.cloud import storage\n")
    with pytest.raises(script.BuildError, match=r"google\.cloud"):
        script.check_imports(package)


def test_the_repository_court_package_passes_the_guard() -> None:
    script = _script()
    script.check_imports(ROOT / "court")
    with pytest.raises(script.BuildError, match=r"_pb2_grpc\.py imports grpc"):
        script.check_imports(ROOT / "evidence_gateway")  # hence only *_pb2 are staged
    assert (
        script.project_version()
        == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    )
