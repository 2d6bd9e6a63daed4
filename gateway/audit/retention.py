"""Retention: drop the oldest entries' text after the retention period while keeping the tree verifiable.

Pruning removes only a prefix of entries (index order is time order) and never touches ``audit_tree``: the leaf
hashes stay, so every tree head, checkpoint and proof still verifies, and later entries still prove consistent
with checkpoints signed before the prune. Before deleting, the log signs a checkpoint over the pruned range and
appends an ``audit.pruned`` entry naming it, so ``audit verify`` can tell pruning from deletion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from ..store.db import AuditRow, utcnow
from .log import PRUNED_EVENT, AuditEvent, AuditLog, format_time

MIN_RETENTION_DAYS = 183  # GB 45438: logs kept at least six months


@dataclass(frozen=True)
class PruneResult:
    before_index: int  # entries with a smaller index are gone
    deleted: int
    cutoff: datetime


def prune(log: AuditLog, *, retention_days: int, now: datetime | None = None, actor: str = "system") -> PruneResult:
    """Delete entries older than ``retention_days`` (never fewer than 183 days)."""
    if retention_days < MIN_RETENTION_DAYS:
        raise ValueError(f"retention of {retention_days} days is below the {MIN_RETENTION_DAYS}-day minimum")
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    with log._db.session() as session:
        first_kept = session.scalar(select(func.min(AuditRow.index)).where(AuditRow.time >= cutoff))
        oldest = session.scalar(select(func.min(AuditRow.index)))
    before = log.size() if first_kept is None else first_kept
    if oldest is None or before <= oldest:
        return PruneResult(before_index=oldest or 0, deleted=0, cutoff=cutoff)
    checkpoint = log.checkpoint() if log.signer else None
    # Record the prune first: a crash between the two steps leaves an announced prune that did not happen yet,
    # never a gap that no entry explains.
    log.append(AuditEvent(event=PRUNED_EVENT, actor=actor,
                          data={"before_index": before, "cutoff": format_time(cutoff),
                                "retention_days": retention_days,
                                "checkpoint_size": checkpoint.tree_size if checkpoint else None}))
    with log._db.session.begin() as session:
        deleted = session.execute(delete(AuditRow).where(AuditRow.index < before)).rowcount or 0
    return PruneResult(before_index=before, deleted=deleted, cutoff=cutoff)
