"""Signing the log's checkpoints as C2SP signed notes (Ed25519).

The formats and the key ID live in :mod:`court.verify.checkpoint`, the code a
court runs to check what is produced here; this module only adds the private
key operations.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from court.verify.checkpoint import (
    NoteSignature,
    encode_signed_note,
    encode_verifier_key,
    format_checkpoint_body,
    note_key_id,
)

__all__ = ["make_verifier_key", "sign_checkpoint", "sign_note"]


def _raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def make_verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """Return the C2SP verifier key ``<name>+<hex key ID>+<base64(0x01||key)>``.

    This is the log's public key as courts and transparency-log tools (e.g.
    ``golang.org/x/mod/sumdb/note``) take it.
    """
    return encode_verifier_key(name, _raw_public_key(public_key))


def sign_note(text: str, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """Sign ``text`` (ending in a newline) and return the signed note.

    Byte-for-byte what ``note.Sign`` of ``golang.org/x/mod/sumdb/note`` produces
    for a note without prior signatures (Ed25519 signatures are deterministic).
    """
    key_id = note_key_id(key_name, _raw_public_key(private_key.public_key()))
    signature = private_key.sign(text.encode("utf-8"))
    return encode_signed_note(text, [NoteSignature(key_name, key_id, signature)])


def sign_checkpoint(
    origin: str,
    size: int,
    root: bytes,
    private_key: Ed25519PrivateKey,
    key_name: str,
    extensions: Sequence[str] = (),
) -> str:
    """Return the signed checkpoint note for the tree of ``size`` leaves and ``root``.

    ``key_name`` should equal ``origin`` (c2sp.org/tlog-checkpoint); the court's
    :func:`court.verify.checkpoint.verify_checkpoint` expects that by default.
    """
    body = format_checkpoint_body(origin, size, root, extensions)
    return sign_note(body, private_key, key_name)
