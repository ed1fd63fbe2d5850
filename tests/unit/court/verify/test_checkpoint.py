"""Court-side C2SP signed-note and checkpoint checks.

Interoperability with the Go reference (golang.org/x/mod/sumdb/note) and a
real sum.golang.org checkpoint; strict parsing; clear errors. Notes are signed
here with ``cryptography`` directly so that the court tests do not depend on
the gateway.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from court.errors import CourtError
from court.verify.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteSignature,
    encode_signed_note,
    encode_verifier_key,
    format_checkpoint_body,
    note_key_id,
    parse_checkpoint,
    parse_checkpoint_body,
    parse_signed_note,
    parse_verifier_key,
    verify_checkpoint,
    verify_note,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[3] / "fixtures" / "note" / "vectors.json").read_text(
        encoding="utf-8"
    )
)
PETER = VECTORS["peter_neumann"]
ENOCH = VECTORS["enoch_root"]
SUMDB = VECTORS["sumdb_checkpoint"]

ORIGIN = "court.example/log"
ROOT = bytes(range(32))


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _sign(text: str, key: Ed25519PrivateKey, name: str) -> str:
    sig = NoteSignature(name, note_key_id(name, _raw(key)), key.sign(text.encode()))
    return encode_signed_note(text, [sig])


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)


@pytest.fixture(scope="module")
def vkey(key: Ed25519PrivateKey) -> str:
    return encode_verifier_key(ORIGIN, _raw(key))


@pytest.fixture(scope="module")
def note(key: Ed25519PrivateKey) -> str:
    return _sign(format_checkpoint_body(ORIGIN, 42, ROOT, ["ext one"]), key, ORIGIN)


# ------------------------------------------------------------- interop (Go)


def test_go_verifier_key_parses() -> None:
    vk = parse_verifier_key(PETER["verifier_key"])
    assert vk.name == "PeterNeumann"
    assert vk.key_id.hex() == "c74f20a3"
    assert str(vk) == PETER["verifier_key"]
    assert note_key_id(vk.name, vk.public_key) == vk.key_id
    assert str(parse_verifier_key(ENOCH["verifier_key"])) == ENOCH["verifier_key"]


def test_go_signer_key_derives_the_go_verifier_key() -> None:
    seed = base64.b64decode(PETER["signer_key"].split("+", 4)[4])
    assert seed[0] == 0x01
    key = Ed25519PrivateKey.from_private_bytes(seed[1:])
    assert encode_verifier_key("PeterNeumann", _raw(key)) == PETER["verifier_key"]
    # Ed25519 is deterministic: the exact bytes of Go's note.Sign.
    assert _sign(PETER["text"], key, "PeterNeumann") == PETER["signed_note"]


def test_go_signed_note_verifies() -> None:
    parsed = verify_note(PETER["signed_note"], PETER["verifier_key"])
    assert parsed.text == PETER["text"]
    assert [s.name for s in parsed.signatures] == ["PeterNeumann"]
    # bytes input works the same way
    assert verify_note(PETER["signed_note"].encode(), PETER["verifier_key"]) == parsed


def test_go_doubly_signed_note_verifies_with_either_key() -> None:
    both = PETER["signed_note"] + ENOCH["signature_line"]
    assert len(verify_note(both, PETER["verifier_key"]).signatures) == 2
    assert len(verify_note(both, ENOCH["verifier_key"]).signatures) == 2


def test_go_verifier_key_manglings_are_rejected() -> None:
    # As TestNewVerifier: every proper substring and every single-byte change.
    vkey = PETER["verifier_key"]
    for i in range(len(vkey) + 1):
        for j in range(i + 1, len(vkey) + 1):
            if (i, j) != (0, len(vkey)):
                with pytest.raises(CheckpointError):
                    parse_verifier_key(vkey[i:j])
    for i in range(len(vkey)):
        changed = vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1 :]
        if changed.lower() == vkey.lower():  # hex digits are case-insensitive
            continue
        with pytest.raises(CheckpointError):
            parse_verifier_key(changed)
    # wrong key length / unknown algorithm, each with a matching key ID (from Go)
    for bad in (
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ):
        with pytest.raises(CheckpointError):
            parse_verifier_key(bad)


def test_go_malformed_notes_are_rejected() -> None:
    text, sig = PETER["text"], PETER["signed_note"][len(PETER["text"]) + 1 :]
    bad_messages = [
        text,
        text + "\n",
        text + "\n" + sig[:-1],
        "\x01" + text + "\n" + sig,
        text + "\n" + "\u2014 Bad Name " + sig.split(" ", 2)[2],
        text + "\n" + sig + "Unexpected line.\n",
        text + "\n" + sig * 101,
    ]
    for msg in bad_messages:
        with pytest.raises(CheckpointError):
            verify_note(msg, PETER["verifier_key"])
    with pytest.raises(CheckpointError, match="UTF-8"):
        verify_note(b"\xff" + (text + "\n" + sig).encode(), PETER["verifier_key"])


def test_go_invalid_signature_is_rejected() -> None:
    text, sig = PETER["text"], PETER["signed_note"][len(PETER["text"]) + 1 :]
    with pytest.raises(CheckpointError, match="invalid signature by key PeterNeumann"):
        verify_note(text + "\n" + sig[:60] + "ABCD" + sig[60:], PETER["verifier_key"])


def test_real_sumdb_checkpoint_verifies() -> None:
    cp = verify_checkpoint(SUMDB["signed_note"], SUMDB["verifier_key"], origin=SUMDB["origin"])
    assert cp.origin == "go.sum database tree"
    assert cp.size == SUMDB["size"] == 6476701
    assert cp.root_hash == base64.b64decode(SUMDB["root_hash_b64"])
    assert cp.extensions == ()
    assert cp.body + "\n" + cp.signatures[0].line() == SUMDB["signed_note"]
    assert parse_checkpoint(SUMDB["signed_note"]) == cp
    # By default the origin must equal the key name; sumdb's does not.
    with pytest.raises(CheckpointError, match=r"origin 'go\.sum database tree'"):
        verify_checkpoint(SUMDB["signed_note"], SUMDB["verifier_key"])
    with pytest.raises(CheckpointError, match="origin"):
        verify_checkpoint(SUMDB["signed_note"], SUMDB["verifier_key"], origin="Go rocks")
    tampered = SUMDB["signed_note"].replace("6476701", "6476702")
    with pytest.raises(CheckpointError, match="invalid signature"):
        verify_checkpoint(tampered, SUMDB["verifier_key"], origin=SUMDB["origin"])


# -------------------------------------------------------------- round trip


def test_round_trip(note: str, vkey: str) -> None:
    cp = verify_checkpoint(note, vkey)
    assert cp == Checkpoint(ORIGIN, 42, ROOT, ("ext one",), cp.signatures)
    assert note.startswith(f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\next one\n\n\u2014 ")
    assert parse_checkpoint(note) == cp
    assert parse_signed_note(note).text == cp.body


def test_errors_are_court_errors() -> None:
    assert issubclass(CheckpointError, CourtError)


def test_wrong_key(note: str) -> None:
    other = Ed25519PrivateKey.from_private_bytes(b"\x08" * 32)
    with pytest.raises(CheckpointError, match=r"signed by 'court.example/log' with key ID"):
        verify_checkpoint(note, encode_verifier_key(ORIGIN, _raw(other)))
    with pytest.raises(CheckpointError, match=r"no signature by key 'someone.else'"):
        verify_checkpoint(note, encode_verifier_key("someone.else", _raw(other)))


def test_wrong_origin(key: Ed25519PrivateKey, vkey: str) -> None:
    other = _sign(format_checkpoint_body("evil.example/log", 42, ROOT), key, ORIGIN)
    with pytest.raises(CheckpointError, match=r"origin 'evil\.example/log' is not the expected"):
        verify_checkpoint(other, vkey)
    with pytest.raises(CheckpointError, match="origin"):
        verify_checkpoint(
            _sign(format_checkpoint_body(ORIGIN, 1, ROOT), key, ORIGIN), vkey, origin="x"
        )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n42\n", "\n43\n"),
        ("\n42\n", "\n4\n"),
        (base64.b64encode(ROOT).decode()[:10], base64.b64encode(ROOT).decode()[:9] + "Z"),
        ("ext one", "ext two"),
        ("court.example/log\n", "court.example/loh\n"),
    ],
)
def test_modified_body_fails_the_signature(note: str, vkey: str, old: str, new: str) -> None:
    tampered = note.replace(old, new, 1)
    assert tampered != note
    with pytest.raises(CheckpointError):
        verify_checkpoint(tampered, vkey, origin="court.example/loh" if "loh" in new else None)


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        ("\n42\n", "\n42 \n", "tree size"),
        ("\n42\n", "\n 42\n", "tree size"),
        ("\n42\n", "\n042\n", "leading zeros"),
        ("\n42\n", "\n+42\n", "tree size"),
        ("\n42\n", "\n\uff14\uff12\n", "tree size"),  # full-width digits
        ("ext one\n", "ext one\n\n", "empty"),
        ("court.example/log\n42", "court.example/log \n42", "whitespace"),
        ("\n\n\u2014", "\n\n\n\u2014", "empty"),
        ("ext one\n", "ext\tone\n", "control character"),
        ("ext one\n", "ext one\r\n", "control character"),
    ],
)
def test_extra_whitespace_is_rejected(note: str, vkey: str, old: str, new: str, why: str) -> None:
    tampered = note.replace(old, new, 1)
    assert tampered != note
    with pytest.raises(CheckpointError, match=why):
        parse_checkpoint(tampered)
    with pytest.raises(CheckpointError):
        verify_checkpoint(tampered, vkey)


def test_signature_block_whitespace_is_rejected(note: str, vkey: str) -> None:
    for bad in (
        note[:-1] + " \n",  # trailing space after the signature
        note[:-1],  # no final newline
        note + "\n",  # blank line after the signatures
        note.replace("\u2014 ", "\u2014  ", 1),  # two spaces after the dash
        note.replace("\u2014 ", "- ", 1),  # hyphen instead of em dash
    ):
        with pytest.raises(CheckpointError):
            verify_checkpoint(bad, vkey)


def test_unknown_signatures_are_ignored_but_kept(
    key: Ed25519PrivateKey, note: str, vkey: str
) -> None:
    witness = Ed25519PrivateKey.from_private_bytes(b"\x09" * 32)
    body = parse_signed_note(note).text
    cosig = _sign(body, witness, "witness.example")
    both = note + cosig[len(body) + 1 :]
    cp = verify_checkpoint(both, vkey)
    assert [s.name for s in cp.signatures] == [ORIGIN, "witness.example"]
    # The witness' key verifies the same note (with the witness' origin expectation).
    wkey = encode_verifier_key("witness.example", _raw(witness))
    assert verify_checkpoint(both, wkey, origin=ORIGIN).size == 42


def test_a_bad_signature_by_the_expected_key_is_fatal(note: str, vkey: str) -> None:
    good_line = note.split("\n\n")[-1]
    bad = NoteSignature(ORIGIN, parse_verifier_key(vkey).key_id, b"\x00" * 64).line()
    with pytest.raises(CheckpointError, match="invalid signature"):
        verify_checkpoint(note + bad, vkey)
    with pytest.raises(CheckpointError, match="invalid signature"):
        verify_checkpoint(note.replace(good_line, bad + good_line), vkey)


def test_strict_root_hash() -> None:
    root_b64 = base64.b64encode(ROOT).decode()
    body = f"{ORIGIN}\n42\n{root_b64}\n"
    assert parse_checkpoint_body(body) == (ORIGIN, 42, ROOT, ())
    short = base64.b64encode(ROOT[:31]).decode()
    with pytest.raises(CheckpointError, match="31 bytes"):
        parse_checkpoint_body(f"{ORIGIN}\n42\n{short}\n")
    noncanonical = root_b64[:-2] + chr(ord(root_b64[-2]) + 1) + "="
    assert base64.b64decode(noncanonical) == ROOT  # same bytes, other spelling
    with pytest.raises(CheckpointError, match="canonical"):
        parse_checkpoint_body(f"{ORIGIN}\n42\n{noncanonical}\n")
    with pytest.raises(CheckpointError, match="base64"):
        parse_checkpoint_body(f"{ORIGIN}\n42\n{root_b64.rstrip('=')}\n")
    with pytest.raises(CheckpointError, match="lines"):
        parse_checkpoint_body(f"{ORIGIN}\n42\n")
    with pytest.raises(CheckpointError, match="newline"):
        parse_checkpoint_body(f"{ORIGIN}\n42\n{root_b64}")
    with pytest.raises(CheckpointError, match="2\\^64"):
        parse_checkpoint_body(f"{ORIGIN}\n{1 << 64}\n{root_b64}\n")
    assert parse_checkpoint_body(f"{ORIGIN}\n0\n{root_b64}\n")[1] == 0


def test_format_checkpoint_body_validates() -> None:
    assert format_checkpoint_body("o", 0, ROOT) == f"o\n0\n{base64.b64encode(ROOT).decode()}\n"
    for args in (
        ("", 1, ROOT, ()),
        ("a\nb", 1, ROOT, ()),
        (" o", 1, ROOT, ()),
        ("o", -1, ROOT, ()),
        ("o", 1 << 64, ROOT, ()),
        ("o", True, ROOT, ()),
        ("o", 1, ROOT[:31], ()),
        ("o", 1, ROOT, ("",)),
        ("o", 1, ROOT, ("a\nb",)),
    ):
        with pytest.raises(CheckpointError):
            format_checkpoint_body(*args)


def test_verifier_key_errors_are_named() -> None:
    with pytest.raises(CheckpointError, match="form"):
        parse_verifier_key("no-plus-signs")
    with pytest.raises(CheckpointError, match="8 hex digits"):
        parse_verifier_key("name+c74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    with pytest.raises(CheckpointError, match="does not match"):
        parse_verifier_key("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    with pytest.raises(CheckpointError, match="does not match"):
        parse_verifier_key("PeterNeuman+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    with pytest.raises(CheckpointError, match="signature type 0x02"):
        parse_verifier_key("n+00000000+" + base64.b64encode(b"\x02" + b"k" * 32).decode())
    with pytest.raises(CheckpointError):
        parse_verifier_key(None)  # type: ignore[arg-type]
    with pytest.raises(CheckpointError, match="space"):
        encode_verifier_key("a b", b"k" * 32)


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ("9" * 4301, "4301 digits"),  # int() would raise ValueError (the 4,300-digit limit)
        ("1" + "0" * 100_000, "100001 digits"),
        ("1" + "0" * 20, "21 digits"),
        (str(1 << 64), "exceeds 2\\^64-1"),  # 20 digits, one too many
    ],
)
def test_a_huge_tree_size_is_a_named_failure(
    key: Ed25519PrivateKey, vkey: str, size: str, message: str
) -> None:
    root_b64 = base64.b64encode(ROOT).decode()
    body = f"{ORIGIN}\n{size}\n{root_b64}\n"
    with pytest.raises(CheckpointError, match=message) as caught:
        parse_checkpoint_body(body)
    assert len(str(caught.value)) < 200  # the digits are not repeated
    with pytest.raises(CheckpointError, match=message):
        parse_checkpoint(_sign(body, key, ORIGIN))
    with pytest.raises(CheckpointError, match=message):
        verify_checkpoint(_sign(body, key, ORIGIN), vkey)  # even when the signature is good


def test_the_largest_tree_size_parses() -> None:
    root_b64 = base64.b64encode(ROOT).decode()
    assert parse_checkpoint_body(f"{ORIGIN}\n{(1 << 64) - 1}\n{root_b64}\n")[1] == (1 << 64) - 1


def test_error_messages_quote_input_shortly(key: Ed25519PrivateKey, vkey: str) -> None:
    long_origin = "o" * 10_000 + " "
    with pytest.raises(CheckpointError, match=r"\(10001 characters\)") as caught:
        parse_checkpoint_body(f"{long_origin}\n1\n{base64.b64encode(ROOT).decode()}\n")
    assert len(str(caught.value)) < 200
    with pytest.raises(CheckpointError, match="not valid base64") as caught:
        parse_checkpoint_body(f"{ORIGIN}\n1\n{'!' * 100_000}\n")
    assert len(str(caught.value)) < 200


# ------------------------------------------- key IDs (c2sp.org/signed-note, tlog-cosignature)


def _cosignature_line(body: str, key: Ed25519PrivateKey, name: str, timestamp: int) -> str:
    """A tlog-cosignature/v1 line: key ID with type 0x04, then timestamp and signature."""
    key_id = hashlib.sha256(name.encode() + b"\n\x04" + _raw(key)).digest()[:4]
    message = f"cosignature/v1\ntime {timestamp}\n{body}".encode()
    raw = key_id + timestamp.to_bytes(8, "big") + key.sign(message)
    return f"\u2014 {name} {base64.b64encode(raw).decode()}\n"


def test_a_signature_with_the_same_name_and_another_key_id_is_not_by_the_key(
    key: Ed25519PrivateKey, note: str, vkey: str
) -> None:
    """C2SP signed-note: a verifier identifies its key by name AND key ID. A line with the
    same name and another key ID is not a signature by that key: it is ignored when a
    signature by the key is present, and it never counts as one."""
    other = Ed25519PrivateKey.from_private_bytes(b"\x08" * 32)  # a real second key
    other_vkey = encode_verifier_key(ORIGIN, _raw(other))  # under the same name
    ours, theirs = parse_verifier_key(vkey).key_id, parse_verifier_key(other_vkey).key_id
    assert ours != theirs
    body = parse_signed_note(note).text
    other_line = _sign(body, other, ORIGIN)[len(body) + 1 :]

    # Signed by both keys under one name, in either order: each key finds its own.
    for both in (note + other_line, body + "\n" + other_line + note[len(body) + 1 :]):
        assert verify_checkpoint(both, vkey).size == 42
        assert verify_checkpoint(both, other_vkey).size == 42
        assert {s.key_id for s in parse_checkpoint(both).signatures} == {ours, theirs}

    # A bad signature under the other key ID beside ours: not ours, so ignored.
    junk = NoteSignature(ORIGIN, theirs, b"\x00" * 64).line()
    assert verify_checkpoint(note + junk, vkey).size == 42

    # Only the other key signed: there is no signature by the expected key.
    with pytest.raises(CheckpointError, match=f"with key ID {theirs.hex()}, not with the expected"):
        verify_checkpoint(body + "\n" + other_line, vkey)

    # Our signature bytes under the other key ID: not a signature by our key either,
    # and for the other key it is an invalid signature by it.
    ours_signature = parse_signed_note(note).signatures[0].signature
    relabelled = body + "\n" + NoteSignature(ORIGIN, theirs, ours_signature).line()
    with pytest.raises(CheckpointError, match="not with the expected key"):
        verify_checkpoint(relabelled, vkey)
    with pytest.raises(CheckpointError, match="invalid signature"):
        verify_checkpoint(relabelled, other_vkey)


def test_a_cosignature_with_the_same_name_is_ignored(
    key: Ed25519PrivateKey, note: str, vkey: str
) -> None:
    """A tlog-cosignature/v1 line under the log's own name has another key ID (signature
    type 0x04), whether by a second key or by the log's key itself: it is not an Ed25519
    note signature by the log key, so it is ignored, never checked as one."""
    body = parse_signed_note(note).text
    witness = Ed25519PrivateKey.from_private_bytes(b"\x09" * 32)
    for cosigner in (witness, key):
        line = _cosignature_line(body, cosigner, ORIGIN, 1_700_000_000)
        cosigned = note + line
        checkpoint = verify_checkpoint(cosigned, vkey)
        assert checkpoint.size == 42 and len(checkpoint.signatures) == 2
        assert checkpoint.signatures[1].key_id != parse_verifier_key(vkey).key_id
        with pytest.raises(CheckpointError, match="not with the expected key"):
            verify_checkpoint(body + "\n" + line, vkey)  # a cosignature alone is not enough
