"""A diffusers text-to-video pipeline the operator downloaded (Wan 2.1, LTX-Video, CogVideoX, ...), loaded from a
local folder only, behind the same ``generate()`` contract as the built-in model.

diffusers is an optional dependency (``pip install 'hallmark[diffusers]'``); it is imported on first use.

Video-to-video follows what the pipeline class's ``__call__`` takes, read from ``model_index.json`` and the installed
diffusers without loading weights: a pipeline that takes ``video`` and ``strength`` (WanVideoToVideoPipeline,
CogVideoXVideoToVideoPipeline, ...) serves ``transform`` (remix/edit, SDEdit: the source is noised to ``strength``
and denoised under the prompt). A pipeline that takes ``video`` placed at a ``frame_index`` next to ``num_frames``
(LTXConditionPipeline) serves ``continue`` (extend): the source's last frames are the condition at frame 0 and only
the frames after them are returned. No other installed pipeline documents conditioning on frames at given
positions, so no other one extends.
"""

from __future__ import annotations

import functools
import inspect
import math
import threading
from pathlib import Path

import numpy as np

from ..resample import resample_video
from ..types import (
    CONTINUE,
    TRANSFORM,
    Frames,
    GenerationRequest,
    GeneratorError,
    ProgressCallback,
    SourceVideo,
    validate_request,
)

_DTYPES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16",
           "bfloat16": "bfloat16", "bf16": "bfloat16"}


