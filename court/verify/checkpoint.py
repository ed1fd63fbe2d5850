"""C2SP signed notes and transparency-log checkpoints (Ed25519).

Formats, as specified at c2sp.org/signed-note and c2sp.org/tlog-checkpoint:

* A **signed note** is a text ending in a newline, a blank line, then one or
  more signature lines ``— <key name> <base64(key ID || signature)>``. The
  whole note is UTF-8 without ASCII control characters other than newline.
* A **checkpoint** is a note whose text is: the log's origin line, the tree
  size in decimal (no leading zeros), the base64 root hash, then optional
  non-empty extension lines.
* A **verifier key** is ``<name>+<hex key ID>+<base64(0x01 || Ed25519 key)>``
  where the key ID is ``SHA-256(name || 0x0A || 0x01 || key)[:4]``.

Parsing is strict: whatever the formatter here would not produce byte for byte
(non-canonical base64, leading zeros, stray or missing whitespace, empty
lines in the text) is rejected with a :class:`CheckpointError` naming the
problem. The root hash must be 32 bytes (SHA-256, RFC 6962).

Signature checking follows the note spec: signatures by other keys (witness
cosignatures, rotated keys) are ignored, but a signature that claims to be by
the expected key (same name and key ID) must verify or the note is rejected,
and at least one signature by the expected key is required.

A :class:`CheckpointCache` (bounded, for a long-lived verifier) keeps the
checkpoints :func:`verify_checkpoint` accepted, by the exact note text and
key: a note is immutable, so its signature is checked once, not at every
verification that shows it. A note that does not verify is not kept.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from court.errors import CourtError
from court.verify.bounded import BoundedCache
from court.verify.rfc6962 import HASH_SIZE

__all__ = [
    "ED25519_SIGNATURE_TYPE",
    "MAX_SIGNATURES",
    "Checkpoint",
    "CheckpointCache",
    "CheckpointError",
    "NoteSignature",
    "SignedNote",
    "VerifierKey",
    "encode_signed_note",
    "encode_verifier_key",
    "format_checkpoint_body",
    "note_key_id",
    "parse_checkpoint",
    "parse_checkpoint_body",
    "parse_signed_note",
    "parse_verifier_key",
    "verify_checkpoint",
    "verify_note",
]

ED25519_SIGNATURE_TYPE = 0x01
"""Signature type identifier byte of Ed25519 note signatures."""

MAX_SIGNATURES = 100
"""Notes with more signature lines are rejected (the spec requires at least 16)."""

_ED25519_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64
_KEY_ID_SIZE = 4
_SIG_PREFIX = "\u2014 "  # em dash, space
_MAX_UINT64 = (1 << 64) - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_HEX8 = re.compile(r"[0-9a-fA-F]{8}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_MAX_SIZE_DIGITS = len(str(_MAX_UINT64))  # 20
_QUOTED_CHARS = 64


class CheckpointError(CourtError):
    """A signed note, checkpoint or verifier key is malformed or does not verify."""


# ------------------------------------------------------------------ data types


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line of a note (not necessarily verified)."""

    name: str
    key_id: bytes
    """The 4-byte key ID (big-endian uint32 in the spec)."""
    signature: bytes
    """The signature proper, without the key ID."""

    def line(self) -> str:
        """The signature line, with its final newline."""
        b64 = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{_SIG_PREFIX}{self.name} {b64}\n"


