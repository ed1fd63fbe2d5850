import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InstitutionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INSTITUTION_STATUS_UNSPECIFIED: _ClassVar[InstitutionStatus]
    INSTITUTION_STATUS_ACTIVE: _ClassVar[InstitutionStatus]
    INSTITUTION_STATUS_SUSPENDED: _ClassVar[InstitutionStatus]
    INSTITUTION_STATUS_REVOKED: _ClassVar[InstitutionStatus]
INSTITUTION_STATUS_UNSPECIFIED: InstitutionStatus
INSTITUTION_STATUS_ACTIVE: InstitutionStatus
INSTITUTION_STATUS_SUSPENDED: InstitutionStatus
INSTITUTION_STATUS_REVOKED: InstitutionStatus

class ClientCertificate(_message.Message):
    __slots__ = ("sha256", "subject", "serial", "not_before", "not_after", "valid_until", "added_at", "revoked_at", "accepted")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    ADDED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    sha256: bytes
    subject: str
    serial: str
    not_before: _timestamp_pb2.Timestamp
    not_after: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    added_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    accepted: bool
    def __init__(self, sha256: _Optional[bytes] = ..., subject: _Optional[str] = ..., serial: _Optional[str] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., added_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., accepted: _Optional[bool] = ...) -> None: ...

class Institution(_message.Message):
    __slots__ = ("name", "role", "status", "created_at", "updated_at", "certificates")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: str
    status: InstitutionStatus
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    certificates: _containers.RepeatedCompositeFieldContainer[ClientCertificate]
    def __init__(self, name: _Optional[str] = ..., role: _Optional[str] = ..., status: _Optional[_Union[InstitutionStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., certificates: _Optional[_Iterable[_Union[ClientCertificate, _Mapping]]] = ...) -> None: ...

class RegisterInstitutionRequest(_message.Message):
    __slots__ = ("name", "role", "certificate")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: str
    certificate: bytes
    def __init__(self, name: _Optional[str] = ..., role: _Optional[str] = ..., certificate: _Optional[bytes] = ...) -> None: ...

class RegisterInstitutionResponse(_message.Message):
    __slots__ = ("institution",)
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    institution: Institution
    def __init__(self, institution: _Optional[_Union[Institution, _Mapping]] = ...) -> None: ...

class GetInstitutionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetInstitutionResponse(_message.Message):
    __slots__ = ("institution",)
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    institution: Institution
    def __init__(self, institution: _Optional[_Union[Institution, _Mapping]] = ...) -> None: ...

class ListInstitutionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListInstitutionsResponse(_message.Message):
    __slots__ = ("institutions", "next_page_token")
    INSTITUTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    institutions: _containers.RepeatedCompositeFieldContainer[Institution]
    next_page_token: str
    def __init__(self, institutions: _Optional[_Iterable[_Union[Institution, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SuspendInstitutionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class SuspendInstitutionResponse(_message.Message):
    __slots__ = ("institution",)
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    institution: Institution
    def __init__(self, institution: _Optional[_Union[Institution, _Mapping]] = ...) -> None: ...

class ReinstateInstitutionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ReinstateInstitutionResponse(_message.Message):
    __slots__ = ("institution",)
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    institution: Institution
    def __init__(self, institution: _Optional[_Union[Institution, _Mapping]] = ...) -> None: ...

class RevokeInstitutionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RevokeInstitutionResponse(_message.Message):
    __slots__ = ("institution",)
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    institution: Institution
    def __init__(self, institution: _Optional[_Union[Institution, _Mapping]] = ...) -> None: ...

class AddCertificateRequest(_message.Message):
    __slots__ = ("name", "certificate", "overlap")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    name: str
    certificate: bytes
    overlap: _duration_pb2.Duration
    def __init__(self, name: _Optional[str] = ..., certificate: _Optional[bytes] = ..., overlap: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class AddCertificateResponse(_message.Message):
    __slots__ = ("institution",)
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    institution: Institution
    def __init__(self, institution: _Optional[_Union[Institution, _Mapping]] = ...) -> None: ...

class RevokeCertificateRequest(_message.Message):
    __slots__ = ("name", "sha256")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    name: str
    sha256: bytes
    def __init__(self, name: _Optional[str] = ..., sha256: _Optional[bytes] = ...) -> None: ...

class RevokeCertificateResponse(_message.Message):
    __slots__ = ("institution",)
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    institution: Institution
    def __init__(self, institution: _Optional[_Union[Institution, _Mapping]] = ...) -> None: ...

class AnchorNowRequest(_message.Message):
    __slots__ = ("wait",)
    WAIT_FIELD_NUMBER: _ClassVar[int]
    wait: _duration_pb2.Duration
    def __init__(self, wait: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ChainAnchorResult(_message.Message):
    __slots__ = ("chain", "anchored", "anchored_size", "transaction_hash", "block_number", "reason")
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    ANCHORED_FIELD_NUMBER: _ClassVar[int]
    ANCHORED_SIZE_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_HASH_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    chain: str
    anchored: bool
    anchored_size: int
    transaction_hash: bytes
    block_number: int
    reason: str
    def __init__(self, chain: _Optional[str] = ..., anchored: _Optional[bool] = ..., anchored_size: _Optional[int] = ..., transaction_hash: _Optional[bytes] = ..., block_number: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class AnchorNowResponse(_message.Message):
    __slots__ = ("log_size", "chains")
    LOG_SIZE_FIELD_NUMBER: _ClassVar[int]
    CHAINS_FIELD_NUMBER: _ClassVar[int]
    log_size: int
    chains: _containers.RepeatedCompositeFieldContainer[ChainAnchorResult]
    def __init__(self, log_size: _Optional[int] = ..., chains: _Optional[_Iterable[_Union[ChainAnchorResult, _Mapping]]] = ...) -> None: ...

class GetAnchoringStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChainAnchoringStatus(_message.Message):
    __slots__ = ("chain", "chain_id", "contract", "anchored_size", "anchored_at", "log_size", "lag_entries", "lag", "lagging", "pending", "chain_head", "submitter", "submitter_balance_wei", "chain_error", "last_error", "capped", "confirmations_required", "pending_confirmations")
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_FIELD_NUMBER: _ClassVar[int]
    ANCHORED_SIZE_FIELD_NUMBER: _ClassVar[int]
    ANCHORED_AT_FIELD_NUMBER: _ClassVar[int]
    LOG_SIZE_FIELD_NUMBER: _ClassVar[int]
    LAG_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    LAG_FIELD_NUMBER: _ClassVar[int]
    LAGGING_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    CHAIN_HEAD_FIELD_NUMBER: _ClassVar[int]
    SUBMITTER_FIELD_NUMBER: _ClassVar[int]
    SUBMITTER_BALANCE_WEI_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    CAPPED_FIELD_NUMBER: _ClassVar[int]
    CONFIRMATIONS_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    PENDING_CONFIRMATIONS_FIELD_NUMBER: _ClassVar[int]
    chain: str
    chain_id: int
    contract: str
    anchored_size: int
    anchored_at: _timestamp_pb2.Timestamp
    log_size: int
    lag_entries: int
    lag: _duration_pb2.Duration
    lagging: bool
    pending: int
    chain_head: int
    submitter: str
    submitter_balance_wei: str
    chain_error: str
    last_error: str
    capped: str
    confirmations_required: int
    pending_confirmations: int
    def __init__(self, chain: _Optional[str] = ..., chain_id: _Optional[int] = ..., contract: _Optional[str] = ..., anchored_size: _Optional[int] = ..., anchored_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., log_size: _Optional[int] = ..., lag_entries: _Optional[int] = ..., lag: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., lagging: _Optional[bool] = ..., pending: _Optional[int] = ..., chain_head: _Optional[int] = ..., submitter: _Optional[str] = ..., submitter_balance_wei: _Optional[str] = ..., chain_error: _Optional[str] = ..., last_error: _Optional[str] = ..., capped: _Optional[str] = ..., confirmations_required: _Optional[int] = ..., pending_confirmations: _Optional[int] = ...) -> None: ...

class GetAnchoringStatusResponse(_message.Message):
    __slots__ = ("chains", "max_lag")
    CHAINS_FIELD_NUMBER: _ClassVar[int]
    MAX_LAG_FIELD_NUMBER: _ClassVar[int]
    chains: _containers.RepeatedCompositeFieldContainer[ChainAnchoringStatus]
    max_lag: _duration_pb2.Duration
    def __init__(self, chains: _Optional[_Iterable[_Union[ChainAnchoringStatus, _Mapping]]] = ..., max_lag: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
