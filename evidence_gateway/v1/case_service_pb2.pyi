import datetime

from evidence_gateway.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CaseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CASE_STATUS_UNSPECIFIED: _ClassVar[CaseStatus]
    CASE_STATUS_FILED: _ClassVar[CaseStatus]
    CASE_STATUS_ACCEPTED: _ClassVar[CaseStatus]
    CASE_STATUS_REJECTED: _ClassVar[CaseStatus]
    CASE_STATUS_MEDIATION: _ClassVar[CaseStatus]
    CASE_STATUS_JUDGMENT: _ClassVar[CaseStatus]
    CASE_STATUS_AWARD: _ClassVar[CaseStatus]
    CASE_STATUS_ENFORCEMENT: _ClassVar[CaseStatus]
    CASE_STATUS_PROPERTY_FROZEN: _ClassVar[CaseStatus]
    CASE_STATUS_CONCLUDED: _ClassVar[CaseStatus]
    CASE_STATUS_TERMINATED: _ClassVar[CaseStatus]
    CASE_STATUS_WITHDRAWN: _ClassVar[CaseStatus]
    CASE_STATUS_SETTLED: _ClassVar[CaseStatus]

class CaseEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CASE_EVENT_TYPE_UNSPECIFIED: _ClassVar[CaseEventType]
    CASE_EVENT_TYPE_FILED: _ClassVar[CaseEventType]
    CASE_EVENT_TYPE_ACCEPTED: _ClassVar[CaseEventType]
    CASE_EVENT_TYPE_REJECTED: _ClassVar[CaseEventType]
    CASE_EVENT_TYPE_MEDIATION_STARTED: _ClassVar[CaseEventType]
    CASE_EVENT_TYPE_JUDGMENT: _ClassVar[CaseEventType]
    CASE_EVENT_TYPE_AWARD: _ClassVar[CaseEventType]
    CASE_EVENT_TYPE_ENFORCEMENT_STARTED: _ClassVar[CaseEventType]
    CASE_EVENT_TYPE_PROPERTY_FROZEN: _ClassVar[CaseEventType]
    CASE_EVENT_TYPE_AMOUNT_RECOVERED: _ClassVar[CaseEventType]
    CASE_EVENT_TYPE_CONCLUDED: _ClassVar[CaseEventType]
    CASE_EVENT_TYPE_TERMINATED: _ClassVar[CaseEventType]
    CASE_EVENT_TYPE_WITHDRAWN: _ClassVar[CaseEventType]
    CASE_EVENT_TYPE_SETTLED: _ClassVar[CaseEventType]

class BodyKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BODY_KIND_UNSPECIFIED: _ClassVar[BodyKind]
    BODY_KIND_COURT: _ClassVar[BodyKind]
    BODY_KIND_ARBITRATION: _ClassVar[BodyKind]

class CaseReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CASE_REASON_UNSPECIFIED: _ClassVar[CaseReason]
    CASE_REASON_NO_JURISDICTION: _ClassVar[CaseReason]
    CASE_REASON_OUTSIDE_SCOPE: _ClassVar[CaseReason]
    CASE_REASON_INCOMPLETE_FILING: _ClassVar[CaseReason]
    CASE_REASON_DUPLICATE_FILING: _ClassVar[CaseReason]
    CASE_REASON_ARBITRATION_AGREEMENT: _ClassVar[CaseReason]
    CASE_REASON_NO_ENFORCEABLE_PROPERTY: _ClassVar[CaseReason]
    CASE_REASON_DEBTOR_CEASED: _ClassVar[CaseReason]
    CASE_REASON_CLAIM_WAIVED: _ClassVar[CaseReason]
    CASE_REASON_DECISION_SET_ASIDE: _ClassVar[CaseReason]
    CASE_REASON_OTHER: _ClassVar[CaseReason]
