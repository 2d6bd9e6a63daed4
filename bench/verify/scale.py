"""A registry of a million records, built by bulk insert: random frame fingerprints (8 per record, every hash of
every frame drawn independently: the worst case for the index's bucket sizes) next to the real records the bench
registered through `Registry.record`. Each frame is written in the registry's extended form (pHash64, dHash64,
wHash64, pHash256; `gateway.registry.fingerprint.FRAME_FINGERPRINT_ALG`), and index rows are computed exactly as
`gateway.registry.index.band_keys` files the pHash (checked below)."""

from __future__ import annotations

import json
import sqlite3
import time

import numpy as np

from gateway.core.ids import content_id_hex
from gateway.registry.fingerprint import parse_frames
from gateway.registry.index import BAND_BITS, BANDS, band_keys

FRAMES_PER_RECORD = 8
_CHUNK = 50_000


def _signed(a: np.ndarray) -> np.ndarray:
    return a.view(np.int64)


def _frame_text(p64: int, extra: list[int]) -> str:
    """One frame's fingerprint text: pHash64-dHash64-wHash64-pHash256, hex."""
    return f"{p64:016x}-{extra[0]:016x}-{extra[1]:016x}-" + "".join(f"{w:016x}" for w in extra[2:])


def bulk_fill(db_path: str, records: int, *, seed: int = 1) -> dict:
    """Append `records` synthetic records (and their index rows) to the registry in the SQLite file at db_path."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-200000")
    ids = rng.integers(0, 2**64, size=records, dtype=np.uint64, endpoint=False)
    ids = np.unique(ids)
    hashes = rng.integers(0, 2**64, size=(ids.size, FRAMES_PER_RECORD), dtype=np.uint64, endpoint=False)
    extra = rng.integers(0, 2**64, size=(ids.size, FRAMES_PER_RECORD, 6), dtype=np.uint64, endpoint=False)
    # The vectorised keys must be the ones the registry files a hash under.
    for h in hashes[:3].ravel():
        want = band_keys(int(h))
        got = [int((np.uint64(b) << np.uint64(BAND_BITS)) | ((h >> np.uint64(BAND_BITS * b)) & np.uint64(0xFFFF)))
               for b in range(BANDS)]
        assert want == got, (want, got)
    created = "2026-01-01 00:00:00.000000"
    with conn:
        for start in range(0, ids.size, _CHUNK):
            chunk_ids, chunk_h = ids[start:start + _CHUNK], hashes[start:start + _CHUNK]
            chunk_x = extra[start:start + _CHUNK]
            rows = []
            for cid, hs, xs in zip(chunk_ids.tolist(), chunk_h.tolist(), chunk_x.tolist()):
                hexid = content_id_hex(cid)
                frames = [_frame_text(h, x) for h, x in zip(hs, xs)]
                rows.append((hexid, "video_" + hexid, "bench", "synthetic", created, "0" * 64,
                             json.dumps(frames), "com.hallmark.wm.dct-ss.2", None, None))
            if start == 0:  # the registry reads them back as written
                parsed, extended = parse_frames(json.loads(rows[0][6]))
                assert extended and parsed[:, 0].tolist() == chunk_h[0].tolist(), parsed
            conn.executemany(
                "INSERT OR IGNORE INTO registry (content_id, video_id, tenant, model, created_at, asset_sha256, "
                "fingerprints, watermark_alg, manifest_id, manifest_store) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    registry_s = time.perf_counter() - started
    # Index rows, sorted by primary key so the clustered B-tree is filled in order.
    owners = np.repeat(_signed(ids), FRAMES_PER_RECORD)
    flat = hashes.ravel()
    keys = np.concatenate([(np.uint64(b) << np.uint64(BAND_BITS)) | ((flat >> np.uint64(BAND_BITS * b))
                                                                      & np.uint64(0xFFFF)) for b in range(BANDS)])
    keys = keys.astype(np.int64)
    frame = np.tile(_signed(flat), BANDS)
    owner = np.tile(owners, BANDS)
    order = np.lexsort((owner, frame, keys))
    keys, frame, owner = keys[order], frame[order], owner[order]
    with conn:
        step = 500_000
        for start in range(0, keys.size, step):
            conn.executemany("INSERT OR IGNORE INTO registry_fingerprint_bands (key, frame_hash, content_key) "
                             "VALUES (?,?,?)", zip(keys[start:start + step].tolist(), frame[start:start + step].tolist(),
                                                   owner[start:start + step].tolist()))
    conn.execute("ANALYZE")
    conn.close()
    return dict(records=int(ids.size), index_rows=int(keys.size), registry_insert_s=registry_s,
                total_build_s=time.perf_counter() - started)
