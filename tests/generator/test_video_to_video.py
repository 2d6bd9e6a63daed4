"""Video-to-video with the built-in model: remix/edit (transform, SDEdit) and extend (continue, held frames).

Sources are clips the built-in model made; what a clip shows is read back with the clip analyser. Rates over many
seeds and combinations are in generator/MODEL_CARD.md (bench/generator/video_to_video.py); these tests pin the
behaviour on a few.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generator import (
    CONTINUE,
    TRANSFORM,
    GenerationRequest,
    GeneratorError,
    SourceVideo,
    capabilities_of,
    describe_model,
)
from generator.pipelines.text_to_video import continue_window
from generator.resample import resample_video
from generator.schedulers import FlowMatchEulerScheduler, HeldValues
from training.generator.analysis import analyse_clip

SIZE = (128, 128)
RED_RIGHT = "a red circle moving right on a black background"


@pytest.fixture(scope="module")
def sources(builtin):
    """Built-in clips (4 s at 8 fps, 128×128) to work from, by caption."""
    made = {}
    for caption in (RED_RIGHT, "a red circle moving left on a black background"):
        clip = builtin.generate(GenerationRequest(caption, seconds=4, size=SIZE, seed=0)).frames
        a = analyse_clip(clip)
        assert (a.colour, a.motion) == ("red", caption.split()[4]), a  # the source shows what it says
        made[caption] = clip
    return made


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


# ------------------------------------------------------------------------------------------------ contract


def test_builtin_offers_both_modes_and_says_so(builtin):
    assert capabilities_of(builtin) == {TRANSFORM, CONTINUE}
    info = describe_model()
    assert info["capabilities"] == sorted({TRANSFORM, CONTINUE})
    assert 0 < info["defaults"]["source_strength"] < 1
    assert info["defaults"]["source_strength"] == builtin.pipeline.source_strength


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("not a video", "source must be a SourceVideo"),
        (SourceVideo(np.zeros((4, 8, 8, 3), np.float32), fps=8), "uint8"),
        (SourceVideo(np.zeros((8, 8, 3), np.uint8), fps=8), "T×H×W×3"),
        (SourceVideo(np.zeros((0, 8, 8, 3), np.uint8), fps=8), "T ≥ 1"),
        (SourceVideo(np.zeros((4, 8, 8, 4), np.uint8), fps=8), "RGB"),
        (SourceVideo(np.zeros((4, 8, 8, 3), np.uint8), fps=0), "fps"),
        (SourceVideo(np.zeros((4, 8, 8, 3), np.uint8), fps=8, mode="reverse"), "mode"),
        (SourceVideo(np.zeros((4, 8, 8, 3), np.uint8), fps=8, strength=0.0), "strength"),
        (SourceVideo(np.zeros((4, 8, 8, 3), np.uint8), fps=8, strength=1.5), "strength"),
    ],
)
def test_bad_source_is_refused_before_sampling(builtin, source, message):
    with pytest.raises(GeneratorError, match=message):
        builtin.generate(GenerationRequest(RED_RIGHT, seconds=1, size=SIZE, source=source))


def test_source_and_reference_image_together_are_refused(builtin):
    source = SourceVideo(np.zeros((4, 32, 32, 3), np.uint8), fps=8)
    with pytest.raises(GeneratorError, match="not both"):
        builtin.generate(GenerationRequest(RED_RIGHT, seconds=1, size=SIZE, source=source,
                                           reference_image=np.zeros((32, 32, 3), np.uint8)))


# ------------------------------------------------------------------------------------------------ pieces


def test_resample_video_area_averages_and_blends_in_time():
    frames = np.zeros((3, 64, 96, 3), np.uint8)
    frames[1] = 100
    frames[2, :, :48] = 200  # left half bright
    out = resample_video(frames, np.array([0.0, 0.5, 1.0, 2.0, 7.0]), 32, 32)
    assert out.shape == (5, 32, 32, 3) and out.dtype == np.float32
    assert np.allclose(out[1], 50) and np.allclose(out[2], 100)  # halfway between frame 0 and 1
    assert np.allclose(out[3][:, :16], 200) and np.allclose(out[3][:, 16:], 0)  # squeezed to the square
    assert np.array_equal(out[4], out[3])  # past the end: the last frame
    assert resample_video(frames, np.array([1.0]), 48, 16).shape == (1, 16, 48, 3)


def test_continue_window_spacing_and_short_sources():
    # 4 s extension, 16 native frames, 4 held: d = 4/12 s = 8/3 frames of an 8 fps source
    k, pos = continue_window(32, 8.0, 4.0, 16, 4)
    assert k == 4 and np.allclose(pos, [31 - 8, 31 - 16 / 3, 31 - 8 / 3, 31])
    assert continue_window(1, 8.0, 4.0, 16, 4)[0] == 1  # a single frame: hold just that one
    # 6 frames reach back 5/8 s; 4 held frames would need 3·4/12 s, 3 need 2·4/13 s: 3 fit
    k, pos = continue_window(6, 8.0, 4.0, 16, 4)
    assert k == 3 and np.allclose(pos, [5 - 64 / 13, 5 - 32 / 13, 5])


def test_held_values_stay_on_their_path_and_end_exact():
    sched = FlowMatchEulerScheduler()
    torch.manual_seed(0)
    x0, noise = torch.randn(1, 3, 6, 4, 4), torch.randn(1, 3, 6, 4, 4)
    known = torch.randn(1, 3, 6, 4, 4)
    mask = torch.zeros(1, 1, 6, 1, 1, dtype=torch.bool)
    mask[:, :, :2] = True
    seen = []

    def velocity(x, t):
        # the known frames must sit on their own straight path at every step
        ref = sched.add_noise(known, noise, t)
        assert torch.allclose(x[:, :, :2], ref[:, :, :2], atol=1e-6)
        seen.append(float(t[0]))
        return noise - x0

    out = sched.sample(velocity, noise, steps=5, held=HeldValues(known, mask, noise))
    assert torch.equal(out[:, :, :2], known[:, :, :2])  # held exactly at t = 0
    assert torch.allclose(out[:, :, 2:], x0[:, :, 2:], atol=1e-5)  # the rest integrates as before
    assert seen == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2])


# ------------------------------------------------------------------------------------------------ transform


def test_remix_changes_the_colour_and_keeps_the_motion(builtin, sources):
    source = SourceVideo(sources[RED_RIGHT], fps=8.0, mode=TRANSFORM)
    hits = []
    for seed in range(3):
        out = builtin.generate(GenerationRequest("a blue circle moving right on a black background", seconds=4,
                                                 size=SIZE, seed=seed, source=source))
        assert out.frames.shape == (32, 128, 128, 3)
        a = analyse_clip(out.frames)
        hits.append((a.colour, a.motion, a.background) == ("blue", "right", "black"))
    assert sum(hits) >= 2, hits


def test_remix_takes_its_motion_from_the_source(builtin, sources):
    # The prompt names no direction: the direction can only come from the source (measured rate: MODEL_CARD.md).
    for caption, motion in ((RED_RIGHT, "right"), ("a red circle moving left on a black background", "left")):
        source = SourceVideo(sources[caption], fps=8.0, mode=TRANSFORM)
        read = [
            analyse_clip(builtin.generate(GenerationRequest("a blue circle on a black background", seconds=2,
                                                            size=SIZE, seed=seed, source=source)).frames).motion
            for seed in range(3)
        ]
        assert read.count(motion) >= 2, (caption, read)


def test_strength_one_ignores_the_source(builtin, sources):
    outs = [
        builtin.generate(GenerationRequest("a blue circle on a black background", seconds=1, size=SIZE, steps=6,
                                           source=SourceVideo(clip, fps=8.0, strength=1.0))).frames
        for clip in sources.values()
    ]
    assert np.array_equal(outs[0], outs[1])
    lower = [
        builtin.generate(GenerationRequest("a blue circle on a black background", seconds=1, size=SIZE, steps=6,
                                           source=SourceVideo(clip, fps=8.0, strength=0.5))).frames
        for clip in sources.values()
    ]
    assert not np.array_equal(lower[0], lower[1])


def test_remix_progress_and_output_size(builtin, sources):
    seen = []
    out = builtin.generate(
        GenerationRequest("a blue circle", seconds=1.5, size=(192, 128), steps=10,
                          source=SourceVideo(sources[RED_RIGHT], fps=8.0, strength=0.5)),
        progress=seen.append,
    )
    assert out.frames.shape == (12, 128, 192, 3) and out.fps == 8.0
    assert seen[0] == 0.0 and seen[-1] == 1.0 and all(b >= a for a, b in zip(seen, seen[1:]))
    assert len(seen) == 10 + 2  # all 10 steps run, spread over t = 0.5 … 0


# ------------------------------------------------------------------------------------------------ continue


def test_extend_returns_only_new_frames_that_continue_the_source(builtin, sources):
    first_half = sources[RED_RIGHT][:16]  # 2 s: the circle is mid-way, with room to move on
    unrelated = builtin.generate(GenerationRequest(RED_RIGHT, seconds=4, size=SIZE, seed=7)).frames
    out = builtin.generate(GenerationRequest(RED_RIGHT, seconds=4, size=SIZE,
                                             source=SourceVideo(first_half, fps=8.0, mode=CONTINUE)))
    assert out.frames.shape == (32, 128, 128, 3) and out.fps == 8.0
    a = analyse_clip(out.frames)
    assert (a.colour, a.motion) == ("red", "right"), a
    # The first new frame is one step after the source's last: close to it, far closer than a fresh clip of the
    # same prompt (same colours, object elsewhere).
    near, far = mad(out.frames[0], first_half[-1]), mad(unrelated[0], first_half[-1])
    assert near < far / 3, (near, far)
    # and it is not a copy of the source's last frame: the object has moved on
    assert mad(out.frames[-1], first_half[-1]) > near


def test_extend_from_a_single_frame(builtin, sources):
    still = sources[RED_RIGHT][-1:]
    out = builtin.generate(GenerationRequest(RED_RIGHT, seconds=1, size=(160, 128), steps=6,
                                             source=SourceVideo(still, fps=8.0, mode=CONTINUE)))
    assert out.frames.shape == (8, 128, 160, 3)
