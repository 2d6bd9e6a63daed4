"""The append-only audit log: every decision, generation and check, hash-chained so tampering shows.

Each entry's hash covers its canonical JSON and the previous entry's hash, so changing, deleting,
reordering or inserting any stored row breaks the chain that ``verify_chain`` recomputes.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import func, select

from .db import AuditRow, Database, utcnow

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEvent:
    event: str
    actor: str
    tenant: str | None = None
    object_id: str | None = None
    data: dict[str, Any] | None = None


def _canonical(index: int, time: datetime, event: AuditEvent | AuditRow, data: dict) -> bytes:
    body = {
        "index": index,
        "time": time.isoformat(),
        "tenant": event.tenant,
        "actor": event.actor,
        "event": event.event,
        "object_id": event.object_id,
        "data": data,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def entry_hash(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    problems: list[str]


class AuditLog:
    """Appends entries in one serialised critical section so the chain has no forks."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()

    def append(self, event: AuditEvent) -> int:
        data = json.loads(json.dumps(event.data or {}, default=str))
        with self._lock, self._db.session.begin() as session:
            last = session.execute(
                select(AuditRow.index, AuditRow.entry_hash).order_by(AuditRow.index.desc()).limit(1)
            ).first()
            index = 0 if last is None else last.index + 1
            prev = GENESIS if last is None else last.entry_hash
            now = utcnow()
            row = AuditRow(
                index=index, time=now, tenant=event.tenant, actor=event.actor, event=event.event,
                object_id=event.object_id, data=data, prev_hash=prev,
                entry_hash=entry_hash(prev, _canonical(index, now, event, data)),
            )
            session.add(row)
        return index

    def count(self) -> int:
        with self._db.session() as session:
            return session.scalar(select(func.count()).select_from(AuditRow)) or 0

    def entries(self, *, event: str | None = None, tenant: str | None = None) -> list[AuditRow]:
        with self._db.session() as session:
            query = select(AuditRow).order_by(AuditRow.index)
            if event:
                query = query.where(AuditRow.event == event)
            if tenant:
                query = query.where(AuditRow.tenant == tenant)
            return list(session.scalars(query))

    def verify_chain(self) -> ChainReport:
        return verify_rows(self.entries())


def verify_rows(rows: Iterable[AuditRow]) -> ChainReport:
    problems: list[str] = []
    prev = GENESIS
    count = 0
    for expected_index, row in enumerate(rows):
        count += 1
        if row.index != expected_index:
            problems.append(f"entry {row.index}: expected index {expected_index} (missing or reordered entry)")
        if row.prev_hash != prev:
            problems.append(f"entry {row.index}: previous-hash link broken")
        time = row.time if row.time.tzinfo else row.time.replace(tzinfo=utcnow().tzinfo)
        recomputed = entry_hash(row.prev_hash, _canonical(row.index, time, row, row.data))
        if recomputed != row.entry_hash:
            problems.append(f"entry {row.index}: content does not match its hash (altered)")
        prev = row.entry_hash
    return ChainReport(ok=not problems, entries=count, problems=problems)
