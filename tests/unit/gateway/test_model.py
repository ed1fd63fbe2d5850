"""Field rules of a submission (the proto's documented bounds), entry ids and errors."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from evidence_gateway.v1 import common_pb2
from gateway.api.errors import MAX_RULE_CHARS
from gateway.errors import InvalidArgument, NotFound
from gateway.model import (
    ENTRY_ID_PATTERN,
    GATEWAY_KINDS,
    EvidenceKind,
    Submission,
    is_valid_entry_id,
    new_entry_id,
    new_entry_ids,
    validate_submission,
)

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
GOOD = Submission(
    institution="bank-a",
    request_id="0b5e2f1c-9a4e-4f4e-8d55-2a1f5c3e7b10",
    loan_ref="loan/2024:001.a-b",
    kind=EvidenceKind.LOAN_CONTRACT,
    hash_algorithm="sha256",
    digest=b"\x01" * 32,
    occurred_at=NOW - timedelta(days=400),
    metadata=(("agency", "a-17"), ("channel", "sms")),
    supersedes=None,
)


def fields(s: Submission) -> list[str]:
    return [f for f, _ in validate_submission(s, NOW)]


def test_good_submission_passes() -> None:
    assert validate_submission(GOOD, NOW) == []
    for alg, size in (("sha384", 48), ("sha512", 64), ("sm3", 32)):
        assert fields(replace(GOOD, hash_algorithm=alg, digest=b"\x00" * size)) == []
    assert fields(replace(GOOD, supersedes="abc_DEF-123")) == []
    assert fields(replace(GOOD, occurred_at=NOW + timedelta(minutes=5))) == []
    assert fields(replace(GOOD, metadata=(("k", "v" * 256),))) == []
    assert fields(replace(GOOD, metadata=tuple((f"k{i:02d}", "") for i in range(16)))) == []


@pytest.mark.parametrize(("alg", "size"), [("sha256", 32), ("sha512", 64), ("sm3", 32)])
def test_a_digest_of_its_hex_text_s_length_is_told_to_send_base64_of_the_raw_bytes(
    alg: str, size: int
) -> None:
    """The base64 of the hex text (what a JSON client sends by mistake) decodes to twice
    the digest's size: the rule says what JSON wants instead."""
    hex_text = hashlib.new("sha512" if alg == "sha512" else "sha256", b"x").hexdigest()
    (problem,) = validate_submission(
        replace(GOOD, hash_algorithm=alg, digest=hex_text[: 2 * size].encode()), NOW
    )
    assert problem[0] == "digest"
    assert f"got {2 * size}, the length of its hex text" in problem[1]
    assert "the base64 of the raw digest" in problem[1]
    assert len(problem[1]) <= 240  # shown whole (gateway.api.errors.MAX_RULE_CHARS)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"request_id": ""}, "request_id"),
        ({"request_id": "x" * 129}, "request_id"),
        ({"request_id": "has space"}, "request_id"),
        ({"loan_ref": ""}, "loan_ref"),
        ({"loan_ref": "张三"}, "loan_ref"),
        ({"loan_ref": "x" * 129}, "loan_ref"),
        ({"institution": ""}, "institution"),
        ({"kind": "unknown"}, "kind"),
        ({"hash_algorithm": "md5"}, "hash_algorithm"),
        ({"hash_algorithm": ""}, "hash_algorithm"),
        ({"digest": b"\x00" * 31}, "digest"),
        ({"digest": b"ab" * 32}, "digest"),
        ({"hash_algorithm": "sha384"}, "digest"),
        ({"occurred_at": NOW + timedelta(minutes=5, seconds=1)}, "occurred_at"),
        ({"occurred_at": datetime(2024, 1, 1)}, "occurred_at"),
        ({"metadata": tuple((f"k{i:02d}", "") for i in range(17))}, "metadata"),
        ({"metadata": (("b", "1"), ("a", "2"))}, "metadata"),
        ({"metadata": (("a", "1"), ("a", "2"))}, "metadata"),
        ({"metadata": (("UPPER", "1"),)}, "metadata[UPPER]"),
        ({"metadata": (("k" * 65, "1"),)}, "metadata[" + "k" * 65 + "]"),
        ({"metadata": (("k", "é" * 129),)}, "metadata[k]"),
        ({"supersedes": ""}, "supersedes"),
        ({"supersedes": "x" * 65}, "supersedes"),
        ({"supersedes": "bad/id"}, "supersedes"),
    ],
)
def test_each_rule_names_its_field(changes: dict[str, object], field: str) -> None:
    assert fields(replace(GOOD, **changes)) == [field]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"occurred_at": datetime(1970, 1, 1, tzinfo=UTC)},
        {"occurred_at": NOW + timedelta(days=1)},
        {"loan_ref": "11010519491231002X"},
        {"metadata": (("k", "11010519491231002X"),)},
        {"metadata": (("k", "6222 0212 3456 7890 128"),)},
        {"kind": "unknown"},
        {"hash_algorithm": "md5"},
        {"digest": b""},
        {"digest": b"ab" * 32},
        {"request_id": ""},
        {"loan_ref": ""},
        {"supersedes": "bad/id"},
    ],
)
def test_every_rule_is_shown_whole(changes: dict[str, object]) -> None:
    """A rule longer than an error shows (MAX_RULE_CHARS) would reach the caller cut, with
    its advice lost."""
    problems = validate_submission(replace(GOOD, **changes), NOW)  # type: ignore[arg-type]
    assert problems
    for field, rule in problems:
        assert len(rule) <= MAX_RULE_CHARS, (field, len(rule), rule)


