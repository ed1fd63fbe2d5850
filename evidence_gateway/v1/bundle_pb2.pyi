from evidence_gateway.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EvidenceBundle(_message.Message):
    __slots__ = ("media_type", "record", "tsa_certificates", "checkpoint", "anchor")
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    TSA_CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    media_type: str
    record: BundledRecord
    tsa_certificates: _containers.RepeatedScalarFieldContainer[bytes]
    checkpoint: _common_pb2.Checkpoint
    anchor: AnchorEvidence
    def __init__(self, media_type: _Optional[str] = ..., record: _Optional[_Union[BundledRecord, _Mapping]] = ..., tsa_certificates: _Optional[_Iterable[bytes]] = ..., checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ..., anchor: _Optional[_Union[AnchorEvidence, _Mapping]] = ...) -> None: ...

class BundledRecord(_message.Message):
    __slots__ = ("entry_id", "leaf_index", "leaf", "timestamp_token", "opening", "inclusion_proof", "superseded_by", "document")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    LEAF_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OPENING_FIELD_NUMBER: _ClassVar[int]
    INCLUSION_PROOF_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_BY_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    leaf_index: int
    leaf: bytes
    timestamp_token: bytes
    opening: _common_pb2.LeafOpening
    inclusion_proof: _common_pb2.InclusionProof
    superseded_by: _containers.RepeatedScalarFieldContainer[str]
    document: bytes
    def __init__(self, entry_id: _Optional[str] = ..., leaf_index: _Optional[int] = ..., leaf: _Optional[bytes] = ..., timestamp_token: _Optional[bytes] = ..., opening: _Optional[_Union[_common_pb2.LeafOpening, _Mapping]] = ..., inclusion_proof: _Optional[_Union[_common_pb2.InclusionProof, _Mapping]] = ..., superseded_by: _Optional[_Iterable[str]] = ..., document: _Optional[bytes] = ...) -> None: ...

class AnchorEvidence(_message.Message):
    __slots__ = ("anchor", "consistency_proof")
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_PROOF_FIELD_NUMBER: _ClassVar[int]
    anchor: _common_pb2.Anchor
    consistency_proof: _common_pb2.ConsistencyProof
    def __init__(self, anchor: _Optional[_Union[_common_pb2.Anchor, _Mapping]] = ..., consistency_proof: _Optional[_Union[_common_pb2.ConsistencyProof, _Mapping]] = ...) -> None: ...

class LoanHeadProof(_message.Message):
    __slots__ = ("loan_key", "loan_sequence", "leaf_index", "leaf_hash", "siblings")
    LOAN_KEY_FIELD_NUMBER: _ClassVar[int]
    LOAN_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    SIBLINGS_FIELD_NUMBER: _ClassVar[int]
    loan_key: bytes
    loan_sequence: int
    leaf_index: int
    leaf_hash: bytes
    siblings: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, loan_key: _Optional[bytes] = ..., loan_sequence: _Optional[int] = ..., leaf_index: _Optional[int] = ..., leaf_hash: _Optional[bytes] = ..., siblings: _Optional[_Iterable[bytes]] = ...) -> None: ...

class Dossier(_message.Message):
    __slots__ = ("media_type", "checkpoint", "records", "loan_head", "tsa_certificates", "anchor")
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    LOAN_HEAD_FIELD_NUMBER: _ClassVar[int]
    TSA_CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    media_type: str
    checkpoint: _common_pb2.Checkpoint
    records: _containers.RepeatedCompositeFieldContainer[BundledRecord]
    loan_head: LoanHeadProof
    tsa_certificates: _containers.RepeatedScalarFieldContainer[bytes]
    anchor: AnchorEvidence
    def __init__(self, media_type: _Optional[str] = ..., checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ..., records: _Optional[_Iterable[_Union[BundledRecord, _Mapping]]] = ..., loan_head: _Optional[_Union[LoanHeadProof, _Mapping]] = ..., tsa_certificates: _Optional[_Iterable[bytes]] = ..., anchor: _Optional[_Union[AnchorEvidence, _Mapping]] = ...) -> None: ...
