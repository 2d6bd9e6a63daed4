"""Issue 23: mirrors, small rotations, the visibility budget, and that marks made before these changes still read."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import watermark
from bench.watermark import attacks, content
from watermark import coding, dctss, sync

PAYLOAD = 0x23A5_0F0F_1234_ABCD
FIXTURE = pathlib.Path(__file__).parent / "data" / "dctss2_mark.npz"


@pytest.fixture(scope="module")
def marked() -> np.ndarray:
    """Four frames of a 256 x 384 camera pan over a procedural photograph, marked."""
    return watermark.embed(content.camera_clip(4, 256, 384, seed=23), PAYLOAD)


class _CountingDecoder:
    """Wraps coding.decode to count the decodes of one extraction (the false-positive bound counts them)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[coding.DecodedPayload] = []
        original = coding.decode

        def counting(soft: np.ndarray) -> coding.DecodedPayload:
            found = original(soft)
            self.calls.append(found)
            return found

        monkeypatch.setattr(coding, "decode", counting)


# --- marks issued before ------------------------------------------------------------------------


def test_a_mark_made_before_issue_23_still_reads():
    """tests/watermark/data/dctss2_mark.npz: two 144 x 192 frames marked by the dct-ss.2 embedder as it was before
    the mirror, rotation and visibility changes (commit 2d2b779), with their payload."""
    data = np.load(FIXTURE)
    frames, payload = data["frames"], int(data["payload"])
    assert watermark.extract(frames).payload == payload
    assert watermark.extract(frames, search=False).payload == payload
    assert watermark.extract(attacks.mirror(frames, axis="h")).payload == payload


# --- mirrors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", ["h", "v"])
def test_survives_mirror(marked, axis):
    assert watermark.extract(attacks.mirror(marked, axis=axis)).payload == PAYLOAD


def test_survives_mirror_both_ways_and_a_crop(marked):
    flipped = attacks.mirror(attacks.mirror(marked, axis="h"), axis="v")
    assert watermark.extract(flipped[:, 9:, 21:]).payload == PAYLOAD


def test_survives_mirror_then_h264(marked):
    assert watermark.extract(attacks.h264(attacks.mirror(marked, axis="h"), crf=28)).payload == PAYLOAD


def test_mirrored_layout_is_what_a_mirrored_frame_carries():
    """Reading a left-right mirrored frame through the mirrored layout gives the evidence the frame gave as marked."""
    frame = content.camera_clip(1, 256, 256, seed=5)
    marked = watermark.embed(frame, PAYLOAD)
    as_marked = dctss.symbol_evidence(marked)
    for axis, flip in (("h", dctss.FLIP_H), ("v", dctss.FLIP_V)):
        # 256 px is two whole tiles: the mirrored grid starts at 0 and tile position 7 lands on 0, i.e. offset 1.
        alignment = dctss.Alignment(tile_y=1 if axis == "v" else 0, tile_x=1 if axis == "h" else 0, flip=flip)
        mirrored = dctss.symbol_evidence(attacks.mirror(marked, axis=axis), alignment=alignment)
        assert mirrored == pytest.approx(as_marked, rel=1e-3, abs=1e-3 * np.abs(as_marked).max())


# --- rotations ----------------------------------------------------------------------------------


@pytest.mark.parametrize("degrees", [2.0, -2.0, 5.0, -5.0])
@pytest.mark.parametrize("fill", ["black", "crop"])
def test_survives_small_rotation(marked, degrees, fill):
    assert watermark.extract(attacks.rotate(marked, degrees=degrees, fill=fill)).payload == PAYLOAD


def test_survives_an_off_grid_rotation_of_a_720p_frame():
    """3.3 degrees lies between the coarse search's half-degree steps; a 720p frame needs the fine step."""
    frames = watermark.embed(content.camera_clip(2, 720, 1280, seed=4), PAYLOAD)
    assert watermark.extract(attacks.rotate(frames, degrees=-3.3, fill="crop")).payload == PAYLOAD


def test_warp_without_rotation_is_the_rescale():
    rng = np.random.default_rng(3)
    plane = (rng.normal(size=(150, 230)) * 30 + 120).astype(np.float32)
    for scale in (1.0, 0.7, 1.3):
        assert sync.warp([plane], 0.0, scale)[0] == pytest.approx(sync.resample(plane, scale), abs=0.01)