@dataclass(frozen=True, slots=True)
class SignedNote:
    """A note text and its signature lines."""

    text: str
    """The signed text, including its final newline."""
    signatures: tuple[NoteSignature, ...]


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A parsed C2SP Ed25519 verifier key."""

    name: str
    key_id: bytes
    public_key: bytes
    """The raw 32-byte Ed25519 public key."""

    def __str__(self) -> str:
        return encode_verifier_key(self.name, self.public_key)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A parsed tlog checkpoint."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...]
    signatures: tuple[NoteSignature, ...]

    @property
    def body(self) -> str:
        """The note text that the signatures sign."""
        return format_checkpoint_body(self.origin, self.size, self.root_hash, self.extensions)


# ------------------------------------------------------------------- helpers


def _q(value: object) -> str:
    """``repr`` of a value from the input for an error message, at most 64 characters of it."""
    if isinstance(value, str) and len(value) > _QUOTED_CHARS:
        return f"{value[:_QUOTED_CHARS]!r}… ({len(value)} characters)"
    if isinstance(value, int) and value.bit_length() > 64:
        return f"(an integer of {value.bit_length()} bits)"  # repr() refuses > 4,300 digits
    return repr(value)


def _b64decode_canonical(what: str, value: str) -> bytes:
    """Decode standard padded base64, accepting only its canonical encoding."""
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise CheckpointError(f"{what} is not valid base64: {_q(value)}") from None
    if base64.b64encode(raw).decode("ascii") != value:
        raise CheckpointError(f"{what} is not canonical base64: {_q(value)}")
    return raw


def _check_name(what: str, name: str) -> None:
    if not name:
        raise CheckpointError(f"{what} is empty")
    if "+" in name or any(c.isspace() for c in name):
        raise CheckpointError(f"{what} {_q(name)} contains a space or '+'")
    if _CONTROL.search(name) or "\n" in name:
        raise CheckpointError(f"{what} {_q(name)} contains a control character")


def note_key_id(name: str, public_key: bytes) -> bytes:
    """Return the 4-byte key ID of an Ed25519 note key.

    ``SHA-256(name || 0x0A || 0x01 || public_key)[:4]`` (c2sp.org/signed-note).
    """
    data = name.encode("utf-8") + b"\n" + bytes([ED25519_SIGNATURE_TYPE]) + public_key
    return hashlib.sha256(data).digest()[:_KEY_ID_SIZE]


def encode_verifier_key(name: str, public_key: bytes) -> str:
    """Return the verifier key string ``<name>+<hex key ID>+<base64(0x01||key)>``."""
    _check_name("key name", name)
    if len(public_key) != _ED25519_KEY_SIZE:
        raise CheckpointError(f"Ed25519 public key is {len(public_key)} bytes, want 32")
    key = base64.b64encode(bytes([ED25519_SIGNATURE_TYPE]) + public_key).decode("ascii")
    return f"{name}+{note_key_id(name, public_key).hex()}+{key}"


def parse_verifier_key(verifier_key: str) -> VerifierKey:
    """Parse and check a C2SP Ed25519 verifier key string.

    Checks the name syntax, that the key is an Ed25519 key (type byte 0x01 and
    32 bytes) and that the key ID matches the name and key.
    """
    if not isinstance(verifier_key, str):
        raise CheckpointError("verifier key must be a string")
    parts = verifier_key.split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("verifier key is not of the form <name>+<key ID>+<key>")
    name, key_id_hex, key_b64 = parts
    _check_name("verifier key name", name)
    if not _HEX8.fullmatch(key_id_hex):
        raise CheckpointError(f"verifier key ID {_q(key_id_hex)} is not 8 hex digits")
    key = _b64decode_canonical("verifier key", key_b64)
    if not key or key[0] != ED25519_SIGNATURE_TYPE:
        kind = f"0x{key[0]:02x}" if key else "(none)"
        raise CheckpointError(f"verifier key has signature type {kind}, only Ed25519 (0x01)")
    public_key = key[1:]
    if len(public_key) != _ED25519_KEY_SIZE:
        raise CheckpointError(f"Ed25519 verifier key is {len(public_key)} bytes, want 32")
    key_id = bytes.fromhex(key_id_hex)
    want = note_key_id(name, public_key)
    if key_id != want:
        raise CheckpointError(
            f"verifier key ID {key_id.hex()} does not match its name and key (want {want.hex()})"
        )
    return VerifierKey(name, key_id, public_key)


# --------------------------------------------------------------- signed notes


def parse_signed_note(note: str | bytes) -> SignedNote:
    """Split a signed note into its text and signature lines, without verifying."""
    if isinstance(note, bytes):
        try:
            msg = note.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            raise CheckpointError("note is not valid UTF-8") from None
    elif isinstance(note, str):
        try:
            note.encode("utf-8", errors="strict")
        except UnicodeEncodeError:
            raise CheckpointError("note is not valid UTF-8") from None
        msg = note
    else:
        raise CheckpointError("note must be str or bytes")
    bad = _CONTROL.search(msg)
    if bad:
        raise CheckpointError(
            f"note contains the control character U+{ord(bad.group()):04X} at offset {bad.start()}"
        )
    split = msg.rfind("\n\n")
    if split < 0:
        raise CheckpointError("note has no blank line before its signatures")
    text, sig_block = msg[: split + 1], msg[split + 2 :]
    if not sig_block:
        raise CheckpointError("note has no signature lines")
    if not sig_block.endswith("\n"):
        raise CheckpointError("note does not end with a newline")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"note has {len(lines)} signatures, more than {MAX_SIGNATURES}")
    sigs: list[NoteSignature] = []
    for n, line in enumerate(lines, 1):
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointError(f"signature line {n} does not start with an em dash and space")
        name, sep, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep:
            raise CheckpointError(f"signature line {n} has no space between name and signature")
        _check_name(f"signature line {n} key name", name)
        raw = _b64decode_canonical(f"signature line {n}", b64)
        if len(raw) <= _KEY_ID_SIZE:
            raise CheckpointError(f"signature line {n} is too short ({len(raw)} bytes)")
        sigs.append(NoteSignature(name, raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:]))
    return SignedNote(text, tuple(sigs))


def encode_signed_note(text: str, signatures: Sequence[NoteSignature]) -> str:
    """Assemble a signed note from its text and signatures (the inverse of parsing)."""
    if not text.endswith("\n"):
        raise CheckpointError("note text must end with a newline")
    if not signatures:
        raise CheckpointError("a signed note needs at least one signature")
    for s in signatures:
        _check_name("signature key name", s.name)
        if len(s.key_id) != _KEY_ID_SIZE:
            raise CheckpointError("signature key ID must be 4 bytes")
    return text + "\n" + "".join(s.line() for s in signatures)


def verify_note(note: str | bytes | SignedNote, verifier_key: str | VerifierKey) -> SignedNote:
    """Parse ``note`` and check that it carries a valid signature by ``verifier_key``.

    Signatures by other keys are ignored; any signature naming this key (its
    name and key ID) must verify. Returns the parsed note.
    """
    key = (
        verifier_key if isinstance(verifier_key, VerifierKey) else parse_verifier_key(verifier_key)
    )
    parsed = note if isinstance(note, SignedNote) else parse_signed_note(note)
    mine = [s for s in parsed.signatures if s.name == key.name and s.key_id == key.key_id]
    if not mine:
        same_name = [s.key_id.hex() for s in parsed.signatures if s.name == key.name]
        if same_name:
            raise CheckpointError(
                f"note is signed by {key.name!r} with key ID {', '.join(same_name)}, "
                f"not with the expected key {key.key_id.hex()}"
            )
        names = ", ".join(_q(s.name) for s in parsed.signatures[:3])
        if len(parsed.signatures) > 3:
            names += f" and {len(parsed.signatures) - 3} more"
        raise CheckpointError(f"note has no signature by key {key.name!r}; signed by {names}")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(key.public_key)
    except ValueError:
        raise CheckpointError("verifier key is not a valid Ed25519 public key") from None
    message = parsed.text.encode("utf-8")
    for s in mine:
        if len(s.signature) != _ED25519_SIG_SIZE:
            raise CheckpointError(
                f"invalid signature by key {key.name}+{key.key_id.hex()}: "
                f"{len(s.signature)} bytes, want 64"
            )
        try:
            public_key.verify(s.signature, message)
        except InvalidSignature:
            raise CheckpointError(
                f"invalid signature by key {key.name}+{key.key_id.hex()}"
            ) from None
    return parsed


# ---------------------------------------------------------------- checkpoints


def format_checkpoint_body(
    origin: str, size: int, root_hash: bytes, extensions: Sequence[str] = ()
) -> str:
    """Return the checkpoint note text for a tree head.

    Requires a non-empty origin without control characters or leading or
    trailing whitespace, ``0 <= size < 2**64``, a 32-byte root hash and
    non-empty extension lines without control characters.
    """
    _check_origin(origin)
    if type(size) is not int or not 0 <= size <= _MAX_UINT64:
        raise CheckpointError(f"tree size {_q(size)} is not an unsigned 64-bit integer")
    if not isinstance(root_hash, bytes) or len(root_hash) != HASH_SIZE:
        raise CheckpointError("root hash must be 32 bytes")
    for ext in extensions:
        _check_extension(ext)
    root = base64.b64encode(root_hash).decode("ascii")
    return "".join(f"{line}\n" for line in (origin, str(size), root, *extensions))


def _check_origin(origin: str) -> None:
    if not isinstance(origin, str) or not origin:
        raise CheckpointError("checkpoint origin is empty")
    if "\n" in origin or _CONTROL.search(origin):
        raise CheckpointError(f"checkpoint origin {_q(origin)} contains a control character")
    if origin != origin.strip():
        raise CheckpointError(f"checkpoint origin {_q(origin)} has leading or trailing whitespace")


def _check_extension(ext: str) -> None:
    if not isinstance(ext, str) or not ext:
        raise CheckpointError("checkpoint extension lines must be non-empty")
    if "\n" in ext or _CONTROL.search(ext):
        raise CheckpointError(f"checkpoint extension line {_q(ext)} contains a control character")


def parse_checkpoint_body(text: str) -> tuple[str, int, bytes, tuple[str, ...]]:
    """Parse a checkpoint note text into ``(origin, size, root_hash, extensions)``."""
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint text does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(
            f"checkpoint text has {len(lines)} lines, want origin, size and root hash"
        )
    origin, size_line, root_line, *extensions = lines
    _check_origin(origin)
    if not _DECIMAL.fullmatch(size_line):
        raise CheckpointError(
            f"checkpoint tree size {_q(size_line)} is not a decimal number without leading zeros"
        )
    if len(size_line) > _MAX_SIZE_DIGITS:
        # Checked before int(): Python refuses to convert more than 4,300 digits.
        raise CheckpointError(
            f"checkpoint tree size has {len(size_line)} digits; an unsigned 64-bit size "
            f"has at most {_MAX_SIZE_DIGITS}"
        )
    size = int(size_line)
    if size > _MAX_UINT64:
        raise CheckpointError(f"checkpoint tree size {size} exceeds 2^64-1")
    root_hash = _b64decode_canonical("checkpoint root hash", root_line)
    if len(root_hash) != HASH_SIZE:
        raise CheckpointError(f"checkpoint root hash is {len(root_hash)} bytes, want 32")
    for n, ext in enumerate(extensions, 4):
        if not ext:
            raise CheckpointError(f"checkpoint line {n} is empty")
        _check_extension(ext)
    return origin, size, root_hash, tuple(extensions)


def parse_checkpoint(note: str | bytes) -> Checkpoint:
    """Parse a signed checkpoint note without verifying any signature."""
    parsed = parse_signed_note(note)
    origin, size, root_hash, extensions = parse_checkpoint_body(parsed.text)
    return Checkpoint(origin, size, root_hash, extensions, parsed.signatures)


def verify_checkpoint(
    note_text: str | bytes, verifier_key: str | VerifierKey, *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint against the log's verifier key and return it.

    Checks the note syntax, that a signature by ``verifier_key`` (same name and
    key ID) is present and every such signature is valid, the checkpoint text
    syntax, and that the origin line equals ``origin`` — by default the key's
    name, as c2sp.org/tlog-checkpoint recommends logs do. Raises
    :class:`CheckpointError` naming the first problem found.
    """
    key = (
        verifier_key if isinstance(verifier_key, VerifierKey) else parse_verifier_key(verifier_key)
    )
    parsed = verify_note(note_text, key)
    cp_origin, size, root_hash, extensions = parse_checkpoint_body(parsed.text)
    want = key.name if origin is None else origin
    if cp_origin != want:
        raise CheckpointError(f"checkpoint origin {_q(cp_origin)} is not the expected {_q(want)}")
    return Checkpoint(cp_origin, size, root_hash, extensions, parsed.signatures)


class CheckpointCache:
    """Checkpoints that verified, by the exact note text, verifier key and origin; bounded.

    At most ``max_entries`` checkpoints and ``max_key_bytes`` bytes (characters
    of a text note) of notes and keys (:class:`court.verify.bounded.BoundedCache`).
    Shared by the threads of a verifier.
    """

    def __init__(self, max_entries: int = 1024, max_key_bytes: int = 4 << 20) -> None:
        self._checkpoints: BoundedCache[Checkpoint] = BoundedCache(max_entries, max_key_bytes)

    def verify(
        self,
        note_text: str | bytes,
        verifier_key: str | VerifierKey,
        *,
        origin: str | None = None,
    ) -> Checkpoint:
        """:func:`verify_checkpoint`, whose answer is kept when the note verifies."""
        key_text = verifier_key if isinstance(verifier_key, str) else str(verifier_key)
        key = (note_text, key_text, origin)
        found = self._checkpoints.get(key)
        if found is not None:
            return found
        checkpoint = verify_checkpoint(note_text, verifier_key, origin=origin)
        size = len(note_text) + len(key_text) + len(origin or "")
        self._checkpoints.put(key, checkpoint, size)
        return checkpoint

    def __len__(self) -> int:
        return len(self._checkpoints)
