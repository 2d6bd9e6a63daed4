"""Storage: the SQLAlchemy schema and the engine/session factory (SQLite by default)."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    event,
    false,
    func,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from . import schema


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class ApiKeyRow(Base):
    """API keys created by the gateway itself (the development key); keys from settings are not stored."""

    __tablename__ = "api_keys"
    key_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16), default="user")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VideoJob(Base):
    """One generation request and its lifecycle (queued → in_progress → completed | failed)."""

    __tablename__ = "videos"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Creation order, for stable pagination; unique, so two processes creating jobs at once cannot share one.
    seq: Mapped[int] = mapped_column(Integer, index=True, unique=True)
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    prompt: Mapped[str] = mapped_column(Text)
    prompt_sha256: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    seconds: Mapped[str] = mapped_column(String(8))
    size: Mapped[str] = mapped_column(String(16))
    seed: Mapped[int] = mapped_column(BigInteger)
    content_id: Mapped[str] = mapped_column(String(16), index=True)  # 64-bit id as 16 hex digits
    policy: Mapped[str] = mapped_column(String(128))
    decision_id: Mapped[str] = mapped_column(String(40))
    reference_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    video_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    thumbnail_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    spritesheet_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    # Video-to-video: create (text/image to video) | remix | edit | extend; the source clip as the job stored it,
    # and the id of our own video it came from (OpenAI's remixed_from_video_id), when it was one of ours.
    operation: Mapped[str] = mapped_column(String(16), default="create", server_default="create")
    source_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    source_video_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    review: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)  # pending|approved|rejected
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The worker running the job and until when its claim holds; it renews the lease while it works, and a job whose
    # lease ran out (its worker died) is re-run or failed by whoever sees it first, never taken from a live worker.
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The x-request-id of the request that made the job: the worker's log lines and audit entries carry it too.
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)


class TenantScheduleRow(Base):
    """When each tenant last had a job claimed, by any worker of any process: the worker serves the tenant waiting
    longest next (a table of its own, so databases made before it simply gain it)."""

    __tablename__ = "tenant_schedule"
    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RegistryRecord(Base):
    """What the gateway generated, kept for verification after the asset itself is deleted."""

    __tablename__ = "registry"
    content_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    video_id: Mapped[str] = mapped_column(String(32), index=True)
    tenant: Mapped[str] = mapped_column(String(128))
    model: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    asset_sha256: Mapped[str] = mapped_column(String(64))
    fingerprints: Mapped[list] = mapped_column(JSON)  # perceptual hashes (hex) of sampled frames
    watermark_alg: Mapped[str] = mapped_column(String(64))
    manifest_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)  # urn:c2pa:…
    manifest_store: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # application/c2pa, as signed
    # The video this one was made from (remix, edit, extend), when that source was ours: the chain stays
    # answerable after either file is deleted.
    parent_content_id: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)


class RegistryFingerprintBand(Base):
    """The fingerprint index (multi-index hashing): one row per stored frame hash and band. A 64-bit pHash is cut
    into 4 bands of 16 bits; ``key = band << 16 | value``. Two hashes within d bits share some band exactly when
    d < 4, and one band differing in at most one bit when d < 8, which is what a lookup probes (see
    ``gateway.registry.records``). ``frame_hash`` and ``content_key`` are the frame's hash and the record's content id as
    signed 64-bit integers, so a lookup reads only this table's clustered primary key."""

    __tablename__ = "registry_fingerprint_bands"
    __table_args__ = {"sqlite_with_rowid": False}
    key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    frame_hash: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    content_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


# SQLite only aliases INTEGER PRIMARY KEY to the rowid; elsewhere audit indexes need 64 bits.
_AuditInt = BigInteger().with_variant(Integer, "sqlite")


class RegisteredWorkRow(Base):
    """A rights holder's image or clip; prompts' reference images and generated outputs are matched against it."""

    __tablename__ = "registered_works"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(256))
    owner: Mapped[str] = mapped_column(String(256))
    fingerprints: Mapped[list] = mapped_column(JSON)
    asset_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RegisteredWorkPdqRow(Base):
    """PDQ hashes of a registered work's frames, beside the pHashes in ``registered_works`` (a table of its own, so
    databases made before it simply gain it)."""

    __tablename__ = "registered_work_pdq"
    work_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    pdq: Mapped[str] = mapped_column(String(64), primary_key=True)  # 256 bits as 64 hex digits


class HashListRow(Base):
    """An operator's list of known-harmful images (PDQ hashes) and what a match does."""

    __tablename__ = "hash_lists"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    action: Mapped[str] = mapped_column(String(16))  # review | block
    source: Mapped[str] = mapped_column(String(256), default="")  # the imported file's name
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HashListEntryRow(Base):
    __tablename__ = "hash_list_entries"
    __table_args__ = {"sqlite_with_rowid": False}
    list_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    pdq: Mapped[str] = mapped_column(String(64), primary_key=True)


