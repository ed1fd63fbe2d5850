"""Bad requests → status rejection with the right failInfo (RFC 3161 §2.4.2)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from asn1crypto import algos, core, tsp

from court.der import encode_integer, tlv
from notary.tsa.config import DEFAULT_POLICY_OID, TsaConfig
from notary.tsa.engine import TimeStampAuthority
from notary.tsa.status import TimeStampResp
from tests.support.tsa import make_engine, make_request

SHA256_HELLO = hashlib.sha256(b"hello").digest()
SM3_OID = "1.2.156.10197.1.401"


def _imprint(alg_der: bytes, digest: bytes) -> bytes:
    return tlv(0x30, alg_der + tlv(0x04, digest))


def _raw_request(*fields: bytes) -> bytes:
    return tlv(0x30, b"\x02\x01\x01" + b"".join(fields))


SHA256_ALG = algos.DigestAlgorithm({"algorithm": "sha256", "parameters": core.Null()}).dump()
GOOD_IMPRINT = _imprint(SHA256_ALG, SHA256_HELLO)
GOOD = make_request()
GOOD_BODY = GOOD[2:]  # short-form length: the contents follow the 2-byte header


def _with_extension() -> bytes:
    req = tsp.TimeStampReq.load(make_request())
    req["extensions"] = tsp.Extensions(
        [{"extn_id": "1.2.3.4.5", "critical": False, "extn_value": b"\x05\x00"}]
    )
    return bytes(req.dump(force=True))


BAD_REQUESTS = [
    # (case id, request bytes, failInfo bit, words the statusString must contain)
    ("empty body", b"", "bad_request", "empty"),
    ("not DER at all", b"hello, TSA", "bad_request", "not valid DER"),
    ("truncated", GOOD[:-3], "bad_request", "truncated"),
    ("trailing bytes", GOOD + b"\x00", "bad_request", "trailing"),
    ("indefinite length (BER)", b"\x30\x80" + GOOD_BODY + b"\x00\x00", "bad_request", "indefinite"),
    (
        "non-minimal length",
        b"\x30\x81" + bytes([len(GOOD_BODY)]) + GOOD_BODY,
        "bad_request",
        "minimal",
    ),
    ("not a SEQUENCE", tlv(0x31, GOOD_BODY), "bad_request", "TimeStampReq"),
    ("version 2", make_request(version=2), "bad_request", "version 2"),
    ("version 0", make_request(version=0), "bad_request", "version 0"),
    ("missing imprint", tlv(0x30, b"\x02\x01\x01"), "bad_request", "messageImprint"),
    (
        "imprint digest not OCTET STRING",
        _raw_request(tlv(0x30, SHA256_ALG + tlv(0x02, b"\x01"))),
        "bad_request",
        "hashedMessage",
    ),
    ("MD5", make_request(hash_name="md5"), "bad_alg", "md5"),
    ("SHA-1", make_request(hash_name="sha1"), "bad_alg", "sha1"),
    (
        "unknown hash OID",
        _raw_request(_imprint(tlv(0x30, core.ObjectIdentifier("1.2.3.4").dump()), SHA256_HELLO)),
        "bad_alg",
        "1.2.3.4",
    ),
    (
        "SM3 when not configured",
        _raw_request(_imprint(tlv(0x30, core.ObjectIdentifier(SM3_OID).dump()), SHA256_HELLO)),
        "bad_alg",
        "sm3",
    ),
    (
        "hash parameters not NULL",
        _raw_request(
            _imprint(
                tlv(0x30, core.ObjectIdentifier("2.16.840.1.101.3.4.2.1").dump() + b"\x04\x00"),
                SHA256_HELLO,
            )
        ),
        "bad_alg",
        "parameters",
    ),
    (
        "SHA-256 digest of 20 bytes",
        make_request(digest=b"\x01" * 20),
        "bad_data_format",
        "32 bytes",
    ),
    (
        "SHA-512 digest of 32 bytes",
        make_request(hash_name="sha512", digest=SHA256_HELLO),
        "bad_data_format",
        "64 bytes",
    ),
    ("empty digest", make_request(digest=b""), "bad_data_format", "got 0"),
    ("policy not served", make_request(policy="1.2.3.4"), "unaccepted_policy", "1.2.3.4"),
    ("extension", _with_extension(), "unaccepted_extensions", "1.2.3.4.5"),
    ("nonce of 161 bits", make_request(nonce=1 << 160), "bad_request", "160 bits"),
    ("negative nonce", make_request(nonce=-5), "bad_request", "nonce"),
    (
        "non-minimal nonce",
        _raw_request(GOOD_IMPRINT, b"\x02\x02\x00\x01"),
        "bad_request",
        "minimal",
    ),
    (
        "certReq encoded FALSE (DER omits it)",
        _raw_request(GOOD_IMPRINT, b"\x01\x01\x00"),
        "bad_request",
        "certReq",
    ),
    (
        "certReq TRUE as 0x01 (BER)",
        _raw_request(GOOD_IMPRINT, b"\x01\x01\x01"),
        "bad_request",
        "certReq",
    ),
    (
        "fields out of order",
        _raw_request(
            GOOD_IMPRINT, encode_integer(7), core.ObjectIdentifier(DEFAULT_POLICY_OID).dump()
        ),
        "bad_request",
        "unexpected field",
    ),
]


@pytest.fixture(scope="module")
def engine(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> TimeStampAuthority:
    return make_engine(pki_p256, tmp_path_factory.mktemp("serials"))


def _status(response: bytes) -> tuple[str, set[str], str]:
    status = TimeStampResp.load(response, strict=True)["status"]
    text = " ".join(status["status_string"].native or [])
    return status["status"].native, set(status["fail_info"].native or ()), text


@pytest.mark.parametrize(
    ("request_der", "fail_info", "words"),
    [pytest.param(r, f, w, id=i) for i, r, f, w in BAD_REQUESTS],
)
def test_bad_request_is_rejected_with_fail_info(
    engine: TimeStampAuthority, request_der: bytes, fail_info: str, words: str
) -> None:
    response = engine.respond(request_der)
    status, fail_bits, text = _status(response)
    assert status == "rejection"
    assert fail_bits == {fail_info}
    assert words.lower() in text.lower(), text
    # A rejection carries no token.
    assert TimeStampResp.load(response)["time_stamp_token"].native is None


@pytest.mark.parametrize(
    "request_der",
    [
        pytest.param(make_request(), id="sha256 with nonce and certReq"),
        pytest.param(make_request(hash_name="sha384"), id="sha384"),
        pytest.param(make_request(hash_name="sha512"), id="sha512"),
        pytest.param(make_request(null_params=False), id="absent hash parameters"),
        pytest.param(make_request(nonce=None, cert_req=False), id="bare minimum"),
        pytest.param(make_request(policy=DEFAULT_POLICY_OID), id="our policy requested"),
        pytest.param(make_request(nonce=(1 << 160) - 1), id="nonce of 160 bits"),
        pytest.param(make_request(nonce=0), id="nonce zero"),
    ],
)
def test_good_request_is_granted(engine: TimeStampAuthority, request_der: bytes) -> None:
    status, fail_bits, _ = _status(engine.respond(request_der))
    assert status == "granted"
    assert fail_bits == set()


def test_sm3_is_granted_when_configured(pki_p256: Path, tmp_path: Path) -> None:
    sm3 = make_engine(pki_p256, tmp_path, TsaConfig(accept_sm3=True))
    request = _raw_request(_imprint(tlv(0x30, core.ObjectIdentifier(SM3_OID).dump()), b"\x42" * 32))
    response = tsp.TimeStampResp.load(sm3.respond(request))
    assert response["status"]["status"].native == "granted"
    tst = response["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    imprint = tst["message_imprint"]
    assert imprint["hash_algorithm"]["algorithm"].dotted == SM3_OID
    assert imprint["hashed_message"].native == b"\x42" * 32


def test_extra_policy_is_served_and_written(pki_p256: Path, tmp_path: Path) -> None:
    engine = make_engine(pki_p256, tmp_path, TsaConfig(extra_policies=frozenset({"1.2.3.4"})))
    response = tsp.TimeStampResp.load(engine.respond(make_request(policy="1.2.3.4")))
    assert response["status"]["status"].native == "granted"
