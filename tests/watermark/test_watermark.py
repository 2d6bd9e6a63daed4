"""The public watermark API: round trip, quality, robustness to the claimed attacks, false positives, input checks."""

from __future__ import annotations

import ast
import dataclasses
import pathlib

import numpy as np
import pytest

import watermark
from bench.watermark import attacks, content
from watermark import Detection, WatermarkError

PAYLOAD = 0xC0FFEE0DDBA11F05  # 64 bits, top and bottom bit set
FPS = 24


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    """Two seconds of natural-looking 256 x 256 video with panning texture and moving shapes."""
    return content.natural_clip(48, 256, 256, seed=11, texture=25.0)


@pytest.fixture(scope="module")
def marked(clip) -> np.ndarray:
    return watermark.embed(clip, PAYLOAD)


# --- API surface -------------------------------------------------------------------------


def test_public_api():
    assert watermark.ALGORITHM == "com.hallmark.wm.dct-ss.2"
    assert watermark.PAYLOAD_BITS == 64
    assert issubclass(WatermarkError, ValueError)
    detection = Detection(payload=None, confidence=0.0, soft_bits=np.zeros(64))
    with pytest.raises(dataclasses.FrozenInstanceError):
        detection.payload = 1  # type: ignore[misc]


def test_package_imports_no_other_project_package():
    allowed = {"__future__", "dataclasses", "functools", "hashlib", "math", "numbers", "numpy"}
    package_dir = pathlib.Path(watermark.__file__).parent
    for path in package_dir.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


# --- round trip and quality --------------------------------------------------------------


def test_roundtrip_exact_payload(clip, marked):
    assert marked.shape == clip.shape and marked.dtype == np.uint8
    found = watermark.extract(marked)
    assert found.payload == PAYLOAD
    assert found.confidence == pytest.approx(1.0)
    assert found.soft_bits.shape == (64,)
    assert np.all(np.abs(found.soft_bits) <= 1.0)
    expected_bits = np.array([(PAYLOAD >> (63 - i)) & 1 for i in range(64)])
    assert np.array_equal(found.soft_bits > 0, expected_bits == 1)


def test_embed_does_not_modify_its_input(clip):
    before = clip.copy()
    watermark.embed(clip, 1)
    assert np.array_equal(clip, before)


@pytest.mark.parametrize("payload", [0, 2**64 - 1, 0x0123456789ABCDEF])
def test_roundtrip_extreme_payloads_from_one_frame(clip, payload):
    frame = clip[0]
    marked_frame = watermark.embed(frame, payload)
    assert marked_frame.shape == frame.shape
    assert watermark.extract(marked_frame).payload == payload


@pytest.mark.parametrize(
    ("height", "width"), [(128, 128), (360, 640), (720, 1280), (130, 251), (128, 1024)]
)
def test_roundtrip_sizes(height, width):
    frames = content.natural_clip(2, height, width, seed=height + width)
    marked = watermark.embed(frames, PAYLOAD)
    assert marked.shape == frames.shape
    assert watermark.extract(marked).payload == PAYLOAD
    assert watermark.extract(marked[1]).payload == PAYLOAD


def test_psnr_at_default_strength(clip, marked):
    assert attacks.psnr(clip, marked) >= 42.0
    for frames in (
        content.natural_clip(4, 128, 128, seed=3, texture=40.0),
        content.natural_clip(4, 360, 640, seed=4, texture=8.0),
        content.dark_clip(4, 256, 256, seed=5),
        content.flat_clip(4, 256, 256, (200, 200, 200)),
    ):
        assert attacks.psnr(frames, watermark.embed(frames, PAYLOAD)) >= 41.5


def test_strength_trades_psnr_for_amplitude(clip):
    frames = clip[:4]
    weak = attacks.psnr(frames, watermark.embed(frames, PAYLOAD, strength=0.5))
    default = attacks.psnr(frames, watermark.embed(frames, PAYLOAD))
    strong = attacks.psnr(frames, watermark.embed(frames, PAYLOAD, strength=2.0))
    assert weak > default + 4 and default > strong + 4


def test_no_flicker(clip, marked):
    """The mark may drift slowly with the content but must not jump from frame to frame."""
    mark = (marked.astype(np.float64) - clip) @ np.array([0.299, 0.587, 0.114])
    mark_rms = np.sqrt(np.mean(mark**2))
    frame_to_frame_rms = np.sqrt(np.mean(np.diff(mark, axis=0) ** 2))
    assert frame_to_frame_rms < 0.1 * mark_rms


# --- robustness ---------------------------------------------------------------------------


@pytest.mark.parametrize("crf", [18, 23])
def test_survives_h264(marked, crf):
    decoded = attacks.h264(marked, crf=crf, fps=FPS)
    assert decoded.shape == marked.shape
    assert watermark.extract(decoded).payload == PAYLOAD


