"""DER primitives of the token hot path: re-exported from :mod:`court.der`.

The writer and the strict reader live once, in the pure court library, so the
court can decode what the server encodes without importing the server.
"""

from __future__ import annotations

from court.der import (
    TAG_BOOLEAN,
    TAG_ENUMERATED,
    TAG_GENERALIZED_TIME,
    TAG_INTEGER,
    TAG_NULL,
    TAG_OCTET_STRING,
    TAG_OID,
    TAG_SEQUENCE,
    TAG_SET,
    TAG_UTF8_STRING,
    DerError,
    Tlv,
    decode_integer,
    decode_oid,
    encode_integer,
    encode_length,
    encode_oid,
    generalized_time_ms,
    read_children,
    read_tlv,
    tlv,
)

__all__ = [
    "TAG_BOOLEAN",
    "TAG_ENUMERATED",
    "TAG_GENERALIZED_TIME",
    "TAG_INTEGER",
    "TAG_NULL",
    "TAG_OCTET_STRING",
    "TAG_OID",
    "TAG_SEQUENCE",
    "TAG_SET",
    "TAG_UTF8_STRING",
    "DerError",
    "Tlv",
    "decode_integer",
    "decode_oid",
    "encode_integer",
    "encode_length",
    "encode_oid",
    "generalized_time_ms",
    "read_children",
    "read_tlv",
    "tlv",
]
