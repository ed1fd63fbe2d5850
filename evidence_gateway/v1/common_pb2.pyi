import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HashAlgorithm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HASH_ALGORITHM_UNSPECIFIED: _ClassVar[HashAlgorithm]
    HASH_ALGORITHM_SHA256: _ClassVar[HashAlgorithm]
    HASH_ALGORITHM_SHA384: _ClassVar[HashAlgorithm]
    HASH_ALGORITHM_SHA512: _ClassVar[HashAlgorithm]
    HASH_ALGORITHM_SM3: _ClassVar[HashAlgorithm]

class EvidenceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVIDENCE_KIND_UNSPECIFIED: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_LOAN_CONTRACT: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_REPAYMENT_SCHEDULE: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_REPAYMENT: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_OVERDUE_NOTICE: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_COLLATERAL_STATUS: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_COLLECTION_CALL: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_COLLECTION_VISIT: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_COLLECTION_MESSAGE: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_SETTLEMENT_AGREEMENT: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_DEBT_ASSIGNMENT: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_OTHER: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_LOAN_DELEGATED: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_DELEGATION_REVOKED: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_LOAN_SHARED: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_SHARE_REVOKED: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_INSTITUTION_CHANGED: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_CASE_FILED: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_CASE_ACCEPTED: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_CASE_REJECTED: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_CASE_MEDIATION_STARTED: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_CASE_JUDGMENT: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_CASE_AWARD: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_CASE_ENFORCEMENT_STARTED: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_CASE_PROPERTY_FROZEN: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_CASE_AMOUNT_RECOVERED: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_CASE_CONCLUDED: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_CASE_TERMINATED: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_CASE_WITHDRAWN: _ClassVar[EvidenceKind]
    EVIDENCE_KIND_CASE_SETTLED: _ClassVar[EvidenceKind]
HASH_ALGORITHM_UNSPECIFIED: HashAlgorithm
HASH_ALGORITHM_SHA256: HashAlgorithm
HASH_ALGORITHM_SHA384: HashAlgorithm
HASH_ALGORITHM_SHA512: HashAlgorithm
HASH_ALGORITHM_SM3: HashAlgorithm
EVIDENCE_KIND_UNSPECIFIED: EvidenceKind
EVIDENCE_KIND_LOAN_CONTRACT: EvidenceKind
EVIDENCE_KIND_REPAYMENT_SCHEDULE: EvidenceKind
EVIDENCE_KIND_REPAYMENT: EvidenceKind
EVIDENCE_KIND_OVERDUE_NOTICE: EvidenceKind
EVIDENCE_KIND_COLLATERAL_STATUS: EvidenceKind
EVIDENCE_KIND_COLLECTION_CALL: EvidenceKind
EVIDENCE_KIND_COLLECTION_VISIT: EvidenceKind
EVIDENCE_KIND_COLLECTION_MESSAGE: EvidenceKind
EVIDENCE_KIND_SETTLEMENT_AGREEMENT: EvidenceKind
EVIDENCE_KIND_DEBT_ASSIGNMENT: EvidenceKind
EVIDENCE_KIND_OTHER: EvidenceKind
EVIDENCE_KIND_LOAN_DELEGATED: EvidenceKind
EVIDENCE_KIND_DELEGATION_REVOKED: EvidenceKind
EVIDENCE_KIND_LOAN_SHARED: EvidenceKind
EVIDENCE_KIND_SHARE_REVOKED: EvidenceKind
EVIDENCE_KIND_INSTITUTION_CHANGED: EvidenceKind
EVIDENCE_KIND_CASE_FILED: EvidenceKind
EVIDENCE_KIND_CASE_ACCEPTED: EvidenceKind
EVIDENCE_KIND_CASE_REJECTED: EvidenceKind
EVIDENCE_KIND_CASE_MEDIATION_STARTED: EvidenceKind
EVIDENCE_KIND_CASE_JUDGMENT: EvidenceKind
EVIDENCE_KIND_CASE_AWARD: EvidenceKind
EVIDENCE_KIND_CASE_ENFORCEMENT_STARTED: EvidenceKind
EVIDENCE_KIND_CASE_PROPERTY_FROZEN: EvidenceKind
EVIDENCE_KIND_CASE_AMOUNT_RECOVERED: EvidenceKind
EVIDENCE_KIND_CASE_CONCLUDED: EvidenceKind
EVIDENCE_KIND_CASE_TERMINATED: EvidenceKind
EVIDENCE_KIND_CASE_WITHDRAWN: EvidenceKind
EVIDENCE_KIND_CASE_SETTLED: EvidenceKind

class Checkpoint(_message.Message):
    __slots__ = ("signed_note", "origin", "size", "root_hash")
    SIGNED_NOTE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    signed_note: str
    origin: str
    size: int
    root_hash: bytes
    def __init__(self, signed_note: _Optional[str] = ..., origin: _Optional[str] = ..., size: _Optional[int] = ..., root_hash: _Optional[bytes] = ...) -> None: ...