def test_survives_one_second_excerpt_reencoded(marked):
    excerpt = attacks.h264(attacks.excerpt(marked, start=17, length=FPS), crf=23, fps=FPS)
    assert watermark.extract(excerpt).payload == PAYLOAD


def test_survives_h264_on_flat_and_dark_content():
    for frames in (content.flat_clip(24, 128, 192, (90, 140, 60)), content.dark_clip(24, 256, 256, seed=6)):
        decoded = attacks.h264(watermark.embed(frames, PAYLOAD), crf=23, fps=FPS)
        assert watermark.extract(decoded).payload == PAYLOAD


def test_survives_jpeg_75_on_one_frame(marked):
    assert watermark.extract(attacks.jpeg(marked[:1], quality=75)).payload == PAYLOAD


def test_survives_gaussian_noise_on_one_frame(marked):
    assert watermark.extract(attacks.gaussian_noise(marked[:1], sigma=3.0)).payload == PAYLOAD


def test_survives_brightness_on_one_frame(marked):
    assert watermark.extract(attacks.brightness(marked[:1], offset=20)).payload == PAYLOAD


def test_survives_resize_half_and_back(marked):
    assert watermark.extract(attacks.resize_and_back(marked[:1], factor=0.5)).payload == PAYLOAD
    assert watermark.extract(attacks.resize_and_back(marked[:8], factor=0.5)).payload == PAYLOAD


def test_survives_cropping_bottom_and_right(marked):
    assert watermark.extract(marked[:4, :200, :170]).payload == PAYLOAD


@pytest.mark.parametrize(("top", "left"), [(1, 0), (0, 5), (13, 77), (64, 3), (95, 90), (50, 57)])
def test_survives_cropping_top_and_left_at_any_offset(marked, top, left):
    """The grid offset (mod 16 px) and the tile offset (mod 128 px) are found by the sync search.

    160 px crops over 16 frames: a small crop of heavily textured content keeps little of the
    mark per frame, the block mask moving it into flat blocks (README: Limits).
    """
    cropped = marked[:16, top : top + 160 + (top % 7), left : left + 160 + (left % 5)]
    assert watermark.extract(cropped).payload == PAYLOAD


def test_survives_small_crop_of_smooth_content(marked):
    assert watermark.extract(marked[:4, 64 : 64 + 129, 3 : 3 + 131]).payload == PAYLOAD


def test_survives_centre_crop(marked):
    assert watermark.extract(attacks.crop(marked[:8], area=0.8, position="centre")).payload == PAYLOAD


def test_survives_downscale_kept_small():
    frames = content.natural_clip(8, 360, 640, seed=21, texture=20.0)
    small = attacks.downscale_half(watermark.embed(frames, PAYLOAD))
    assert small.shape[1:3] == (180, 320)
    assert watermark.extract(small).payload == PAYLOAD


def test_survives_upscale():
    """The scale comes from the tile's spectral lines, which need about three tile periods in the frame (README: Limits)."""
    frames = content.natural_clip(4, 360, 640, seed=22, texture=20.0)
    large = attacks.resize_to(watermark.embed(frames, PAYLOAD), height=468, width=832)
    assert watermark.extract(large).payload == PAYLOAD


def test_survives_upscale_of_a_small_frame_that_holds_under_two_tile_periods(marked):
    """256 px cropped to 243 and scaled to 360: 1.9 periods of 190 px, too few for the spectral comb; the brute-force
    scale sweep finds it (README: Extraction, pass 3)."""
    from watermark import dctss

    cropped = attacks.crop(marked[:8], area=0.9, position="centre")
    large = attacks.resize_to(cropped, height=360, width=360)
    assert 360 / (dctss.DEFAULT_PARAMS.tile_blocks * dctss.DEFAULT_PARAMS.block * 360 / cropped.shape[1]) < 2.5
    assert watermark.extract(large).payload == PAYLOAD


def test_sweep_range_full_for_small_frames_else_only_where_the_comb_cannot_read():
    from watermark import dctss

    assert dctss.sweep_range(720) is None  # 720 px holds >= 2.5 periods at every scale searched (up to 2.2x)
    assert dctss.sweep_range(360) == pytest.approx((0.4, 2.2))  # 360p: every scale (photographs mislead the comb)
    assert dctss.sweep_range(200) == pytest.approx((0.4, 200 / 128))  # at least 128 px of the original in view
    lo, hi = dctss.sweep_range(540)
    assert lo == pytest.approx(540 / (2.5 * 128)) and hi == pytest.approx(2.2)


