"""gateway.store.token_pack: a token without its certificates, and back, byte for byte."""

from __future__ import annotations

import contextlib
import zlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from court.der import DerError, read_children, read_tlv, tlv
from gateway.store import token_pack
from gateway.tsa_certificates import embedded_certificates
from tests.support.token_surgery import element_at, replace
from tests.support.tsa_vectors import WITH_CERTIFICATES, WITHOUT_CERTIFICATES, vector_token

_CERTIFICATES = [1, 0, 3]  # ContentInfo.content[0] -> SignedData -> its fourth field


@pytest.mark.parametrize("rel", WITH_CERTIFICATES)
def test_a_third_party_token_round_trips(rel: str) -> None:
    token = vector_token(rel)
    cut = token_pack.strip(token)
    assert cut is not None
    stripped, certificates = cut
    assert certificates == element_at(token, _CERTIFICATES).encoded
    assert embedded_certificates(stripped) == ()
    assert len(stripped) + len(certificates) <= len(token)
    assert token_pack.splice(stripped, certificates) == token
    # The stripped token keeps every other field of SignedData, in order.
    fields = read_children(element_at(token, [1, 0]).contents)
    kept = read_children(element_at(stripped, [1, 0]).contents)
    assert [f.encoded for f in kept] == [f.encoded for i, f in enumerate(fields) if i != 3]


def test_tokens_of_one_tsa_share_one_set() -> None:
    cuts = [
        token_pack.strip(vector_token(f"sigstage/response-{name}.tsr"))
        for name in ("sha256", "sha384", "sha512", "invalid-signature")
    ]
    assert len({cut[1] for cut in cuts if cut is not None}) == 1
    assert len({cut[0] for cut in cuts if cut is not None}) == 4


@pytest.mark.parametrize("rel", WITHOUT_CERTIFICATES)
def test_a_token_without_certificates_is_kept_whole(rel: str) -> None:
    assert token_pack.strip(vector_token(rel)) is None


def _kept_whole() -> list[tuple[str, bytes]]:
    token = vector_token("test_tsa/response.tsr")
    ci, _ = read_tlv(token)
    assert token[1] == 0x82  # a two-octet length, for the non-minimal variant below
    longer = b"\x30\x83\x00" + token[2:]
    indefinite = b"\x30\x80" + ci.contents + b"\x00\x00"
    other_type = token.replace(
        bytes.fromhex("06092a864886f70d010702"), bytes.fromhex("06092a864886f70d010701"), 1
    )
    certificates = element_at(token, _CERTIFICATES)
    empty_set = replace(token, _CERTIFICATES, b"\xa0\x00")
    as_crls = replace(token, _CERTIFICATES, tlv(0xA1, certificates.contents))
    fields = read_children(element_at(token, [1, 0]).contents)
    without_third = b"".join(f.encoded for i, f in enumerate(fields) if i != 2)
    third_field_missing = replace(token, [1, 0], tlv(0x30, without_third))
    return [
        ("trailing byte", token + b"\x00"),
        ("non-minimal outer length", longer),
        ("indefinite length (BER)", indefinite),
        ("not signedData", other_type),
        ("empty certificate set", empty_set),
        ("certificates tagged as crls", as_crls),
        ("SignedData missing a leading field", third_field_missing),
        ("truncated", token[:-1]),
        ("empty", b""),
        ("not DER", b"token-1"),
        ("starts with 0x00", b"\x00\x30\x00"),
    ]


@pytest.mark.parametrize(("why", "token"), _kept_whole(), ids=[w for w, _ in _kept_whole()])
def test_unusual_tokens_are_kept_whole(why: str, token: bytes) -> None:
    assert token_pack.strip(token) is None
    assert token_pack.decode(token_pack.encode(token)) == (None, token, False)


def _fake_certificate(size: int, fill: int) -> bytes:
    return tlv(0x30, bytes([fill]) * size)


