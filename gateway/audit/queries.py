"""Reading the audit log on behalf of an API key: tenant scoping, pages of entries, an entry with its inclusion
proof, consistency proofs and the signed tree head. Nothing here writes: tree heads are signed in memory
(``AuditLog.signed_head``); stored checkpoints come from appends and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..core.auth import Principal
from ..core.errors import InvalidRequest, NotFound
from ..store.db import AuditRow
from .checkpoint import Checkpoint
from .log import AuditError, AuditLog

ALL_TENANT_ROLES = ("auditor", "admin")


@dataclass(frozen=True)
class EntryPage:
    rows: list[AuditRow]
    has_more: bool


@dataclass(frozen=True)
class ProvenEntry:
    row: AuditRow
    tree_size: int
    proof: list[bytes]
    checkpoint: Checkpoint | None  # the signed head the proof is against, when no tree size was asked for


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    proof: list[bytes]
    checkpoint: Checkpoint | None


def sees_all_tenants(principal: Principal) -> bool:
    return principal.role in ALL_TENANT_ROLES


class AuditQueries:
    def __init__(self, log: AuditLog) -> None:
        self._log = log

    def head(self) -> tuple[Checkpoint, str]:
        """The signed checkpoint for the current tree size and the verifier key that checks it."""
        return self._log.signed_head(), str(self._log.signer.verifier)

    def entries(self, principal: Principal, *, event: str | None, tenant: str | None, since: datetime | None,
                until: datetime | None, after: int | None, limit: int, descending: bool) -> EntryPage:
        if not sees_all_tenants(principal):
            if tenant and tenant != principal.tenant:
                raise InvalidRequest("Only auditor keys may read other tenants' audit entries.", param="tenant")
            tenant = principal.tenant
        rows = self._log.entries(event=event, tenant=tenant, since=since, until=until, after=after, limit=limit + 1,
                                 descending=descending)
        return EntryPage(rows=rows[:limit], has_more=len(rows) > limit)

    def entry(self, principal: Principal, index: int, *, tree_size: int | None) -> ProvenEntry:
        row = self._log.entry(index)
        if row is None or not (sees_all_tenants(principal) or row.tenant == principal.tenant):
            raise NotFound(f"No audit entry {index}.", param="index")
        head = None
        if tree_size is None:
            head = self._log.signed_head()
            tree_size = head.tree_size
        try:
            proof = self._log.inclusion_proof(index, tree_size)
        except AuditError as exc:
            raise InvalidRequest(str(exc), param="tree_size")
        return ProvenEntry(row=row, tree_size=tree_size, proof=proof, checkpoint=head)

    def consistency(self, first: int, second: int | None) -> ConsistencyProof:
        head = None
        if second is None:
            head = self._log.signed_head()
            second = head.tree_size
        try:
            proof = self._log.consistency_proof(first, second)
        except AuditError as exc:
            raise InvalidRequest(str(exc), param="first")
        return ConsistencyProof(first=first, second=second, proof=proof, checkpoint=head)
