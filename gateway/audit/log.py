"""The audit log: entries as Merkle leaves in the database, signed checkpoints, proofs, and a full re-check.

Appends run in one transaction each (entry row + the tree nodes it completes), so a process killed mid-append
leaves either the whole entry or nothing. Concurrent writers (the API and the CLI on one database) are
serialised by the entry index primary key: a writer that loses the race retries with the new size.
"""

from __future__ import annotations

import json
import threading
import time as _time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import func, insert, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError

from ..core import request_id
from ..core.ids import prompt_sha256
from ..store.db import AUDIT_APPEND_LOCK, AuditCheckpointRow, AuditNodeRow, AuditRow, Database, serialize, utcnow
from . import merkle
from .checkpoint import Checkpoint, CheckpointError, CheckpointSigner, VerifierKey
from .prompts import PromptVault

NODE_SHIFT = 48
LEAF_LIMIT = 1 << NODE_SHIFT
PRUNED_EVENT = "audit.pruned"
PROMPT_KEY_FILE = "audit-prompt-keys.json"

_ENTRIES = AuditRow.__table__
_NODES = AuditNodeRow.__table__
_CHECKPOINTS = AuditCheckpointRow.__table__


class AuditError(ValueError):
    """A request the log cannot answer (an index or tree size it does not have)."""


@dataclass(frozen=True)
class AuditEvent:
    """What to record. ``prompt``, when given, is never stored in clear: the log keeps its SHA-256 and, in
    ``encrypted`` mode, an AES-GCM sealed copy (see ``prompts``)."""

    event: str
    actor: str
    tenant: str | None = None
    object_id: str | None = None
    data: dict[str, Any] | None = None
    prompt: str | None = field(default=None, repr=False)


def node_key(level: int, index: int) -> int:
    return level << NODE_SHIFT | index


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def format_time(moment: datetime) -> str:
    return as_utc(moment).isoformat(timespec="microseconds")


def canonical_entry(index: int, moment: datetime, event: AuditEvent, data: dict) -> str:
    """The exact text a leaf hash covers: sorted-key, compact, ASCII-only JSON."""
    body = {"index": index, "time": format_time(moment), "tenant": event.tenant, "actor": event.actor,
            "event": event.event, "object_id": event.object_id, "data": data}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


@dataclass
class AuditReport:
    """What ``verify`` found. ``ok`` only when every check ran and passed."""

    ok: bool
    entries: int
    tree_size: int
    checkpoints: int
    pruned_before: int
    problems: list[str] = field(default_factory=list)


