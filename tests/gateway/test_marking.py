"""The watermark as issued reads back from the encoded MP4; a clip too weak at the configured strength is re-marked."""

from __future__ import annotations

import numpy as np
import pytest

import watermark
from gateway.generation.marking import STRENGTH_STEPS, mark_and_encode, reads_back
from gateway.media import encode_mp4
from generator import GenerationRequest, load_builtin

CONTENT_ID = 0xFEEDFACE12345678


def test_a_busy_single_frame_is_marked_again_more_strongly():
    frame = np.random.default_rng(0).normal(128, 50, size=(1, 128, 128, 3)).clip(0, 255).astype(np.uint8)
    weak = encode_mp4(watermark.embed(frame, CONTENT_ID, strength=1.0), 8.0)
    assert not reads_back(weak, CONTENT_ID)  # the default strength is not enough here...
    issued = mark_and_encode(frame, 8.0, CONTENT_ID, strength=1.0, crf=18)
    assert issued.verified and issued.strength in STRENGTH_STEPS[1:]  # ...so it was raised until it read back
    assert reads_back(issued.mp4, CONTENT_ID) and not reads_back(issued.mp4, CONTENT_ID ^ 1)


@pytest.fixture(scope="module")
def model():
    return load_builtin()


@pytest.mark.parametrize("seed", range(4))
def test_short_small_generated_clips_carry_a_readable_mark(model, seed):
    prompts = ["a green square staying still on a gray background", "a red circle moving right on a black background",
               "a white triangle moving up on a brown background"]
    clip = model.generate(GenerationRequest(prompt=prompts[seed % 3], seconds=1.0, size=(128, 128),
                                                     seed=seed))
    issued = mark_and_encode(clip.frames, clip.fps, CONTENT_ID + seed, strength=1.0, crf=18)
    assert issued.verified
    assert issued.strength <= STRENGTH_STEPS[-1]
