"""/v1/audit: signed checkpoints, entries with inclusion proofs, consistency proofs.

Tenant-scoped: a key sees its own tenant's entries; ``auditor`` (and ``admin``) keys see every tenant and the
system's own entries. Tree heads and proofs hold only hashes, so every key may read them.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query

from ...audit import AuditError, parse_time
from ...auth import Principal
from ...db import AuditRow
from ...errors import InvalidRequest, NotFound
from ...runtime import Runtime
from ..deps import get_principal, get_runtime

router = APIRouter(prefix="/v1/audit", tags=["audit"])

ALL_TENANT_ROLES = ("auditor", "admin")


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _sees_all(principal: Principal) -> bool:
    return principal.role in ALL_TENANT_ROLES


def _time(raw: str | None, param: str) -> datetime | None:
    if raw is None or not raw.strip():
        return None
    try:
        return parse_time(raw)
    except ValueError:
        raise InvalidRequest(f"'{param}' must be an ISO 8601 date or date-time, got {raw[:40]!r}.", param=param)


def entry_body(row: AuditRow) -> dict:
    return {"object": "audit.entry", "index": row.index, "time": json.loads(row.entry)["time"], "tenant": row.tenant,
            "actor": row.actor, "event": row.event, "object_id": row.object_id, "data": row.data,
            "leaf_hash": _b64(bytes(row.leaf_hash)), "entry": row.entry}


@router.get("/checkpoint")
def checkpoint(principal: Principal = Depends(get_principal), rt: Runtime = Depends(get_runtime)) -> dict:
    cp = rt.audit.checkpoint()
    return {"object": "audit.checkpoint", "origin": cp.origin, "tree_size": cp.tree_size,
            "root_hash": _b64(cp.root_hash), "note": cp.note, "public_key": str(rt.audit.signer.verifier)}


@router.get("/entries")
def list_entries(principal: Principal = Depends(get_principal), rt: Runtime = Depends(get_runtime),
                 from_: str | None = Query(None, alias="from"), to: str | None = Query(None),
                 type_: str | None = Query(None, alias="type"), tenant: str | None = Query(None),
                 after: int | None = Query(None, ge=-1), limit: int = Query(100, ge=1, le=1000),
                 order: Literal["asc", "desc"] = Query("asc")) -> dict:
    since, until = _time(from_, "from"), _time(to, "to")
    if not _sees_all(principal):
        if tenant and tenant != principal.tenant:
            raise InvalidRequest("Only auditor keys may read other tenants' audit entries.", param="tenant")
        tenant = principal.tenant
    rows = rt.audit.entries(event=type_, tenant=tenant, since=since, until=until, after=after, limit=limit + 1,
                            descending=order == "desc")
    has_more = len(rows) > limit
    rows = rows[:limit]
    return {"object": "list", "data": [entry_body(r) for r in rows], "has_more": has_more,
            "first_id": rows[0].index if rows else None, "last_id": rows[-1].index if rows else None}


@router.get("/entries/{index}")
def get_entry(index: int, principal: Principal = Depends(get_principal), rt: Runtime = Depends(get_runtime),
              tree_size: int | None = Query(None, ge=1)) -> dict:
    row = rt.audit.entry(index)
    if row is None or not (_sees_all(principal) or row.tenant == principal.tenant):
        raise NotFound(f"No audit entry {index}.", param="index")
    body = entry_body(row)
    if tree_size is None:
        cp = rt.audit.checkpoint()
        tree_size = cp.tree_size
        body["checkpoint"] = cp.note
    try:
        hashes = rt.audit.inclusion_proof(index, tree_size)
    except AuditError as exc:
        raise InvalidRequest(str(exc), param="tree_size")
    body["inclusion_proof"] = {"leaf_index": index, "tree_size": tree_size, "hashes": [_b64(h) for h in hashes]}
    return body


@router.get("/consistency")
def consistency(first: int = Query(..., ge=1), second: int | None = Query(None, ge=1),
                principal: Principal = Depends(get_principal), rt: Runtime = Depends(get_runtime)) -> dict:
    body: dict = {"object": "audit.consistency_proof", "first": first}
    if second is None:
        cp = rt.audit.checkpoint()
        second = cp.tree_size
        body["checkpoint"] = cp.note
    try:
        hashes = rt.audit.consistency_proof(first, second)
    except AuditError as exc:
        raise InvalidRequest(str(exc), param="first")
    body.update(second=second, hashes=[_b64(h) for h in hashes])
    return body
