"""The gateway's database schema, as SQLModel table models.

Times are stored as integer microseconds since the Unix epoch (UTC) and
hashes as raw bytes, so the schema means the same on SQLite and PostgreSQL.
Entries, nodes and checkpoints are write-once; ``loan_heads`` holds one row
per loan, moved forward by each commit.

Idempotency keys are the unique pair ``(institution, request_id)`` of
``entries`` (the submitting institution); a loan is ``(owner, loan_ref)``
(the owning lender) and its chain positions are the unique triple
``(owner, loan_ref, loan_sequence)``.

Every read of the gateway is an index search on these keys and indexes
(``tests/unit/gateway/store/test_read_plans.py`` and its PostgreSQL twin
check the plans). A database created by an earlier version keeps its older
layout (a full ``ix_entries_supersedes``, rowid ``nodes`` and ``loan_heads``
on SQLite): the same queries serve it; only new databases are smaller.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    column,
    literal_column,
    text,
)
from sqlmodel import Field, SQLModel

from gateway.model import INSTITUTIONS_LOAN

__all__ = [
    "AnchorRow",
    "CheckpointRow",
    "DailyCountRow",
    "DelegationRow",
    "EntryRow",
    "GrantRequestRow",
    "InstitutionCertificateRow",
    "InstitutionRow",
    "LoanHeadRow",
    "LoanMapBlockRow",
    "LoanSaltRow",
    "NodeRow",
    "OpeningRow",
    "ShareRow",
    "TokenCertificateSetRow",
    "TokenTemplateRow",
    "metadata",
]

metadata = SQLModel.metadata

# BIGINT on PostgreSQL; on SQLite an INTEGER PRIMARY KEY is the rowid itself
# (no second index), which makes appends cheaper. Both hold 64-bit values.
_RowId = BigInteger().with_variant(Integer(), "sqlite")


class EntryRow(SQLModel, table=True):
    """One registered record and what its receipt was made of."""

    __tablename__ = "entries"
    __table_args__ = (
        UniqueConstraint("institution", "request_id", name="uq_entries_request"),
        UniqueConstraint("owner", "loan_ref", "loan_sequence", name="uq_entries_chain"),
        Index("ix_entries_digest", "hash_algorithm", "digest", "leaf_index"),
        # A lender's (owner) and a collection agency's (submitter) digest searches: the
        # caller's scope is a column of the index, so the search never reads, and never
        # takes longer for, another institution's records with the same digest (a
        # templated text's digest must not tell one lender how often another sends it).
        Index("ix_entries_owner_digest", "owner", "hash_algorithm", "digest", "leaf_index"),
        Index(
            "ix_entries_submitter_digest", "institution", "hash_algorithm", "digest", "leaf_index"
        ),
        # A court's or arbitration body's digest search: one search per loan shared with
        # it, so it reads nothing of the owner's other loans (gateway.store.access).
        Index(
            "ix_entries_loan_digest", "owner", "loan_ref", "hash_algorithm", "digest", "leaf_index"
        ),
        # The operator's digest search (its records of registry changes): partial, so it
        # holds those records only and the search reads no loan's record with the digest
        # (gateway.store.access: AccessQueries.operator_rows names it).
        Index(
            "ix_entries_operator_digest",
            "hash_algorithm",
            "digest",
            "leaf_index",
            sqlite_where=column("loan_ref") == literal_column(f"'{INSTITUTIONS_LOAN}'"),
            postgresql_where=column("loan_ref") == literal_column(f"'{INSTITUTIONS_LOAN}'"),
        ),
        # Partial: almost no record supersedes another, so the index holds only those
        # that do (an index over all rows would add ~10 bytes per entry of NULLs, and
        # statistics dominated by NULLs make planners scan the table instead).
        Index(
            "ix_entries_supersedes",
            "supersedes",
            sqlite_where=text("supersedes IS NOT NULL"),
            postgresql_where=text("supersedes IS NOT NULL"),
        ),
    )

    leaf_index: int = Field(
        sa_column=Column(_RowId, primary_key=True, autoincrement=False, nullable=False)
    )
    entry_id: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    institution: str = Field(sa_column=Column(String(128), nullable=False))
    owner: str = Field(sa_column=Column(String(128), nullable=False))
    request_id: str = Field(sa_column=Column(String(128), nullable=False))
    loan_ref: str = Field(sa_column=Column(String(128), nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    hash_algorithm: str = Field(sa_column=Column(String(16), nullable=False))
    digest: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    occurred_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    received_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    metadata_json: str = Field(sa_column=Column(Text, nullable=False))
    supersedes: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    loan_sequence: int = Field(sa_column=Column(BigInteger, nullable=False))
    previous_leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    # The RFC 3161 token, without its certificate set when that set is stored once in
    # token_certificate_sets (the column's forms: gateway.store.token_pack).
    token: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    receipt_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    # Who a grant record (kinds loan_delegated to share_revoked) names, from its metadata;
    # NULL for every other record. A court reads only the share records naming it.
    grantee: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))


class TokenCertificateSetRow(SQLModel, table=True):
    """One ``certificates`` field of time-stamp tokens, stored once for all the tokens
    that carry it (gateway.store.token_pack, gateway.store.token_sets).

    Found by its SHA-256 when a batch is written; an entry's stripped token names
    it by ``id`` (a few bytes instead of 32). Write-once, like the entries.
    """

    __tablename__ = "token_certificate_sets"

    id: int | None = Field(
        default=None, sa_column=Column(_RowId, primary_key=True, autoincrement=True)
    )
    sha256: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    certificates: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class TokenTemplateRow(SQLModel, table=True):
    """The template of one certificate set: a stripped token of that set, the preset
    dictionary the set's other tokens are deflated against (gateway.store.token_pack).

    Chosen once, from the first token stored after the set was numbered (an earlier
    version's sets get theirs at their next token); write-once.
    """

    __tablename__ = "token_templates"

    set_id: int = Field(
        sa_column=Column(_RowId, primary_key=True, autoincrement=False, nullable=False)
    )
    template: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class NodeRow(SQLModel, table=True):
    """The hash of one perfect subtree ``(level, index)`` of the Merkle tree, from level 1
    up: a leaf's hash (level 0) is its entry's ``leaf_hash`` (an earlier version's
    database also has level 0 here; it is not read)."""

    __tablename__ = "nodes"
    # On SQLite the rows live in the primary key's B-tree itself: no rowid and no
    # second index of (level, idx) (about 30 bytes per entry less).
    __table_args__ = {"sqlite_with_rowid": False}

    level: int = Field(
        sa_column=Column(SmallInteger, primary_key=True, autoincrement=False, nullable=False)
    )
    idx: int = Field(
        sa_column=Column(BigInteger, primary_key=True, autoincrement=False, nullable=False)
    )
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CheckpointRow(SQLModel, table=True):
    """One signed checkpoint (one per group commit)."""

    __tablename__ = "checkpoints"

    size: int = Field(
        sa_column=Column(_RowId, primary_key=True, autoincrement=False, nullable=False)
    )
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class LoanHeadRow(SQLModel, table=True):
    """The latest record of each loan's hash chain."""

    __tablename__ = "loan_heads"
    __table_args__ = {"sqlite_with_rowid": False}  # one B-tree, keyed by the loan

    owner: str = Field(sa_column=Column(String(128), primary_key=True, nullable=False))
    loan_ref: str = Field(sa_column=Column(String(128), primary_key=True, nullable=False))
    sequence: int = Field(sa_column=Column(BigInteger, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf_index: int = Field(sa_column=Column(BigInteger, nullable=False))


class LoanMapBlockRow(SQLModel, table=True):
    """One node of the loan map (:mod:`gateway.log.loanmap`) as it is from ``version`` on.

    ``path`` is the node's nibble path (lowercase hex, ``""`` the top), ``version``
    the size of the checkpoint whose map first has this body; a node is written
    again only when a batch changes it. The body at checkpoint size ``S`` is the
    row of the largest ``version <= S``: one descent of the primary key's index.

    On SQLite this is a rowid table on purpose (not ``WITHOUT ROWID``): its rows
    are appended in commit order, and only the small ``(path, version)`` index
    takes a batch's scattered inserts. Clustered by ``path``, a batch rewrote a
    4 KiB page for nearly every node it wrote (several KiB of WAL per committed
    entry); appended, the bodies fill new pages.
    """

    __tablename__ = "loan_map_blocks"

    path: str = Field(sa_column=Column(String(64), primary_key=True, nullable=False))
    version: int = Field(
        sa_column=Column(BigInteger, primary_key=True, autoincrement=False, nullable=False)
    )
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


# ---------------------------------------------------------------- openings (leaf version 2)
# A version 2 leaf shows its private record only as a salted commitment and its loan only
# as an opaque key (court.evidence.leaf_v2). What opens it is kept here: each record's
# salt with its owner and submitter (the rest of the private record is the entry's own
# columns), and each loan's secret salt. Entries of version 1 have no opening row.


class OpeningRow(SQLModel, table=True):
    """What opens one version 2 leaf, besides the entry's own columns."""

    __tablename__ = "openings"

    leaf_index: int = Field(
        sa_column=Column(_RowId, primary_key=True, autoincrement=False, nullable=False)
    )
    owner: str = Field(sa_column=Column(String(128), nullable=False))
    submitter: str = Field(sa_column=Column(String(128), nullable=False))
    record_salt: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    loan_salt: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LoanSaltRow(SQLModel, table=True):
    """The secret salt of one loan's opaque key, chosen at its first version 2 record."""

    __tablename__ = "loan_salts"
    __table_args__ = {"sqlite_with_rowid": False}  # one B-tree, keyed by the loan

    owner: str = Field(sa_column=Column(String(128), primary_key=True, nullable=False))
    loan_ref: str = Field(sa_column=Column(String(128), primary_key=True, nullable=False))
    salt: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


# ------------------------------------------------------------------ authorization (grants)


class DelegationRow(SQLModel, table=True):
    """A lender's delegation of one loan (or of all, ``loan_ref`` ":all-loans") to a
    collection agency, keyed by the entry id of the log record that made it."""

    __tablename__ = "delegations"
    __table_args__ = (Index("ix_delegations_collector", "collector", "owner", "loan_ref"),)

    entry_id: str = Field(sa_column=Column(String(64), primary_key=True, nullable=False))
    owner: str = Field(sa_column=Column(String(128), nullable=False))
    collector: str = Field(sa_column=Column(String(128), nullable=False))
    loan_ref: str = Field(sa_column=Column(String(128), nullable=False))
    expires_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    revoked_at_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class ShareRow(SQLModel, table=True):
    """A lender's share of one loan with a court or arbitration body, keyed by the entry
    id of the log record that made it."""

    __tablename__ = "shares"
    __table_args__ = (Index("ix_shares_grantee", "grantee", "owner", "loan_ref"),)

    entry_id: str = Field(sa_column=Column(String(64), primary_key=True, nullable=False))
    owner: str = Field(sa_column=Column(String(128), nullable=False))
    grantee: str = Field(sa_column=Column(String(128), nullable=False))
    loan_ref: str = Field(sa_column=Column(String(128), nullable=False))
    expires_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    revoked_at_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class GrantRequestRow(SQLModel, table=True):
    """What one grant call of a lender asked for, under its request_id: the SHA-256 of
    the whole request (kind, grantee, loans or all loans, expiry), so that the same
    request_id with other content is refused however its loans differ."""

    __tablename__ = "grant_requests"
    __table_args__ = {"sqlite_with_rowid": False}

    owner: str = Field(sa_column=Column(String(128), primary_key=True, nullable=False))
    request_id: str = Field(sa_column=Column(String(128), primary_key=True, nullable=False))
    fingerprint: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class DailyCountRow(SQLModel, table=True):
    """How many records one institution submitted of one kind on one UTC day (the
    regulator's statistics), moved forward by each commit."""

    __tablename__ = "daily_counts"
    __table_args__ = {"sqlite_with_rowid": False}

    day: int = Field(  # days since 1970-01-01, UTC, of the gateway's receipt time
        sa_column=Column(Integer, primary_key=True, autoincrement=False, nullable=False)
    )
    institution: str = Field(sa_column=Column(String(128), primary_key=True, nullable=False))
    kind: str = Field(sa_column=Column(String(32), primary_key=True, nullable=False))
    count: int = Field(sa_column=Column(BigInteger, nullable=False))


# --------------------------------------------------------------------------- institutions
# The registry of institutions (who may call, in which role) and the client
# certificates each is known by. Rows are changed by AdminService only; every
# call reads them afresh, so a change applies to the next call.


class InstitutionRow(SQLModel, table=True):
    """One institution: its name (the id callers act as), role and status."""

    __tablename__ = "institutions"

    name: str = Field(sa_column=Column(String(128), primary_key=True, nullable=False))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    created_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class InstitutionCertificateRow(SQLModel, table=True):
    """A client certificate an institution is known by, and how long it counts.

    ``valid_until_us`` starts as the certificate's notAfter; a rotation moves
    it closer (the end of the overlap). ``revoked_at_us`` is set once, by a
    revocation, and then the certificate never counts again.
    """

    __tablename__ = "institution_certificates"
    __table_args__ = (Index("ix_institution_certificates_institution", "institution"),)

    sha256: bytes = Field(sa_column=Column(LargeBinary, primary_key=True, nullable=False))
    institution: str = Field(sa_column=Column(String(128), nullable=False))
    subject: str = Field(sa_column=Column(Text, nullable=False))
    serial: str = Field(sa_column=Column(String(64), nullable=False))
    not_before_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    not_after_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    valid_until_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    added_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    revoked_at_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


# ------------------------------------------------------------------------------ anchoring


class AnchorRow(SQLModel, table=True):
    """One anchoring attempt of a checkpoint on one chain (gateway.anchor.model).

    ``consistency_proof`` is the proof's hashes concatenated (32 bytes each),
    from ``previous_size`` to ``tree_size``; ``raw_tx`` the signed transaction
    ``tx_hash`` names (stored before it is broadcast), ``earlier_tx_hashes``
    the hashes of the transactions it replaced, concatenated. Searched by chain and status (the
    worker's pending and latest anchors) and by status and size (the first
    confirmed anchor that covers a size).
    """

    __tablename__ = "anchors"
    __table_args__ = (
        Index("ix_anchors_chain", "chain_name", "status", "tree_size"),
        Index("ix_anchors_covering", "status", "tree_size"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(_RowId, primary_key=True, autoincrement=True)
    )
    chain_name: str = Field(sa_column=Column(String(64), nullable=False))
    chain_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    contract: str = Field(sa_column=Column(String(42), nullable=False))
    log_id: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    tree_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    root_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    checkpoint_note: str = Field(sa_column=Column(Text, nullable=False))
    checkpoint_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    previous_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    consistency_proof: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    tx_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    nonce: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    submitted_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    block_number: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    block_hash: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    anchor_number: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    confirmed_at_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    raw_tx: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    gas_price: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    earlier_tx_hashes: bytes | None = Field(
        default=None, sa_column=Column(LargeBinary, nullable=True)
    )
    signed_at_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
