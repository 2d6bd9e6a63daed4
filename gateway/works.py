"""Registered works: rights holders' references, kept as fingerprints; add, list, remove, and the matcher."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import delete, select

from classifiers.works import RegisteredWork, WorkMatcher, fingerprint_frames

from .audit import AuditEvent
from .db import RegisteredWorkRow, utcnow
from .errors import InvalidRequest, NotFound
from .runtime import Runtime
from .uploads import decode_upload


def _to_dict(row: RegisteredWorkRow) -> dict:
    return {"id": row.id, "object": "registered_work", "title": row.title, "owner": row.owner,
            "asset_sha256": row.asset_sha256, "fingerprints": len(row.fingerprints),
            "created_at": int(row.created_at.timestamp()) if row.created_at else None}


class WorkRegistry:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def add(self, *, data: bytes, title: str, owner: str, actor: str) -> dict:
        title, owner = title.strip(), owner.strip()
        if not title:
            raise InvalidRequest("'title' is required.", param="title")
        media = decode_upload(data, param="file")
        row = RegisteredWorkRow(id="work_" + secrets.token_hex(8), title=title[:256], owner=owner[:256] or "unknown",
                                fingerprints=fingerprint_frames(media.frames),
                                asset_sha256=hashlib.sha256(data).hexdigest(), created_at=utcnow())
        with self.rt.db.session.begin() as session:
            session.add(row)
        self.rt.audit.append(AuditEvent(event="work.registered", actor=actor, object_id=row.id,
                                        data={"title": row.title, "owner": row.owner,
                                              "asset_sha256": row.asset_sha256}))
        return _to_dict(row)

    def list(self) -> list[dict]:
        with self.rt.db.session() as session:
            return [_to_dict(row) for row in session.scalars(select(RegisteredWorkRow)
                                                              .order_by(RegisteredWorkRow.created_at))]

    def remove(self, work_id: str, *, actor: str) -> None:
        with self.rt.db.session.begin() as session:
            removed = session.execute(delete(RegisteredWorkRow).where(RegisteredWorkRow.id == work_id)).rowcount
        if not removed:
            raise NotFound(f"No registered work with id '{work_id}'.", param="work_id")
        self.rt.audit.append(AuditEvent(event="work.removed", actor=actor, object_id=work_id, data={}))

    def matcher(self) -> WorkMatcher:
        with self.rt.db.session() as session:
            rows = list(session.scalars(select(RegisteredWorkRow)))
        return WorkMatcher([RegisteredWork(id=r.id, title=r.title, fingerprints=tuple(r.fingerprints)) for r in rows])
