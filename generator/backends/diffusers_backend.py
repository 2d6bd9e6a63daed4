"""A diffusers text-to-video pipeline the operator downloaded (Wan 2.1, LTX-Video, CogVideoX, ...), loaded from a
local folder only, behind the same ``generate()`` contract as the built-in model.

diffusers is an optional dependency (``pip install 'hallmark[diffusers]'``); it is imported on first use.
"""

from __future__ import annotations

import inspect
import math
import threading
from pathlib import Path

import numpy as np

from ..types import Frames, GenerationRequest, GeneratorError, ProgressCallback, validate_request

_DTYPES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16",
           "bfloat16": "bfloat16", "bf16": "bfloat16"}


class DiffusersVideoGenerator:
    """Runs ``DiffusionPipeline.from_pretrained(model_dir, local_files_only=True)``; nothing is downloaded.

    ``frame_multiple`` is the model's temporal constraint: video VAEs that compress time by 4 (Wan, LTX, CogVideoX)
    need ``4k + 1`` frames, so the requested length is rounded up to the next such count.
    """

    def __init__(self, model_dir: str | Path, *, device: str = "cpu", dtype: str = "float32", fps: float = 16.0,
                 steps: int = 30, guidance: float = 5.0, frame_multiple: int = 4, name: str | None = None) -> None:
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
        pipe = self._pipeline()
        steps = request.steps or self.steps
        report = progress or (lambda _fraction: None)
        report(0.0)

        def on_step_end(_pipe, index, _timestep, tensors):
            report(min(1.0, (index + 1) / steps))
            return tensors

        width, height = request.size
        arguments = {
            "prompt": request.prompt, "height": height, "width": width,
            "num_frames": self.frame_count(request.seconds), "num_inference_steps": steps,
            "guidance_scale": self.guidance if request.guidance is None else request.guidance,
            "generator": torch.Generator(device="cpu").manual_seed(int(request.seed)),
            "output_type": "np", "callback_on_step_end": on_step_end,
        }
        accepted = inspect.signature(pipe.__call__).parameters
        output = pipe(**{k: v for k, v in arguments.items() if k in accepted})
        frames = np.asarray(output.frames[0])
        if frames.dtype != np.uint8:
            frames = (np.clip(frames, 0.0, 1.0) * 255.0).round().astype(np.uint8)
        if frames.shape[1:3] != (height, width):
            raise GeneratorError(f"the pipeline returned {frames.shape[2]}x{frames.shape[1]} frames for a "
                                 f"{width}x{height} request; choose a size the model supports")
        report(1.0)
        return Frames(frames=frames, fps=self.fps)