def test_warp_undoes_a_rotation():
    """A plane turned by `attacks.rotate` (OpenCV) comes back by `warp` inside the region the rotation kept."""
    frames = content.camera_clip(1, 200, 300, seed=8)
    turned = attacks.rotate(frames, degrees=4.0, fill="black")
    back = sync.warp([dctss._luma(turned[0])], 4.0)[0]
    original = dctss._luma(frames[0])
    centre = (slice(60, 140), slice(90, 210))
    assert np.mean(np.abs(back[centre] - original[centre])) < 3.0


# --- no false detections across the new hypotheses ----------------------------------------------


def _unmarked_geometry_inputs():
    """Unmarked inputs, mirrored and rotated, so that every pass of the search (mirrored layouts, rotations) runs."""
    rng = np.random.default_rng(2323)
    for i in range(6):
        clip = content.camera_clip(2, 256, 320, seed=600 + i, move="pan" if i % 2 else "zoom")
        yield attacks.rotate(clip, degrees=float(rng.uniform(-5, 5)), fill="crop" if i % 2 else "black")
    for i in range(4):
        frame = content.natural_clip(1, 192, 256, seed=700 + i, texture=float(5 + 10 * i))
        yield attacks.mirror(frame, axis="h" if i % 2 else "v")
    yield rng.integers(0, 256, size=(1, 160, 224, 3), dtype=np.uint8)
    yield content.flat_clip(1, 128, 192, (30, 40, 200))


def test_no_false_positive_on_unmarked_mirrored_and_rotated_inputs(monkeypatch):
    counter = _CountingDecoder(monkeypatch)
    for frames in _unmarked_geometry_inputs():
        counter.calls.clear()
        found = watermark.extract(frames)
        assert found.payload is None and found.confidence == 0.0
        # The bound: at most 1 + MAX_SEARCH_DECODES decodes per extraction, whatever the number of hypotheses.
        assert 1 <= len(counter.calls) <= 1 + dctss.MAX_SEARCH_DECODES


def test_decode_budget_holds_on_rotated_marked_input(marked, monkeypatch):
    counter = _CountingDecoder(monkeypatch)
    assert watermark.extract(attacks.rotate(marked, degrees=-4.0, fill="black")).payload == PAYLOAD
    assert len(counter.calls) <= 1 + dctss.MAX_SEARCH_DECODES


# --- visibility budget ---------------------------------------------------------------------------


def test_no_block_of_a_flat_region_carries_more_than_its_budget():
    """On flat content every 16 px block's mark stays within jnd_flat levels RMS (plus rounding to whole levels)."""
    params = dctss.DEFAULT_PARAMS
    for colour in ((20, 24, 60), (128, 128, 128), (230, 220, 225)):
        clip = content.flat_clip(3, 128, 256, colour)
        mark = (watermark.embed(clip, PAYLOAD).astype(np.float64) - clip) @ np.array([0.299, 0.587, 0.114])
        blocks = mark.reshape(3, 8, 16, 16, 16).transpose(0, 1, 3, 2, 4).reshape(3, -1, 256)
        rms = np.sqrt(np.mean(blocks**2, axis=2))
        assert rms.max() <= params.jnd_flat + 0.35  # rounding the change to whole levels adds up to ~0.3 RMS
        assert watermark.extract(watermark.embed(clip, PAYLOAD)).payload == PAYLOAD


def test_budget_moves_the_mark_from_smooth_to_textured_blocks():
    """A sky above texture: the sky's blocks carry less of the mark than without the budget, the texture more, and the
    frame's PSNR stays at or above 42 dB."""
    import dataclasses

    clip = content.natural_clip(6, 256, 256, seed=12, texture=30.0, shapes=0)
    luma = np.array([0.299, 0.587, 0.114])
    without = dataclasses.replace(dctss.DEFAULT_PARAMS, jnd_flat=0.0)
    with_budget = (dctss.embed(clip, PAYLOAD, 1.0).astype(np.float64) - clip) @ luma
    old = (dctss.embed(clip, PAYLOAD, 1.0, without).astype(np.float64) - clip) @ luma
    sky, ground = (slice(None), slice(0, 48)), (slice(None), slice(208, 256))
    assert np.sqrt(np.mean(with_budget[sky] ** 2)) < 0.8 * np.sqrt(np.mean(old[sky] ** 2))
    assert np.sqrt(np.mean(with_budget[ground] ** 2)) > np.sqrt(np.mean(old[ground] ** 2))
    assert 10 * np.log10(255**2 / np.mean(with_budget**2)) >= 42.0
    assert watermark.extract(attacks.h264(dctss.embed(clip, PAYLOAD, 1.0), crf=28)).payload == PAYLOAD
