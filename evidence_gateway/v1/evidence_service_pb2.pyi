from evidence_gateway.v1 import common_pb2 as _common_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubmitEvidenceRequest(_message.Message):
    __slots__ = ("submission",)
    SUBMISSION_FIELD_NUMBER: _ClassVar[int]
    submission: _common_pb2.EvidenceSubmission
    def __init__(self, submission: _Optional[_Union[_common_pb2.EvidenceSubmission, _Mapping]] = ...) -> None: ...

class SubmitEvidenceResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: _common_pb2.Receipt
    def __init__(self, receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class BatchSubmitEvidenceRequest(_message.Message):
    __slots__ = ("submissions",)
    SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    submissions: _containers.RepeatedCompositeFieldContainer[_common_pb2.EvidenceSubmission]
    def __init__(self, submissions: _Optional[_Iterable[_Union[_common_pb2.EvidenceSubmission, _Mapping]]] = ...) -> None: ...

class BatchSubmitEvidenceResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchSubmitEvidenceResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BatchSubmitEvidenceResult, _Mapping]]] = ...) -> None: ...

class BatchSubmitEvidenceResult(_message.Message):
    __slots__ = ("request_id", "receipt", "error")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    receipt: _common_pb2.Receipt
    error: _status_pb2.Status
    def __init__(self, request_id: _Optional[str] = ..., receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class SubmitEvidenceStreamRequest(_message.Message):
    __slots__ = ("submission", "submissions")
    SUBMISSION_FIELD_NUMBER: _ClassVar[int]
    SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    submission: _common_pb2.EvidenceSubmission
    submissions: _containers.RepeatedCompositeFieldContainer[_common_pb2.EvidenceSubmission]
    def __init__(self, submission: _Optional[_Union[_common_pb2.EvidenceSubmission, _Mapping]] = ..., submissions: _Optional[_Iterable[_Union[_common_pb2.EvidenceSubmission, _Mapping]]] = ...) -> None: ...

class SubmitEvidenceStreamResponse(_message.Message):
    __slots__ = ("request_id", "receipt", "error", "results")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    receipt: _common_pb2.Receipt
    error: _status_pb2.Status
    results: _containers.RepeatedCompositeFieldContainer[BatchSubmitEvidenceResult]
    def __init__(self, request_id: _Optional[str] = ..., receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., results: _Optional[_Iterable[_Union[BatchSubmitEvidenceResult, _Mapping]]] = ...) -> None: ...

class GetEvidenceRequest(_message.Message):
    __slots__ = ("entry_id",)
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    def __init__(self, entry_id: _Optional[str] = ...) -> None: ...

class GetEvidenceResponse(_message.Message):
    __slots__ = ("record",)
    RECORD_FIELD_NUMBER: _ClassVar[int]
    record: _common_pb2.EvidenceRecord
    def __init__(self, record: _Optional[_Union[_common_pb2.EvidenceRecord, _Mapping]] = ...) -> None: ...

class FindEvidenceRequest(_message.Message):
    __slots__ = ("hash_algorithm", "digest", "page_size", "page_token")
    HASH_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    hash_algorithm: _common_pb2.HashAlgorithm
    digest: bytes
    page_size: int
    page_token: str
    def __init__(self, hash_algorithm: _Optional[_Union[_common_pb2.HashAlgorithm, str]] = ..., digest: _Optional[bytes] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class FindEvidenceResponse(_message.Message):
    __slots__ = ("records", "next_page_token")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[_common_pb2.EvidenceRecord]
    next_page_token: str
    def __init__(self, records: _Optional[_Iterable[_Union[_common_pb2.EvidenceRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListEvidenceRequest(_message.Message):
    __slots__ = ("loan_ref", "institution", "page_size", "page_token")
    LOAN_REF_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    loan_ref: str
    institution: str
    page_size: int
    page_token: str
    def __init__(self, loan_ref: _Optional[str] = ..., institution: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEvidenceResponse(_message.Message):
    __slots__ = ("records", "next_page_token")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[_common_pb2.EvidenceRecord]
    next_page_token: str
    def __init__(self, records: _Optional[_Iterable[_Union[_common_pb2.EvidenceRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
