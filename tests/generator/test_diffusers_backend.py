"""The diffusers backend, driven end to end with a tiny randomly initialised Wan pipeline built here (no downloads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("diffusers")

from generator import CONTINUE, TRANSFORM, GenerationRequest, GeneratorError, SourceVideo, capabilities_of  # noqa: E402
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


# ------------------------------------------------------------------------------------------- video-to-video


@pytest.fixture(scope="module")
def tiny_wan_v2v(tiny_wan, tmp_path_factory):
    """The same tiny components saved as diffusers' video-to-video Wan pipeline (what an operator would do)."""
    from diffusers import WanVideoToVideoPipeline

    folder = tmp_path_factory.mktemp("tiny-wan-v2v")
    WanVideoToVideoPipeline.from_pretrained(tiny_wan, local_files_only=True).save_pretrained(folder)
    return folder


def _source(seed: int) -> SourceVideo:
    return SourceVideo(np.random.default_rng(seed).integers(0, 256, (12, 64, 96, 3), dtype=np.uint8), fps=8.0)


def test_capabilities_come_from_the_pipeline_class(tiny_wan, tiny_wan_v2v):
    assert capabilities_of(DiffusersVideoGenerator(tiny_wan)) == frozenset()
    model = DiffusersVideoGenerator(tiny_wan_v2v)
    assert capabilities_of(model) == {TRANSFORM}
    assert model._pipe is None  # read from the class, no weights loaded


def test_text_to_video_pipeline_refuses_video_to_video(tiny_wan):
    model = DiffusersVideoGenerator(tiny_wan, fps=8, steps=2)
    with pytest.raises(GeneratorError, match="WanPipeline cannot remix.*WanVideoToVideoPipeline"):
        model.generate(GenerationRequest(prompt="x", seconds=1, size=(128, 128), source=_source(0)))
    with pytest.raises(GeneratorError, match="cannot extend"):
        model.generate(GenerationRequest(prompt="x", seconds=1, size=(128, 128),
                                         source=SourceVideo(_source(0).frames, fps=8.0, mode=CONTINUE)))
    assert model._pipe is None  # refused before loading anything


def test_video_to_video_pipeline_remixes_the_source(tiny_wan_v2v):
    model = DiffusersVideoGenerator(tiny_wan_v2v, fps=8, steps=4)
    seen: list[float] = []

    def remix(source: SourceVideo, **kw) -> np.ndarray:
        request = GenerationRequest(prompt="a blue circle", seconds=1, size=(128, 128), seed=1, source=source)
        return model.generate(request, **kw).frames

    out = remix(SourceVideo(_source(0).frames, fps=8.0, strength=0.5), progress=seen.append)
    assert out.dtype == np.uint8 and out.shape == (9, 128, 128, 3)
    assert seen == [0.0, 0.5, 1.0, 1.0]  # strength 0.5 of 4 steps: 2 run
    # below strength 1 the output depends on the source; at 1 the source is pure noise and no longer matters
    assert not np.array_equal(out, remix(SourceVideo(_source(1).frames, fps=8.0, strength=0.5)))
    assert np.array_equal(remix(SourceVideo(_source(0).frames, fps=8.0, strength=1.0)),
                          remix(SourceVideo(_source(1).frames, fps=8.0, strength=1.0)))
    with pytest.raises(GeneratorError, match="cannot extend"):
        remix(SourceVideo(_source(0).frames, fps=8.0, mode=CONTINUE))


@pytest.fixture(scope="module")
def tiny_ltx_condition(tmp_path_factory):
    """A tiny randomly initialised LTX condition pipeline (frames held at given positions), built here."""
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXConditionPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import AutoTokenizer, T5Config, T5EncoderModel

    from generator.text_encoder import default_model_dir

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True)  # any local tokenizer
    text_encoder = T5EncoderModel(T5Config(vocab_size=tokenizer.vocab_size, d_model=32, d_kv=8, d_ff=32,
                                           num_layers=1, num_heads=2, relative_attention_num_buckets=8))
    transformer = LTXVideoTransformer3DModel(in_channels=8, out_channels=8, num_attention_heads=2, attention_head_dim=8,
                                             cross_attention_dim=16, num_layers=1, caption_channels=32)
    # compresses time by 4 and space by 4 (two scaling stages), so conditions are 4k + 1 frames
    vae = AutoencoderKLLTXVideo(latent_channels=8, block_out_channels=(8,) * 4, decoder_block_out_channels=(8,) * 4,
                                layers_per_block=(1,) * 5, decoder_layers_per_block=(1,) * 5,
                                spatio_temporal_scaling=(True, True, False, False),
                                decoder_spatio_temporal_scaling=(True, True, False, False),
                                decoder_inject_noise=(False,) * 5, upsample_residual=(False,) * 4,
                                upsample_factor=(1,) * 4, patch_size=1, patch_size_t=1)
    pipe = LTXConditionPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text_encoder,
                                tokenizer=tokenizer, transformer=transformer)
    folder = tmp_path_factory.mktemp("tiny-ltx-condition")
    pipe.save_pretrained(folder)
    return folder


def test_condition_pipeline_extends_with_only_new_frames(tiny_ltx_condition):
    model = DiffusersVideoGenerator(tiny_ltx_condition, fps=8, steps=3)
    assert capabilities_of(model) == {CONTINUE}

    def extend(seed: int, **kw) -> np.ndarray:
        source = SourceVideo(_source(seed).frames, fps=8.0, mode=CONTINUE)
        return model.generate(GenerationRequest(prompt="a red circle", seconds=1, size=(128, 128), seed=1,
                                                source=source), **kw).frames

    seen: list[float] = []
    out = extend(0, progress=seen.append)
    # 5 held frames (one latent frame + 1) then 8 new ones: only the 8 come back
    assert out.dtype == np.uint8 and out.shape == (8, 128, 128, 3)
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert np.array_equal(out, extend(0))
    assert not np.array_equal(out, extend(1))  # the new frames depend on the held ones
    with pytest.raises(GeneratorError, match="LTXConditionPipeline cannot remix"):
        model.generate(GenerationRequest(prompt="x", seconds=1, size=(128, 128), source=_source(0)))
