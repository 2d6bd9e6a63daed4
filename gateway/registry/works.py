"""Registered works: rights holders' images and clips, kept as pHash fingerprints and PDQ hashes (add, list, remove),
and the matcher that scores reference images and generated frames against them (an ``ip`` score in [0, 1]; the
policy decides). pHash survives a 10 % crop, PDQ does not but is the format rights holders and hash-sharing
programmes exchange; either one matching is a match."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Sequence

import imagehash
import numpy as np
from sqlalchemy import delete, select

from ..audit import AuditEvent, AuditLog
from ..core.errors import InvalidRequest, NotFound
from ..media import decode_upload
from ..store.db import Database, RegisteredWorkPdqRow, RegisteredWorkRow, utcnow
from .fingerprint import phash_frames

# pHash: an unrelated image differs in ~34 of 64 bits, a 10% crop of the same one in ~11 (REFERENCE.md).
# Similarity falls linearly from 1 (identical) to 0 at 24 bits, so 12 bits — a crop — scores 0.5.
ZERO_SIMILARITY_DISTANCE = 24


def clip_distance(query: Sequence[str], stored: Sequence[str], *, any_frame: bool = False) -> int | None:
    """Differing bits between two clips: for each query frame the closest stored frame, then the median over
    the query's frames (the same clip) or, with ``any_frame``, the minimum (some frame reproduces the stored
    work). None if either side is empty."""
    if not query or not stored:
        return None
    stored_hashes = [imagehash.hex_to_hash(h) for h in stored]
    per_frame = [min(imagehash.hex_to_hash(q) - s for s in stored_hashes) for q in query]
    return int(min(per_frame)) if any_frame else int(np.median(per_frame))


def similarity(distance: int | None) -> float:
    if distance is None:
        return 0.0
    return max(0.0, 1.0 - distance / ZERO_SIMILARITY_DISTANCE)


@dataclass(frozen=True)
class RegisteredWork:
    id: str
    title: str
    fingerprints: tuple[str, ...]
    pdq: tuple[str, ...] = ()  # PDQ hashes (hex) of its frames with PDQ quality ≥ 50


def pdq_similarity(distance: int | None) -> float:
    """1 for identical PDQ hashes, 0.5 at the match distance (31 of 256 bits), 0 from 64 bits on."""
    if distance is None:
        return 0.0
    return max(0.0, 1.0 - distance / 64)


def pdq_frames(frames: np.ndarray) -> list[str]:
    """PDQ hashes of a few evenly spaced frames, those with quality enough to identify them (≥ 50)."""
    from classifiers.visual import pdq_hash  # the classifiers package imports torch: only when hashing

    from ..media import evenly_spaced

    hashes = [pdq_hash(frames[i]) for i in evenly_spaced(len(frames), 16)]
    return sorted({h for h, quality in hashes if quality >= 50})


@dataclass(frozen=True)
class WorkMatch:
    work_id: str | None
    title: str | None
    similarity: float  # the ``ip`` score this match contributes
    distance: int | None

    def to_dict(self) -> dict:
        return {"work_id": self.work_id, "title": self.title, "similarity": round(self.similarity, 4),
                "distance": self.distance}


NO_MATCH = WorkMatch(work_id=None, title=None, similarity=0.0, distance=None)


class WorkMatcher:
    """Scores frames against every registered work; the closest one wins. One frame that reproduces a work
    is enough: a clip that shows a registered image for a moment still uses it."""

    def __init__(self, works: Sequence[RegisteredWork]) -> None:
        self.works = list(works)

    def score(self, frames: np.ndarray) -> WorkMatch:
        if not self.works:
            return NO_MATCH
        query = phash_frames(frames)
        query_pdq = pdq_frames(frames) if any(work.pdq for work in self.works) else []
        best = NO_MATCH
        for work in self.works:
            distance = clip_distance(query, work.fingerprints, any_frame=True)
            score = similarity(distance)
            if query_pdq and work.pdq:
                from classifiers.visual import pdq_distance

                score = max(score, pdq_similarity(min(pdq_distance(q, s) for q in query_pdq for s in work.pdq)))
            if distance is not None and (score > best.similarity or (score == best.similarity and (
                    best.distance is None or distance < best.distance))):
                best = WorkMatch(work_id=work.id, title=work.title, similarity=score, distance=distance)
        return best


def _to_dict(row: RegisteredWorkRow, pdq: int = 0) -> dict:
    return {"id": row.id, "object": "registered_work", "title": row.title, "owner": row.owner,
            "asset_sha256": row.asset_sha256, "fingerprints": len(row.fingerprints), "pdq_hashes": pdq,
            "created_at": int(row.created_at.timestamp()) if row.created_at else None}


class WorkRegistry:
    def __init__(self, *, db: Database, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit

    def add(self, *, data: bytes, title: str, owner: str, actor: str) -> dict:
        title, owner = title.strip(), owner.strip()
        if not title:
            raise InvalidRequest("'title' is required.", param="title")
        media = decode_upload(data, param="file")
        row = RegisteredWorkRow(id="work_" + secrets.token_hex(8), title=title[:256], owner=owner[:256] or "unknown",
                                fingerprints=phash_frames(media.frames),
                                asset_sha256=hashlib.sha256(data).hexdigest(), created_at=utcnow())
        pdq = pdq_frames(media.frames)
        with self._db.session.begin() as session:
            session.add(row)
            session.add_all([RegisteredWorkPdqRow(work_id=row.id, pdq=h) for h in pdq])
        self._audit.append(AuditEvent(event="work.registered", actor=actor, object_id=row.id,
                                      data={"title": row.title, "owner": row.owner,
                                            "asset_sha256": row.asset_sha256}))
        return _to_dict(row, len(pdq))

    def list(self) -> list[dict]:
        with self._db.session() as session:
            pdq = self._pdq(session)
            return [_to_dict(row, len(pdq.get(row.id, ()))) for row in session.scalars(
                select(RegisteredWorkRow).order_by(RegisteredWorkRow.created_at))]

    @staticmethod
    def _pdq(session) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for work_id, value in session.execute(select(RegisteredWorkPdqRow.work_id, RegisteredWorkPdqRow.pdq)):
            out.setdefault(work_id, []).append(value)
        return out

    def remove(self, work_id: str, *, actor: str) -> None:
        with self._db.session.begin() as session:
            removed = session.execute(delete(RegisteredWorkRow).where(RegisteredWorkRow.id == work_id)).rowcount
            session.execute(delete(RegisteredWorkPdqRow).where(RegisteredWorkPdqRow.work_id == work_id))
        if not removed:
            raise NotFound(f"No registered work with id '{work_id}'.", param="work_id")
        self._audit.append(AuditEvent(event="work.removed", actor=actor, object_id=work_id, data={}))

    def match(self, frames: np.ndarray) -> WorkMatch:
        """The registered work closest to ``frames`` (NO_MATCH when none is registered)."""
        with self._db.session() as session:
            rows = list(session.scalars(select(RegisteredWorkRow)))
            pdq = self._pdq(session)
        return WorkMatcher([RegisteredWork(id=r.id, title=r.title, fingerprints=tuple(r.fingerprints),
                                           pdq=tuple(pdq.get(r.id, ()))) for r in rows]).score(frames)
