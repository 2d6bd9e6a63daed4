"""Text-to-video pipeline: text encoder + DiT + flow-matching sampler + upsampling.

Samples a clip at the model's native resolution (16 frames of 32×32 RGB,
spanning the requested duration), then scales it honestly to the request:
frames are linearly blended in time to ``fps × seconds`` output frames, and
each frame is resized with bicubic interpolation to (width, height). Nothing
is invented by the upsampling; detail beyond 32×32 is not there.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ..models import VideoDiT
from ..schedulers import FlowMatchEulerScheduler, apply_guidance
from ..text_encoder import TextEncoder
from ..types import Frames, GenerationRequest, ProgressCallback, validate_request

# Share of the progress bar given to sampling; the rest is upsampling.
_SAMPLING_SHARE = 0.9


def temporal_positions(native_frames: int, out_frames: int) -> np.ndarray:
    """Where each output frame falls on the native time axis (0 … native_frames-1)."""
    if out_frames == 1:
        return np.zeros(1)
    return np.linspace(0.0, native_frames - 1, out_frames)


def upsample_clip(native: np.ndarray, out_frames: int, width: int, height: int) -> np.ndarray:
    """native T×h×w×3 float in [0, 255] → out_frames×height×width×3 uint8.

    Time: linear blend of the two nearest native frames. Space: bicubic
    resize of each blended frame (aspect ratio follows the request, so
    non-square sizes stretch the square native frame).
    """
    pos = temporal_positions(native.shape[0], out_frames)
    out = np.empty((out_frames, height, width, 3), dtype=np.uint8)
    for i, p in enumerate(pos):
        lo = int(np.floor(p))
        hi = min(lo + 1, native.shape[0] - 1)
        a = float(p - lo)
        frame = (1 - a) * native[lo] + a * native[hi]
        big = cv2.resize(frame.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
        out[i] = np.clip(np.rint(big), 0, 255).astype(np.uint8)
    return out


class TextToVideoPipeline:
    """Compose the text encoder, the DiT and the sampler for one request."""

    def __init__(
        self,
        model: VideoDiT,
        scheduler: FlowMatchEulerScheduler,
        text_encoder: TextEncoder,
        *,
        fps: float = 8.0,
        default_steps: int = 30,
        default_guidance: float = 4.0,
        reference_strength: float = 0.8,
        reference_guidance: float = 3.0,
    ) -> None:
        self.model = model.eval()
        self.scheduler = scheduler
        self.text_encoder = text_encoder
        self.fps = fps
        self.default_steps = default_steps
        self.default_guidance = default_guidance
        self.reference_strength = reference_strength
        # Strong guidance pulls every clip back to what the prompt alone
        # implies and erases the reference image's colours; with a reference
        # (and no explicit guidance) sampling uses this gentler scale.
        self.reference_guidance = reference_guidance

    def _reference_latent(self, image: np.ndarray) -> torch.Tensor:
        cfg = self.model.cfg
        small = cv2.resize(image, (cfg.size, cfg.size), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(small).float().div(127.5).sub(1.0).permute(2, 0, 1)
        return x[None, :, None].expand(1, cfg.channels, cfg.frames, cfg.size, cfg.size)

    @torch.no_grad()
    def sample_native(
        self,
        prompt: str,
        *,
        seed: int,
        steps: int,
        guidance: float,
        reference_image: np.ndarray | None = None,
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        """One clip at native resolution: T×h×w×3 float32 in [0, 255]."""
        cfg = self.model.cfg
        text, mask = self.text_encoder.encode([prompt, ""])
        gen = torch.Generator().manual_seed(int(seed) % (2**63))
        x = torch.randn((1, cfg.channels, cfg.frames, cfg.size, cfg.size), generator=gen)
        start = 1.0
        if reference_image is not None:
            start = self.reference_strength
            x = self.scheduler.add_noise(self._reference_latent(reference_image), x, torch.tensor([start]))

        use_cfg = guidance != 1.0

        def velocity(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            if not use_cfg:
                return self.model(xt, t, text[:1], mask[:1])
            v = self.model(torch.cat([xt, xt]), torch.cat([t, t]), text, mask)
            return apply_guidance(v[:1], v[1:], guidance)

        def on_step(i: int, n: int) -> None:
            if progress is not None:
                progress(_SAMPLING_SHARE * i / n)

        x = self.scheduler.sample(velocity, x, steps=steps, start=start, callback=on_step)
        clip = ((x[0].clamp(-1, 1) + 1) * 127.5).permute(1, 2, 3, 0)  # T×h×w×3
        return clip.numpy().astype(np.float32)

    def __call__(self, request: GenerationRequest, *, progress: ProgressCallback | None = None) -> Frames:
        validate_request(request)
        if progress is not None:
            progress(0.0)
        guidance = request.guidance
        if guidance is None:
            guidance = self.default_guidance if request.reference_image is None else self.reference_guidance
        native = self.sample_native(
            request.prompt.strip(),
            seed=int(request.seed),
            steps=int(request.steps or self.default_steps),
            guidance=float(guidance),
            reference_image=request.reference_image,
            progress=progress,
        )
        width, height = int(request.size[0]), int(request.size[1])
        out_frames = max(1, int(round(float(request.seconds) * self.fps)))
        frames = upsample_clip(native, out_frames, width, height)
        if progress is not None:
            progress(1.0)
        return Frames(frames=frames, fps=self.fps)
