"""The provenance registry: what this gateway generated, found again by content id or perceptual fingerprint."""

from __future__ import annotations

import hashlib
import json
from datetime import timezone
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image
from sqlalchemy import select

from .db import Database, RegistryRecord

FINGERPRINT_ALG = "phash-64"
SAMPLED_FRAMES = 8
# pHash of unrelated clips differs in ~34/64 bits, a 10% crop in ~11 (REFERENCE.md): 12 keeps crops, rejects strangers.
MATCH_MAX_DISTANCE = 12


def content_id_hex(content_id: int) -> str:
    return f"{content_id:016x}"


def fingerprints(frames: np.ndarray, samples: int = SAMPLED_FRAMES) -> list[str]:
    """pHash of frames sampled evenly through the clip (hex strings)."""
    count = frames.shape[0]
    picks = np.unique(np.linspace(0, count - 1, num=min(samples, count)).round().astype(int))
    return [str(imagehash.phash(Image.fromarray(frames[i]))) for i in picks]


@dataclass(frozen=True)
class RegistryMatch:
    content_id: str
    video_id: str
    model: str
    created_at: str
    method: str  # "watermark" | "fingerprint"
    distance: int | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class Registry:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, *, content_id: int, video_id: str, tenant: str, model: str, asset: bytes,
               frame_hashes: list[str], manifest: dict) -> None:
        with self._db.session.begin() as session:
            session.merge(RegistryRecord(
                content_id=content_id_hex(content_id), video_id=video_id, tenant=tenant, model=model,
                asset_sha256=hashlib.sha256(asset).hexdigest(), fingerprints=frame_hashes,
                manifest=json.dumps(manifest, sort_keys=True).encode(),
            ))

    def by_content_id(self, content_id: int) -> RegistryMatch | None:
        with self._db.session() as session:
            row = session.get(RegistryRecord, content_id_hex(content_id))
        return None if row is None else _match(row, "watermark")

    def by_fingerprint(self, frame_hashes: list[str]) -> RegistryMatch | None:
        """Closest record whose frames match: median over query frames of the best per-frame distance."""
        if not frame_hashes:
            return None
        query = [imagehash.hex_to_hash(h) for h in frame_hashes]
        best: tuple[int, RegistryRecord] | None = None
        with self._db.session() as session:
            for row in session.scalars(select(RegistryRecord)):
                stored = [imagehash.hex_to_hash(h) for h in row.fingerprints]
                if not stored:
                    continue
                per_frame = [min(q - s for s in stored) for q in query]
                distance = int(np.median(per_frame))
                if best is None or distance < best[0]:
                    best = (distance, row)
        if best is None or best[0] > MATCH_MAX_DISTANCE:
            return None
        return _match(best[1], "fingerprint", distance=best[0])


def _match(row: RegistryRecord, method: str, distance: int | None = None) -> RegistryMatch:
    created = ""
    if row.created_at is not None:  # SQLite returns naive datetimes; they are stored in UTC
        created = row.created_at.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
    return RegistryMatch(content_id=row.content_id, video_id=row.video_id, model=row.model,
                         created_at=created, method=method, distance=distance)