certificate_sets = st.lists(
    st.builds(
        _fake_certificate,
        st.one_of(st.integers(0, 300), st.sampled_from([127, 128, 255, 256, 65535, 65536])),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(certificate_sets, st.sampled_from(WITH_CERTIFICATES + WITHOUT_CERTIFICATES))
@example([_fake_certificate(70000, 1)], "sigstage/response-no-embedded-cert.tsr")
def test_random_certificate_sets_round_trip(certificates: list[bytes], rel: str) -> None:
    token = vector_token(rel)
    fields = read_children(element_at(token, [1, 0]).contents)
    if len(fields) > 3 and fields[3].tag == 0xA0:
        fields = fields[:3] + fields[4:]
    the_set = tlv(0xA0, b"".join(certificates))
    parts = [f.encoded for f in fields[:3]] + [the_set] + [f.encoded for f in fields[3:]]
    with_set = replace(token, [1, 0], tlv(0x30, b"".join(parts)))
    cut = token_pack.strip(with_set)
    assert cut is not None
    stripped, got = cut
    assert got == the_set
    assert token_pack.splice(stripped, got) == with_set
    assert token_pack.decode(token_pack.encode(stripped, 7)) == (7, stripped, False)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 1218), st.integers(0, 255), st.integers(0, 3))
def test_a_mutated_token_is_stripped_losslessly_or_kept_whole(
    position: int, value: int, cut_end: int
) -> None:
    token = vector_token("test_tsa/response.tsr")
    mutated = token[:position] + bytes([value]) + token[position + 1 :]
    mutated = mutated[: len(mutated) - cut_end]
    cut = token_pack.strip(mutated)
    if cut is not None:
        assert token_pack.splice(*cut) == mutated


@given(st.binary(max_size=64))
@example(b"\x00")
@example(b"\x00\x00")
@example(b"\x00\x02\x01\x05")
def test_any_bytes_stored_whole_read_back_as_they_were(token: bytes) -> None:
    assert token_pack.decode(token_pack.encode(token)) == (None, token, False)


@pytest.mark.parametrize("number", [1, 127, 128, 255, 256, (1 << 63) - 1])
def test_a_stripped_token_names_its_set(number: int) -> None:
    stripped, _ = token_pack.strip(vector_token("identrust/issue-104.tsr"))  # type: ignore[misc]
    stored = token_pack.encode(stripped, number)
    assert stored[0] == token_pack.MARK and stored[1] == 0x02
    assert token_pack.decode(stored) == (number, stripped, False)


@pytest.mark.parametrize("number", [0, -1, 1 << 63])
def test_a_set_number_out_of_range_is_refused(number: int) -> None:
    with pytest.raises(ValueError, match="certificate set number"):
        token_pack.encode(b"\x30\x00", number)


@pytest.mark.parametrize(
    ("stored", "match"),
    [
        (b"\x00\x05\x00", "neither escaped nor stripped"),
        (b"\x00", "neither escaped nor stripped"),
        (b"\x00\x02\x01\x00\x30\x00", "outside"),
        (b"\x00\x02\x01\xff\x30\x00", "outside"),
        (b"\x00\x02\x09\x00\x80" + bytes(7) + b"\x30\x00", "outside"),
        (b"\x00\x02\x05\x01", "truncated"),
        (b"\x00\x02\x02\x00\x01", "not minimally encoded"),
    ],
)
def test_a_malformed_stored_token_is_a_der_error(stored: bytes, match: str) -> None:
    with pytest.raises(DerError, match=match):
        token_pack.decode(stored)


def test_splice_refuses_what_strip_does_not_make() -> None:
    stripped, certificates = token_pack.strip(vector_token("test_tsa/response.tsr"))  # type: ignore[misc]
    with pytest.raises(DerError, match="one \\[0\\] element"):
        token_pack.splice(stripped, b"\x30\x00")
    with pytest.raises(DerError, match="one \\[0\\] element"):
        token_pack.splice(stripped, certificates + b"\x00")
    with pytest.raises(DerError):
        token_pack.splice(stripped[:-1], certificates)
    with pytest.raises(DerError, match="not signedData"):
        token_pack.splice(b"\x30\x03\x02\x01\x00", certificates)


