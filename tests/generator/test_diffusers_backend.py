"""The diffusers backend, driven end to end with a tiny randomly initialised Wan pipeline built here (no downloads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("diffusers")

from generator import GenerationRequest, GeneratorError  # noqa: E402
from generator.backends import DiffusersVideoGenerator  # noqa: E402


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory):
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel
    from transformers import AutoTokenizer, UMT5Config, UMT5EncoderModel

    from generator.text_encoder import default_model_dir

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True)  # any local tokenizer
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=tokenizer.vocab_size, d_model=16, d_kv=4, d_ff=32,
                                               num_layers=1, num_heads=2, relative_attention_num_buckets=8))
    transformer = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8,
                                        in_channels=4, out_channels=4, text_dim=16, freq_dim=16, ffn_dim=32,
                                        num_layers=1, rope_max_seq_len=32)
    vae = AutoencoderKLWan(base_dim=8, z_dim=4, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True], latents_mean=[0.0] * 4, latents_std=[1.0] * 4)
    pipe = WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, transformer=transformer, vae=vae,
                       scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0))
    folder = tmp_path_factory.mktemp("tiny-wan")
    pipe.save_pretrained(folder)
    return folder


def test_generate_shapes_progress_and_determinism(tiny_wan):
    model = DiffusersVideoGenerator(tiny_wan, fps=8, steps=3)
    seen: list[float] = []
    request = GenerationRequest(prompt="a red circle", seconds=1, size=(128, 128), seed=5)
    clip = model.generate(request, progress=seen.append)
    assert clip.frames.dtype == np.uint8 and clip.frames.shape == (9, 128, 128, 3)  # 8 frames → 4k+1 = 9
    assert clip.fps == 8
    assert seen[0] == 0.0 and seen[-1] == 1.0 and len(seen) >= 4
    again = model.generate(request)
    assert np.array_equal(clip.frames, again.frames)
    other = model.generate(GenerationRequest(prompt="a red circle", seconds=1, size=(128, 128), seed=6))
    assert not np.array_equal(clip.frames, other.frames)
    assert "WanPipeline" in model.description


def test_bad_parameters_and_folders(tiny_wan, tmp_path):
    model = DiffusersVideoGenerator(tiny_wan, fps=8, steps=2)
    with pytest.raises(GeneratorError, match="divisible by 16"):
        model.generate(GenerationRequest(prompt="x", seconds=1, size=(130, 128)))
    with pytest.raises(GeneratorError, match="seconds"):
        model.generate(GenerationRequest(prompt="x", seconds=60, size=(128, 128)))
    with pytest.raises(FileNotFoundError, match="model_index.json"):
        DiffusersVideoGenerator(tmp_path)
    with pytest.raises(GeneratorError, match="dtype"):
        DiffusersVideoGenerator(tiny_wan, dtype="int8")


def test_gateway_generates_with_the_diffusers_backend(tiny_wan, tmp_path):
    out = tmp_path / "wan.mp4"
    env = {**os.environ, "HALLMARK_GENERATOR_BACKEND": "diffusers", "HALLMARK_DIFFUSERS_MODEL_DIR": str(tiny_wan),
           "HALLMARK_DIFFUSERS_FPS": "8", "HALLMARK_DIFFUSERS_STEPS": "2"}
    data_dir = str(tmp_path / "data")
    made = subprocess.run([sys.executable, "-m", "gateway", "generate", "a green square moving left", "-o", str(out),
                           "--seconds", "1", "--size", "128x128", "--data-dir", data_dir],
                          capture_output=True, text=True, timeout=300, env=env)
    assert made.returncode == 0, made.stderr
    checked = subprocess.run([sys.executable, "-m", "gateway", "verify", str(out), "--json", "--data-dir", data_dir],
                             capture_output=True, text=True, timeout=300, env=env)
    body = json.loads(checked.stdout)
    assert body["results"][0]["validation_state"] == "trusted"
    assert body["results"][0]["model"] == f"diffusers-{tiny_wan.name}"