def test_rescaled_photograph_is_found_by_the_sweep_when_the_comb_is_misled(monkeypatch):
    """A zoom over a scikit-image photograph, cropped to 90% and scaled back to 360 lines (x1.05), then H.264. After
    CRF 28 on the bench's 2 s clips the photograph's own spectral peaks outscore the tile's lines and the comb offers
    only wrong scales; here the comb is switched off outright, and the sweep over every scale (360p) must find it."""
    from watermark import sync

    monkeypatch.setattr(sync, "estimate_scales", lambda *args, **kwargs: [])
    frames = content.camera_clip(8, 360, 640, seed=103, move="zoom", photograph_name="chelsea")
    scaled = attacks.crop_scale_h264(watermark.embed(frames, PAYLOAD), fps=FPS, seed=0, crf=23)
    assert watermark.extract(scaled).payload == PAYLOAD


def test_survives_downscale_to_an_odd_scale():
    frames = content.natural_clip(4, 360, 640, seed=23, texture=20.0)
    small = attacks.resize_to(watermark.embed(frames, PAYLOAD), height=288, width=512)
    assert watermark.extract(small).payload == PAYLOAD


def test_small_frames_survive_jpeg():
    frame = content.natural_clip(1, 128, 128, seed=12, texture=30.0)
    assert watermark.extract(attacks.jpeg(watermark.embed(frame, PAYLOAD), quality=75)).payload == PAYLOAD


# --- false positives ----------------------------------------------------------------------


