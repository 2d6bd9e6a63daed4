"""The provenance registry: what this gateway generated, found again by content id, manifest id or perceptual
fingerprint (through the index, decided by the fingerprint's second stage)."""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass
from datetime import timezone
from typing import Iterable, Sequence

import numpy as np
from sqlalchemy import delete, insert, select

from ..core.ids import content_id_hex, video_id_for
from ..store.db import Database, RegistryFingerprintBand, RegistryRecord
from .fingerprint import CANDIDATE_DISTANCE, FrameScore, match_limit, parse_frames, score_frames, score_limit
from .index import U64, index_rows, query_keys

# Databases whose index was checked for records written before it existed (see Registry._ensure_index).
_INDEX_CHECKED: "weakref.WeakSet" = weakref.WeakSet()


@dataclass(frozen=True)
class RegistryMatch:
    content_id: str
    video_id: str
    model: str
    created_at: str
    method: str  # "watermark" | "manifest" | "fingerprint"
    manifest_id: str | None = None
    distance: int | None = None  # median differing pHash bits (fingerprint matches)
    score: float | None = None  # second-stage score: mean fraction of differing bits over four hashes
    score_limit: float | None = None  # the largest score accepted for a query of this many frames
    parent_content_id: str | None = None  # the video of ours this one was remixed, edited or extended from
    parent_video_id: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class Registry:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, *, content_id: int, video_id: str, tenant: str, model: str, asset: bytes,
               frame_hashes: list[str], watermark_alg: str, manifest_id: str | None,
               manifest_store: bytes | None, parent_content_id: str | None = None) -> None:
        self._ensure_index()
        with self._db.session.begin() as session:
            previous = session.get(RegistryRecord, content_id_hex(content_id))
            if previous is not None:  # re-recorded: drop the old frames' index rows first
                self._delete_index_rows(session, content_id, previous.fingerprints or [])
            session.merge(RegistryRecord(
                content_id=content_id_hex(content_id), video_id=video_id, tenant=tenant, model=model,
                asset_sha256=hashlib.sha256(asset).hexdigest(), fingerprints=frame_hashes,
                watermark_alg=watermark_alg, manifest_id=manifest_id, manifest_store=manifest_store,
                parent_content_id=parent_content_id,
            ))
            rows = index_rows(content_id, frame_hashes)
            if rows:
                session.execute(insert(RegistryFingerprintBand), rows)

    @staticmethod
    def _delete_index_rows(session, content_id: int, frame_hashes: Sequence[str]) -> None:
        table = RegistryFingerprintBand
        for row in index_rows(content_id, frame_hashes):
            session.execute(delete(table).where(table.key == row["key"], table.frame_hash == row["frame_hash"],
                                                table.content_key == row["content_key"]))

    def rebuild_index(self) -> int:
        """File every record's frames in the fingerprint index again (for registries written before it existed).
        Returns the number of records indexed."""
        count = 0
        with self._db.session.begin() as session:
            session.execute(delete(RegistryFingerprintBand))
            for content_id, fingerprints in session.execute(
                    select(RegistryRecord.content_id, RegistryRecord.fingerprints)).yield_per(1000):
                rows = index_rows(int(content_id, 16), fingerprints or [])
                if rows:
                    session.execute(insert(RegistryFingerprintBand), rows)
                count += 1
        return count

    def _ensure_index(self) -> None:
        """Once per database: a registry with records but an empty index predates the index; build it."""
        engine = self._db.engine
        if engine in _INDEX_CHECKED:
            return
        with self._db.session() as session:
            indexed = session.scalar(select(RegistryFingerprintBand.key).limit(1)) is not None
            recorded = session.scalar(select(RegistryRecord.content_id).limit(1)) is not None
        if recorded and not indexed:
            self.rebuild_index()
        _INDEX_CHECKED.add(engine)

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
        """Closest record whose frames match, found through the fingerprint index (see INDEX_RADIUS) and decided by
        the second stage (`score_frames`)."""
        query, extended = parse_frames(frame_hashes)
        if query.shape[0] == 0:
            return None
        self._ensure_index()
        keys = query_keys([int(v) for v in query[:, 0]])
        with self._db.session() as session:
            # A plain DB-API cursor: the rows are only turned into arrays, and ORM rows cost ~4x as much per row.
            cursor = session.connection().connection.cursor()
            try:
                cursor.execute(f"SELECT frame_hash, content_key FROM {RegistryFingerprintBand.__tablename__} "
                               f"WHERE key IN ({','.join(str(int(k)) for k in keys)})")
                rows = cursor.fetchall()
            finally:
                cursor.close()
            if not rows:
                return None
            found = np.array(rows, dtype=np.int64).reshape(-1, 2)
            stored, owners = found[:, 0].view(np.uint64), found[:, 1]
            nearest = np.bitwise_count(stored[:, None] ^ query[None, :, 0]).min(axis=1)
            radius = CANDIDATE_DISTANCE if extended else match_limit(query.shape[0])
            candidates = np.unique(owners[nearest <= radius])
            if candidates.size == 0:
                return None
            ids = [content_id_hex(int(c) % U64) for c in candidates]
            # Only the fingerprints of the candidates; the whole row of the one that matches.
            fingerprints = session.execute(select(RegistryRecord.content_id, RegistryRecord.fingerprints)
                                           .where(RegistryRecord.content_id.in_(ids))).all()
            best = _closest(query, extended, fingerprints)
            if best is None:
                return None
            content_id, result = best
            return _fingerprint_match(session.get(RegistryRecord, content_id), result, query.shape[0])

    def by_fingerprint_exhaustive(self, frame_hashes: list[str]) -> RegistryMatch | None:
        """The same decision by a linear scan over every record: the reference the index is measured against
        (tests and bench/verify); too slow for a large registry."""
        query, extended = parse_frames(frame_hashes)
        if query.shape[0] == 0:
            return None
        with self._db.session() as session:
            best = _closest(query, extended, session.execute(
                select(RegistryRecord.content_id, RegistryRecord.fingerprints)).yield_per(1000))
            if best is None:
                return None
            content_id, result = best
            return _fingerprint_match(session.get(RegistryRecord, content_id), result, query.shape[0])


