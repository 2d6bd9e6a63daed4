"""The shipped checkpoint behind the public API."""

import numpy as np
import pytest

from generator import BUILTIN_NAME, Frames, GenerationRequest, GeneratorError, VideoGenerator, load_builtin
from training.generator.analysis import analyse_clip

FAST = {"steps": 6}


def test_loads_once_and_satisfies_protocol(builtin):
    assert isinstance(builtin, VideoGenerator)
    assert builtin.name == BUILTIN_NAME and "circle" in builtin.description
    assert load_builtin() is builtin  # cached


def test_shapes_dtype_and_length(builtin):
    out = builtin.generate(GenerationRequest("a blue square", seconds=1.5, size=(192, 128), **FAST))
    assert isinstance(out, Frames)
    assert out.frames.dtype == np.uint8
    assert out.frames.shape == (round(1.5 * out.fps), 128, 192, 3)
    assert out.fps == 8.0


def test_deterministic_per_seed(builtin):
    req = GenerationRequest("a green triangle moving up on a gray background", seconds=1, size=(128, 128), **FAST)
    a = builtin.generate(req).frames
    b = builtin.generate(req).frames
    c = builtin.generate(GenerationRequest(**{**req.__dict__, "seed": 1})).frames
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_progress_reaches_one(builtin):
    seen = []
    builtin.generate(GenerationRequest("a red circle", seconds=1, size=(128, 128), **FAST), progress=seen.append)
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert len(seen) >= FAST["steps"] + 2
    assert all(b >= a for a, b in zip(seen, seen[1:]))


def test_bad_request_raises_before_sampling(builtin):
    with pytest.raises(GeneratorError, match="divisible by 16"):
        builtin.generate(GenerationRequest("a red circle", size=(200, 200)))
    with pytest.raises(GeneratorError, match="seconds"):
        builtin.generate(GenerationRequest("a red circle", seconds=30))
    with pytest.raises(GeneratorError, match="non-empty"):
        builtin.generate(GenerationRequest(""))


def test_simple_prompt_draws_the_asked_colour(builtin):
    # What the shipped model measurably learned (see generator/MODEL_CARD.md):
    # object colour and background from the prompt.
    out = builtin.generate(GenerationRequest("a red circle moving right on a black background", size=(128, 128)))
    a = analyse_clip(out.frames)
    assert a.background == "black"
    assert a.colour == "red", a
    r, g, b = a.object_rgb
    assert r > 150 and r > 2 * g and r > 2 * b


def test_out_of_vocabulary_prompt_still_yields_a_clip(builtin):
    out = builtin.generate(GenerationRequest("a cat playing the piano in Paris", seconds=1, size=(128, 128), **FAST))
    assert out.frames.shape == (8, 128, 128, 3) and out.frames.std() > 0


def test_reference_image_biases_the_clip(builtin):
    # The reference image is the partially noised starting point of sampling;
    # a white one gives a clearly brighter clip than a black one.
    req = GenerationRequest("a red circle", seconds=1, size=(128, 128))
    means = []
    for value in (250, 8):
        ref = np.full((64, 64, 3), value, np.uint8)
        out = builtin.generate(GenerationRequest(**{**req.__dict__, "reference_image": ref}))
        means.append(out.frames.astype(float).mean())
    assert means[0] > means[1] + 15, means


def test_held_out_combinations_follow_colour_background_and_motion(builtin):
    # Combinations never seen in training (generator.data.split_combinations).
    # Measured on all 38 (MODEL_CARD.md): colour, background and motion 100%,
    # shape 82.5% (circles and triangles 144/144, squares 44/84): shape is
    # asserted for circles and triangles only.
    from generator.data import split_combinations

    _, held = split_combinations()
    moved, shaped, not_square = 0, 0, 0
    sample = held[::5]
    for combo in sample:
        out = builtin.generate(GenerationRequest(combo.caption(), size=(128, 128)))
        a = analyse_clip(out.frames)
        assert (a.colour, a.background) == (combo.colour, combo.background), (combo, a)
        moved += a.motion == combo.motion
        if combo.shape != "square":
            not_square += 1
            shaped += a.shape == combo.shape
    assert moved >= 0.6 * len(sample), f"{moved}/{len(sample)} motions right"
    assert not_square and shaped >= 0.6 * not_square, f"{shaped}/{not_square} circle/triangle shapes right"
