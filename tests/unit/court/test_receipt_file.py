"""`court-verify receipt` on a receipt archived the wrong way: the error says how to fix it.

A non-Python client most often keeps the receipt as JSON (buf curl, grpcurl,
protobuf JSON) or serializes the whole response instead of its receipt.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from google.protobuf import json_format

from court.files import InputError
from court.receipts import read_receipt
from evidence_gateway.v1 import common_pb2
from evidence_gateway.v1 import evidence_service_pb2 as ev

RECEIPT = common_pb2.Receipt(
    entry_id="agrc7cfnqqar3vpqjmnnjncopu",
    leaf_index=3,
    leaf=bytes(range(256)),
    timestamp_token=b"\x30\x82" + bytes(range(200, 256)),
    checkpoint=common_pb2.Checkpoint(signed_note="log\n4\nAAAA\n\n— log xyz\n"),
    inclusion_proof=common_pb2.InclusionProof(leaf_index=3, tree_size=4, hashes=[b"\xff" * 32]),
)


def test_a_binary_receipt_is_read(tmp_path: Path) -> None:
    path = tmp_path / "receipt.pb"
    path.write_bytes(RECEIPT.SerializeToString())
    assert read_receipt(path) == RECEIPT


def test_a_json_receipt_is_refused_with_the_conversion(tmp_path: Path) -> None:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(json_format.MessageToDict(RECEIPT), indent=2))
    with pytest.raises(InputError) as info:
        read_receipt(path)
    assert "it looks like JSON" in str(info.value)
    assert "buf convert protos --type evidence_gateway.v1.Receipt" in str(info.value)


@pytest.mark.parametrize(
    "response",
    [
        ev.SubmitEvidenceResponse(receipt=RECEIPT),
        ev.GetEvidenceResponse(record=common_pb2.EvidenceRecord(receipt=RECEIPT)),
    ],
    ids=["SubmitEvidenceResponse", "GetEvidenceResponse"],
)
def test_a_whole_response_is_refused_with_what_to_archive(
    tmp_path: Path, response: ev.SubmitEvidenceResponse | ev.GetEvidenceResponse
) -> None:
    path = tmp_path / "response.pb"
    path.write_bytes(response.SerializeToString())
    with pytest.raises(InputError) as info:
        read_receipt(path)
    assert "whole response message" in str(info.value)
    assert "archive its receipt" in str(info.value)


def test_other_junk_gets_no_advice(tmp_path: Path) -> None:
    path = tmp_path / "junk.pb"
    path.write_bytes(b"\x0a\xff")
    with pytest.raises(InputError) as info:
        read_receipt(path)
    assert "looks like" not in str(info.value)


def test_the_advised_conversion_works(tmp_path: Path) -> None:
    """The `buf convert` line of the advice (and of docs/gateway.md), with the pinned buf."""
    root = Path(__file__).resolve().parents[3]
    buf = root / "node_modules" / ".bin" / "buf"
    assert buf.exists(), "node_modules/.bin/buf is missing: run `make setup` (npm ci)"
    (tmp_path / "receipt.json").write_text(json.dumps(json_format.MessageToDict(RECEIPT)))
    command = (
        f"{buf} convert {root / 'protos'} --type evidence_gateway.v1.Receipt "
        f"--from {tmp_path / 'receipt.json'} --to {tmp_path / 'receipt.pb'}"
    )
    subprocess.run(command.split(), check=True, capture_output=True, timeout=120)
    assert read_receipt(tmp_path / "receipt.pb") == RECEIPT
