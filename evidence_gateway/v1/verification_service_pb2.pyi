from evidence_gateway.v1 import bundle_pb2 as _bundle_pb2
from evidence_gateway.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_VALID: _ClassVar[Verdict]
    VERDICT_INVALID: _ClassVar[Verdict]
    VERDICT_NOT_FOUND: _ClassVar[Verdict]
    VERDICT_INCONCLUSIVE: _ClassVar[Verdict]

class CheckStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHECK_STATUS_UNSPECIFIED: _ClassVar[CheckStatus]
    CHECK_STATUS_PASSED: _ClassVar[CheckStatus]
    CHECK_STATUS_FAILED: _ClassVar[CheckStatus]
    CHECK_STATUS_NOT_RUN: _ClassVar[CheckStatus]
VERDICT_UNSPECIFIED: Verdict
VERDICT_VALID: Verdict
VERDICT_INVALID: Verdict
VERDICT_NOT_FOUND: Verdict
VERDICT_INCONCLUSIVE: Verdict
CHECK_STATUS_UNSPECIFIED: CheckStatus
CHECK_STATUS_PASSED: CheckStatus
CHECK_STATUS_FAILED: CheckStatus
CHECK_STATUS_NOT_RUN: CheckStatus

class Digest(_message.Message):
    __slots__ = ("hash_algorithm", "value")
    HASH_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    hash_algorithm: _common_pb2.HashAlgorithm
    value: bytes
    def __init__(self, hash_algorithm: _Optional[_Union[_common_pb2.HashAlgorithm, str]] = ..., value: _Optional[bytes] = ...) -> None: ...

class VerifyEvidenceRequest(_message.Message):
    __slots__ = ("digest", "entry_id", "receipt")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    digest: Digest
    entry_id: str
    receipt: _common_pb2.Receipt
    def __init__(self, digest: _Optional[_Union[Digest, _Mapping]] = ..., entry_id: _Optional[str] = ..., receipt: _Optional[_Union[_common_pb2.Receipt, _Mapping]] = ...) -> None: ...

class VerifyEvidenceResponse(_message.Message):
    __slots__ = ("verdict", "checks", "record", "material", "other_entry_ids", "other_entry_ids_truncated")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    MATERIAL_FIELD_NUMBER: _ClassVar[int]
    OTHER_ENTRY_IDS_FIELD_NUMBER: _ClassVar[int]
    OTHER_ENTRY_IDS_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    verdict: Verdict
    checks: _containers.RepeatedCompositeFieldContainer[VerificationCheck]
    record: _common_pb2.EvidenceRecord
    material: VerificationMaterial
    other_entry_ids: _containers.RepeatedScalarFieldContainer[str]
    other_entry_ids_truncated: bool
    def __init__(self, verdict: _Optional[_Union[Verdict, str]] = ..., checks: _Optional[_Iterable[_Union[VerificationCheck, _Mapping]]] = ..., record: _Optional[_Union[_common_pb2.EvidenceRecord, _Mapping]] = ..., material: _Optional[_Union[VerificationMaterial, _Mapping]] = ..., other_entry_ids: _Optional[_Iterable[str]] = ..., other_entry_ids_truncated: _Optional[bool] = ...) -> None: ...

class VerificationCheck(_message.Message):
    __slots__ = ("name", "status", "detail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: CheckStatus
    detail: str
    def __init__(self, name: _Optional[str] = ..., status: _Optional[_Union[CheckStatus, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class VerificationMaterial(_message.Message):
    __slots__ = ("timestamp_token", "leaf", "checkpoint", "inclusion_proof", "consistency_proof", "anchor", "anchor_consistency_proof")
    TIMESTAMP_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LEAF_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    INCLUSION_PROOF_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_PROOF_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_CONSISTENCY_PROOF_FIELD_NUMBER: _ClassVar[int]
    timestamp_token: bytes
    leaf: bytes
    checkpoint: _common_pb2.Checkpoint
    inclusion_proof: _common_pb2.InclusionProof
    consistency_proof: _common_pb2.ConsistencyProof
    anchor: _common_pb2.Anchor
    anchor_consistency_proof: _common_pb2.ConsistencyProof
    def __init__(self, timestamp_token: _Optional[bytes] = ..., leaf: _Optional[bytes] = ..., checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ..., inclusion_proof: _Optional[_Union[_common_pb2.InclusionProof, _Mapping]] = ..., consistency_proof: _Optional[_Union[_common_pb2.ConsistencyProof, _Mapping]] = ..., anchor: _Optional[_Union[_common_pb2.Anchor, _Mapping]] = ..., anchor_consistency_proof: _Optional[_Union[_common_pb2.ConsistencyProof, _Mapping]] = ...) -> None: ...

class GetEvidenceBundleRequest(_message.Message):
    __slots__ = ("entry_id", "digest", "tree_size")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    digest: Digest
    tree_size: int
    def __init__(self, entry_id: _Optional[str] = ..., digest: _Optional[_Union[Digest, _Mapping]] = ..., tree_size: _Optional[int] = ...) -> None: ...

class GetEvidenceBundleResponse(_message.Message):
    __slots__ = ("bundle", "other_entry_ids")
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    OTHER_ENTRY_IDS_FIELD_NUMBER: _ClassVar[int]
    bundle: _bundle_pb2.EvidenceBundle
    other_entry_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, bundle: _Optional[_Union[_bundle_pb2.EvidenceBundle, _Mapping]] = ..., other_entry_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetDossierRequest(_message.Message):
    __slots__ = ("owner", "loan_ref", "tree_size", "max_records")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    LOAN_REF_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_RECORDS_FIELD_NUMBER: _ClassVar[int]
    owner: str
    loan_ref: str
    tree_size: int
    max_records: int
    def __init__(self, owner: _Optional[str] = ..., loan_ref: _Optional[str] = ..., tree_size: _Optional[int] = ..., max_records: _Optional[int] = ...) -> None: ...

class GetDossierResponse(_message.Message):
    __slots__ = ("dossier",)
    DOSSIER_FIELD_NUMBER: _ClassVar[int]
    dossier: _bundle_pb2.Dossier
    def __init__(self, dossier: _Optional[_Union[_bundle_pb2.Dossier, _Mapping]] = ...) -> None: ...
