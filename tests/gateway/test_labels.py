"""Regulatory labels: the AIGC implicit label (container + manifest), SB 942 disclosure, the visible label."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import av
import numpy as np
import pytest

from gateway.generation.labels import (
    AIGC_ASSERTION_LABEL,
    SB942_ASSERTION_LABEL,
    Disclosure,
    draw_visible_label,
    glyph_height,
)
from gateway.media import read_container_metadata
from gateway.provenance import read_provenance

DISCLOSURE = Disclosure(provider="Hallmark Dev — Ünïcode Org", system_name="hallmark-dit-mini-1", system_version="1",
                        created_at=datetime(2026, 11, 25, tzinfo=timezone.utc), content_id="00ff00ff00ff00ff",
                        software="Hallmark 0.1.0")


def test_aigc_json_is_printable_ascii_with_every_field():
    label = DISCLOSURE.aigc()["AIGC"]
    assert label["Label"] == "1" and label["ProduceID"] == "00ff00ff00ff00ff"
    assert set(label) == {"Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator",
                          "PropagateID", "ReservedCode2"}
    text = DISCLOSURE.aigc_metadata()["AIGC"]
    assert all(32 <= ord(ch) < 127 for ch in text)
    assert json.loads(text)["AIGC"]["ContentProducer"].startswith("Hallmark Dev")


@pytest.mark.parametrize("size", [(128, 128), (256, 256), (360, 640), (720, 1280)])
def test_visible_label_glyphs_are_at_least_5_percent(size):
    height, width = size
    frames = np.full((24, height, width, 3), (200, 120, 40), np.uint8)
    labelled = draw_visible_label(frames, fps=8)
    assert glyph_height(labelled[0]) >= 0.05 * min(height, width)
    assert (labelled[15] != frames[15]).any()  # still shown at 1.9 s
    assert (labelled[16] == frames[16]).all()  # gone after 2 s
    corner = labelled[0, height // 2:, : width // 2]
    assert (corner != frames[0, height // 2:, : width // 2]).any()  # drawn in the bottom-left corner
    assert (labelled[0, : height // 3] == frames[0, : height // 3]).all()


def test_generated_video_carries_exactly_one_aigc_label_and_disclosure(completed_video):
    video, mp4 = completed_video
    metadata = read_container_metadata(mp4)
    keys = [key for key in metadata if "AIGC" in key]
    assert keys == ["AIGC"]
    label = json.loads(metadata["AIGC"])["AIGC"]
    assert label["Label"] == "1" and label["ProduceID"] == video["content_id"]
    report = read_provenance(mp4, "video/mp4", trust_anchors_pem=None)
    manifest = report.manifest_json["manifests"][report.active_manifest_id]
    by_label = {a["label"]: a["data"] for a in manifest["assertions"]}
    assert by_label[AIGC_ASSERTION_LABEL]["AIGC"]["ProduceID"] == video["content_id"]
    disclosure = by_label[SB942_ASSERTION_LABEL]
    assert disclosure["content_id"] == video["content_id"] and disclosure["system_name"] == video["model"]
    assert disclosure["provider"] and disclosure["created_at"]


def test_strict_pack_draws_the_visible_label(tmp_path):
    out = tmp_path / "labelled.mp4"
    env = {**os.environ, "HALLMARK_POLICY_PACK": "strict"}
    made = subprocess.run([sys.executable, "-m", "gateway", "generate", "a blue square moving up on a black background",
                           "-o", str(out), "--seconds", "3", "--size", "256x256", "--data-dir", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=240, env=env)
    assert made.returncode == 0, made.stderr
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    first, last = frames[0], frames[-1]
    corner = (slice(256 - 40, 256), slice(0, 128))
    assert glyph_height(first[corner]) >= 0.05 * 256
    assert glyph_height(last[corner]) == 0  # shown for the opening seconds only


@pytest.mark.parametrize("size", [(128, 128), (256, 256), (360, 640), (720, 1280)])
def test_chinese_visible_label_is_drawn_at_least_5_percent_high(size):
    height, width = size
    frames = np.full((24, height, width, 3), (40, 120, 200), np.uint8)
    labelled = draw_visible_label(frames, fps=8, language="zh")
    assert glyph_height(labelled[0]) >= 0.05 * min(height, width)  # the "A" of "AI生成"
    white = np.all(labelled[0] >= 200, axis=-1)
    columns = np.where(white.any(axis=0))[0]
    rows = np.where(white.any(axis=1))[0]
    # the two Chinese glyphs follow "AI": ink reaches well right of the Latin letters, in the bottom-left quarter
    english = draw_visible_label(frames[:1], fps=8, text="AI")
    latin_right = np.where(np.all(english[0] >= 200, axis=-1).any(axis=0))[0].max()
    cjk = white[:, latin_right + 2:]
    assert cjk.sum() > 0.15 * white.sum()
    cjk_rows = np.where(cjk.any(axis=1))[0]
    assert cjk_rows.max() - cjk_rows.min() + 1 >= 0.05 * min(height, width)  # the CJK glyphs are as tall
    assert rows.min() >= height // 2 and columns.max() < width * 0.75
    assert (labelled[15] != frames[15]).any() and (labelled[16] == frames[16]).all()


def test_visible_label_refuses_text_it_has_no_glyphs_for():
    frames = np.zeros((1, 64, 64, 3), np.uint8)
    with pytest.raises(ValueError):
        draw_visible_label(frames, fps=8, text="人工智能")
    with pytest.raises(ValueError):
        draw_visible_label(frames, fps=8, language="fr")


def test_a_tenant_pack_with_visible_label_zh_draws_the_chinese_label(tmp_path):
    import yaml

    from policies import load_pack

    pack = load_pack("default").to_dict()
    pack.update(id="zh-operator", labels=[*pack["labels"], "visible_label_zh"])
    (tmp_path / "zh.yaml").write_text(yaml.safe_dump(pack, allow_unicode=True))
    out = tmp_path / "zh.mp4"
    env = {**os.environ, "HALLMARK_TENANT_POLICIES": f"cn-tenant:{tmp_path / 'zh.yaml'}"}
    made = subprocess.run([sys.executable, "-m", "gateway", "generate", "a blue square moving up on a black background",
                           "-o", str(out), "--seconds", "3", "--size", "256x256", "--tenant", "cn-tenant",
                           "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=240, env=env)
    assert made.returncode == 0, made.stderr
    with av.open(str(out)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    ink = np.all(first >= 200, axis=-1)
    black = np.zeros((1, 256, 256, 3), np.uint8)

    def overlap(language: str) -> float:
        drawn = np.all(draw_visible_label(black, fps=8, language=language)[0] >= 200, axis=-1)
        return (ink & drawn).sum() / (ink | drawn).sum()

    zh, en = overlap("zh"), overlap("en")
    assert zh > 0.5 > en
