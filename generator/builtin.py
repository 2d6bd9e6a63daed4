"""The shipped model: load ``generator/weights`` and serve it behind VideoGenerator."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from pathlib import Path

from . import data
from .types import (
    CONTINUE,
    MAX_SECONDS,
    MIN_SECONDS,
    SUPPORTED_SIZES,
    TRANSFORM,
    Frames,
    GenerationRequest,
    ProgressCallback,
)

BUILTIN_NAME = "hallmark-dit-mini-1"
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
OUTPUT_FPS = 8.0
# Video-to-video: remix/edit by partial noising (SDEdit) and extend by holding the source's last frames.
CAPABILITIES = frozenset({TRANSFORM, CONTINUE})


def vocabulary_words() -> frozenset[str]:
    """The words that name what the built-in model can draw ("still" for static)."""
    return frozenset({*data.SHAPES, *data.COLOURS, *data.MOTIONS, *data.BACKGROUNDS, "still"})


def knows_prompt(prompt: str) -> bool:
    """Whether the prompt uses at least one word of the training vocabulary."""
    return bool(set(re.findall(r"[a-z]+", prompt.lower())) & vocabulary_words())


def _read_config(weights_dir: Path) -> dict:
    path = weights_dir / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no model at {weights_dir}: expected config.json and model.safetensors")
    return json.loads(path.read_text())


def describe_model(weights_dir: str | Path | None = None) -> dict:
    """What the built-in model is and can draw (reads the config only, no weights)."""
    wd = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
    cfg = _read_config(wd)
    m = cfg["model"]
    vocab = {
        "shapes": list(data.SHAPES),
        "colours": list(data.COLOURS),
        "motions": list(data.MOTIONS),
        "backgrounds": list(data.BACKGROUNDS),
    }
    description = (
        f"Built-in {cfg.get('parameters', 0) / 1e6:.1f}M-parameter spacetime-patch diffusion transformer "
        f"(rectified flow, MiniLM text cross-attention) trained for {cfg.get('train_minutes', '?')} minutes "
        f"on CPU on procedural clips of one shape on a plain background. It follows the object colour "
        f"({', '.join(data.COLOURS)}), the background ({', '.join(data.BACKGROUNDS)}) and the "
        f"motion (moving {'/'.join(m for m in data.MOTIONS if m != 'static')}, or staying still); circles and "
        f"triangles come out as asked, squares often with rounded or ragged corners (read as circles in about half "
        f"of the held-out clips). "
        f"Sampled at {m['frames']}×{m['size']}×{m['size']} "
        f"and upsampled. Other prompts still yield a clip, but not what they describe. "
        f"Video-to-video: remix/edit noises the source (resampled to the native grid) to strength "
        f"{cfg.get('source_strength', 0.5):g} by default and redraws it under the prompt, keeping its motion and "
        f"layout; extend holds the source's last {cfg.get('continue_frames', 4)} frames (at the new segment's "
        f"spacing) while it samples the frames that follow them."
    )
    measured = None
    if (wd / "eval.json").is_file():
        measured = json.loads((wd / "eval.json").read_text())["held_out"]["accuracy"]
    return {
        "name": BUILTIN_NAME,
        "description": description,
        "vocabulary": vocab,
        "example_prompt": "a red circle moving right on a black background",
        "native": {"frames": m["frames"], "width": m["size"], "height": m["size"]},
        "output_fps": OUTPUT_FPS,
        "seconds": [MIN_SECONDS, MAX_SECONDS],
        "sizes": {
            "min_side": SUPPORTED_SIZES.min_side,
            "max_side": SUPPORTED_SIZES.max_side,
            "multiple": SUPPORTED_SIZES.multiple,
        },
        "defaults": {
            "steps": cfg.get("default_steps", 30),
            "guidance": cfg.get("default_guidance", 4.0),
            "guidance_out_of_vocabulary": cfg.get("out_of_vocabulary_guidance", 1.0),
            "guidance_with_reference_image": cfg.get("reference_guidance", 3.0),
            "reference_strength": cfg.get("reference_strength", 0.8),
            "source_strength": cfg.get("source_strength", 0.5),
            "guidance_with_source": cfg.get("source_guidance", 5.0),
            "continue_held_frames": cfg.get("continue_frames", 4),
            "guidance_continue": cfg.get("continue_guidance", 4.0),
        },
        "capabilities": sorted(CAPABILITIES),
        "training": {k: cfg[k] for k in ("train_steps", "train_minutes", "batch", "parameters") if k in cfg},
        "held_out_accuracy": measured,
    }


class BuiltinVideoGenerator:
    """The shipped DiT behind the VideoGenerator protocol (thread-safe)."""

    def __init__(self, weights_dir: str | Path | None = None, *, text_encoder_dir: str | Path | None = None):
        from safetensors.torch import load_file

        from .models import DiTConfig, VideoDiT
        from .pipelines import TextToVideoPipeline
        from .schedulers import FlowMatchEulerScheduler
        from .text_encoder import TextEncoder

        wd = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
        cfg = _read_config(wd)
        info = describe_model(wd)
        self.name = BUILTIN_NAME
        self.description = info["description"]
        self.info = info
        self.capabilities = CAPABILITIES
        model = VideoDiT(DiTConfig.from_dict(cfg["model"]))
        state = load_file(str(wd / "model.safetensors"))
        model.load_state_dict(state)
        model.requires_grad_(False)
        self._lock = threading.Lock()
        self.pipeline = TextToVideoPipeline(
            model,
            FlowMatchEulerScheduler(shift=float(cfg.get("sampling_shift", 1.0))),
            TextEncoder(text_encoder_dir, max_tokens=int(cfg.get("text_max_tokens", 24))),
            fps=OUTPUT_FPS,
            default_steps=int(cfg.get("default_steps", 30)),
            default_guidance=float(cfg.get("default_guidance", 4.0)),
            reference_strength=float(cfg.get("reference_strength", 0.8)),
            reference_guidance=float(cfg.get("reference_guidance", 3.0)),
            source_strength=float(cfg.get("source_strength", 0.5)),
            source_guidance=float(cfg.get("source_guidance", 5.0)),
            continue_frames=int(cfg.get("continue_frames", 4)),
            continue_guidance=float(cfg.get("continue_guidance", 4.0)),
        )
        self.out_of_vocabulary_guidance = float(cfg.get("out_of_vocabulary_guidance", 1.0))

    def generate(self, request: GenerationRequest, *, progress: ProgressCallback | None = None) -> Frames:
        # Guidance extrapolates from the unconditional towards the conditional
        # prediction; for a prompt with no word the model was trained on, the
        # conditional one is meaningless and strong guidance turns it into
        # coloured noise, so the default drops to plain conditional sampling.
        if request.guidance is None and isinstance(request.prompt, str) and not knows_prompt(request.prompt):
            request = dataclasses.replace(request, guidance=self.out_of_vocabulary_guidance)
        with self._lock:  # one sample at a time: the model is shared
            return self.pipeline(request, progress=progress)


_cache: dict[Path, BuiltinVideoGenerator] = {}
_cache_lock = threading.Lock()


def load_builtin(weights_dir: str | Path | None = None) -> BuiltinVideoGenerator:
    """The shipped model (loaded once per weights folder, then reused)."""
    key = (Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR).resolve()
    with _cache_lock:
        if key not in _cache:
            _cache[key] = BuiltinVideoGenerator(key)
        return _cache[key]
