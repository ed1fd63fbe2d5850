"""The API contract in protos/: linted, documented, and its committed stubs in sync.

- The committed ``evidence_gateway/`` stubs are byte for byte what
  ``scripts/gen_protos.py`` generates now (no drift, nothing stale), and
  generation is deterministic.
- ``buf lint`` (STANDARD + COMMENTS) and ``buf format`` pass, with the buf
  pinned in package.json. A missing ``node_modules/`` is a failure, not a skip.
- Every message, field, oneof, enum, enum value, service and RPC carries a
  non-empty leading comment: the comments are the API documentation.
- Every file of the package carries the same ``java_package``,
  ``java_multiple_files``, ``go_package`` and ``csharp_namespace``, as
  protos/README.md documents them.
- The vendored ``google/rpc/status.proto`` and ``error_details.proto`` are byte
  for byte the files of the installed googleapis-common-protos (unchanged
  upstream files, so they never clash with proto-google-common-protos in Java),
  and describe the same messages as the runtime modules the code imports.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.resources
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / "protos"
GEN_SCRIPT = ROOT / "scripts" / "gen_protos.py"
PACKAGE_DIR = "evidence_gateway"
BUF = ROOT / "node_modules" / ".bin" / "buf"
THIRD_PARTY = PROTOS / "third_party"
API_PROTOS = sorted(
    p.relative_to(PROTOS).as_posix() for p in (PROTOS / PACKAGE_DIR).rglob("*.proto")
)


def _run(cmd: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def _generate(out: Path) -> None:
    result = _run([sys.executable, str(GEN_SCRIPT), "--out", str(out)])
    assert result.returncode == 0, f"gen_protos.py failed:\n{result.stdout}\n{result.stderr}"


def _tree(root: Path) -> dict[str, bytes]:
    base = root / PACKAGE_DIR
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(base.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def _first_diff(name: str, want: bytes, got: bytes) -> str:
    lines = difflib.unified_diff(
        got.decode("utf-8", "replace").splitlines(),
        want.decode("utf-8", "replace").splitlines(),
        f"committed/{name}",
        f"generated/{name}",
        lineterm="",
        n=1,
    )
    return "\n".join(list(lines)[:40])


def _buf() -> Path:
    if not BUF.exists():
        pytest.fail(
            "node_modules/.bin/buf is missing: install the pinned tools with "
            "`npm ci --no-audit --no-fund` (make does it before the tests)"
        )
    return BUF


# --- generated stubs -------------------------------------------------------------------


def test_api_protos_exist() -> None:
    assert API_PROTOS == [
        "evidence_gateway/v1/access_service.proto",
        "evidence_gateway/v1/admin_service.proto",
        "evidence_gateway/v1/bundle.proto",
        "evidence_gateway/v1/case_service.proto",
        "evidence_gateway/v1/common.proto",
        "evidence_gateway/v1/evidence_service.proto",
        "evidence_gateway/v1/log_service.proto",
        "evidence_gateway/v1/verification_service.proto",
    ]


def test_committed_stubs_match_a_fresh_generation(tmp_path: Path) -> None:
    _generate(tmp_path)
    fresh, committed = _tree(tmp_path), _tree(ROOT)
    assert fresh, "generation produced no files"
    problems = [f"missing from the repository: {n}" for n in sorted(fresh.keys() - committed)]
    problems += [f"stale (not generated any more): {n}" for n in sorted(committed.keys() - fresh)]
    changed = sorted(n for n in fresh.keys() & committed if fresh[n] != committed[n])
    problems += [f"differs: {n}" for n in changed]
    if changed:
        problems.append(_first_diff(changed[0], fresh[changed[0]], committed[changed[0]]))
    assert not problems, (
        "committed stubs drifted from protos/: run `make protos` and commit the result\n"
        + "\n".join(problems)
    )


def test_generation_is_deterministic(tmp_path: Path) -> None:
    _generate(tmp_path / "a")
    _generate(tmp_path / "b")
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


def test_gen_protos_check_mode_detects_drift(tmp_path: Path) -> None:
    _generate(tmp_path)
    ok = _run([sys.executable, str(GEN_SCRIPT), "--check", "--out", str(tmp_path)])
    assert ok.returncode == 0, ok.stderr
    (tmp_path / PACKAGE_DIR / "v1" / "common_pb2.py").write_text("# edited by hand\n")
    (tmp_path / PACKAGE_DIR / "v1" / "old_pb2.py").write_text("# left over\n")
    bad = _run([sys.executable, str(GEN_SCRIPT), "--check", "--out", str(tmp_path)])
    assert bad.returncode == 1
    assert "changed: evidence_gateway/v1/common_pb2.py" in bad.stderr
    assert "stale: evidence_gateway/v1/old_pb2.py" in bad.stderr
    # Without --check the tree is repaired, stale files included.
    _generate(tmp_path)
    assert not (tmp_path / PACKAGE_DIR / "v1" / "old_pb2.py").exists()
    ok = _run([sys.executable, str(GEN_SCRIPT), "--check", "--out", str(tmp_path)])
    assert ok.returncode == 0, ok.stderr


def test_generated_modules_import_and_expose_the_services() -> None:
    expected = {
        "case_service": {
            "CaseService": {
                "FileCase": (False, False),
                "AcceptCase": (False, False),
                "RejectCase": (False, False),
                "UpdateCaseStatus": (False, False),
                "GetCase": (False, False),
                "ListCases": (False, False),
                "WatchCases": (False, True),
            }
        },
        "evidence_service": {
            "EvidenceService": {
                "SubmitEvidence": (False, False),
                "BatchSubmitEvidence": (False, False),
                "SubmitEvidenceStream": (True, True),
                "GetEvidence": (False, False),
                "FindEvidence": (False, False),
                "ListEvidence": (False, False),
            }
        },
        "log_service": {
            "LogService": {
                "GetCheckpoint": (False, False),
                "GetInclusionProof": (False, False),
                "GetConsistencyProof": (False, False),
                "GetEntries": (False, False),
                "GetTrustInfo": (False, False),
                "GetAnchor": (False, False),
                "ListCheckpoints": (False, False),
            }
        },
        "verification_service": {
            "VerificationService": {
                "VerifyEvidence": (False, False),
                "GetEvidenceBundle": (False, False),
                "GetDossier": (False, False),
            }
        },
    }
    for module, services in expected.items():
        pb2 = importlib.import_module(f"evidence_gateway.v1.{module}_pb2")
        grpc_mod = importlib.import_module(f"evidence_gateway.v1.{module}_pb2_grpc")
        assert pb2.DESCRIPTOR.package == "evidence_gateway.v1"
        assert set(pb2.DESCRIPTOR.services_by_name) == set(services)
        for service, methods in services.items():
            desc = pb2.DESCRIPTOR.services_by_name[service]
            assert desc.full_name == f"evidence_gateway.v1.{service}"
            got = {m.name: (m.client_streaming, m.server_streaming) for m in desc.methods}
            assert got == methods, service
            for method in methods:
                assert desc.methods_by_name[method].input_type.name == f"{method}Request"
                assert desc.methods_by_name[method].output_type.name == f"{method}Response"
            assert hasattr(grpc_mod, f"{service}Stub")
            assert hasattr(grpc_mod, f"{service}Servicer")
            assert hasattr(grpc_mod, f"add_{service}Servicer_to_server")


def test_generated_messages_round_trip() -> None:
    from google.rpc import status_pb2

    from evidence_gateway.v1 import common_pb2, evidence_service_pb2

    submission = common_pb2.EvidenceSubmission(
        request_id="r-1",
        loan_ref="L-0001",
        kind=common_pb2.EVIDENCE_KIND_COLLECTION_CALL,
        hash_algorithm=common_pb2.HASH_ALGORITHM_SM3,
        digest=bytes(32),
        metadata={"channel": "phone"},
    )
    submission.occurred_at.FromSeconds(1_700_000_000)
    result = evidence_service_pb2.BatchSubmitEvidenceResult(
        request_id="r-1", error=status_pb2.Status(code=3, message="bad digest")
    )
    response = evidence_service_pb2.BatchSubmitEvidenceResponse(results=[result])
    decoded = evidence_service_pb2.BatchSubmitEvidenceResponse.FromString(
        response.SerializeToString()
    )
    assert decoded.results[0].WhichOneof("result") == "error"
    assert decoded.results[0].error.code == 3
    again = common_pb2.EvidenceSubmission.FromString(submission.SerializeToString())
    assert again == submission


def test_a_case_events_number_is_a_32_bit_json_number() -> None:
    """CaseEvent.event_number (at most 10,000) is a uint32: a number in the JSON mapping,
    where a 64-bit integer would travel as a string."""
    from google.protobuf import json_format

    from evidence_gateway.v1 import case_service_pb2

    field = case_service_pb2.CaseEvent.DESCRIPTOR.fields_by_name["event_number"]
    assert field.type == field.TYPE_UINT32
    as_json = json_format.MessageToDict(case_service_pb2.CaseEvent(event_number=10_000))
    assert as_json["eventNumber"] == 10_000


# --- buf ----------------------------------------------------------------------------------


def test_buf_lint_passes() -> None:
    result = _run([str(_buf()), "lint", "protos"])
    assert result.returncode == 0, f"buf lint failed:\n{result.stdout}{result.stderr}"


def test_buf_format_is_clean() -> None:
    result = _run([str(_buf()), "format", "--diff", "--exit-code", "protos"])
    assert result.returncode == 0, (
        "protos are not buf-formatted (fix with `node_modules/.bin/buf format -w protos`):\n"
        f"{result.stdout}{result.stderr}"
    )


# --- doc comments -------------------------------------------------------------------------


def _descriptor_set(
    out: Path, protos_dir: Path, files: list[str]
) -> descriptor_pb2.FileDescriptorSet:
    grpc_tools = importlib.import_module("grpc_tools")
    include = Path(grpc_tools.__file__).parent / "_proto"
    result = _run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "--proto_path=.",
            f"--proto_path={PROTOS / 'third_party'}",
            f"--proto_path={include}",
            "--include_source_info",
            "--include_imports",
            f"--descriptor_set_out={out}",
            *files,
        ],
        cwd=protos_dir,
    )
    assert result.returncode == 0, result.stderr
    return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


_F = descriptor_pb2.FileDescriptorProto
_M = descriptor_pb2.DescriptorProto
_E = descriptor_pb2.EnumDescriptorProto
_S = descriptor_pb2.ServiceDescriptorProto


def _elements(fd: descriptor_pb2.FileDescriptorProto) -> Iterator[tuple[tuple[int, ...], str]]:
    """Every documentable element of a file: (source path, description)."""

    def enum(e: descriptor_pb2.EnumDescriptorProto, path: tuple[int, ...], scope: str):
        name = f"{scope}{e.name}"
        yield path, f"enum {name}"
        for i, v in enumerate(e.value):
            yield (*path, _E.VALUE_FIELD_NUMBER, i), f"enum value {name}.{v.name}"

    def message(m: descriptor_pb2.DescriptorProto, path: tuple[int, ...], scope: str):
        if m.options.map_entry:  # synthesized for map<,> fields; documented by the field
            return
        name = f"{scope}{m.name}"
        yield path, f"message {name}"
        for i, f in enumerate(m.field):
            yield (*path, _M.FIELD_FIELD_NUMBER, i), f"field {name}.{f.name}"
        synthetic = {f.oneof_index for f in m.field if f.proto3_optional}
        for i, o in enumerate(m.oneof_decl):
            if i not in synthetic:
                yield (*path, _M.ONEOF_DECL_FIELD_NUMBER, i), f"oneof {name}.{o.name}"
        for i, n in enumerate(m.nested_type):
            yield from message(n, (*path, _M.NESTED_TYPE_FIELD_NUMBER, i), f"{name}.")
        for i, e in enumerate(m.enum_type):
            yield from enum(e, (*path, _M.ENUM_TYPE_FIELD_NUMBER, i), f"{name}.")

    for i, m in enumerate(fd.message_type):
        yield from message(m, (_F.MESSAGE_TYPE_FIELD_NUMBER, i), "")
    for i, e in enumerate(fd.enum_type):
        yield from enum(e, (_F.ENUM_TYPE_FIELD_NUMBER, i), "")
    for i, s in enumerate(fd.service):
        path = (_F.SERVICE_FIELD_NUMBER, i)
        yield path, f"service {s.name}"
        for j, r in enumerate(s.method):
            yield (*path, _S.METHOD_FIELD_NUMBER, j), f"rpc {s.name}.{r.name}"


def _undocumented(fd: descriptor_pb2.FileDescriptorProto) -> tuple[int, list[str]]:
    comments = {tuple(loc.path): loc.leading_comments for loc in fd.source_code_info.location}
    elements = list(_elements(fd))
    missing = [
        f"{fd.name}: {what}" for path, what in elements if not comments.get(path, "").strip()
    ]
    return len(elements), missing


def test_every_api_element_has_a_leading_comment(tmp_path: Path) -> None:
    fds = _descriptor_set(tmp_path / "api.binpb", PROTOS, API_PROTOS)
    ours = [fd for fd in fds.file if fd.name in API_PROTOS]
    assert sorted(fd.name for fd in ours) == API_PROTOS
    counted = 0
    missing: list[str] = []
    for fd in ours:
        n, m = _undocumented(fd)
        counted += n
        missing += m
    assert counted > 150, f"only {counted} elements found: is source info missing?"
    assert not missing, "elements without a leading doc comment:\n" + "\n".join(missing)


def test_comment_check_catches_an_undocumented_element(tmp_path: Path) -> None:
    (tmp_path / "x.proto").write_text(
        'syntax = "proto3";\n'
        "package x.v1;\n"
        "// Documented.\n"
        "message Documented {\n"
        "  // Documented too.\n"
        "  string a = 1;\n"
        "  string b = 2; // a trailing comment is not documentation\n"
        "  map<string, string> c = 3;\n"
        "}\n"
        "enum Kind {\n"
        "  // Documented.\n"
        "  KIND_UNSPECIFIED = 0;\n"
        "}\n"
    )
    fds = _descriptor_set(tmp_path / "x.binpb", tmp_path, ["x.proto"])
    count, missing = _undocumented(fds.file[0])
    assert count == 6
    assert missing == [
        "x.proto: field Documented.b",
        "x.proto: field Documented.c",
        "x.proto: enum Kind",
    ]


# --- vendored third-party protos ----------------------------------------------------------


VENDORED = ["google/rpc/error_details.proto", "google/rpc/status.proto"]


def test_vendored_protos_are_the_installed_upstream_files() -> None:
    vendored = sorted(p.relative_to(THIRD_PARTY).as_posix() for p in THIRD_PARTY.rglob("*"))
    assert vendored == ["google", "google/rpc", *VENDORED]
    for name in VENDORED:
        installed = importlib.resources.files("google.rpc") / Path(name).name
        assert (THIRD_PARTY / name).read_bytes() == installed.read_bytes(), (
            f"protos/third_party/{name} differs from the installed googleapis-common-protos: "
            "copy it again, unchanged (see protos/README.md)"
        )


@pytest.mark.parametrize("name", VENDORED)
def test_vendored_protos_match_the_runtime_modules(name: str, tmp_path: Path) -> None:
    module = importlib.import_module(name.removesuffix(".proto").replace("/", ".") + "_pb2")
    fds = _descriptor_set(tmp_path / "vendored.binpb", THIRD_PARTY, [name])
    vendored = next(fd for fd in fds.file if fd.name == name)
    vendored.ClearField("source_code_info")

    def clear_json_names(message: descriptor_pb2.DescriptorProto) -> None:
        for field in message.field:
            field.ClearField("json_name")  # generated code leaves the derived default out
        for nested in message.nested_type:
            clear_json_names(nested)

    for message in vendored.message_type:
        clear_json_names(message)
    runtime = descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
    assert vendored == runtime, (
        f"protos/third_party/{name} differs from the installed googleapis-common-protos: "
        "copy it again (see protos/README.md)"
    )


# --- options for other languages ----------------------------------------------------------

LANGUAGE_OPTIONS = {
    "java_package": "cn.courtevidence.evidencegateway.v1",
    "java_multiple_files": True,
    "go_package": "courtevidence.cn/gateway/gen/go/evidence_gateway/v1;evidencegatewayv1",
    "csharp_namespace": "CourtEvidence.EvidenceGateway.V1",
}


def test_every_api_file_names_its_java_go_and_csharp_packages(tmp_path: Path) -> None:
    fds = _descriptor_set(tmp_path / "api.binpb", PROTOS, API_PROTOS)
    for fd in (fd for fd in fds.file if fd.name in API_PROTOS):
        got = {name: getattr(fd.options, name) for name in LANGUAGE_OPTIONS}
        assert got == LANGUAGE_OPTIONS, fd.name
        stem = Path(fd.name).stem
        outer = "".join(part.title() for part in stem.split("_")) + "Proto"
        assert fd.options.java_outer_classname == outer, fd.name
    readme = (PROTOS / "README.md").read_text()
    for value in LANGUAGE_OPTIONS.values():
        if isinstance(value, str):
            assert f"`{value}`" in readme, f"protos/README.md does not document {value}"