class DiffusersVideoGenerator:
    """Runs ``DiffusionPipeline.from_pretrained(model_dir, local_files_only=True)``; nothing is downloaded.

    ``frame_multiple`` is the model's temporal constraint: video VAEs that compress time by 4 (Wan, LTX, CogVideoX)
    need ``4k + 1`` frames, so the requested length is rounded up to the next such count.
    """

    def __init__(self, model_dir: str | Path, *, device: str = "cpu", dtype: str = "float32", fps: float = 16.0,
                 steps: int = 30, guidance: float = 5.0, frame_multiple: int = 4, name: str | None = None,
                 source_strength: float = 0.8) -> None:
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "model_index.json").is_file():
            raise FileNotFoundError(
                f"{self.model_dir} is not a diffusers pipeline folder (no model_index.json); point "
                "HALLMARK_DIFFUSERS_MODEL_DIR at a folder saved with save_pretrained or downloaded beforehand."
            )
        if dtype not in _DTYPES:
            raise GeneratorError(f"dtype {dtype!r} is not one of {sorted(set(_DTYPES.values()))}")
        self.device = device
        self.dtype = _DTYPES[dtype]
        self.fps = float(fps)
        self.steps = steps
        self.guidance = guidance
        self.frame_multiple = frame_multiple
        # SDEdit strength when a remix names none (diffusers' own default for its video-to-video pipelines).
        self.source_strength = source_strength
        self.name = name or f"diffusers-{self.model_dir.name}"
        self.version = "1"
        self._pipe = None
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        kind = self._pipeline_class()
        return (f"Operator-provided diffusers pipeline {kind} from {self.model_dir} on {self.device} ({self.dtype}); "
                "draws whatever that model was trained to draw.")

    def _pipeline_class(self) -> str:
        import json

        return json.loads((self.model_dir / "model_index.json").read_text()).get("_class_name", "DiffusionPipeline")

    @functools.cached_property
    def capabilities(self) -> frozenset[str]:
        """What the pipeline class's ``__call__`` takes (read from the class, no weights loaded): ``video`` and
        ``strength`` → TRANSFORM; ``video`` at a ``frame_index`` with ``num_frames`` → CONTINUE."""
        try:
            import diffusers
        except ImportError:
            return frozenset()
        cls = getattr(diffusers, self._pipeline_class(), None)
        if cls is None:
            return frozenset()
        accepted = inspect.signature(cls.__call__).parameters
        # LTX's condition pipeline also takes ``video`` and ``strength``, but there ``strength`` is how hard a
        # condition holds, not how far the source is noised; a ``frame_index`` marks that kind of pipeline.
        if {"video", "frame_index", "num_frames"} <= accepted.keys():
            return frozenset({CONTINUE})
        if {"video", "strength"} <= accepted.keys():
            return frozenset({TRANSFORM})
        return frozenset()

    def _refuse(self, source: SourceVideo) -> GeneratorError:
        kind = self._pipeline_class()
        if source.mode == TRANSFORM:
            return GeneratorError(
                f"the diffusers pipeline {kind} cannot remix or edit a video: its __call__ takes no `video` and "
                "`strength` (SDEdit); serve a video-to-video pipeline of the same model (e.g. WanVideoToVideoPipeline "
                "or CogVideoXVideoToVideoPipeline, saved from the same components) to offer it"
            )
        return GeneratorError(
            f"the diffusers pipeline {kind} cannot extend a video: extending needs a pipeline that holds given frames "
            "at given positions while it samples the rest (a `video` at a `frame_index`, as LTXConditionPipeline "
            "takes); serve such a pipeline, or the built-in model, to offer it"
        )

    @staticmethod
    def _pil(frames: np.ndarray, positions: np.ndarray, width: int, height: int) -> list:
        """The video at fractional frame ``positions`` as PIL images of the request's size, one frame at a time
        (a whole float clip at a large size would take gigabytes)."""
        from PIL import Image

        return [Image.fromarray(np.clip(np.rint(resample_video(frames, np.array([p]), width, height)[0]), 0, 255)
                                .astype(np.uint8)) for p in positions]

    def _held_frames(self, pipe) -> int:
        """How many source frames an extension holds: one latent frame's worth plus one (``r + 1`` for a VAE that
        compresses time by r; the condition pipeline needs ``r·k + 1`` frames)."""
        return int(getattr(pipe, "vae_temporal_compression_ratio", self.frame_multiple)) + 1

    def _pipeline(self):
        with self._lock:
            if self._pipe is None:
                import torch
                from diffusers import DiffusionPipeline

                pipe = DiffusionPipeline.from_pretrained(self.model_dir, dtype=getattr(torch, self.dtype),
                                                         local_files_only=True)
                pipe.set_progress_bar_config(disable=True)
                self._pipe = pipe.to(self.device)
            return self._pipe

    def frame_count(self, seconds: float) -> int:
        wanted = max(1, round(seconds * self.fps))
        if self.frame_multiple <= 1:
            return wanted
        return self.frame_multiple * math.ceil((wanted - 1) / self.frame_multiple) + 1

    def generate(self, request: GenerationRequest, *, progress: ProgressCallback | None = None) -> Frames:
        import torch

        validate_request(request)
        source = request.source
        if source is not None and source.mode not in self.capabilities:
            raise self._refuse(source)
        if source is not None and request.reference_image is not None:
            raise GeneratorError("a request takes a reference_image or a source video, not both")
        pipe = self._pipeline()
        steps = request.steps or self.steps
        strength = None
        if source is not None and source.mode == TRANSFORM:
            strength = self.source_strength if source.strength is None else float(source.strength)
        # SDEdit runs only the last ``strength`` share of the schedule (diffusers' get_timesteps); progress counts
        # the steps that run.
        run_steps = steps if strength is None else max(1, int(steps * strength))
        report = progress or (lambda _fraction: None)
        report(0.0)

        def on_step_end(_pipe, index, _timestep, tensors):
            report(min(1.0, (index + 1) / run_steps))
            return tensors

        width, height = request.size
        arguments = {
            "prompt": request.prompt, "height": height, "width": width,
            "num_frames": self.frame_count(request.seconds), "num_inference_steps": steps,
            "guidance_scale": self.guidance if request.guidance is None else request.guidance,
            "generator": torch.Generator(device="cpu").manual_seed(int(request.seed)),
            "output_type": "np", "callback_on_step_end": on_step_end,
            "frame_rate": self.fps,  # LTX conditions on it; pipelines without it never see it (filtered below)
        }
        held = 0
        if source is not None and source.mode == TRANSFORM:
            # The whole source, first to last frame, as many frames as the output (the pipeline makes as many
            # frames as it is given), at the request's size.
            positions = np.linspace(0, source.frames.shape[0] - 1, arguments["num_frames"])
            arguments["video"] = self._pil(source.frames, positions, width, height)
            arguments["strength"] = strength
        elif source is not None:  # CONTINUE
            # The source's last ``held`` frames at the output's frame spacing become the condition at frame 0; the
            # new frames follow them, a whole number of latent frames (so the total stays r·k + 1).
            held = self._held_frames(pipe)
            step = float(source.fps) / self.fps
            positions = (source.frames.shape[0] - 1) - step * np.arange(held - 1, -1, -1, dtype=np.float64)
            ratio = held - 1
            new = ratio * math.ceil(max(1, round(request.seconds * self.fps)) / ratio)
            arguments.update(video=[self._pil(source.frames, positions, width, height)],
                             frame_index=0, strength=1.0, num_frames=held + new)
        accepted = inspect.signature(pipe.__call__).parameters
        output = pipe(**{k: v for k, v in arguments.items() if k in accepted})
        frames = np.asarray(output.frames[0])[held:]  # an extension returns only the new frames
        if frames.dtype != np.uint8:
            frames = (np.clip(frames, 0.0, 1.0) * 255.0).round().astype(np.uint8)
        if frames.shape[1:3] != (height, width):
            raise GeneratorError(f"the pipeline returned {frames.shape[2]}x{frames.shape[1]} frames for a "
                                 f"{width}x{height} request; choose a size the model supports")
        report(1.0)
        return Frames(frames=frames, fps=self.fps)