CASE_STATUS_UNSPECIFIED: CaseStatus
CASE_STATUS_FILED: CaseStatus
CASE_STATUS_ACCEPTED: CaseStatus
CASE_STATUS_REJECTED: CaseStatus
CASE_STATUS_MEDIATION: CaseStatus
CASE_STATUS_JUDGMENT: CaseStatus
CASE_STATUS_AWARD: CaseStatus
CASE_STATUS_ENFORCEMENT: CaseStatus
CASE_STATUS_PROPERTY_FROZEN: CaseStatus
CASE_STATUS_CONCLUDED: CaseStatus
CASE_STATUS_TERMINATED: CaseStatus
CASE_STATUS_WITHDRAWN: CaseStatus
CASE_STATUS_SETTLED: CaseStatus
CASE_EVENT_TYPE_UNSPECIFIED: CaseEventType
CASE_EVENT_TYPE_FILED: CaseEventType
CASE_EVENT_TYPE_ACCEPTED: CaseEventType
CASE_EVENT_TYPE_REJECTED: CaseEventType
CASE_EVENT_TYPE_MEDIATION_STARTED: CaseEventType
CASE_EVENT_TYPE_JUDGMENT: CaseEventType
CASE_EVENT_TYPE_AWARD: CaseEventType
CASE_EVENT_TYPE_ENFORCEMENT_STARTED: CaseEventType
CASE_EVENT_TYPE_PROPERTY_FROZEN: CaseEventType
CASE_EVENT_TYPE_AMOUNT_RECOVERED: CaseEventType
CASE_EVENT_TYPE_CONCLUDED: CaseEventType
CASE_EVENT_TYPE_TERMINATED: CaseEventType
CASE_EVENT_TYPE_WITHDRAWN: CaseEventType
CASE_EVENT_TYPE_SETTLED: CaseEventType
BODY_KIND_UNSPECIFIED: BodyKind
BODY_KIND_COURT: BodyKind
BODY_KIND_ARBITRATION: BodyKind
CASE_REASON_UNSPECIFIED: CaseReason
CASE_REASON_NO_JURISDICTION: CaseReason
CASE_REASON_OUTSIDE_SCOPE: CaseReason
CASE_REASON_INCOMPLETE_FILING: CaseReason
CASE_REASON_DUPLICATE_FILING: CaseReason
CASE_REASON_ARBITRATION_AGREEMENT: CaseReason
CASE_REASON_NO_ENFORCEABLE_PROPERTY: CaseReason
CASE_REASON_DEBTOR_CEASED: CaseReason
CASE_REASON_CLAIM_WAIVED: CaseReason
CASE_REASON_DECISION_SET_ASIDE: CaseReason
CASE_REASON_OTHER: CaseReason

class MoneyAmount(_message.Message):
    __slots__ = ("currency_code", "minor_units")
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    MINOR_UNITS_FIELD_NUMBER: _ClassVar[int]
    currency_code: str
    minor_units: int
    def __init__(self, currency_code: _Optional[str] = ..., minor_units: _Optional[int] = ...) -> None: ...