def test_kind_and_algorithm_rules_name_the_api_enum_values() -> None:
    """A JSON client (buf curl, grpc-js with enums as strings) sends the proto names."""
    ((_, kind_rule),) = validate_submission(replace(GOOD, kind="unknown"), NOW)
    for number, name in ((1, "EVIDENCE_KIND_LOAN_CONTRACT"), (11, "EVIDENCE_KIND_OTHER")):
        assert f"{name} ({number})" in kind_rule
        assert common_pb2.EvidenceKind.Value(name) == number
    # The rule names what a client may send: 12 and above are the gateway's own kinds.
    gateway_own = {common_pb2.EvidenceKind.Value("EVIDENCE_KIND_" + k.name) for k in GATEWAY_KINDS}
    assert gateway_own == set(range(12, 30))
    assert max(set(common_pb2.EvidenceKind.values()) - gateway_own) == 11
    ((_, alg_rule),) = validate_submission(replace(GOOD, hash_algorithm="md5"), NOW)
    named = sorted(w.strip(",") for w in alg_rule.split() if w.startswith("HASH_ALGORITHM_"))
    names = common_pb2.HashAlgorithm.DESCRIPTOR.values_by_name
    wanted = sorted(n for n in names if not n.endswith("UNSPECIFIED"))
    assert named == wanted


def test_an_empty_digest_is_required_not_hex() -> None:
    ((field, rule),) = validate_submission(replace(GOOD, digest=b""), NOW)
    assert (field, rule) == ("digest", "is required: the 32 raw bytes of the sha256 digest")


def test_several_problems_are_all_reported() -> None:
    bad = replace(GOOD, request_id="", digest=b"", hash_algorithm="sha1")
    assert fields(bad) == ["request_id", "hash_algorithm", "digest"]


def test_occurred_at_in_another_timezone_is_compared_as_an_instant() -> None:
    beijing = timezone(timedelta(hours=8))
    assert fields(replace(GOOD, occurred_at=(NOW + timedelta(minutes=4)).astimezone(beijing))) == []


def test_entry_ids() -> None:
    ids = {new_entry_id() for _ in range(100)} | set(new_entry_ids(100))
    assert len(ids) == 200
    assert all(ENTRY_ID_PATTERN.fullmatch(i) and len(i) == 26 for i in ids)
    assert is_valid_entry_id("a" * 64) and not is_valid_entry_id("a" * 65)
    assert not is_valid_entry_id("") and not is_valid_entry_id("a.b")


def test_errors_carry_what_to_do() -> None:
    err = InvalidArgument([("digest", "must be 32 bytes")])
    assert err.violations == [("digest", "must be 32 bytes")]
    assert "digest" in str(err)
    assert NotFound("x") == NotFound("x") and NotFound("x") != NotFound("y")


def test_huge_or_many_metadata_keys_are_reported_boundedly() -> None:
    """Bad input is named, never echoed at length (gRPC caps error details at 16 KiB)."""
    ((path, _),) = validate_submission(replace(GOOD, metadata=(("K" * 20_000, "v"),)), NOW)
    assert path == "metadata[" + "K" * 128 + "…]"
    many = replace(GOOD, metadata=tuple((f"BAD{i:05d}", "v") for i in range(5000)))
    assert validate_submission(many, NOW) == [
        ("metadata", "has 5000 entries; at most 16 are allowed")
    ]
    message = str(InvalidArgument([(f"field{i}", "bad") for i in range(40)]))
    assert "(field0, field1, field2, field3, field4 and 35 more)" in message


