"""The court's trust directory (`court-verify bundle|dossier --trust DIR`).

What a court trusts, and nothing else, in one folder (`notary trust export`
writes it; docs/court-verify.md):

* ``log.vkey``: the log's C2SP verifier key (``<origin>+<key id>+<key>``), required;
* every ``*.pem``, ``*.crt`` and ``*.der`` file: trusted root certificates of
  time-stamp authorities (PEM files may hold several), at least one;
* ``chain.json`` (optional): the chain the log is anchored on, as the
  operator publishes it, ``{"chain_id": N, "contract": "0x...",
  "confirmations": K}`` (``confirmations`` optional, default 1). The chain
  check (``--rpc URL``) needs it.

Every file is read with a size bound; anything else in the folder is ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509

from court.chainrpc import ChainRpcError, parse_address
from court.files import InputError, load_certificates
from court.receipts import read_log_key

__all__ = [
    "CHAIN_FILE",
    "DEFAULT_CONFIRMATIONS",
    "LOG_KEY_FILE",
    "MAX_ROOTS",
    "MAX_TRUST_FILE_BYTES",
    "ChainTrust",
    "Trust",
    "read_trust_dir",
]

LOG_KEY_FILE: Final = "log.vkey"
CHAIN_FILE: Final = "chain.json"
ROOT_SUFFIXES: Final = (".pem", ".crt", ".der")
#: Largest file of the trust directory read.
MAX_TRUST_FILE_BYTES: Final = 1 << 20
#: Most root certificates (all files together).
MAX_ROOTS: Final = 64
DEFAULT_CONFIRMATIONS: Final = 1
_MAX_CONFIRMATIONS: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class ChainTrust:
    """The chain the log is anchored on (``chain.json``)."""

    chain_id: int
    contract: str
    confirmations: int = DEFAULT_CONFIRMATIONS


@dataclass(frozen=True, slots=True)
class Trust:
    """What the court trusts: the TSA roots, the log key, and where the log is anchored."""

    log_key: str
    roots: tuple[x509.Certificate, ...]
    chain: ChainTrust | None = None


def _bounded(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read --trust file {path}: {exc.strerror}") from exc
    if size > MAX_TRUST_FILE_BYTES:
        raise InputError(
            f"--trust file {path} is {size} bytes; a trust file is at most {MAX_TRUST_FILE_BYTES}"
        )


def _chain(path: Path) -> ChainTrust:
    _bounded(path)
    try:
        value = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(f"--trust file {path} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InputError(f"--trust file {path} must hold one JSON object")
    unknown = sorted(set(value) - {"chain_id", "contract", "confirmations"})
    if unknown:
        raise InputError(f"--trust file {path}: unknown field {unknown[0]!r}")
    chain_id = value.get("chain_id")
    if not isinstance(chain_id, int) or isinstance(chain_id, bool) or not 1 <= chain_id < 1 << 64:
        raise InputError(f"--trust file {path}: chain_id must be a positive integer")
    contract = value.get("contract")
    try:
        address = parse_address(contract) if isinstance(contract, str) else None
    except ChainRpcError:
        address = None
    if address is None:
        raise InputError(f"--trust file {path}: contract must be 0x and 40 hexadecimal digits")
    confirmations = value.get("confirmations", DEFAULT_CONFIRMATIONS)
    if (
        not isinstance(confirmations, int)
        or isinstance(confirmations, bool)
        or not 1 <= confirmations <= _MAX_CONFIRMATIONS
    ):
        raise InputError(
            f"--trust file {path}: confirmations must be an integer from 1 to {_MAX_CONFIRMATIONS}"
        )
    return ChainTrust(chain_id=chain_id, contract=address, confirmations=confirmations)


def read_trust_dir(directory: Path) -> Trust:
    """The trust directory's contents; :class:`InputError` naming the file that is wrong."""
    if not directory.is_dir():
        raise InputError(f"--trust {directory} is not a directory")
    key_file = directory / LOG_KEY_FILE
    if not key_file.is_file():
        raise InputError(
            f"--trust {directory} has no {LOG_KEY_FILE} (the log's C2SP verifier key, "
            "e.g. from `notary trust export`)"
        )
    _bounded(key_file)
    log_key = read_log_key(key_file)
    roots: list[x509.Certificate] = []
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() not in ROOT_SUFFIXES or not path.is_file():
            continue
        _bounded(path)
        roots.extend(load_certificates(path, "--trust certificate file"))
        if len(roots) > MAX_ROOTS:
            raise InputError(f"--trust {directory} holds more than {MAX_ROOTS} root certificates")
    if not roots:
        raise InputError(
            f"--trust {directory} holds no TSA root certificate (*.pem, *.crt or *.der)"
        )
    chain_file = directory / CHAIN_FILE
    chain = _chain(chain_file) if chain_file.exists() else None
    return Trust(log_key=log_key, roots=tuple(roots), chain=chain)