class Case(_message.Message):
    __slots__ = ("case_id", "lender", "loan_ref", "body", "body_kind", "status", "claim", "relied_on_entry_ids", "case_number", "recovered_total", "recovered_exceeds_claim", "filed_at", "updated_at", "events", "next_events", "filing_checkpoint", "records_since_filing", "settled_recorded_at")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    LENDER_FIELD_NUMBER: _ClassVar[int]
    LOAN_REF_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    BODY_KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    RELIED_ON_ENTRY_IDS_FIELD_NUMBER: _ClassVar[int]
    CASE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_EXCEEDS_CLAIM_FIELD_NUMBER: _ClassVar[int]
    FILED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_EVENTS_FIELD_NUMBER: _ClassVar[int]
    FILING_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    RECORDS_SINCE_FILING_FIELD_NUMBER: _ClassVar[int]
    SETTLED_RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    lender: str
    loan_ref: str
    body: str
    body_kind: BodyKind
    status: CaseStatus
    claim: MoneyAmount
    relied_on_entry_ids: _containers.RepeatedScalarFieldContainer[str]
    case_number: str
    recovered_total: MoneyAmount
    recovered_exceeds_claim: bool
    filed_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    events: _containers.RepeatedCompositeFieldContainer[CaseEvent]
    next_events: _containers.RepeatedScalarFieldContainer[CaseEventType]
    filing_checkpoint: _common_pb2.Checkpoint
    records_since_filing: _containers.RepeatedCompositeFieldContainer[CaseLoanRecord]
    settled_recorded_at: _timestamp_pb2.Timestamp
    def __init__(self, case_id: _Optional[str] = ..., lender: _Optional[str] = ..., loan_ref: _Optional[str] = ..., body: _Optional[str] = ..., body_kind: _Optional[_Union[BodyKind, str]] = ..., status: _Optional[_Union[CaseStatus, str]] = ..., claim: _Optional[_Union[MoneyAmount, _Mapping]] = ..., relied_on_entry_ids: _Optional[_Iterable[str]] = ..., case_number: _Optional[str] = ..., recovered_total: _Optional[_Union[MoneyAmount, _Mapping]] = ..., recovered_exceeds_claim: _Optional[bool] = ..., filed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., events: _Optional[_Iterable[_Union[CaseEvent, _Mapping]]] = ..., next_events: _Optional[_Iterable[_Union[CaseEventType, str]]] = ..., filing_checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ..., records_since_filing: _Optional[_Iterable[_Union[CaseLoanRecord, _Mapping]]] = ..., settled_recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CaseLoanRecord(_message.Message):
    __slots__ = ("entry_id", "kind", "occurred_at", "received_at")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    kind: _common_pb2.EvidenceKind
    occurred_at: _timestamp_pb2.Timestamp
    received_at: _timestamp_pb2.Timestamp
    def __init__(self, entry_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.EvidenceKind, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CaseEvent(_message.Message):
    __slots__ = ("document", "receipt", "case_id", "event_number", "type", "status", "occurred_at", "recorded_by", "case_number", "reason", "amount", "recovered_total", "claim", "relied_on_entry_ids", "previous_event_entry_id")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    CASE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    RELIED_ON_ENTRY_IDS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_EVENT_ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    document: bytes
    receipt: _common_pb2.Receipt
    case_id: str
    event_number: int
    type: CaseEventType
    status: CaseStatus
    occurred_at: _timestamp_pb2.Timestamp
    recorded_by: str
    case_number: str
    reason: CaseReason
    amount: MoneyAmount
    recovered_total: MoneyAmount
    claim: MoneyAmount
    relied_on_entry_ids: _containers.RepeatedScalarFieldContainer[str]
    previous_event_entry_id: str
    def __init__(self, document: _Optional[bytes] = ..., receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ..., case_id: _Optional[str] = ..., event_number: _Optional[int] = ..., type: _Optional[_Union[CaseEventType, str]] = ..., status: _Optional[_Union[CaseStatus, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_by: _Optional[str] = ..., case_number: _Optional[str] = ..., reason: _Optional[_Union[CaseReason, str]] = ..., amount: _Optional[_Union[MoneyAmount, _Mapping]] = ..., recovered_total: _Optional[_Union[MoneyAmount, _Mapping]] = ..., claim: _Optional[_Union[MoneyAmount, _Mapping]] = ..., relied_on_entry_ids: _Optional[_Iterable[str]] = ..., previous_event_entry_id: _Optional[str] = ...) -> None: ...

class FileCaseRequest(_message.Message):
    __slots__ = ("request_id", "loan_ref", "body", "claim", "relied_on_entry_ids", "share_expires_at")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LOAN_REF_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    RELIED_ON_ENTRY_IDS_FIELD_NUMBER: _ClassVar[int]
    SHARE_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    loan_ref: str
    body: str
    claim: MoneyAmount
    relied_on_entry_ids: _containers.RepeatedScalarFieldContainer[str]
    share_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., loan_ref: _Optional[str] = ..., body: _Optional[str] = ..., claim: _Optional[_Union[MoneyAmount, _Mapping]] = ..., relied_on_entry_ids: _Optional[_Iterable[str]] = ..., share_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FileCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: Case
    def __init__(self, case: _Optional[_Union[Case, _Mapping]] = ...) -> None: ...

class AcceptCaseRequest(_message.Message):
    __slots__ = ("request_id", "case_id", "case_number", "occurred_at")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    case_id: str
    case_number: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., case_id: _Optional[str] = ..., case_number: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AcceptCaseResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: CaseEvent
    def __init__(self, event: _Optional[_Union[CaseEvent, _Mapping]] = ...) -> None: ...

class RejectCaseRequest(_message.Message):
    __slots__ = ("request_id", "case_id", "reason", "case_number", "occurred_at")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CASE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    case_id: str
    reason: CaseReason
    case_number: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., case_id: _Optional[str] = ..., reason: _Optional[_Union[CaseReason, str]] = ..., case_number: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RejectCaseResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: CaseEvent
    def __init__(self, event: _Optional[_Union[CaseEvent, _Mapping]] = ...) -> None: ...

class UpdateCaseStatusRequest(_message.Message):
    __slots__ = ("request_id", "case_id", "event", "reason", "amount", "occurred_at")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    case_id: str
    event: CaseEventType
    reason: CaseReason
    amount: MoneyAmount
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., case_id: _Optional[str] = ..., event: _Optional[_Union[CaseEventType, str]] = ..., reason: _Optional[_Union[CaseReason, str]] = ..., amount: _Optional[_Union[MoneyAmount, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UpdateCaseStatusResponse(_message.Message):
    __slots__ = ("event", "warnings")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    event: CaseEvent
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, event: _Optional[_Union[CaseEvent, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class GetCaseRequest(_message.Message):
    __slots__ = ("case_id",)
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    def __init__(self, case_id: _Optional[str] = ...) -> None: ...

class GetCaseResponse(_message.Message):
    __slots__ = ("case",)
    CASE_FIELD_NUMBER: _ClassVar[int]
    case: Case
    def __init__(self, case: _Optional[_Union[Case, _Mapping]] = ...) -> None: ...

class ListCasesRequest(_message.Message):
    __slots__ = ("statuses", "loan_ref", "counterpart", "filed_after", "filed_before", "page_size", "page_token")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    LOAN_REF_FIELD_NUMBER: _ClassVar[int]
    COUNTERPART_FIELD_NUMBER: _ClassVar[int]
    FILED_AFTER_FIELD_NUMBER: _ClassVar[int]
    FILED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedScalarFieldContainer[CaseStatus]
    loan_ref: str
    counterpart: str
    filed_after: _timestamp_pb2.Timestamp
    filed_before: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, statuses: _Optional[_Iterable[_Union[CaseStatus, str]]] = ..., loan_ref: _Optional[str] = ..., counterpart: _Optional[str] = ..., filed_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., filed_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCasesResponse(_message.Message):
    __slots__ = ("cases", "next_page_token")
    CASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[Case]
    next_page_token: str
    def __init__(self, cases: _Optional[_Iterable[_Union[Case, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchCasesRequest(_message.Message):
    __slots__ = ("cursor", "statuses")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    statuses: _containers.RepeatedScalarFieldContainer[CaseStatus]
    def __init__(self, cursor: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[CaseStatus, str]]] = ...) -> None: ...

class WatchCasesResponse(_message.Message):
    __slots__ = ("event", "cursor")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    event: CaseEvent
    cursor: str
    def __init__(self, event: _Optional[_Union[CaseEvent, _Mapping]] = ..., cursor: _Optional[str] = ...) -> None: ...