def _closest(query: np.ndarray, extended: bool, records: Iterable[tuple[str, list]]) -> tuple[str, FrameScore] | None:
    """Of (content id, fingerprints) pairs, the accepted one with the lowest score (pHash distance for pHash-only
    comparisons), or None."""
    best: tuple[tuple, FrameScore, str] | None = None
    for content_id, fingerprints in records:
        stored, stored_extended = parse_frames(fingerprints or [])
        result = score_frames(query, extended, stored, stored_extended)
        if result is None or not result.accepted(query.shape[0]):
            continue
        rank = (result.score if result.score is not None else result.distance / 64, result.distance, content_id)
        if best is None or rank < best[0]:
            best = (rank, result, content_id)
    return None if best is None else (best[2], best[1])


def _fingerprint_match(row: RegistryRecord, result: FrameScore, query_frames: int) -> RegistryMatch:
    return _match(row, "fingerprint", distance=result.distance,
                  score=None if result.score is None else round(result.score, 4),
                  score_limit=None if result.score is None else score_limit(query_frames))


def _match(row: RegistryRecord, method: str, distance: int | None = None, score: float | None = None,
           score_limit: float | None = None) -> RegistryMatch:
    created = ""
    if row.created_at is not None:  # SQLite returns naive datetimes; they are stored in UTC
        created = row.created_at.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
    return RegistryMatch(content_id=row.content_id, video_id=row.video_id, model=row.model,
                         created_at=created, method=method, manifest_id=row.manifest_id, distance=distance,
                         score=score, score_limit=score_limit, parent_content_id=row.parent_content_id,
                         parent_video_id=video_id_for(int(row.parent_content_id, 16)) if row.parent_content_id else None)
