import datetime

from evidence_gateway.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LoanSelection(_message.Message):
    __slots__ = ("loan_refs", "all_loans")
    LOAN_REFS_FIELD_NUMBER: _ClassVar[int]
    ALL_LOANS_FIELD_NUMBER: _ClassVar[int]
    loan_refs: _containers.RepeatedScalarFieldContainer[str]
    all_loans: bool
    def __init__(self, loan_refs: _Optional[_Iterable[str]] = ..., all_loans: _Optional[bool] = ...) -> None: ...

class DelegateLoansRequest(_message.Message):
    __slots__ = ("request_id", "collector", "loans", "expires_at")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    COLLECTOR_FIELD_NUMBER: _ClassVar[int]
    LOANS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    collector: str
    loans: LoanSelection
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., collector: _Optional[str] = ..., loans: _Optional[_Union[LoanSelection, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DelegateLoansResponse(_message.Message):
    __slots__ = ("receipts",)
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    receipts: _containers.RepeatedCompositeFieldContainer[_common_pb2.Receipt]
    def __init__(self, receipts: _Optional[_Iterable[_Union[_common_pb2.Receipt, _Mapping]]] = ...) -> None: ...

class RevokeDelegationRequest(_message.Message):
    __slots__ = ("request_id", "collector", "loans")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    COLLECTOR_FIELD_NUMBER: _ClassVar[int]
    LOANS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    collector: str
    loans: LoanSelection
    def __init__(self, request_id: _Optional[str] = ..., collector: _Optional[str] = ..., loans: _Optional[_Union[LoanSelection, _Mapping]] = ...) -> None: ...

class RevokeDelegationResponse(_message.Message):
    __slots__ = ("receipts",)
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    receipts: _containers.RepeatedCompositeFieldContainer[_common_pb2.Receipt]
    def __init__(self, receipts: _Optional[_Iterable[_Union[_common_pb2.Receipt, _Mapping]]] = ...) -> None: ...

class ShareLoanRequest(_message.Message):
    __slots__ = ("request_id", "grantee", "loans", "expires_at")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    GRANTEE_FIELD_NUMBER: _ClassVar[int]
    LOANS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    grantee: str
    loans: LoanSelection
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., grantee: _Optional[str] = ..., loans: _Optional[_Union[LoanSelection, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ShareLoanResponse(_message.Message):
    __slots__ = ("receipts",)
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    receipts: _containers.RepeatedCompositeFieldContainer[_common_pb2.Receipt]
    def __init__(self, receipts: _Optional[_Iterable[_Union[_common_pb2.Receipt, _Mapping]]] = ...) -> None: ...

class RevokeShareRequest(_message.Message):
    __slots__ = ("request_id", "grantee", "loans")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    GRANTEE_FIELD_NUMBER: _ClassVar[int]
    LOANS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    grantee: str
    loans: LoanSelection
    def __init__(self, request_id: _Optional[str] = ..., grantee: _Optional[str] = ..., loans: _Optional[_Union[LoanSelection, _Mapping]] = ...) -> None: ...

class RevokeShareResponse(_message.Message):
    __slots__ = ("receipts",)
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    receipts: _containers.RepeatedCompositeFieldContainer[_common_pb2.Receipt]
    def __init__(self, receipts: _Optional[_Iterable[_Union[_common_pb2.Receipt, _Mapping]]] = ...) -> None: ...

class GetStatisticsRequest(_message.Message):
    __slots__ = ("from_day", "to_day", "page_size", "page_token")
    FROM_DAY_FIELD_NUMBER: _ClassVar[int]
    TO_DAY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    from_day: str
    to_day: str
    page_size: int
    page_token: str
    def __init__(self, from_day: _Optional[str] = ..., to_day: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetStatisticsResponse(_message.Message):
    __slots__ = ("counts", "next_page_token")
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    counts: _containers.RepeatedCompositeFieldContainer[StatisticsCount]
    next_page_token: str
    def __init__(self, counts: _Optional[_Iterable[_Union[StatisticsCount, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StatisticsCount(_message.Message):
    __slots__ = ("day", "institution", "kind", "count")
    DAY_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    day: str
    institution: str
    kind: _common_pb2.EvidenceKind
    count: int
    def __init__(self, day: _Optional[str] = ..., institution: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.EvidenceKind, str]] = ..., count: _Optional[int] = ...) -> None: ...
