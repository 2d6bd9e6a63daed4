"""The registry's fingerprint index: finds what the exhaustive scan finds, matches no strangers, is kept by record()."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select

from gateway.core.ids import content_id_hex
from gateway.registry.fingerprint import MATCH_MAX_DISTANCE
from gateway.registry.index import (
    BANDS,
    DEEP_FRAMES,
    EXACT_RADIUS,
    IMAGE_PROBE_FLIPS,
    INDEX_RADIUS,
    band_keys,
    probe_keys,
    query_keys,
)
from gateway.registry.records import Registry
from gateway.store.db import Database, RegistryFingerprintBand


def _hex(value: int) -> str:
    return f"{value:016x}"


def _flip(value: int, bits: int, rng: random.Random) -> int:
    for bit in rng.sample(range(64), bits):
        value ^= 1 << bit
    return value


def _record(registry: Registry, content_id: int, hashes: list[int]) -> None:
    registry.record(content_id=content_id, video_id=f"video_{content_id:x}", tenant="t", model="m",
                    asset=b"x%d" % content_id, frame_hashes=[_hex(h) for h in hashes], watermark_alg="wm",
                    manifest_id=None, manifest_store=None)


@pytest.fixture()
def registry(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    yield Registry(db)
    db.dispose()


@pytest.fixture()
def populated(registry):
    rng = random.Random(6)
    clips = {}
    for i in range(50):
        content_id = rng.getrandbits(64)
        base = rng.getrandbits(64)
        clips[content_id] = [_flip(base, rng.randint(0, 6), rng) for _ in range(8)]  # frames of one clip are alike
        _record(registry, content_id, clips[content_id])
    return registry, clips


def test_probe_covers_the_guaranteed_radius():
    rng = random.Random(1)
    for _ in range(200):
        stored = rng.getrandbits(64)
        query = _flip(stored, rng.randint(0, INDEX_RADIUS), rng)
        assert set(band_keys(stored)) & probe_keys(query)
    assert INDEX_RADIUS == 7 and BANDS == 4


def test_a_lookup_reads_exact_keys_of_every_frame_and_probes_of_the_deep_ones():
    rng = random.Random(5)
    frames = [rng.getrandbits(64) for _ in range(8)]
    keys = set(query_keys(frames))
    for value in frames:
        assert set(band_keys(value)) <= keys
    deep = [v for v in frames if probe_keys(v) <= keys]
    assert len(deep) == DEEP_FRAMES and frames[0] in deep and frames[-1] in deep
    assert set(query_keys(frames[:1])) == probe_keys(frames[0], IMAGE_PROBE_FLIPS)  # an image: probed IMAGE_PROBE_FLIPS deep
    for _ in range(100):  # any stored frame within EXACT_RADIUS of any query frame is read
        near = _flip(rng.choice(frames), rng.randint(0, EXACT_RADIUS), rng)
        assert set(band_keys(near)) & keys


def test_record_writes_index_rows_and_rerecording_replaces_them(registry):
    _record(registry, 0xFEEDFACECAFEBEEF, [0x0123456789ABCDEF, 0x0123456789ABCDEF, 0xFFFF0000FFFF0000])
    with registry._db.session() as session:
        rows = session.execute(select(RegistryFingerprintBand)).scalars().all()
    assert len(rows) == 2 * BANDS  # a duplicate frame is filed once
    assert {r.content_key for r in rows} == {0xFEEDFACECAFEBEEF - (1 << 64)}
    _record(registry, 0xFEEDFACECAFEBEEF, [0x1111111111111111])
    with registry._db.session() as session:
        assert session.scalar(select(func.count()).select_from(RegistryFingerprintBand)) == BANDS
    match = registry.by_fingerprint([_hex(0x1111111111111111)])
    assert match is not None and match.content_id == "feedfacecafebeef" and match.distance == 0
    assert registry.by_fingerprint([_hex(0x0123456789ABCDEF)]) is None


def test_index_finds_what_the_scan_finds_within_the_radius(populated):
    registry, clips = populated
    rng = random.Random(2)
    for content_id, hashes in list(clips.items())[:25]:
        # A perturbed copy (crop / re-encode / resize move a few bits): the deep-probed first and last frames by up
        # to INDEX_RADIUS bits, the others by up to EXACT_RADIUS.
        query = [_hex(_flip(h, rng.randint(0, INDEX_RADIUS if i in (0, 7) else EXACT_RADIUS), rng))
                 for i, h in enumerate(hashes)]
        scan = registry.by_fingerprint_exhaustive(query)
        found = registry.by_fingerprint(query)
        assert scan is not None and scan.content_id == content_id_hex(content_id)
        assert found == scan


def test_index_agrees_with_the_scan_beyond_the_radius_when_one_frame_is_close(populated):
    registry, clips = populated
    rng = random.Random(3)
    for content_id, hashes in list(clips.items())[25:]:
        # Most frames far (up to the match threshold), one within the radius: still the scan's answer.
        query = [_hex(_flip(h, rng.randint(INDEX_RADIUS + 1, MATCH_MAX_DISTANCE), rng)) for h in hashes]
        query[0] = _hex(_flip(hashes[0], INDEX_RADIUS, rng))
        assert registry.by_fingerprint(query) == registry.by_fingerprint_exhaustive(query)


def test_unrelated_hashes_are_not_matched(populated):
    registry, _ = populated
    rng = random.Random(4)
    for _ in range(100):
        query = [_hex(rng.getrandbits(64)) for _ in range(rng.randint(1, 8))]
        assert registry.by_fingerprint(query) is None
    assert registry.by_fingerprint([]) is None
    assert registry.by_fingerprint(["not-a-hash"]) is None


def test_a_registry_written_before_the_index_is_indexed_on_first_lookup(registry):
    _record(registry, 42, [0x00FF00FF00FF00FF] * 3)
    with registry._db.session.begin() as session:
        session.execute(RegistryFingerprintBand.__table__.delete())
    import gateway.registry.records as module

    module._INDEX_CHECKED.discard(registry._db.engine)
    match = registry.by_fingerprint([_hex(0x00FF00FF00FF00FE)])
    assert match is not None and match.content_id == content_id_hex(42) and match.distance == 1


def test_an_image_is_found_within_its_match_limit_and_not_beyond(populated):
    from gateway.registry.fingerprint import FEW_FRAMES_MAX_DISTANCE
    from gateway.registry.index import IMAGE_RADIUS

    assert IMAGE_RADIUS >= FEW_FRAMES_MAX_DISTANCE
    registry, clips = populated
    rng = random.Random(7)
    for content_id, hashes in list(clips.items())[:20]:
        query = [_hex(_flip(rng.choice(hashes), FEW_FRAMES_MAX_DISTANCE, rng))]
        assert registry.by_fingerprint(query) == registry.by_fingerprint_exhaustive(query)
        assert registry.by_fingerprint(query).content_id == content_id_hex(content_id)
        # an image carries less evidence than a clip: 11 bits off is no longer attributed
        far = [_hex(_flip(rng.choice(hashes), 11, rng))]
        assert registry.by_fingerprint(far) is None