class CharacterRow(Base):
    """A registered likeness: a consenting person's ``character`` (owned by a tenant, shareable, revocable) or a
    ``protected`` person an operator registered (nobody may depict them). Only face embeddings are kept; the
    uploaded video only when the operator configured it (``video_path``)."""

    __tablename__ = "characters"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16), index=True)  # character | protected
    owner_tenant: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    embeddings: Mapped[list] = mapped_column(JSON)  # 128-d face descriptors, as lists of floats
    video_sha256: Mapped[str] = mapped_column(String(64))
    video_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CharacterGrantRow(Base):
    """Another tenant the owner lets use a character."""

    __tablename__ = "character_grants"
    character_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PublicFeedbackRow(Base):
    """A member of the public saying a check's verdict was right or wrong (SB 942 asks for a way to give feedback).
    Keyed to the check's id, never to the file checked, which is not kept."""

    __tablename__ = "public_feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    check_id: Mapped[str] = mapped_column(String(40), index=True)
    verdict_was_wrong: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditRow(Base):
    """One audit log entry: a Merkle leaf. ``entry`` is the canonical JSON the leaf hash covers; the other columns
    are copies for querying, checked against it by ``audit verify``. No update path exists in the code; the only
    delete is retention pruning of the oldest entries, which keeps their leaf hashes in ``audit_tree``."""

    __tablename__ = "audit_entries"
    index: Mapped[int] = mapped_column(_AuditInt, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    tenant: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(64), index=True)
    object_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entry: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))

    @property
    def data(self) -> dict:
        import json

        return json.loads(self.entry).get("data") or {}


class AuditNodeRow(Base):
    """A perfect Merkle subtree's hash; ``node = level << 48 | index`` covers leaves
    [index·2^level, (index+1)·2^level). Level 0 holds every leaf hash ever appended (kept through retention),
    so any tree head or proof reads O(log n) rows."""

    __tablename__ = "audit_tree"
    node: Mapped[int] = mapped_column(_AuditInt, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpointRow(Base):
    """A signed tree head (C2SP signed note), one per tree size that was checkpointed."""

    __tablename__ = "audit_checkpoints"
    tree_size: Mapped[int] = mapped_column(_AuditInt, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Database:
    """Engine + session factory. At start an empty database is created at the schema's head revision and any other
    is checked to be at it (``gateway.store.schema``); ``prepare=False`` opens it as it is (``hallmark db``)."""

    def __init__(self, url: str, *, prepare: bool = True) -> None:
        kwargs: dict = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            _private_sqlite_files(url)
        else:  # a server database: connections dropped by a restart or a proxy are replaced, not handed out
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.session = sessionmaker(self.engine, expire_on_commit=False)
        if prepare:
            schema.prepare(self.engine, Base.metadata)

    def dispose(self) -> None:
        self.engine.dispose()


# pg_advisory_xact_lock keys: "hmjobseq" and "hmaudit!" as integers, moved into bigint's signed range.
JOB_SEQ_LOCK = 0x686D6A6F62736571 - (1 << 63)
AUDIT_APPEND_LOCK = 0x686D617564697421 - (1 << 63)


def serialize(connection, key: int) -> bool:
    """Hold a database-wide lock on ``key`` until the connection's transaction ends, so processes on any host take
    turns (PostgreSQL: a transaction-scoped advisory lock); returns whether a lock was taken. SQLite needs none: one
    writer at a time is its design, and the single process of the embedded deployment orders its threads itself."""
    if connection.dialect.name != "postgresql":
        return False
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    return True


def next_job_seq(session) -> int:
    """The next job's creation order. Taken under ``JOB_SEQ_LOCK`` (and ``videos.seq`` is unique), so API processes
    creating jobs at once get distinct, increasing numbers and pagination stays stable."""
    if not serialize(session.connection(), JOB_SEQ_LOCK):
        # SQLite: take its write lock before reading (a write that changes nothing still takes it), so another
        # process creating a job waits its turn instead of reading the same maximum.
        session.execute(update(VideoJob).where(false()).values(seq=VideoJob.seq))
    return (session.scalar(select(func.max(VideoJob.seq))) or 0) + 1


def _private_sqlite_files(url: str) -> None:
    """Owner-only database files: the jobs table holds prompts. SQLite gives its -wal and -shm files the mode of the
    database file, so creating that one 0600 (before SQLite does, under the process umask) covers all three;
    files an older version left readable are tightened."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    if not os.path.exists(path):
        # Only a file nobody has open yet: closing any descriptor of a file drops every POSIX lock this process
        # holds on it, so opening a live database here would release the locks SQLite relies on.
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
    for name in (path, f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        try:
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)
        except FileNotFoundError:
            pass


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


__all__ = ["ApiKeyRow", "AuditCheckpointRow", "AuditNodeRow", "AuditRow", "Base", "Database", "RegistryRecord",
           "VideoJob", "next_job_seq", "serialize", "utcnow"]