class InclusionProof(_message.Message):
    __slots__ = ("leaf_index", "tree_size", "hashes")
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    leaf_index: int
    tree_size: int
    hashes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, leaf_index: _Optional[int] = ..., tree_size: _Optional[int] = ..., hashes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ConsistencyProof(_message.Message):
    __slots__ = ("from_size", "to_size", "hashes")
    FROM_SIZE_FIELD_NUMBER: _ClassVar[int]
    TO_SIZE_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    from_size: int
    to_size: int
    hashes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, from_size: _Optional[int] = ..., to_size: _Optional[int] = ..., hashes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class Anchor(_message.Message):
    __slots__ = ("chain_name", "chain_id", "contract", "log_id", "anchor_number", "tree_size", "root_hash", "checkpoint_hash", "checkpoint", "transaction_hash", "block_number", "block_hash", "confirmed_at")
    CHAIN_NAME_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_FIELD_NUMBER: _ClassVar[int]
    LOG_ID_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_HASH_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_HASH_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_AT_FIELD_NUMBER: _ClassVar[int]
    chain_name: str
    chain_id: int
    contract: str
    log_id: bytes
    anchor_number: int
    tree_size: int
    root_hash: bytes
    checkpoint_hash: bytes
    checkpoint: Checkpoint
    transaction_hash: bytes
    block_number: int
    block_hash: bytes
    confirmed_at: _timestamp_pb2.Timestamp
    def __init__(self, chain_name: _Optional[str] = ..., chain_id: _Optional[int] = ..., contract: _Optional[str] = ..., log_id: _Optional[bytes] = ..., anchor_number: _Optional[int] = ..., tree_size: _Optional[int] = ..., root_hash: _Optional[bytes] = ..., checkpoint_hash: _Optional[bytes] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ..., transaction_hash: _Optional[bytes] = ..., block_number: _Optional[int] = ..., block_hash: _Optional[bytes] = ..., confirmed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EvidenceSubmission(_message.Message):
    __slots__ = ("request_id", "loan_ref", "kind", "hash_algorithm", "digest", "occurred_at", "metadata", "supersedes", "owner")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LOAN_REF_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    HASH_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDES_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    loan_ref: str
    kind: EvidenceKind
    hash_algorithm: HashAlgorithm
    digest: bytes
    occurred_at: _timestamp_pb2.Timestamp
    metadata: _containers.ScalarMap[str, str]
    supersedes: str
    owner: str
    def __init__(self, request_id: _Optional[str] = ..., loan_ref: _Optional[str] = ..., kind: _Optional[_Union[EvidenceKind, str]] = ..., hash_algorithm: _Optional[_Union[HashAlgorithm, str]] = ..., digest: _Optional[bytes] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., supersedes: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class Receipt(_message.Message):
    __slots__ = ("entry_id", "leaf_index", "leaf", "timestamp_token", "checkpoint", "inclusion_proof", "received_at", "loan_sequence", "previous_leaf_hash", "opening")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    LEAF_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    INCLUSION_PROOF_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    LOAN_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    OPENING_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    leaf_index: int
    leaf: bytes
    timestamp_token: bytes
    checkpoint: Checkpoint
    inclusion_proof: InclusionProof
    received_at: _timestamp_pb2.Timestamp
    loan_sequence: int
    previous_leaf_hash: bytes
    opening: LeafOpening
    def __init__(self, entry_id: _Optional[str] = ..., leaf_index: _Optional[int] = ..., leaf: _Optional[bytes] = ..., timestamp_token: _Optional[bytes] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ..., inclusion_proof: _Optional[_Union[InclusionProof, _Mapping]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., loan_sequence: _Optional[int] = ..., previous_leaf_hash: _Optional[bytes] = ..., opening: _Optional[_Union[LeafOpening, _Mapping]] = ...) -> None: ...

class LeafOpening(_message.Message):
    __slots__ = ("private_record", "loan_salt")
    PRIVATE_RECORD_FIELD_NUMBER: _ClassVar[int]
    LOAN_SALT_FIELD_NUMBER: _ClassVar[int]
    private_record: bytes
    loan_salt: bytes
    def __init__(self, private_record: _Optional[bytes] = ..., loan_salt: _Optional[bytes] = ...) -> None: ...

class EvidenceRecord(_message.Message):
    __slots__ = ("submission", "receipt", "institution", "superseded_by")
    SUBMISSION_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_BY_FIELD_NUMBER: _ClassVar[int]
    submission: EvidenceSubmission
    receipt: Receipt
    institution: str
    superseded_by: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, submission: _Optional[_Union[EvidenceSubmission, _Mapping]] = ..., receipt: _Optional[_Union[Receipt, _Mapping]] = ..., institution: _Optional[str] = ..., superseded_by: _Optional[_Iterable[str]] = ...) -> None: ...
