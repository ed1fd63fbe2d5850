"""Tokens the engine makes: every field, DER-exact, and a fuzzed engine that never crashes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notary.pki import init_pki
from notary.tsa.config import DEFAULT_POLICY_OID, TsaConfig
from notary.tsa.engine import TimeStampAuthority
from notary.tsa.status import Rejection, TimeStampResp
from tests.support.tsa import make_engine, make_request

FIXED_MS = 1_790_000_000_120  # 2026-09-21T14:13:20.120Z


@pytest.fixture(scope="module")
def engine(pki_p256: Path, tmp_path_factory: pytest.TempPathFactory) -> TimeStampAuthority:
    return make_engine(pki_p256, tmp_path_factory.mktemp("serials"))


def _parts(response: bytes) -> tuple[cms.SignedData, tsp.TSTInfo, bytes]:
    resp = tsp.TimeStampResp.load(response, strict=True)
    assert resp["status"]["status"].native == "granted"
    signed = resp["time_stamp_token"]["content"]
    encap = signed["encap_content_info"]
    assert encap["content_type"].native == "tst_info"
    return signed, encap["content"].parsed, encap["content"].contents


def test_token_fields(engine: TimeStampAuthority, pki_p256: Path) -> None:
    request = make_request(b"loan contract", hash_name="sha384", nonce=0xDEADBEEFCAFE)
    signed, tst, tst_der = _parts(engine.respond(request))
    assert tst["version"].native == "v1"
    assert tst["policy"].dotted == DEFAULT_POLICY_OID
    assert tst["message_imprint"].dump() == tsp.TimeStampReq.load(request)["message_imprint"].dump()
    assert (
        tst["message_imprint"]["hashed_message"].native == hashlib.sha384(b"loan contract").digest()
    )
    assert tst["nonce"].native == 0xDEADBEEFCAFE
    assert tst["accuracy"].native == {"seconds": 1, "millis": None, "micros": None}
    assert tst["ordering"].native is False
    tsa_cert = x509.load_pem_x509_certificate((pki_p256 / "tsa.pem").read_bytes())
    assert (
        tst["tsa"].chosen.native
        == cms.Certificate.load(tsa_cert.public_bytes(serialization.Encoding.DER))[
            "tbs_certificate"
        ]["subject"].native
    )
    # certReq: exactly the TSA certificate is included.
    certs = signed["certificates"]
    assert [c.chosen.dump() for c in certs] == [tsa_cert.public_bytes(serialization.Encoding.DER)]
    assert signed["version"].native == "v3"
    (signer,) = signed["signer_infos"]
    assert signer["sid"].chosen["serial_number"].native == tsa_cert.serial_number
    attrs = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
    assert set(attrs) == {"content_type", "message_digest", "signing_certificate_v2"}
    assert attrs["content_type"].native == "tst_info"
    assert attrs["message_digest"].native == hashlib.sha256(tst_der).digest()
    ess = attrs["signing_certificate_v2"]["certs"][0]
    der = tsa_cert.public_bytes(serialization.Encoding.DER)
    assert ess["cert_hash"].native == hashlib.sha256(der).digest()
    assert ess["issuer_serial"]["serial_number"].native == tsa_cert.serial_number


def test_whole_token_is_der(engine: TimeStampAuthority) -> None:
    """asn1crypto re-encodes every part to the same bytes: our hand framing is DER."""
    response = engine.respond(make_request())
    parsed = tsp.TimeStampResp.load(response)
    assert parsed.dump(force=True) == response
    signed = parsed["time_stamp_token"]["content"]
    tst = signed["encap_content_info"]["content"].parsed
    assert tst.dump(force=True) == signed["encap_content_info"]["content"].contents
    attrs = signed["signer_infos"][0]["signed_attrs"]
    encoded = [a.dump() for a in attrs]
    assert encoded == sorted(encoded), "DER SET OF must be sorted"


def test_no_cert_when_not_requested(engine: TimeStampAuthority) -> None:
    signed, _, _ = _parts(engine.respond(make_request(cert_req=False)))
    assert signed["certificates"].native is None


def test_nonce_absent_when_not_sent(engine: TimeStampAuthority) -> None:
    _, tst, _ = _parts(engine.respond(make_request(nonce=None)))
    assert tst["nonce"].native is None


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (FIXED_MS, "20260921141320.12Z"),
        (FIXED_MS - 120, "20260921141320Z"),
        (FIXED_MS - 119, "20260921141320.001Z"),
        (FIXED_MS + 880 - 1, "20260921141320.999Z"),
        (FIXED_MS - 20, "20260921141320.1Z"),
    ],
)
def test_gen_time_millisecond_der(tmp_path: Path, ms: int, text: str) -> None:
    init_pki(tmp_path / "pki", now=datetime(2026, 9, 1, tzinfo=UTC))
    engine = make_engine(tmp_path / "pki", tmp_path / "state", clock=lambda: ms)
    issued = engine.issue("sha256", b"\x00" * 32)
    _, tst, tst_der = _parts(issued.response)
    assert b"\x18" + bytes([len(text)]) + text.encode() in tst_der
    assert tst["gen_time"].native == datetime.fromtimestamp(ms / 1000, UTC)
    assert issued.gen_time_ms == ms


def test_issue_in_process(engine: TimeStampAuthority) -> None:
    digest = hashlib.sha512(b"repayment").digest()
    issued = engine.issue("sha512", digest, nonce=99)
    _, tst, _ = _parts(issued.response)
    assert tst["message_imprint"]["hashed_message"].native == digest
    assert tst["serial_number"].native == issued.serial
    assert issued.response.endswith(issued.token)
    with pytest.raises(Rejection) as bad:
        engine.issue("sha256", digest)
    assert "32 bytes" in str(bad.value)
    with pytest.raises(Rejection):
        engine.issue("md5", b"\x00" * 16)


def test_serials_increase_and_differ(engine: TimeStampAuthority) -> None:
    serials = [engine.issue("sha256", bytes(32)).serial for _ in range(100)]
    assert len(set(serials)) == 100
    assert serials == sorted(serials)
    assert all(0 < s < 1 << 160 for s in serials)


def test_refuses_outside_certificate_validity(pki_p256: Path, tmp_path: Path) -> None:
    cert = x509.load_pem_x509_certificate((pki_p256 / "tsa.pem").read_bytes())
    after = int(cert.not_valid_after_utc.timestamp() * 1000) + 1
    engine = make_engine(pki_p256, tmp_path, clock=lambda: after)
    status = TimeStampResp.load(engine.respond(make_request()))["status"]
    assert status["status"].native == "rejection"
    assert status["fail_info"].native == {"system_failure"}
    assert "not valid" in status["status_string"].native[0]


def test_sm3_config_and_policy(pki_p256: Path, tmp_path: Path) -> None:
    engine = make_engine(pki_p256, tmp_path, TsaConfig(accept_sm3=True, policy="1.2.3.4.5"))
    _, tst, _ = _parts(engine.issue("sm3", b"\x11" * 32).response)
    assert tst["policy"].dotted == "1.2.3.4.5"
    assert tst["message_imprint"]["hash_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.401"


GOOD = make_request()


def _response_ok(response: bytes) -> str:
    status = TimeStampResp.load(response, strict=True)["status"]["status"].native
    assert status in ("granted", "rejection")
    return str(status)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(engine: TimeStampAuthority, data: bytes) -> None:
    assert _response_ok(engine.respond(data)) == "rejection"


@settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255), st.sampled_from("rid")),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_requests_never_crash(
    engine: TimeStampAuthority, edits: list[tuple[int, int, str]]
) -> None:
    data = bytearray(GOOD)
    for pos, value, op in edits:
        pos %= max(len(data), 1)
        if op == "r" and data:
            data[pos] = value
        elif op == "i":
            data.insert(pos, value)
        elif data:
            del data[pos]
    status = _response_ok(engine.respond(bytes(data)))
    if status == "granted":
        # Anything granted is a DER TimeStampReq that asn1crypto agrees with.
        parsed = tsp.TimeStampReq.load(bytes(data), strict=True)
        assert parsed.dump(force=True) == bytes(data)
        assert parsed["version"].native == "v1"
