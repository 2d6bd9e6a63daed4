"""Per-segment detection: a clip spliced from our output and other footage shows which seconds are ours."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

import watermark
from bench.watermark import content
from gateway.core.ids import content_id_hex
from gateway.media import encode_mp4
from gateway.registry.fingerprint import fingerprint_frames
from gateway.registry.records import Registry
from gateway.verification.timeline import MAX_SEGMENTS, segment_windows

from .test_cli import hallmark
from .test_verification_layers import _record

OURS = 0xA11CE0FA11CE0FA1


@pytest.fixture()
def runtime(tmp_path):
    from gateway.bootstrap import Runtime
    from gateway.core.settings import Settings

    rt = Runtime(Settings(data_dir=tmp_path / "data"))
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def marked():
    return watermark.embed(content.camera_clip(48, 180, 320, seed=31, move="pan"), OURS)


@pytest.fixture(scope="module")
def other():
    return content.camera_clip(48, 180, 320, seed=32, move="zoom")


def _mp4(frames: np.ndarray) -> bytes:
    return encode_mp4(frames, 24.0, crf=18)


def test_windows_are_seconds_merged_for_long_clips():
    assert segment_windows(96, 24.0) == [(0, 24), (24, 48), (48, 72), (72, 96)]
    assert segment_windows(100, 24.0)[-1] == (96, 100)  # a partial last second
    long = segment_windows(600, 12.0)  # 50 s: merged into windows of 3 s
    assert len(long) <= MAX_SEGMENTS and long[0] == (0, 36) and long[-1][1] == 600
    assert segment_windows(10, 0.0) == [(0, 10)]


def test_a_spliced_clip_shows_which_seconds_are_ours(runtime, marked, other):
    _record(Registry(runtime.db), OURS, fingerprint_frames(marked))
    verdict = runtime.verification.verify(_mp4(np.concatenate([marked, other])), tenant=None, actor="test")
    segments = verdict.timeline_dicts()
    assert [(s["start"], s["end"]) for s in segments] == [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0)]
    ours = content_id_hex(OURS)
    for segment in segments[:2]:
        assert segment["watermark"] == {"detected": True, "content_id": ours,
                                        "confidence": segment["watermark"]["confidence"]}
        assert segment["registry"]["content_id"] == ours and segment["registry"]["video_id"] == f"video_{OURS:x}"
        assert segment["registry"]["frames"] and set(segment["registry"]["frames"]) <= set(segment["frames"])
        assert all(0 <= i < 48 for i in segment["frames"])
    for segment in segments[2:]:
        assert segment["watermark"]["detected"] is False and segment["watermark"]["content_id"] is None
        assert segment["registry"] is None and all(48 <= i < 96 for i in segment["frames"])
    # each segment carries a small JPEG of what was checked there
    import base64
    import io

    from PIL import Image

    for segment in segments:
        assert segment["thumbnail"].startswith("data:image/jpeg;base64,")
        thumb = Image.open(io.BytesIO(base64.b64decode(segment["thumbnail"].split(",", 1)[1])))
        assert thumb.format == "JPEG" and max(thumb.size) <= 96
    # the whole-clip verdict is what it was without the timeline
    plain = runtime.verification.verify(_mp4(np.concatenate([marked, other])), tenant=None, actor="test",
                                        timeline=False)
    assert plain.timeline == () and plain.results() == verdict.results()
    assert plain.assessment.to_dict() == verdict.assessment.to_dict()


def test_an_unmarked_clip_has_no_segment_detected(runtime, other):
    verdict = runtime.verification.verify(_mp4(other), tenant=None, actor="test")
    segments = verdict.timeline_dicts()
    assert len(segments) == 2
    assert not any(s["watermark"]["detected"] or s["registry"] for s in segments)


def test_an_image_is_one_segment(runtime, marked):
    _record(Registry(runtime.db), OURS, fingerprint_frames(marked))
    buf = io.BytesIO()
    Image.fromarray(marked[0]).save(buf, format="PNG")
    verdict = runtime.verification.verify(buf.getvalue(), tenant=None, actor="test")
    (segment,) = verdict.timeline_dicts()
    assert segment["start"] == segment["end"] == 0.0 and segment["frames"] == [0]
    assert segment["watermark"]["content_id"] == content_id_hex(OURS)
    assert segment["registry"]["content_id"] == content_id_hex(OURS)


def test_cli_json_includes_the_timeline(tmp_path, other):
    path = tmp_path / "other.mp4"
    path.write_bytes(_mp4(other[:36]))
    result = hallmark("verify", str(path), "--json", data_dir=tmp_path / "data")
    assert result.returncode == 1, result.stdout + result.stderr
    timeline = json.loads(result.stdout)["timeline"]
    assert [(s["start"], s["end"]) for s in timeline] == [(0.0, 1.0), (1.0, 1.5)]
    assert not any(s["watermark"]["detected"] for s in timeline)
