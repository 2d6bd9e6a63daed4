"""The generator's public contract: request, frames, errors, the protocol.

Numpy only, so that importing the contract never pulls in torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np

ProgressCallback = Callable[[float], None]
"""Called with the fraction done, 0.0 … 1.0 (the last call is exactly 1.0)."""

MIN_SECONDS, MAX_SECONDS = 1.0, 20.0
MAX_PROMPT_CHARS = 4000
MAX_STEPS = 200
MAX_GUIDANCE = 30.0


class GeneratorError(ValueError):
    """A request the generator cannot serve; the message says what is allowed."""


@dataclass(frozen=True)
class SizeRange:
    """Accepted output sizes: each side in [min_side, max_side] and a multiple of ``multiple``.

    ``(width, height) in SUPPORTED_SIZES`` tells whether a size is accepted.
    """

    min_side: int = 128
    max_side: int = 1920
    multiple: int = 16

    def __contains__(self, size: object) -> bool:
        return self.problem(size) is None

    def problem(self, size: object) -> str | None:
        """None if ``size`` is accepted, otherwise what is wrong with it."""
        allowed = (
            f"sizes are (width, height) with each side a multiple of {self.multiple} "
            f"between {self.min_side} and {self.max_side}, e.g. (256, 256) or (1280, 720)"
        )
        if (
            not isinstance(size, tuple | list)
            or len(size) != 2
            or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in size)
        ):
            return f"size must be a (width, height) pair of integers, got {size!r}; {allowed}"
        w, h = int(size[0]), int(size[1])
        for name, v in (("width", w), ("height", h)):
            if not self.min_side <= v <= self.max_side:
                return f"{name} {v} is out of range; {allowed}"
            if v % self.multiple:
                return f"{name} {v} is not divisible by {self.multiple}; {allowed}"
        return None


SUPPORTED_SIZES = SizeRange()


SourceMode = Literal["transform", "continue"]

# What a generator can do besides text(+image)-to-video; a generator names them in ``capabilities``.
TRANSFORM, CONTINUE = "transform", "continue"


@dataclass(frozen=True)
class SourceVideo:
    """A clip the request works from (video-to-video).

    ``mode="transform"`` (remix, edit): the source is partially noised to ``strength`` (0 < strength ≤ 1; 1 ignores
    the source entirely) and denoised under the prompt (SDEdit), so its motion and layout carry over while the
    prompt changes what it shows; the output has the request's size and seconds.
    ``mode="continue"`` (extend): the output is *only the new frames*, ``seconds`` long, which continue the source's
    last frames (those are held fixed while the new ones are denoised); the caller stitches source + new.
    ``strength`` is ignored for "continue".
    """

    frames: np.ndarray  # T×H×W×3 uint8 RGB
    fps: float
    mode: SourceMode = "transform"
    strength: float | None = None  # None: the generator's default


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    seconds: float = 4.0
    size: tuple[int, int] = (256, 256)  # (width, height)
    seed: int = 0
    steps: int | None = None  # sampler steps; None = the model's default
    guidance: float | None = None  # classifier-free guidance scale; None = default
    # H×W×3 uint8 RGB. The built-in model uses it as the starting point of
    # sampling (image-to-video by partial noising): it biases the layout and
    # colours of every frame, most visibly the background.
    reference_image: np.ndarray | None = None
    # Video-to-video; a generator without the matching entry in ``capabilities`` raises GeneratorError for it.
    source: SourceVideo | None = None


@dataclass(frozen=True)
class Frames:
    frames: np.ndarray  # T×H×W×3 uint8 RGB
    fps: float

    @property
    def seconds(self) -> float:
        return self.frames.shape[0] / self.fps


@runtime_checkable
class VideoGenerator(Protocol):
    name: str
    description: str
    # Optional (read with ``capabilities_of``): a subset of {TRANSFORM, CONTINUE}; absent means neither.
    # capabilities: frozenset[str]

    def generate(self, request: GenerationRequest, *, progress: ProgressCallback | None = None) -> Frames: ...


def capabilities_of(generator: object) -> frozenset[str]:
    """What ``generator`` can do with a ``SourceVideo`` (empty for a text-to-video-only generator)."""
    return frozenset(getattr(generator, "capabilities", ()) or ())


def validate_request(request: GenerationRequest) -> None:
    """Raise GeneratorError with an actionable message if ``request`` is not servable."""
    if not isinstance(request.prompt, str) or not request.prompt.strip():
        raise GeneratorError("prompt must be a non-empty string")
    if len(request.prompt) > MAX_PROMPT_CHARS:
        raise GeneratorError(f"prompt is {len(request.prompt)} characters; at most {MAX_PROMPT_CHARS} are allowed")
    try:
        seconds = float(request.seconds)
    except (TypeError, ValueError):
        raise GeneratorError(f"seconds must be a number between {MIN_SECONDS:g} and {MAX_SECONDS:g}") from None
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise GeneratorError(
            f"seconds {request.seconds!r} is out of range; allowed: {MIN_SECONDS:g} to {MAX_SECONDS:g}"
        )
    problem = SUPPORTED_SIZES.problem(request.size)
    if problem:
        raise GeneratorError(problem)
    if not isinstance(request.seed, int | np.integer) or isinstance(request.seed, bool):
        raise GeneratorError(f"seed must be an integer, got {request.seed!r}")
    if request.steps is not None and (
        not isinstance(request.steps, int | np.integer) or not 1 <= request.steps <= MAX_STEPS
    ):
        raise GeneratorError(f"steps must be an integer from 1 to {MAX_STEPS} (or None for the default)")
    if request.guidance is not None and (
        not isinstance(request.guidance, int | float) or not 0.0 <= float(request.guidance) <= MAX_GUIDANCE
    ):
        raise GeneratorError(f"guidance must be a number from 0 to {MAX_GUIDANCE:g} (or None for the default)")
    img = request.reference_image
    if img is not None and (
        not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3
        or min(img.shape[:2]) < 1
    ):
        desc = f"{type(img).__name__}" if not isinstance(img, np.ndarray) else f"array {img.shape} {img.dtype}"
        raise GeneratorError(f"reference_image must be an H×W×3 uint8 RGB array, got {desc}")
    src = request.source
    if src is not None:
        if not isinstance(src, SourceVideo):
            raise GeneratorError(f"source must be a SourceVideo, got {type(src).__name__}")
        f = src.frames
        if not isinstance(f, np.ndarray) or f.dtype != np.uint8 or f.ndim != 4 or f.shape[3] != 3 or f.shape[0] < 1:
            desc = type(f).__name__ if not isinstance(f, np.ndarray) else f"array {f.shape} {f.dtype}"
            raise GeneratorError(f"source frames must be a T×H×W×3 uint8 RGB array with T ≥ 1, got {desc}")
        if src.mode not in (TRANSFORM, CONTINUE):
            raise GeneratorError(f"source mode must be {TRANSFORM!r} or {CONTINUE!r}, got {src.mode!r}")
        if not (isinstance(src.fps, int | float) and 0 < float(src.fps) <= 240):
            raise GeneratorError(f"source fps must be a number in (0, 240], got {src.fps!r}")
        if src.strength is not None and not (isinstance(src.strength, int | float) and 0 < float(src.strength) <= 1):
            raise GeneratorError(f"source strength must be in (0, 1] (or None for the default), got {src.strength!r}")
