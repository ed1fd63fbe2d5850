"""The submitter's secp256k1 key file: made once, mode 0600, read back as an account.

The file holds one line, the private key in hex (``0x`` and 64 hex digits).
It is created with ``O_EXCL`` and mode 0600, so an existing key is never
overwritten, and it is refused when group or others may read it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gateway.anchor.ethlibs import Account, LocalAccount
from gateway.errors import GatewayError

__all__ = ["KeyFileError", "create_key_file", "load_account"]

_HEX_DIGITS = 64


class KeyFileError(GatewayError):
    """The key file is missing, unreadable, malformed or too widely readable."""


def create_key_file(path: Path) -> str:
    """Make a new key in ``path`` (mode 0600; refuses to overwrite); return its address."""
    path = Path(path)
    account = Account.create()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(
            f"{path} already exists; keep it, or move it away to make a new key"
        ) from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write("0x" + bytes(account.key).hex() + "\n")
    return str(account.address)


def load_account(path: Path) -> LocalAccount:
    """The account whose key is in ``path``; the file must be readable by its owner only."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(
            f"key file {path} not found; make one with `notary anchor init`"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"key file {path} is accessible by group or others (mode {stat.S_IMODE(mode):o}); "
            f"run `chmod 600 {path}`"
        )
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.__class__.__name__}") from None
    digits = text.removeprefix("0x")
    if len(digits) != _HEX_DIGITS or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise KeyFileError(
            f"key file {path} does not hold a secp256k1 private key (0x and 64 hex digits)"
        )
    try:
        account: LocalAccount = Account.from_key(bytes.fromhex(digits))
    except (ValueError, TypeError):  # zero or beyond the curve order
        raise KeyFileError(f"key file {path} holds an invalid secp256k1 private key") from None
    return account
