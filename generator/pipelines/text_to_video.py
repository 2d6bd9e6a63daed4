"""Text-to-video pipeline: text encoder + DiT + flow-matching sampler + upsampling.

Samples a clip at the model's native resolution (16 frames of 32×32 RGB,
spanning the requested duration), then scales it honestly to the request:
frames are linearly blended in time to ``fps × seconds`` output frames, and
each frame is resized with bicubic interpolation to (width, height). Nothing
is invented by the upsampling; detail beyond 32×32 is not there.

With a source video (``GenerationRequest.source``) the same sampler works
from that clip, brought down to the native grid the same way in reverse
(area-downsampled, linearly blended in time):

* ``transform`` (SDEdit): the native clip is the source resampled to 16
  frames over its whole length, noised to ``strength`` and denoised under the
  prompt, so motion and layout carry over and the prompt changes the rest.
* ``continue``: the first k native frames are the source's last frames at the
  new segment's native spacing, held fixed while the other 16 − k are sampled
  (``HeldValues``); only frames after the source's last one are returned.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ..models import VideoDiT
from ..resample import resample_video
from ..schedulers import FlowMatchEulerScheduler, HeldValues, apply_guidance
from ..text_encoder import TextEncoder
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

# Share of the progress bar given to sampling; the rest is upsampling.
_SAMPLING_SHARE = 0.9


def temporal_positions(native_frames: int, out_frames: int) -> np.ndarray:
    """Where each output frame falls on the native time axis (0 … native_frames-1)."""
    if out_frames == 1:
        return np.zeros(1)
    return np.linspace(0.0, native_frames - 1, out_frames)


def upsample_clip(
    native: np.ndarray, out_frames: int, width: int, height: int, *, positions: np.ndarray | None = None
) -> np.ndarray:
    """native T×h×w×3 float in [0, 255] → out_frames×height×width×3 uint8.

    Time: linear blend of the two nearest native frames, at ``positions`` on
    the native time axis (default: evenly from the first to the last native
    frame). Space: bicubic resize of each blended frame (aspect ratio follows
    the request, so non-square sizes stretch the square native frame).
    """
    pos = temporal_positions(native.shape[0], out_frames) if positions is None else positions
    out = np.empty((out_frames, height, width, 3), dtype=np.uint8)
    for i, p in enumerate(pos):
        lo = int(np.floor(p))
        hi = min(lo + 1, native.shape[0] - 1)
        a = float(p - lo)
        frame = (1 - a) * native[lo] + a * native[hi]
        big = cv2.resize(frame.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
        out[i] = np.clip(np.rint(big), 0, 255).astype(np.uint8)
    return out


def continue_window(
    source_frames: int, source_fps: float, seconds: float, native_frames: int, held: int
) -> tuple[int, np.ndarray]:
    """Where an extension's native window takes its held frames from.

    The window has ``native_frames`` frames at the spacing d = seconds / (native_frames − k) of the new segment;
    its first k are the source at the times of its last frame and the k − 1 before it, d apart (fractional source
    frame positions, returned with k). k is ``held``, or fewer when the source is shorter than (k − 1)·d (a
    single-frame source gives k = 1).
    """
    k = max(1, min(int(held), native_frames - 1))
    while k > 1 and (k - 1) * seconds / (native_frames - k) * source_fps > source_frames - 1:
        k -= 1
    step = seconds / (native_frames - k) * source_fps  # d in source frames
    return k, (source_frames - 1) - step * np.arange(k - 1, -1, -1, dtype=np.float64)


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
        source_strength: float = 0.5,
        source_guidance: float = 5.0,
        continue_frames: int = 4,
        continue_guidance: float = 4.0,
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
        # Remix/edit (transform): how far the source is noised when the request names no strength, and the
        # guidance used then (see MODEL_CARD.md for how both were measured).
        self.source_strength = source_strength
        self.source_guidance = source_guidance
        # Extend (continue): how many of the source's last frames the native window holds, and its guidance.
        self.continue_frames = continue_frames
        self.continue_guidance = continue_guidance

    def _reference_latent(self, image: np.ndarray) -> torch.Tensor:
        cfg = self.model.cfg
        small = cv2.resize(image, (cfg.size, cfg.size), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(small).float().div(127.5).sub(1.0).permute(2, 0, 1)
        return x[None, :, None].expand(1, cfg.channels, cfg.frames, cfg.size, cfg.size)

    @staticmethod
    def _to_model(clip: np.ndarray) -> torch.Tensor:
        """n×h×w×3 float in [0, 255] → 1×3×n×h×w in [-1, 1]."""
        return torch.from_numpy(np.ascontiguousarray(clip)).float().div(127.5).sub(1.0).permute(3, 0, 1, 2)[None]

    @torch.no_grad()
    def sample_native(
        self,
        prompt: str,
        *,
        seed: int,
        steps: int,
        guidance: float,
        reference_image: np.ndarray | None = None,
        init: torch.Tensor | None = None,
        strength: float = 1.0,
        head: torch.Tensor | None = None,
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        """One clip at native resolution: T×h×w×3 float32 in [0, 255].

        ``init`` (1×3×T×h×w in [-1, 1]) is a clip to start from, noised to ``strength`` (SDEdit; a reference
        image is one still clip noised to ``reference_strength``). ``head`` (1×3×k×h×w) is held as the first k
        frames while the rest is sampled.
        """
        cfg = self.model.cfg
        text, mask = self.text_encoder.encode([prompt, ""])
        gen = torch.Generator().manual_seed(int(seed) % (2**63))
        noise = torch.randn((1, cfg.channels, cfg.frames, cfg.size, cfg.size), generator=gen)
        x, start = noise, 1.0
        if reference_image is not None:
            init, strength = self._reference_latent(reference_image), self.reference_strength
        if init is not None:
            start = float(strength)
            x = self.scheduler.add_noise(init, noise, torch.tensor([start]))
        held = None
        if head is not None:
            k = head.shape[2]
            known = torch.zeros_like(noise)
            known[:, :, :k] = head
            where = torch.zeros((1, 1, cfg.frames, 1, 1), dtype=torch.bool)
            where[:, :, :k] = True
            held = HeldValues(known, where, noise)

        use_cfg = guidance != 1.0

        def velocity(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            if not use_cfg:
                return self.model(xt, t, text[:1], mask[:1])
            v = self.model(torch.cat([xt, xt]), torch.cat([t, t]), text, mask)
            return apply_guidance(v[:1], v[1:], guidance)

        def on_step(i: int, n: int) -> None:
            if progress is not None:
                progress(_SAMPLING_SHARE * i / n)

        x = self.scheduler.sample(velocity, x, steps=steps, start=start, callback=on_step, held=held)
        clip = ((x[0].clamp(-1, 1) + 1) * 127.5).permute(1, 2, 3, 0)  # T×h×w×3
        return clip.numpy().astype(np.float32)

    def __call__(self, request: GenerationRequest, *, progress: ProgressCallback | None = None) -> Frames:
        validate_request(request)
        source = request.source
        if source is not None and request.reference_image is not None:
            raise GeneratorError("a request takes a reference_image or a source video, not both")
        if progress is not None:
            progress(0.0)
        width, height = int(request.size[0]), int(request.size[1])
        out_frames = max(1, int(round(float(request.seconds) * self.fps)))
        common = {"seed": int(request.seed), "steps": int(request.steps or self.default_steps), "progress": progress}
        if source is None:
            guidance = self.default_guidance if request.reference_image is None else self.reference_guidance
            native = self.sample_native(
                request.prompt.strip(),
                guidance=float(guidance if request.guidance is None else request.guidance),
                reference_image=request.reference_image,
                **common,
            )
            frames = upsample_clip(native, out_frames, width, height)
        elif source.mode == TRANSFORM:
            frames = self._transform(request, source, out_frames, common)
        else:
            assert source.mode == CONTINUE  # validate_request admits no other mode
            frames = self._continue(request, source, out_frames, common)
        if progress is not None:
            progress(1.0)
        return Frames(frames=frames, fps=self.fps)

    def _transform(self, request: GenerationRequest, source: SourceVideo, out_frames: int, common: dict) -> np.ndarray:
        cfg = self.model.cfg
        # The whole source, first to last frame, becomes the native clip; the output then spans the request's
        # seconds, so a source of another length is stretched or squeezed in time.
        positions = np.linspace(0.0, source.frames.shape[0] - 1, cfg.frames)
        init = self._to_model(resample_video(source.frames, positions, cfg.size, cfg.size))
        native = self.sample_native(
            request.prompt.strip(),
            guidance=float(self.source_guidance if request.guidance is None else request.guidance),
            init=init,
            strength=float(self.source_strength if source.strength is None else source.strength),
            **common,
        )
        return upsample_clip(native, out_frames, int(request.size[0]), int(request.size[1]))

    def _continue(self, request: GenerationRequest, source: SourceVideo, out_frames: int, common: dict) -> np.ndarray:
        cfg = self.model.cfg
        k, positions = continue_window(
            source.frames.shape[0], float(source.fps), float(request.seconds), cfg.frames, self.continue_frames
        )
        head = self._to_model(resample_video(source.frames, positions, cfg.size, cfg.size))
        native = self.sample_native(
            request.prompt.strip(),
            guidance=float(self.continue_guidance if request.guidance is None else request.guidance),
            head=head,
            **common,
        )
        # Native frame k − 1 is the source's last frame and frame 15 the end of the new segment; output frame m
        # (of n) lies (m + 1)/n of the way between them, so the first returned frame is one output step after
        # the source's last frame and none repeats it.
        new = np.arange(1, out_frames + 1, dtype=np.float64) * (cfg.frames - k) / out_frames
        return upsample_clip(native, out_frames, int(request.size[0]), int(request.size[1]), positions=(k - 1) + new)
