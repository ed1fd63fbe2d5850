"""The Ethereum libraries (web3.py, eth-account), imported without their side effect.

py_ecc, which eth-account imports, raises the interpreter's recursion limit to
100,000 for the whole process when it is first imported. With that limit, deep
hostile input (nested JSON, deeply nested DER) overflows the C stack and kills
the process instead of raising ``RecursionError``. Everything of the gateway
that needs these libraries imports them from here: the limit is put back
after the first import. A test checks that importing the chain client leaves
the limit as it was.
"""

from __future__ import annotations

import sys

_LIMIT = sys.getrecursionlimit()

import eth_account  # noqa: E402
import web3  # noqa: E402

sys.setrecursionlimit(_LIMIT)

from eth_abi.abi import decode as abi_decode  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_account.signers.local import LocalAccount  # noqa: E402
from eth_utils.address import to_checksum_address  # noqa: E402
from eth_utils.crypto import keccak  # noqa: E402
from web3 import Web3  # noqa: E402
from web3 import exceptions as web3_exceptions  # noqa: E402

__all__ = [
    "Account",
    "LocalAccount",
    "Web3",
    "abi_decode",
    "eth_account",
    "keccak",
    "to_checksum_address",
    "web3",
    "web3_exceptions",
]
