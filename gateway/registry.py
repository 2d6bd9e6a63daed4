"""The provenance registry: what this gateway generated, found again by content id or perceptual fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timezone

from sqlalchemy import select

from classifiers.works import FINGERPRINT_ALG, clip_distance, fingerprint_frames

from .db import Database, RegistryRecord

# A clip matches a record when its frames are this close (median differing pHash bits): keeps crops,
# rejects strangers (unrelated clips differ in ~34 of 64 bits).
MATCH_MAX_DISTANCE = 12


def content_id_hex(content_id: int) -> str:
    return f"{content_id:016x}"


@dataclass(frozen=True)
class RegistryMatch:
    content_id: str
    video_id: str
    model: str
    created_at: str
    method: str  # "watermark" | "manifest" | "fingerprint"
    manifest_id: str | None = None
    distance: int | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class Registry:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, *, content_id: int, video_id: str, tenant: str, model: str, asset: bytes,
               frame_hashes: list[str], watermark_alg: str, manifest_id: str | None,
               manifest_store: bytes | None) -> None:
        with self._db.session.begin() as session:
            session.merge(RegistryRecord(
                content_id=content_id_hex(content_id), video_id=video_id, tenant=tenant, model=model,
                asset_sha256=hashlib.sha256(asset).hexdigest(), fingerprints=frame_hashes,
                watermark_alg=watermark_alg, manifest_id=manifest_id, manifest_store=manifest_store,
            ))

    def by_content_id(self, content_id: int) -> RegistryMatch | None:
        with self._db.session() as session:
            row = session.get(RegistryRecord, content_id_hex(content_id))
        return None if row is None else _match(row, "watermark")

    def by_manifest_id(self, manifest_id: str) -> RegistryMatch | None:
        with self._db.session() as session:
            row = session.scalars(select(RegistryRecord).where(RegistryRecord.manifest_id == manifest_id)).first()
        return None if row is None else _match(row, "manifest")

    def manifest_store(self, manifest_id: str) -> bytes | None:
        """The signed manifest store (application/c2pa) kept for a generation, by its manifest id."""
        with self._db.session() as session:
            return session.scalar(select(RegistryRecord.manifest_store)
                                  .where(RegistryRecord.manifest_id == manifest_id))

    def by_fingerprint(self, frame_hashes: list[str]) -> RegistryMatch | None:
        """Closest record whose frames match (a linear scan: an index for large registries is still to come)."""
        best: tuple[int, RegistryRecord] | None = None
        with self._db.session() as session:
            for row in session.scalars(select(RegistryRecord)):
                distance = clip_distance(frame_hashes, row.fingerprints)
                if distance is not None and (best is None or distance < best[0]):
                    best = (distance, row)
        if best is None or best[0] > MATCH_MAX_DISTANCE:
            return None
        return _match(best[1], "fingerprint", distance=best[0])


def _match(row: RegistryRecord, method: str, distance: int | None = None) -> RegistryMatch:
    created = ""
    if row.created_at is not None:  # SQLite returns naive datetimes; they are stored in UTC
        created = row.created_at.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
    return RegistryMatch(content_id=row.content_id, video_id=row.video_id, model=row.model,
                         created_at=created, method=method, manifest_id=row.manifest_id, distance=distance)
