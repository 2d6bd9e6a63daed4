"""Verification layers: the extended fingerprint and its second stage, frame-selective decoding, kept uploads."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image

import watermark
from bench.watermark import attacks, content
from gateway.core.ids import content_id_hex
from gateway.media import decode_media, encode_mp4
from gateway.registry.fingerprint import (
    CLIP_SCORE_LIMIT,
    IMAGE_SCORE_LIMIT,
    fingerprint_frames,
    parse_frames,
    sample_indices,
    score_frames,
)
from gateway.registry.records import Registry
from gateway.store.db import Database


def _record(registry: Registry, content_id: int, hashes: list[str]) -> None:
    registry.record(content_id=content_id, video_id=f"video_{content_id:x}", tenant="t", model="m",
                    asset=b"x%d" % content_id, frame_hashes=hashes, watermark_alg="wm",
                    manifest_id=None, manifest_store=None)


@pytest.fixture()
def registry(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    yield Registry(db)
    db.dispose()


@pytest.fixture(scope="module")
def clips():
    return {
        1001: content.camera_clip(48, 180, 320, seed=11, move="pan"),
        1003: content.camera_clip(48, 180, 320, seed=12, move="zoom"),
        1005: content.natural_clip(48, 180, 320, seed=13),
    }


def test_extended_fingerprint_format():
    frames = content.camera_clip(10, 96, 128, seed=3)
    hashes = fingerprint_frames(frames)
    assert len(hashes) == 8 and sample_indices(10).tolist() == [0, 1, 3, 4, 5, 6, 8, 9]
    assert [len(p) for p in hashes[0].split("-")] == [16, 16, 16, 64]
    parsed, extended = parse_frames(hashes)
    assert extended and parsed.shape == (8, 7)
    # a bare pHash (the Soft Binding API's form) parses as a pHash-only frame; garbage is dropped
    bare, bare_extended = parse_frames([hashes[0][:16], "zz", hashes[1]])
    assert not bare_extended and bare.shape == (2, 1)
    assert parse_frames(["not-a-hash"])[0].shape[0] == 0


def test_attacked_clips_and_frame_grabs_are_found_and_strangers_are_not(registry, clips):
    for content_id, clip in clips.items():
        _record(registry, content_id, fingerprint_frames(clip))
    for content_id, clip in clips.items():
        for attack in (lambda f: attacks.h264(f, crf=28), lambda f: attacks.crop(f, area=0.8),
                       attacks.downscale_half, lambda f: attacks.brightness(f, offset=30)):
            query = fingerprint_frames(attack(clip))
            match = registry.by_fingerprint(query)
            assert match is not None and match.content_id == content_id_hex(content_id)
            assert match.score is not None and match.score <= CLIP_SCORE_LIMIT == match.score_limit
            assert registry.by_fingerprint_exhaustive(query) == match
        grab = fingerprint_frames(clip[:1])  # a frame grab: the first frame, as a JPEG would keep it
        match = registry.by_fingerprint(grab)
        assert match is not None and match.content_id == content_id_hex(content_id)
        assert match.score <= IMAGE_SCORE_LIMIT == match.score_limit
    # unrelated content of the same kinds: never attributed, as clips or as single images
    for seed in range(40, 52):
        other = content.camera_clip(12, 180, 320, seed=seed, move="pan" if seed % 2 else "zoom")
        assert registry.by_fingerprint(fingerprint_frames(other)) is None
        assert registry.by_fingerprint(fingerprint_frames(other[:1])) is None
        nat = content.natural_clip(1, 180, 320, seed=seed)
        assert registry.by_fingerprint(fingerprint_frames(nat)) is None


def test_second_stage_rejects_a_stranger_whose_phash_is_close(registry, clips):
    """One matching hash is not enough: a record whose pHashes are copied but whose other hashes are not is no match
    (before the second stage, a pHash within the limit decided alone)."""
    clip = clips[1001]
    real = fingerprint_frames(clip)
    rng = random.Random(9)
    forged = []
    for text in real:
        parts = text.split("-")
        forged.append("-".join([parts[0], f"{rng.getrandbits(64):016x}", f"{rng.getrandbits(64):016x}",
                                f"{rng.getrandbits(256):064x}"]))
    _record(registry, 77, forged)
    query = fingerprint_frames(attacks.h264(clip, crf=23))
    assert registry.by_fingerprint(query) is None
    # the same stored pHashes are still found by a pHash-only query (the Soft Binding API's form)
    bare = registry.by_fingerprint([real[0][:16]])
    assert bare is not None and bare.content_id == content_id_hex(77) and bare.score is None


def test_random_extended_fingerprints_are_never_attributed(registry):
    rng = random.Random(4)

    def frame() -> str:
        return (f"{rng.getrandbits(64):016x}-{rng.getrandbits(64):016x}-{rng.getrandbits(64):016x}-"
                f"{rng.getrandbits(256):064x}")

    for i in range(200):
        _record(registry, 10_000 + i, [frame() for _ in range(8)])
    for n in (1, 2, 8):
        for _ in range(50):
            assert registry.by_fingerprint([frame() for _ in range(n)]) is None


def test_score_is_the_mean_bit_error_over_four_hashes():
    a = parse_frames(["0" * 16 + "-" + "0" * 16 + "-" + "0" * 16 + "-" + "0" * 64])
    b = parse_frames(["f" * 16 + "-" + "0" * 16 + "-" + "0" * 16 + "-" + "f" * 32 + "0" * 32])
    result = score_frames(*a, *b)
    assert result.distance == 64 and result.score == pytest.approx((1 + 0 + 0 + 0.5) / 4)
    assert score_frames(a[0][:, :1], False, *b).score is None  # pHash only


def _mp4(frames: np.ndarray) -> bytes:
    return encode_mp4(frames, 24.0, crf=18)


def test_selected_decoding_gives_the_wanted_frames():
    frames = content.camera_clip(96, 64, 96, seed=5, move="pan")
    data = _mp4(frames)
    full = decode_media(data).frames
    wanted = [0, 10, 47, 95]
    seen = []

    def select(total, height, width):
        seen.append((total, height, width))
        return wanted

    picked = decode_media(data, select=select)
    assert seen == [(96, 64, 96)] and picked.total_frames == 96
    assert picked.indices.tolist() == wanted and picked.frames.shape == (4, 64, 96, 3)
    for frame, index in zip(picked.frames, wanted):
        # fewer than half the frames are wanted, so non-reference frames are skipped: each index gets its own frame
        # or a neighbour's (a camera pan moves little in one frame)
        errors = [np.abs(frame.astype(int) - full[j].astype(int)).mean() for j in range(max(0, index - 1),
                                                                                       min(96, index + 2))]
        assert min(errors) < 1.0
    many = decode_media(data, select=lambda total, h, w: range(total))  # every frame: exactly the full decode
    assert np.array_equal(many.frames, full)
    image = io.BytesIO()
    Image.fromarray(frames[0]).save(image, format="PNG")
    still = decode_media(image.getvalue(), select=select)
    assert still.is_image and still.frames.shape[0] == 1 and still.indices is None


def _runtime(tmp_path, **settings):
    from gateway.bootstrap import Runtime
    from gateway.core.settings import Settings

    return Runtime(Settings(data_dir=tmp_path / "data", **settings))


def test_a_long_video_is_identified_from_the_selected_frames(tmp_path):
    from gateway.media.sampling import WATERMARK_PIXEL_BUDGET, watermark_indices

    clip = content.camera_clip(120, 360, 640, seed=21, move="pan")
    content_id = 0x5EED5EED5EED5EED
    marked = watermark.embed(clip, content_id)
    data = _mp4(marked)
    assert watermark_indices(120, 360, 640).size == WATERMARK_PIXEL_BUDGET // (360 * 640) == 48
    rt = _runtime(tmp_path)
    try:
        _record(Registry(rt.db), content_id, fingerprint_frames(marked))
        verdict = rt.verification.verify(data, tenant=None, actor="test")
        assert verdict.watermark.content_id == content_id_hex(content_id)
        assert verdict.registry is not None and verdict.registry.content_id == content_id_hex(content_id)
        # and by fingerprint alone: the frames it samples are the ones registered (or a neighbour)
        other = Registry(rt.db)
        from gateway.media import decode_media as decode
        from gateway.verification.service import _selection

        media = decode(data, select=_selection)
        picks = np.searchsorted(media.indices, sample_indices(120))
        match = other.by_fingerprint(fingerprint_frames(media.frames[picks]))
        assert match is not None and match.content_id == content_id_hex(content_id) and match.score < 0.1
    finally:
        rt.close()


@pytest.mark.parametrize("keep", [False, True])
def test_check_uploads_are_kept_only_when_configured(tmp_path, keep):

    buf = io.BytesIO()
    Image.fromarray(content.natural_clip(1, 96, 128, seed=2)[0]).save(buf, format="PNG")
    data = buf.getvalue()
    rt = _runtime(tmp_path, keep_check_uploads=keep)
    try:
        verdict = rt.verification.verify(data, tenant="tenant-a", actor="test")
        assert verdict.check_id.startswith("cpc_")
        (row,) = rt.audit.entries(event="provenance.check")
        assert verdict.check_id in row.entry and ("kept_as" in row.entry) == keep
        if keep:
            stored = tmp_path / "data" / "checks" / f"{verdict.check_id}.png"
            assert verdict.kept_as == f"checks/{verdict.check_id}.png"
            assert stored.read_bytes() == data
            assert (stored.stat().st_mode & 0o777) == 0o600
        else:
            assert verdict.kept_as is None
            assert rt.verification.kept_uploads is None and not (tmp_path / "data" / "checks").exists()
    finally:
        rt.close()
