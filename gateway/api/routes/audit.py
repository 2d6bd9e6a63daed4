"""/v1/audit: signed checkpoints, entries with inclusion proofs, consistency proofs.

Tenant-scoped: a key sees its own tenant's entries; ``auditor`` (and ``admin``) keys see every tenant and the
system's own entries. Tree heads and proofs hold only hashes, so every key may read them.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query

from ...audit import parse_time
from ...audit.queries import AuditQueries
from ...core.auth import Principal
from ...core.errors import InvalidRequest
from ...store.db import AuditRow
from ..deps import get_audit, get_principal
from ..openapi import AUTHENTICATED, errors

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=AUTHENTICATED)

# Indices and tree sizes are SQLite integers (signed 64-bit); a larger number cannot name an entry and cannot be
# bound as a query parameter, so it is refused with the rest of the request's validation.
MAX_INDEX = 2**63 - 1


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


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
def checkpoint(principal: Principal = Depends(get_principal), audit: AuditQueries = Depends(get_audit)) -> dict:
    cp, public_key = audit.head()
    return {"object": "audit.checkpoint", "origin": cp.origin, "tree_size": cp.tree_size,
            "root_hash": _b64(cp.root_hash), "note": cp.note, "public_key": public_key}


@router.get("/entries")
def list_entries(principal: Principal = Depends(get_principal), audit: AuditQueries = Depends(get_audit),
                 from_: str | None = Query(None, alias="from"), to: str | None = Query(None),
                 type_: str | None = Query(None, alias="type"), tenant: str | None = Query(None),
                 after: int | None = Query(None, ge=-1, le=MAX_INDEX), limit: int = Query(100, ge=1, le=1000),
                 order: Literal["asc", "desc"] = Query("asc")) -> dict:
    page = audit.entries(principal, event=type_, tenant=tenant, since=_time(from_, "from"), until=_time(to, "to"),
                         after=after, limit=limit, descending=order == "desc")
    rows = page.rows
    return {"object": "list", "data": [entry_body(r) for r in rows], "has_more": page.has_more,
            "first_id": rows[0].index if rows else None, "last_id": rows[-1].index if rows else None}


@router.get("/entries/{index}", responses=errors(404))
def get_entry(index: int = Path(ge=0, le=MAX_INDEX), principal: Principal = Depends(get_principal),
              audit: AuditQueries = Depends(get_audit),
              tree_size: int | None = Query(None, ge=1, le=MAX_INDEX)) -> dict:
    proven = audit.entry(principal, index, tree_size=tree_size)
    body = entry_body(proven.row)
    if proven.checkpoint is not None:
        body["checkpoint"] = proven.checkpoint.note
    body["inclusion_proof"] = {"leaf_index": index, "tree_size": proven.tree_size,
                               "hashes": [_b64(h) for h in proven.proof]}
    return body


@router.get("/consistency")
def consistency(first: int = Query(..., ge=1, le=MAX_INDEX), second: int | None = Query(None, ge=1, le=MAX_INDEX),
                principal: Principal = Depends(get_principal), audit: AuditQueries = Depends(get_audit)) -> dict:
    proof = audit.consistency(first, second)
    body: dict = {"object": "audit.consistency_proof", "first": first}
    if proof.checkpoint is not None:
        body["checkpoint"] = proof.checkpoint.note
    body.update(second=proof.second, hashes=[_b64(h) for h in proof.proof])
    return body