class AuditLog:
    def __init__(self, db: Database, *, signer: CheckpointSigner | None = None,
                 checkpoint_every: int = 1000, prompts: PromptVault | None = None) -> None:
        self._db = db
        self.signer = signer
        self.prompts = prompts  # set: prompts are also kept AES-GCM sealed; None: SHA-256 only
        self.checkpoint_every = checkpoint_every
        self._lock = threading.Lock()
        self._builder: merkle.TreeBuilder | None = None  # cached frontier; reloaded when another writer moved on

    @classmethod
    def from_settings(cls, db: Database, settings) -> AuditLog:
        key_path = settings.audit_key_path
        existed = key_path.exists()
        signer = CheckpointSigner.load_or_create(key_path, settings.audit_origin)
        prompts = None
        if settings.audit_prompts == "encrypted":
            prompts = PromptVault(settings.audit_prompt_keys_path)
            prompts.ensure()
        log = cls(db, signer=signer, checkpoint_every=settings.audit_checkpoint_every, prompts=prompts)
        if not existed:
            log.append(AuditEvent(event="keys.created", actor="system",
                                  data={"kind": "audit checkpoint key", "public_key": str(signer.verifier)}))
        return log

    # -- appending ---------------------------------------------------------------------------------------------
    def append(self, event: AuditEvent) -> int:
        data = json.loads(json.dumps(event.data or {}, default=str))
        if (rid := request_id.current()) is not None:  # the API request this entry came from (x-request-id)
            data.setdefault("request_id", rid)
        if event.prompt is not None:
            data.setdefault("prompt_sha256", prompt_sha256(event.prompt))
            if self.prompts is not None:
                data["prompt_encrypted"] = self.prompts.seal(event.prompt)
        with self._lock:
            for attempt in range(100):
                try:
                    index = self._append_once(event, data)
                    break
                except (IntegrityError, OperationalError):  # another process appended first, or held the lock
                    self._builder = None
                    if attempt == 99:
                        raise
                    _time.sleep(min(0.001 * (attempt + 1), 0.05))
        if self.signer and self.checkpoint_every and (index + 1) % self.checkpoint_every == 0:
            self.checkpoint()
        return index

    def _append_once(self, event: AuditEvent, data: dict) -> int:
        with self._db.engine.begin() as conn:
            # PostgreSQL: appends from every API and worker process take turns on the one tree (an advisory lock
            # held to commit), so they never collide; SQLite's single writer needs no lock.
            locked = serialize(conn, AUDIT_APPEND_LOCK)
            # Optimistic: trust the cached frontier. If another process appended since, inserting leaf node
            # (0, size) collides with theirs (level-0 nodes are never deleted) and ``append`` retries from the
            # database, so the cache saves a query per append without risking a fork. Under the lock the size is
            # read first (one indexed query), so a stale cache is reloaded instead of colliding.
            cached = self._builder
            if cached is None or (locked and cached.size != self._size(conn)):
                cached = self._load_builder(conn, self._size(conn))
            size = cached.size
            builder = merkle.TreeBuilder(cached.size, cached.frontier)
            now = utcnow()
            entry = canonical_entry(size, now, event, data)
            leaf = merkle.leaf_hash(entry.encode())
            created = builder.add(leaf)
            conn.execute(insert(_NODES), [{"node": node_key(level, i), "hash": h} for level, i, h in created])
            conn.execute(insert(_ENTRIES), {"index": size, "time": now, "tenant": event.tenant, "actor": event.actor,
                                            "event": event.event, "object_id": event.object_id, "entry": entry,
                                            "leaf_hash": leaf})
        self._builder = builder
        return size

    def _load_builder(self, conn, size: int) -> merkle.TreeBuilder:
        wanted = merkle.TreeBuilder.frontier_nodes(size)
        hashes = self._fetch(conn, wanted)
        return merkle.TreeBuilder(size, {level: hashes[node_key(level, i)] for level, i in wanted})

    # -- reading the tree --------------------------------------------------------------------------------------
    @staticmethod
    def _size(conn) -> int:
        top = conn.execute(select(func.max(_NODES.c.node)).where(_NODES.c.node < LEAF_LIMIT)).scalar()
        return 0 if top is None else top + 1

    @staticmethod
    def _fetch(conn, wanted: list[tuple[int, int]]) -> dict[int, bytes]:
        keys = sorted({node_key(level, i) for level, i in wanted})
        if not keys:
            return {}
        rows = conn.execute(select(_NODES.c.node, _NODES.c.hash).where(_NODES.c.node.in_(keys))).all()
        found = {row[0]: bytes(row[1]) for row in rows}
        if len(found) != len(keys):
            missing = [k for k in keys if k not in found][:3]
            raise AuditError(f"the audit tree is missing nodes {[(k >> NODE_SHIFT, k % LEAF_LIMIT) for k in missing]}")
        return found

    def _compute(self, conn, fn: Callable[[merkle.NodeSource], Any]) -> Any:
        hashes = self._fetch(conn, merkle.needed_nodes(fn))
        return fn(lambda level, i: hashes[node_key(level, i)])

    def size(self) -> int:
        """The tree size: every entry ever appended, including those retention has pruned."""
        with self._db.engine.connect() as conn:
            return self._size(conn)

    def _check_size(self, conn, tree_size: int | None) -> int:
        size = self._size(conn)
        if tree_size is None:
            return size
        if not 0 <= tree_size <= size:
            raise AuditError(f"tree size {tree_size} is outside 0..{size}")
        return tree_size

    def root(self, tree_size: int | None = None) -> bytes:
        with self._db.engine.connect() as conn:
            size = self._check_size(conn, tree_size)
            return self._compute(conn, lambda node: merkle.tree_root(size, node))

    def leaf(self, index: int) -> bytes:
        with self._db.engine.connect() as conn:
            return self._fetch(conn, [(0, index)])[node_key(0, index)]

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        with self._db.engine.connect() as conn:
            size = self._check_size(conn, tree_size)
            if not 0 <= index < size:
                raise AuditError(f"entry {index} is not in a tree of size {size}")
            return self._compute(conn, lambda node: merkle.inclusion_path(index, size, node))

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        with self._db.engine.connect() as conn:
            second = self._check_size(conn, second)
            if not 0 < first <= second:
                raise AuditError(f"a consistency proof needs 0 < first ≤ second; got {first} and {second}")
            return self._compute(conn, lambda node: merkle.consistency_path(first, second, node))

    # -- checkpoints -------------------------------------------------------------------------------------------
    def _head(self) -> tuple[Checkpoint, bool]:
        """The signed checkpoint for the current tree size and whether it is already stored (if not, it was signed
        just now, in memory)."""
        if self.signer is None:
            raise AuditError("this audit log has no checkpoint key")
        with self._db.engine.connect() as conn:
            size = self._size(conn)
            note = conn.execute(select(_CHECKPOINTS.c.note).where(_CHECKPOINTS.c.tree_size == size)).scalar()
            if note is not None:
                return self.signer.verifier.open(note), True
            root = self._compute(conn, lambda node: merkle.tree_root(size, node))
        return self.signer.sign(size, root), False

    def signed_head(self) -> Checkpoint:
        """The signed checkpoint for the current tree size, without storing anything: the stored one when this size
        has one, else signed now in memory (Ed25519 is deterministic, so a later ``checkpoint()`` of the same size
        stores the very same note). What the API's reads serve: a read never writes."""
        return self._head()[0]

    def checkpoint(self) -> Checkpoint:
        """The signed checkpoint for the current tree size, signing and storing it if it is new (every
        ``checkpoint_every`` appends, ``hallmark audit checkpoint``, and before a prune)."""
        for _ in range(20):
            signed, stored = self._head()
            if stored:
                return signed
            try:
                with self._db.engine.begin() as conn:
                    conn.execute(insert(_CHECKPOINTS), {"tree_size": signed.tree_size, "root_hash": signed.root_hash,
                                                        "note": signed.note, "created_at": utcnow()})
                return signed
            except (IntegrityError, OperationalError):
                continue  # another process stored this size first: read theirs back
        raise AuditError("could not store a checkpoint: the database stayed busy")

    def checkpoints(self) -> list[AuditCheckpointRow]:
        with self._db.session() as session:
            return list(session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.tree_size)))

    # -- entries -----------------------------------------------------------------------------------------------
    def count(self) -> int:
        """Entries still stored (the tree size minus what retention pruned)."""
        with self._db.session() as session:
            return session.scalar(select(func.count()).select_from(AuditRow)) or 0

    def entry(self, index: int) -> AuditRow | None:
        with self._db.session() as session:
            return session.get(AuditRow, index)

    def entries(self, *, event: str | None = None, tenant: str | None = None, since: datetime | None = None,
                until: datetime | None = None, after: int | None = None, limit: int | None = None,
                descending: bool = False) -> list[AuditRow]:
        with self._db.session() as session:
            query = select(AuditRow).order_by(AuditRow.index.desc() if descending else AuditRow.index)
            if event:
                query = query.where(AuditRow.event == event)
            if tenant:
                query = query.where(AuditRow.tenant == tenant)
            if since is not None:
                query = query.where(AuditRow.time >= since)
            if until is not None:
                query = query.where(AuditRow.time < until)
            if after is not None:
                query = query.where(AuditRow.index < after if descending else AuditRow.index > after)
            if limit is not None:
                query = query.limit(limit)
            return list(session.scalars(query))

    def iter_entries(self, batch: int = 5000):
        """Every stored entry in index order, a batch at a time (for verify, export and reports)."""
        after = -1
        while True:
            rows = self.entries(after=after, limit=batch)
            if not rows:
                return
            yield from rows
            after = rows[-1].index

    # -- verification ------------------------------------------------------------------------------------------
    def verify(self, verifier: VerifierKey | None = None) -> AuditReport:
        """Recompute every leaf from the stored entries, every stored node and every checkpointed root, and
        check every checkpoint's signature (by ``verifier``, default this log's own key)."""
        verifier = verifier or (self.signer.verifier if self.signer else None)
        problems: list[str] = []
        with self._db.engine.connect() as conn:
            # Checkpoints first: the tree only grows, so every one read now must fit in the leaves read next.
            notes = conn.execute(select(_CHECKPOINTS.c.tree_size, _CHECKPOINTS.c.note)
                                 .order_by(_CHECKPOINTS.c.tree_size)).all()
            leaves = self._stored_level(conn, 0, problems)
            # Every stored inner node must be what the leaves give, level by level (one level in memory at a time).
            # Each level is read only up to what the leaves read above make, so concurrent appends do not count.
            below, level = leaves, 0
            while len(below) > 1:
                level += 1
                computed = [merkle.node_hash(below[2 * i], below[2 * i + 1]) for i in range(len(below) // 2)]
                stored = self._stored_level(conn, level, problems, expect=len(computed))
                bad = [i for i, (a, b) in enumerate(zip(computed, stored)) if a != b]
                if bad:
                    problems.append(f"{len(bad)} stored tree node(s) at level {level} (first: index {bad[0]}) do not "
                                    f"match the entries")
                below = computed
            # Nothing may be stored beyond the tree as it is now (re-read: appends may have moved it on).
            size_now = self._size(conn)
            top = max(size_now.bit_length(), 1)
            bounds = [(_NODES.c.node >= node_key(lv, size_now >> lv)) & (_NODES.c.node < node_key(lv + 1, 0))
                      for lv in range(1, top)] + [_NODES.c.node >= node_key(top, 0)]
            found = conn.execute(select(_NODES.c.node).where(or_(*bounds))).scalars().all()
            size_after = self._size(conn) if found else size_now
            extra = sum(1 for k in found if k % LEAF_LIMIT >= size_after >> (k >> NODE_SHIFT))
            if extra:
                problems.append(f"{extra} stored tree node(s) belong to no leaf (inserted or left behind)")
        del below
        size = len(leaves)

        entries, pruned_before = self._verify_entries(leaves, problems)

        wanted_sizes = {s for s, _ in notes}
        roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
        builder = merkle.TreeBuilder()
        for leaf in leaves[:max(wanted_sizes, default=0)]:
            builder.add(leaf)
            if builder.size in wanted_sizes:
                roots[builder.size] = builder.root()

        checked = 0
        if notes and verifier is None:
            problems.append("checkpoints were not checked: no public key was given")
        for tree_size, note in notes if verifier else []:
            try:
                cp = verifier.open(note)
            except CheckpointError as exc:
                problems.append(f"checkpoint at tree size {tree_size}: {exc}")
                continue
            checked += 1
            if cp.tree_size != tree_size:
                problems.append(f"checkpoint stored at tree size {tree_size} signs tree size {cp.tree_size}")
            elif tree_size > size:
                problems.append(f"checkpoint signs tree size {tree_size} but the log holds only {size} leaves "
                                f"(entries were removed)")
            elif roots.get(tree_size) != cp.root_hash:
                problems.append(f"checkpoint at tree size {tree_size}: its signed root does not match the entries")
        return AuditReport(ok=not problems, entries=entries, tree_size=size, checkpoints=checked,
                           pruned_before=pruned_before, problems=problems)

    @staticmethod
    def _stored_level(conn, level: int, problems: list[str], expect: int | None = None) -> list[bytes]:
        """The stored hashes of one level in index order; a gap or a surplus is a problem."""
        end = node_key(level, expect) if expect is not None else node_key(level + 1, 0)
        rows = conn.execute(select(_NODES.c.node, _NODES.c.hash)
                            .where(_NODES.c.node >= node_key(level, 0), _NODES.c.node < end)
                            .order_by(_NODES.c.node))
        hashes: list[bytes] = []
        for key, value in rows:
            if key != node_key(level, len(hashes)):
                problems.append(f"stored tree level {level} is not contiguous: node {len(hashes)} is missing")
                break
            hashes.append(bytes(value))
        if expect is not None and len(hashes) != expect:
            problems.append(f"stored tree level {level} has {len(hashes)} nodes; the leaves make {expect}")
        return hashes

    def _verify_entries(self, leaves: list[bytes], problems: list[str]) -> tuple[int, int]:
        count, pruned_before, first, expected = 0, 0, None, None
        beyond: list[int] = []
        for row in self.iter_entries():
            count += 1
            if first is None:
                first = row.index
            elif row.index != expected:
                problems.append(f"entry {expected}: missing (deleted, or entries reordered); next stored is "
                                f"{row.index}")
            expected = row.index + 1
            if row.index >= len(leaves):
                beyond.append(row.index)  # appended after the tree was read, or inserted: decided below
                continue
            problems.extend(check_row(row, leaves))
            if row.event == PRUNED_EVENT:
                try:
                    pruned_before = max(pruned_before, int(json.loads(row.entry)["data"]["before_index"]))
                except (KeyError, TypeError, ValueError):
                    pass
        if beyond:
            size_now = self.size()
            problems.extend(f"entry {i}: has no leaf in the tree (inserted entry)" for i in beyond if i >= size_now)
            count -= sum(1 for i in beyond if i < size_now)
            expected = min(expected, len(leaves)) if expected is not None else None
        if first is None:
            first = expected = len(leaves)
        if first > pruned_before:
            problems.append(f"entries {pruned_before}..{first - 1} are missing and no retention pruning "
                            f"recorded removing them")
        if expected < len(leaves):
            problems.append(f"entries {expected}..{len(leaves) - 1} are missing (the tree has {len(leaves)} leaves)")
        return count, pruned_before


def check_row(row: AuditRow, leaves: list[bytes]) -> list[str]:
    """An entry's leaf hash, and the columns it is queried by, must agree with its canonical text."""
    problems = []
    leaf = merkle.leaf_hash(row.entry.encode())
    if row.index >= len(leaves) or row.index < 0:
        return [f"entry {row.index}: has no leaf in the tree (inserted entry)"]
    if leaf != leaves[row.index] or leaf != bytes(row.leaf_hash):
        problems.append(f"entry {row.index}: content does not match its leaf hash (altered)")
    try:
        body = json.loads(row.entry)
    except ValueError:
        return problems + [f"entry {row.index}: stored text is not JSON (altered)"]
    columns = {"index": row.index, "time": format_time(row.time), "tenant": row.tenant, "actor": row.actor,
               "event": row.event, "object_id": row.object_id}
    changed = sorted(k for k, v in columns.items() if body.get(k) != v)
    if changed:
        problems.append(f"entry {row.index}: columns {', '.join(changed)} differ from the signed entry (altered "
                        f"or moved)")
    return problems


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or date-time; without a zone it is UTC. Raises ValueError."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return as_utc(moment)
