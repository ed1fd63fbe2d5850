from evidence_gateway.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TimeStampAuthoritySource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIME_STAMP_AUTHORITY_SOURCE_UNSPECIFIED: _ClassVar[TimeStampAuthoritySource]
    TIME_STAMP_AUTHORITY_SOURCE_IN_PROCESS: _ClassVar[TimeStampAuthoritySource]
    TIME_STAMP_AUTHORITY_SOURCE_HTTP: _ClassVar[TimeStampAuthoritySource]
TIME_STAMP_AUTHORITY_SOURCE_UNSPECIFIED: TimeStampAuthoritySource
TIME_STAMP_AUTHORITY_SOURCE_IN_PROCESS: TimeStampAuthoritySource
TIME_STAMP_AUTHORITY_SOURCE_HTTP: TimeStampAuthoritySource

class GetCheckpointRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCheckpointResponse(_message.Message):
    __slots__ = ("checkpoint",)
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    checkpoint: _common_pb2.Checkpoint
    def __init__(self, checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ...) -> None: ...

class GetInclusionProofRequest(_message.Message):
    __slots__ = ("leaf_index", "leaf_hash", "tree_size")
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    leaf_index: int
    leaf_hash: bytes
    tree_size: int
    def __init__(self, leaf_index: _Optional[int] = ..., leaf_hash: _Optional[bytes] = ..., tree_size: _Optional[int] = ...) -> None: ...

class GetInclusionProofResponse(_message.Message):
    __slots__ = ("inclusion_proof", "checkpoint")
    INCLUSION_PROOF_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    inclusion_proof: _common_pb2.InclusionProof
    checkpoint: _common_pb2.Checkpoint
    def __init__(self, inclusion_proof: _Optional[_Union[_common_pb2.InclusionProof, _Mapping]] = ..., checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ...) -> None: ...

class GetConsistencyProofRequest(_message.Message):
    __slots__ = ("from_size", "to_size")
    FROM_SIZE_FIELD_NUMBER: _ClassVar[int]
    TO_SIZE_FIELD_NUMBER: _ClassVar[int]
    from_size: int
    to_size: int
    def __init__(self, from_size: _Optional[int] = ..., to_size: _Optional[int] = ...) -> None: ...

class GetConsistencyProofResponse(_message.Message):
    __slots__ = ("consistency_proof", "checkpoint")
    CONSISTENCY_PROOF_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    consistency_proof: _common_pb2.ConsistencyProof
    checkpoint: _common_pb2.Checkpoint
    def __init__(self, consistency_proof: _Optional[_Union[_common_pb2.ConsistencyProof, _Mapping]] = ..., checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ...) -> None: ...

class GetEntriesRequest(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class GetEntriesResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[LogEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[LogEntry, _Mapping]]] = ...) -> None: ...

class LogEntry(_message.Message):
    __slots__ = ("leaf_index", "leaf")
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    LEAF_FIELD_NUMBER: _ClassVar[int]
    leaf_index: int
    leaf: bytes
    def __init__(self, leaf_index: _Optional[int] = ..., leaf: _Optional[bytes] = ...) -> None: ...

class GetTrustInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetTrustInfoResponse(_message.Message):
    __slots__ = ("log_origin", "log_verifier_key", "time_stamp_authorities", "hash_algorithms")
    LOG_ORIGIN_FIELD_NUMBER: _ClassVar[int]
    LOG_VERIFIER_KEY_FIELD_NUMBER: _ClassVar[int]
    TIME_STAMP_AUTHORITIES_FIELD_NUMBER: _ClassVar[int]
    HASH_ALGORITHMS_FIELD_NUMBER: _ClassVar[int]
    log_origin: str
    log_verifier_key: str
    time_stamp_authorities: _containers.RepeatedCompositeFieldContainer[TimeStampAuthority]
    hash_algorithms: _containers.RepeatedScalarFieldContainer[_common_pb2.HashAlgorithm]
    def __init__(self, log_origin: _Optional[str] = ..., log_verifier_key: _Optional[str] = ..., time_stamp_authorities: _Optional[_Iterable[_Union[TimeStampAuthority, _Mapping]]] = ..., hash_algorithms: _Optional[_Iterable[_Union[_common_pb2.HashAlgorithm, str]]] = ...) -> None: ...

class TimeStampAuthority(_message.Message):
    __slots__ = ("source", "certificate_chain", "policy_oids")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_CHAIN_FIELD_NUMBER: _ClassVar[int]
    POLICY_OIDS_FIELD_NUMBER: _ClassVar[int]
    source: TimeStampAuthoritySource
    certificate_chain: _containers.RepeatedScalarFieldContainer[bytes]
    policy_oids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, source: _Optional[_Union[TimeStampAuthoritySource, str]] = ..., certificate_chain: _Optional[_Iterable[bytes]] = ..., policy_oids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetAnchorRequest(_message.Message):
    __slots__ = ("tree_size", "leaf_index", "from_tree_size", "chain")
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    FROM_TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    tree_size: int
    leaf_index: int
    from_tree_size: int
    chain: str
    def __init__(self, tree_size: _Optional[int] = ..., leaf_index: _Optional[int] = ..., from_tree_size: _Optional[int] = ..., chain: _Optional[str] = ...) -> None: ...

class GetAnchorResponse(_message.Message):
    __slots__ = ("anchor", "consistency_proof")
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_PROOF_FIELD_NUMBER: _ClassVar[int]
    anchor: _common_pb2.Anchor
    consistency_proof: _common_pb2.ConsistencyProof
    def __init__(self, anchor: _Optional[_Union[_common_pb2.Anchor, _Mapping]] = ..., consistency_proof: _Optional[_Union[_common_pb2.ConsistencyProof, _Mapping]] = ...) -> None: ...

class ListCheckpointsRequest(_message.Message):
    __slots__ = ("from_size", "page_size", "page_token")
    FROM_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    from_size: int
    page_size: int
    page_token: str
    def __init__(self, from_size: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCheckpointsResponse(_message.Message):
    __slots__ = ("checkpoints", "next_page_token")
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    checkpoints: _containers.RepeatedCompositeFieldContainer[_common_pb2.Checkpoint]
    next_page_token: str
    def __init__(self, checkpoints: _Optional[_Iterable[_Union[_common_pb2.Checkpoint, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
