"""PKIStatus and PKIFailureInfo (RFC 3161 §2.4.2) and the rejection response.

`TimeStampResp` (with the token OPTIONAL, as RFC 3161 has it) is the court
verifier's; it is re-exported here for the notary's callers.
"""

from __future__ import annotations

import enum
from functools import lru_cache

from asn1crypto import tsp

from court.der import encode_length
from court.verify.token import TimeStampResp

__all__ = ["FailInfo", "Rejection", "TimeStampResp", "rejection_response"]


class FailInfo(enum.Enum):
    """PKIFailureInfo named bits; the value is the bit's name in asn1crypto."""

    BAD_ALG = "bad_alg"  # unrecognized or unsupported algorithm identifier
    BAD_REQUEST = "bad_request"  # transaction not permitted or supported
    BAD_DATA_FORMAT = "bad_data_format"  # the data submitted has the wrong format
    TIME_NOT_AVAILABLE = "time_not_available"  # the TSA's time source is not available
    UNACCEPTED_POLICY = "unaccepted_policy"  # the requested TSA policy is not supported
    UNACCEPTED_EXTENSION = "unaccepted_extensions"  # the requested extension is not supported
    ADD_INFO_NOT_AVAILABLE = "add_info_not_available"
    SYSTEM_FAILURE = "system_failure"  # the request cannot be handled due to system failure


class Rejection(Exception):
    """A request the TSA refuses: the failure bit and words saying what was wrong."""

    def __init__(self, fail_info: FailInfo, text: str) -> None:
        super().__init__(text)
        self.fail_info = fail_info
        self.text = text


@lru_cache(maxsize=256)
def rejection_response(fail_info: FailInfo, text: str) -> bytes:
    """DER TimeStampResp with status rejection(2), a statusString and one failInfo bit."""
    status = tsp.PKIStatusInfo(
        {
            "status": "rejection",
            "status_string": [text],
            "fail_info": {fail_info.value},
        }
    )
    # TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken OPTIONAL }.
    # asn1crypto's TimeStampResp does not mark the token optional, so frame it here.
    body = bytes(status.dump())
    return b"\x30" + encode_length(len(body)) + body
