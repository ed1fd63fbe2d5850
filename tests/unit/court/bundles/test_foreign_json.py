"""Files other tools write instead of a bundle or dossier: the input error says what they
are and what to do (exit 2), after the protobuf parser's own reason.

* buf curl and grpcurl print the RPC's answer (`{"bundle": {...}, "otherEntryIds": [...]}`),
  not the bundle: the error says to take its `bundle` (`dossier`) field.
* @grpc/proto-loader's objects written with JSON.stringify: a Node.js Buffer for bytes, a
  Long for 64-bit integers, `{seconds, nanos}` for the anchor's Timestamp.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from court.cli import main
from tests.unit.court.bundles.conftest import Made


def _verify(
    capsys: pytest.CaptureFixture[str], made: Made, command: str, document: Any, tmp_path: Path
) -> str:
    path = tmp_path / f"{command}.json"
    path.write_text(json.dumps(document))
    code = main([command, str(path), "--trust", str(made.trust)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, ""), err
    assert len(err) < 1500
    return err


def _bundle(made: Made) -> dict[str, Any]:
    return dict(json_format.MessageToDict(made.bundle))


def test_the_answer_of_buf_curl_names_its_bundle_field(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = {"bundle": _bundle(made), "otherEntryIds": ["abc"]}
    err = _verify(capsys, made, "bundle", answer, tmp_path)
    assert "GetEvidenceBundleResponse" in err and "jq .bundle" in err
    dossier = {"dossier": json_format.MessageToDict(made.dossier)}
    err = _verify(capsys, made, "dossier", dossier, tmp_path)
    assert "GetDossierResponse" in err and "jq .dossier" in err


def test_a_node_buffer_for_bytes(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _bundle(made)
    der = base64.b64decode(bundle["tsaCertificates"][0])
    bundle["tsaCertificates"] = [{"type": "Buffer", "data": list(der)}]
    err = _verify(capsys, made, "bundle", bundle, tmp_path)
    assert "Node.js Buffer" in err and "bytes: String" in err


def test_a_long_for_a_64_bit_integer(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _bundle(made)
    bundle["record"]["leafIndex"] = {"low": 1, "high": 0, "unsigned": True}
    err = _verify(capsys, made, "bundle", bundle, tmp_path)
    assert "Long object" in err and "longs: String" in err


def test_a_timestamp_object_for_the_anchors_confirmation_time(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _bundle(made)
    bundle["anchor"]["anchor"]["confirmedAt"] = {"seconds": "1767323045", "nanos": 5}
    err = _verify(capsys, made, "bundle", bundle, tmp_path)
    assert "confirmedAt" in err and "RFC 3339" in err


def test_deep_garbage_gets_no_hint_and_no_crash(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["bundle", str(path), "--trust", str(made.trust)]) == 2
    _, err = capsys.readouterr()
    assert "not a JSON object" in err
    path.write_text('{"x": ' + "[" * 50_000 + "]" * 50_000 + "}")
    assert main(["bundle", str(path), "--trust", str(made.trust)]) == 2
    _, err = capsys.readouterr()
    assert "not a valid" in err and len(err) < 1500
