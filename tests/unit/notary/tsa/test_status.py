"""Each failInfo lands on the bit RFC 3161 §2.4.2 gives it, and stock openssl reads it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from court.der import read_children, read_tlv
from notary.tsa.status import FailInfo, TimeStampResp, rejection_response

RFC_BITS = {
    FailInfo.BAD_ALG: 0,
    FailInfo.BAD_REQUEST: 2,
    FailInfo.BAD_DATA_FORMAT: 5,
    FailInfo.TIME_NOT_AVAILABLE: 14,
    FailInfo.UNACCEPTED_POLICY: 15,
    FailInfo.UNACCEPTED_EXTENSION: 16,
    FailInfo.ADD_INFO_NOT_AVAILABLE: 17,
    FailInfo.SYSTEM_FAILURE: 25,
}
OPENSSL_WORDS = {
    FailInfo.BAD_ALG: "unrecognized or unsupported algorithm identifier",
    FailInfo.BAD_REQUEST: "transaction not permitted or supported",
    FailInfo.BAD_DATA_FORMAT: "the data submitted has the wrong format",
    FailInfo.TIME_NOT_AVAILABLE: "the TSA's time source is not available",
    FailInfo.UNACCEPTED_POLICY: "the requested TSA policy is not supported by the TSA",
    FailInfo.UNACCEPTED_EXTENSION: "the requested extension is not supported by the TSA",
    FailInfo.ADD_INFO_NOT_AVAILABLE: "the additional information requested could not be",
    FailInfo.SYSTEM_FAILURE: "the request cannot be handled due to system failure",
}


def _set_bits(bit_string_contents: bytes) -> set[int]:
    unused, body = bit_string_contents[0], bit_string_contents[1:]
    bits = {i * 8 + j for i, octet in enumerate(body) for j in range(8) if octet & (0x80 >> j)}
    assert not body or not body[-1] & ((1 << unused) - 1), "unused bits must be zero"
    return bits


@pytest.mark.parametrize("fail_info", list(FailInfo), ids=lambda f: f.name)
def test_fail_info_bit_position(fail_info: FailInfo) -> None:
    response = rejection_response(fail_info, "words")
    status_info = read_children(read_tlv(response)[0].contents)[0]
    status, _text, fail_bits = read_children(status_info.contents)
    assert status.contents == b"\x02"  # rejection
    assert fail_bits.tag == 0x03
    assert _set_bits(fail_bits.contents) == {RFC_BITS[fail_info]}
    # DER named-bit lists drop trailing zero bits: the last octet's last used bit is set.
    unused = fail_bits.contents[0]
    assert fail_bits.contents[-1] & (1 << unused)
    assert TimeStampResp.load(response)["status"]["status_string"].native == ["words"]


@pytest.mark.parametrize("fail_info", list(FailInfo), ids=lambda f: f.name)
def test_openssl_reads_fail_info(fail_info: FailInfo, tmp_path: Path) -> None:
    reply = tmp_path / "reply.tsr"
    reply.write_bytes(rejection_response(fail_info, "what was wrong"))
    text = subprocess.run(
        ["openssl", "ts", "-reply", "-in", str(reply), "-text"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "Status: Rejected." in text
    assert OPENSSL_WORDS[fail_info] in text
    assert "Status description: what was wrong" in text
