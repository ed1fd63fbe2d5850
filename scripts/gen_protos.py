#!/usr/bin/env python3
"""Regenerate the committed Python stubs of the gateway's protobuf API.

The stubs under ``evidence_gateway/`` (``*_pb2.py``, ``*_pb2.pyi``,
``*_pb2_grpc.py`` and the package ``__init__.py`` files) are generated from
``protos/evidence_gateway/**/*.proto`` with the grpcio-tools pinned in
``requirements.lock``, run from the project's virtualenv::

    .venv/bin/python scripts/gen_protos.py            # rewrite evidence_gateway/
    .venv/bin/python scripts/gen_protos.py --check    # exit 1 if it would change
    .venv/bin/python scripts/gen_protos.py --out DIR  # write DIR/evidence_gateway/

The whole ``evidence_gateway/`` tree belongs to this script: files it would
not generate are deleted (``__pycache__`` excepted). Output depends only on
the .proto files and the grpcio-tools version, so two runs give identical
bytes; ``tests/unit/test_protos.py`` fails when the committed stubs drift.

Only the standard library and grpcio-tools are used, so this runs before the
project itself is installed.
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.metadata
import importlib.resources
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
# Vendored upstream google/rpc/*.proto, unchanged; never generated: the runtime
# modules come from googleapis-common-protos.
THIRD_PARTY = PROTO_ROOT / "third_party"
PACKAGE = "evidence_gateway"

INIT_DOCSTRINGS = {
    Path(PACKAGE, "__init__.py"): (
        "Generated Python stubs of the gateway's protobuf API (see protos/README.md).\n\n"
        "Do not edit: regenerate with `make protos`.\n"
    ),
}


def proto_files() -> list[Path]:
    """The API's .proto files, relative to ``protos/``, in a stable order."""
    return sorted(p.relative_to(PROTO_ROOT) for p in (PROTO_ROOT / PACKAGE).rglob("*.proto"))


def well_known_include() -> Path:
    """grpcio-tools' bundled include dir holding google/protobuf/*.proto."""
    return Path(str(importlib.resources.files("grpc_tools") / "_proto"))


def init_text(path: Path) -> str:
    """Text of a generated package ``__init__.py`` (relative ``path``)."""
    doc = INIT_DOCSTRINGS.get(path)
    if doc is None:
        package = ".".join(path.parent.parts)
        doc = (
            f"Generated protobuf and gRPC modules of package ``{package}``.\n\n"
            "Do not edit: regenerate with `make protos`.\n"
        )
    return f'"""{doc}"""\n'


def generate(out_dir: Path) -> list[Path]:
    """Generate the stubs into ``out_dir/evidence_gateway``; return the files.

    Returned paths are relative to ``out_dir``, sorted.
    """
    protos = proto_files()
    if not protos:
        raise SystemExit(f"no .proto files under {PROTO_ROOT / PACKAGE}")
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        # Run from protos/ with relative include paths, so that the file names
        # recorded in the descriptors are the import paths and nothing else.
        "--proto_path=.",
        f"--proto_path={THIRD_PARTY.relative_to(PROTO_ROOT).as_posix()}",
        f"--proto_path={well_known_include()}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        "--fatal_warnings",
        *(p.as_posix() for p in protos),
    ]
    subprocess.run(cmd, check=True, cwd=PROTO_ROOT)

    generated = {p.relative_to(out_dir) for p in (out_dir / PACKAGE).rglob("*") if p.is_file()}
    packages = {Path(PACKAGE)} | {p.parent for p in generated}
    for package in packages:
        # Every directory between the top package and a module is a package.
        for parent in (package, *package.parents):
            if parent != Path("."):
                init = parent / "__init__.py"
                (out_dir / init).write_text(init_text(init), encoding="utf-8", newline="\n")
                generated.add(init)
    return sorted(generated)


def tree_files(root: Path) -> set[Path]:
    """Files under ``root/evidence_gateway`` relative to ``root``, caches ignored."""
    base = root / PACKAGE
    if not base.exists():
        return set()
    return {
        p.relative_to(root)
        for p in base.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def diff(fresh_root: Path, target_root: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """Compare two trees: (missing from target, changed, stale in target)."""
    fresh, target = tree_files(fresh_root), tree_files(target_root)
    missing = sorted(fresh - target)
    stale = sorted(target - fresh)
    changed = sorted(
        p for p in fresh & target if not filecmp.cmp(fresh_root / p, target_root / p, shallow=False)
    )
    return missing, changed, stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT,
        help="directory to write the evidence_gateway/ package into (default: the repository)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the stubs under --out differ from freshly generated ones",
    )
    args = parser.parse_args(argv)
    out_root: Path = args.out.resolve()
    versions = ", ".join(
        f"{dist} {importlib.metadata.version(dist)}" for dist in ("grpcio-tools", "protobuf")
    )

    with tempfile.TemporaryDirectory(prefix="gen_protos-") as tmp:
        fresh_root = Path(tmp)
        generate(fresh_root)
        missing, changed, stale = diff(fresh_root, out_root)
        if args.check:
            if missing or changed or stale:
                for label, paths in (("missing", missing), ("changed", changed), ("stale", stale)):
                    for p in paths:
                        print(f"{label}: {p.as_posix()}", file=sys.stderr)
                print(
                    f"generated stubs are out of date ({versions}): run `make protos`",
                    file=sys.stderr,
                )
                return 1
            print(f"generated stubs are up to date ({versions})")
            return 0
        for p in stale:
            (out_root / p).unlink()
        for p in (*missing, *changed):
            (out_root / p).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fresh_root / p, out_root / p)
        # Remove directories left empty by stale files.
        for d in sorted((out_root / PACKAGE).rglob("*"), reverse=True):
            if d.is_dir() and d.name != "__pycache__" and not any(d.iterdir()):
                d.rmdir()
    print(
        f"evidence_gateway/: {len(missing)} added, {len(changed)} changed, "
        f"{len(stale)} removed ({versions})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