def test_a_set_of_a_megabyte_is_cut_out_whole() -> None:
    token = vector_token("test_tsa/response.tsr")
    huge = tlv(0xA0, b"".join(_fake_certificate(1000, i % 256) for i in range(1000)))
    big = replace(token, _CERTIFICATES, huge)
    cut = token_pack.strip(big)
    assert cut is not None and cut[1] == huge
    assert len(cut[0]) < len(token)


# ------------------------------------------------------------ deflated against a template


def _stripped(rel: str) -> bytes:
    cut = token_pack.strip(vector_token(rel))
    assert cut is not None
    return cut[0]


def test_a_token_deflated_against_another_of_its_tsa_is_small_and_inflates_back() -> None:
    template = _stripped("sigstage/response-sha256.tsr")
    for name in ("sha384", "sha512", "invalid-signature"):
        stripped = _stripped(f"sigstage/response-{name}.tsr")
        data = token_pack.deflate(stripped, template)
        # All but the token's own fields (its RSA signature alone is 384 bytes).
        assert data is not None and len(data) < len(stripped) - 350
        assert token_pack.inflate(data, template) == stripped
        stored = token_pack.encode(data, 3, deflated=True)
        assert stored[:2] == bytes((token_pack.MARK, token_pack.DEFLATED))
        assert token_pack.decode(stored) == (3, data, True)
    # The template itself deflates to a back-reference.
    itself = token_pack.deflate(template, template)
    assert itself is not None and len(itself) < 16


@settings(max_examples=200)
@given(st.binary(max_size=2048), st.binary(max_size=2048))
def test_any_bytes_deflate_losslessly_or_not_at_all(data: bytes, template: bytes) -> None:
    packed = token_pack.deflate(data, template)
    if packed is not None:
        assert len(packed) < len(data)
        assert token_pack.inflate(packed, template) == data


def test_inflate_refuses_what_deflate_does_not_make() -> None:
    template = _stripped("sigstage/response-sha256.tsr")
    stripped = _stripped("sigstage/response-sha384.tsr")
    data = token_pack.deflate(stripped, template)
    assert data is not None
    with pytest.raises(DerError, match="truncated"):
        token_pack.inflate(data[:-3], template)
    with pytest.raises(DerError, match="followed by other bytes"):
        token_pack.inflate(data + b"\x00", template)
    with pytest.raises(DerError, match="corrupt"):
        token_pack.inflate(b"\xff" * 8, template)
    # Another template gives other bytes (or none): the set's own template is needed.
    other = _stripped("identrust/issue-104.tsr")
    with contextlib.suppress(DerError):
        assert token_pack.inflate(data, other) != stripped


def test_inflate_is_bounded() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = packer.compress(bytes(token_pack.MAX_INFLATED + 1)) + packer.flush()
    assert len(bomb) < 2048
    with pytest.raises(DerError, match="too long"):
        token_pack.inflate(bomb, b"")


def test_only_a_numbered_stripped_token_is_deflated() -> None:
    with pytest.raises(ValueError, match="only a stripped token"):
        token_pack.encode(b"\x30\x00", None, deflated=True)


@pytest.mark.parametrize(
    ("stored", "match"),
    [
        (b"\x00\x01", "neither escaped nor stripped"),
        (b"\x00\x01\x05\x01", "neither escaped nor stripped"),
        (b"\x00\x01\x02\x01\x00\x30", "outside"),
        (b"\x00\x01\x02\x05\x01", "truncated"),
    ],
)
def test_a_malformed_deflated_token_is_a_der_error(stored: bytes, match: str) -> None:
    with pytest.raises(DerError, match=match):
        token_pack.decode(stored)