# ------------------------------------------------------------------ occurred_at bounds

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "occurred",
    [
        EPOCH,  # a zero or empty Timestamp
        EPOCH + timedelta(seconds=1_717_171),  # seconds taken for milliseconds: 1970-01-20
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
    ],
)
def test_occurred_at_before_the_floor_is_refused(occurred: datetime) -> None:
    problems = validate_submission(replace(GOOD, occurred_at=occurred), NOW)
    assert [f for f, _ in problems] == ["occurred_at"]
    description = problems[0][1]
    assert description.startswith("must not be before 2000-01-01T00:00:00Z")
    assert "min_occurred_at" in description and "1970-01-01" in description


def test_the_floor_itself_and_a_configured_floor() -> None:
    floor = datetime(2000, 1, 1, tzinfo=UTC)
    assert validate_submission(replace(GOOD, occurred_at=floor), NOW) == []
    old = replace(GOOD, occurred_at=datetime(1995, 6, 1, tzinfo=UTC))
    assert fields(old) == ["occurred_at"]
    assert validate_submission(old, NOW, datetime(1990, 1, 1, tzinfo=UTC)) == []
    later = validate_submission(GOOD, NOW, NOW - timedelta(days=1))  # GOOD is 400 days old
    assert later[0][1].startswith("must not be before 2024-12-31T12:00:00Z")


def test_occurred_at_in_the_future_names_the_rule() -> None:
    problems = validate_submission(replace(GOOD, occurred_at=NOW + timedelta(days=365)), NOW)
    assert problems == [
        (
            "occurred_at",
            "must not be more than 5 minutes after the gateway's clock (rule: no future "
            "times); check the client's clock, and that seconds are not milliseconds",
        )
    ]


# ------------------------------------------------------------------ personal data

ID_NUMBER = "11010519491231002X"  # the example of GB 11643-1999 (valid check character)
MOBILE = "13812345678"
CARD = "4111111111111111"  # passes Luhn


@pytest.mark.parametrize(
    ("loan_ref", "rule"),
    [
        (ID_NUMBER, "resident identity number (18 characters"),
        (f"loan/{ID_NUMBER}", "resident identity number (18 characters"),
        ("110105491231002", "resident identity number (old 15-digit form)"),
        (MOBILE, "mobile phone number"),
        (f"86-{MOBILE[:3]}-{MOBILE[3:7]}-{MOBILE[7:]}", "mobile phone number"),
        (CARD, "bank card number"),
        (f"card:{CARD}", "bank card number"),
    ],
)
def test_loan_ref_with_personal_data_is_refused(loan_ref: str, rule: str) -> None:
    problems = validate_submission(replace(GOOD, loan_ref=loan_ref), NOW)
    assert [f for f, _ in problems] == ["loan_ref"]
    description = problems[0][1]
    assert description.startswith("must not contain personal data")
    assert rule in description and "docs/leaf-format.md" in description
    for digits in (ID_NUMBER, ID_NUMBER[:17], "110105491231002", MOBILE, CARD):
        assert digits not in description


@pytest.mark.parametrize(
    "loan_ref",
    [
        "20240615000012345678",  # a 20-digit loan number
        ID_NUMBER[:17] + "1",  # 18 digits with a wrong check digit
        "LN" + CARD,  # letters glued on: the documented way to keep a long number
        "loan-0001",
        "branch-07/2024/loan:000123.a",
    ],
)
def test_loan_refs_that_look_alike_are_accepted(loan_ref: str) -> None:
    assert validate_submission(replace(GOOD, loan_ref=loan_ref), NOW) == []


def test_metadata_with_personal_data_is_refused_without_the_value() -> None:
    value = f"borrower called from {MOBILE[:3]} {MOBILE[3:7]} {MOBILE[7:]}"
    problems = validate_submission(replace(GOOD, metadata=(("note", value),)), NOW)
    assert [f for f, _ in problems] == ["metadata[note]"]
    assert problems[0][1].startswith("value must not contain personal data")
    assert "mobile phone number" in problems[0][1] and MOBILE[3:7] not in problems[0][1]
    # A key that is a number is not repeated in the path either.
    keyed = validate_submission(replace(GOOD, metadata=((CARD, "x"),)), NOW)
    assert keyed == [(keyed[0][0], keyed[0][1])] and keyed[0][0] == "metadata"
    assert keyed[0][1].startswith("a key must not contain personal data")
    assert CARD not in keyed[0][1]
    # Full-width digits in a value are digits.
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in ID_NUMBER)
    refused = validate_submission(replace(GOOD, metadata=(("id", fullwidth),)), NOW)
    assert [f for f, _ in refused] == ["metadata[id]"]