def _unmarked_inputs():
    """A spread of unmarked inputs; every one runs the full crop/rescale search (the bench runs thousands)."""
    rng = np.random.default_rng(99)
    for i in range(20):
        yield rng.integers(0, 256, size=(128, 128 + 8 * (i % 4), 3), dtype=np.uint8)
    for i in range(25):
        yield content.natural_clip(2, 128, 160, seed=500 + i, texture=float(4 + i % 40))
    for i in range(10):
        yield content.flat_clip(1, 128, 128, tuple(int(v) for v in rng.integers(0, 256, size=3)))
    for i in range(8):
        yy, xx = np.mgrid[0:128, 0:192]
        period = 2 + i
        stripes = ((yy // period + (xx // period) * (i % 2)) % 2 * 255).astype(np.uint8)
        yield np.repeat(stripes[..., None], 3, axis=2)
    for i in range(2):
        yield attacks.h264(content.natural_clip(12, 128, 128, seed=800 + i), crf=23, fps=FPS)


def test_no_false_positive_on_unmarked_inputs():
    reported = []
    count = 0
    for frames in _unmarked_inputs():
        found = watermark.extract(frames)
        count += 1
        if found.payload is not None or found.confidence != 0.0:
            reported.append((count, found.payload, found.confidence))
    assert count >= 60
    assert reported == []


def test_marked_clip_reports_its_own_payload_only(clip):
    other = watermark.embed(clip[:4], 7)
    assert watermark.extract(other).payload == 7


# --- bad input ----------------------------------------------------------------------------


GOOD = np.zeros((2, 128, 128, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "frames",
    [
        GOOD.tolist(),
        GOOD.astype(np.float32),
        GOOD.astype(np.uint16),
        np.zeros((128, 128), dtype=np.uint8),
        np.zeros((2, 128, 128, 4), dtype=np.uint8),
        np.zeros((1, 2, 128, 128, 3), dtype=np.uint8),
        np.zeros((0, 128, 128, 3), dtype=np.uint8),
        np.zeros((2, 127, 256, 3), dtype=np.uint8),
        np.zeros((2, 256, 64, 3), dtype=np.uint8),
    ],
)
def test_bad_frames_raise(frames):
    with pytest.raises(WatermarkError):
        watermark.embed(frames, 1)
    with pytest.raises(WatermarkError):
        watermark.extract(frames)


@pytest.mark.parametrize("payload", [-1, 2**64, 1.5, "1", True, None])
def test_bad_payload_raises(payload):
    with pytest.raises(WatermarkError):
        watermark.embed(GOOD, payload)


@pytest.mark.parametrize("strength", [0.0, -1.0, float("nan"), float("inf"), 100.0, True, "1"])
def test_bad_strength_raises(strength):
    with pytest.raises(WatermarkError):
        watermark.embed(GOOD, 1, strength=strength)


def test_numpy_integer_payload_is_accepted():
    assert watermark.extract(watermark.embed(GOOD[:1] + 100, np.uint64(2**64 - 1))).payload == 2**64 - 1


# --- internals the extractor relies on -----------------------------------------------------


def test_one_marked_frame_among_unmarked_ones_is_not_drowned(clip):
    """After a codec the intra frame can hold most of the mark; frames without a visible mark must not drown it."""
    frames = clip[:24].copy()
    frames[0] = watermark.embed(clip[0], PAYLOAD)
    assert watermark.extract(frames).payload == PAYLOAD


def test_tile_shift_energy_matches_a_direct_circular_correlation():
    from watermark import coding, dctss, sync

    params = dctss.DEFAULT_PARAMS
    rng = np.random.default_rng(5)
    tb, k = params.tile_blocks, len(params.band)
    folded = rng.standard_normal((3, tb, tb, k))
    fast = sync.tile_shift_energy(folded, dctss._pattern_spectra(params))
    layout = dctss._layout(params)
    pattern = np.zeros((coding.CODED_BITS, k, tb, tb))
    ty, tx = np.divmod(np.arange(tb * tb), tb)
    for j in range(k):
        pattern[layout.symbol[:, j], j, ty, tx] = layout.chip[:, j]
    for n in range(3):
        for sy, sx in [(0, 0), (1, 5), (7, 2)]:
            # Tile shift (sy, sx): block (y, x) of the folded tile carries the layout's block (y + sy, x + sx).
            shifted = np.roll(pattern, (-sy, -sx), axis=(2, 3))
            sums = np.einsum("skyx,yxk->s", shifted, folded[n])
            assert fast[n, sy, sx] == pytest.approx(np.sum(sums**2) / np.sum(folded[n] ** 2), rel=1e-4)


def test_folded_tiles_from_the_shared_row_pass_match_cutting_the_plane_into_blocks():
    """The offset search's folded tiles (separable block DCT, row pass shared by every dy) against the direct route:
    cut the plane at (dy, dx) into 16 px blocks, project onto the band, weight by the mask and the band power."""
    from watermark import dctss, sync

    params = dctss.DEFAULT_PARAMS
    rng = np.random.default_rng(8)
    plane = (rng.normal(size=(203, 331)) * 40 + 128).astype(np.float32)
    plane[:64, :64] = 250.0  # flat, bright blocks: the variance must not lose its precision there
    grids = dctss._BlockGrids(plane, params)
    layout = dctss._layout(params)
    for dy, dx in [(0, 0), (3, 11), (15, 15), (8, 1)]:
        region = plane[dy:, dx:].astype(np.float64)
        by, bx = region.shape[0] // 16, region.shape[1] // 16
        blocks = region[: by * 16, : bx * 16].reshape(by, 16, bx, 16).transpose(0, 2, 1, 3).reshape(by * bx, 256)
        coeffs = blocks @ layout.basis.astype(np.float64)
        mask = np.minimum(((blocks.var(axis=1) + params.mask_c) / params.mask_c) ** (params.mask_gamma / 2), params.mask_max)
        weight = mask / (np.mean(coeffs**2, axis=1) + params.detection_floor**2)
        direct = sync.fold((weight[:, None] * coeffs).reshape(by, bx, -1), params.tile_blocks)
        # float32 against float64: agreement to 1e-4 of the largest value
        assert grids.folded(dy, dx) == pytest.approx(direct, rel=1e-4, abs=1e-4 * np.abs(direct).max())


def test_folded_tiles_for_a_whole_lattice_of_offsets_match_one_offset_at_a_time():
    """The coarse search folds every offset of a 2 or 4 px lattice in one pass (strided block starts); each must be
    the tile `folded` gives for that offset alone, on planes of awkward sizes (not whole blocks, not whole tiles)."""
    from watermark import dctss

    params = dctss.DEFAULT_PARAMS
    rng = np.random.default_rng(9)
    for shape in [(203, 331), (128, 143), (290, 160)]:
        plane = (rng.normal(size=shape) * 40 + 128).astype(np.float32)
        plane[:48, :80] = 7.0  # flat, dark blocks
        grids = dctss._BlockGrids(plane, params)
        for step in (2, 4):
            lattice = grids.folded_lattice(step)
            assert lattice.shape == (16 // step, 16 // step, params.tile_blocks, params.tile_blocks, len(params.band))
            for i in range(16 // step):
                for j in range(16 // step):
                    one = grids.folded(i * step, j * step)
                    assert lattice[i, j] == pytest.approx(one, rel=1e-4, abs=1e-4 * float(np.abs(one).max()))
    with pytest.raises(ValueError):
        grids.folded_lattice(3)


def test_offset_search_reads_a_mark_that_only_the_sides_of_a_wide_frame_carry():
    """The search looks at up to 720 x 1280 px, not a centre square: a 1024 px wide crop whose centre 640 px carry no
    mark (as where busy content keeps little of it after a rescale and H.264) is still found. (With the 640 x 640
    region of before it was not.)"""
    frames = content.natural_clip(4, 160, 1040, seed=31, texture=15.0)
    marked = watermark.embed(frames, PAYLOAD)
    marked[:, :, 192:852] = frames[:, :, 192:852]  # unmarked: the crop's centre 640 px and a little more
    cropped = marked[:, 5:, 7:1031]
    assert watermark.extract(cropped).payload == PAYLOAD
