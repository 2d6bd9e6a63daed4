"""Procedural captioned video set the built-in model is trained on.

Owns the vocabulary (shapes, colours, motions, backgrounds), the caption
templates, the held-out combinations, and a renderer that draws one clip
(T×H×W×3 uint8) for a given combination. Pure numpy + OpenCV; no torch.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

# Object colours (RGB). Background colours use words that never name an
# object colour, so "white" or "blue" always refers to the object.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 190, 50),
    "blue": (40, 80, 240),
    "yellow": (240, 220, 30),
    "white": (245, 245, 245),
    "purple": (150, 50, 210),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (8, 8, 8),
    "gray": (105, 105, 105),
    "brown": (95, 60, 30),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
# direction of travel in image coordinates (dx, dy); y grows downwards
MOTIONS: dict[str, tuple[int, int]] = {
    "left": (-1, 0),
    "right": (1, 0),
    "up": (0, -1),
    "down": (0, 1),
    "static": (0, 0),
}

# Phrasings per combination. Training uses the first TRAIN_PHRASINGS (the
# second is a paraphrase so the model does not key on one exact sentence).
# The last one is never used in training: it exists only for evaluation, so
# the held-out set also tests a sentence the model has never been given
# (new words "going", "standing", "against"; the vocabulary words stay).
TEMPLATES: tuple[str, ...] = (
    "a {colour} {shape} moving {motion} on a {background} background",
    "a {colour} {shape} that moves {motion} over a {background} background",
    "a {colour} {shape} going {motion} against a {background} background",
)
STATIC_TEMPLATES: tuple[str, ...] = (
    "a {colour} {shape} staying still on a {background} background",
    "a {colour} {shape} that stays still over a {background} background",
    "a {colour} {shape} standing still against a {background} background",
)
TRAIN_PHRASINGS = 2
EVAL_PHRASINGS = len(TEMPLATES)


@dataclass(frozen=True)
class Combination:
    """One point of the vocabulary grid: what a clip shows."""

    shape: str
    colour: str
    motion: str
    background: str

    def caption(self, template: int = 0) -> str:
        """The caption in phrasing ``template`` (0 … EVAL_PHRASINGS-1; only
        the first TRAIN_PHRASINGS are ever used in training)."""
        templates = STATIC_TEMPLATES if self.motion == "static" else TEMPLATES
        if not 0 <= template < len(templates):
            raise ValueError(f"phrasing {template} out of range 0..{len(templates) - 1}")
        return templates[template].format(
            colour=self.colour, shape=self.shape, motion=self.motion, background=self.background
        )


def all_combinations() -> list[Combination]:
    return [
        Combination(s, c, m, b)
        for s, c, m, b in itertools.product(SHAPES, COLOURS, MOTIONS, BACKGROUNDS)
    ]


def _is_held_out(combo: Combination) -> bool:
    # A fixed, arithmetic choice of about one combination in seven. Every
    # shape, colour, motion and background (and every pair of them) still
    # appears in training; only these exact quadruples never do.
    s = SHAPES.index(combo.shape)
    c = list(COLOURS).index(combo.colour)
    m = list(MOTIONS).index(combo.motion)
    b = list(BACKGROUNDS).index(combo.background)
    return (s + 2 * c + 3 * m + 5 * b) % 7 == 3


def split_combinations() -> tuple[list[Combination], list[Combination]]:
    """(train, held_out): held-out combinations are never rendered in training."""
    combos = all_combinations()
    held = [c for c in combos if _is_held_out(c)]
    train = [c for c in combos if not _is_held_out(c)]
    return train, held


def training_captions() -> list[str]:
    """Every caption the model can see in training (training combinations, training phrasings)."""
    train, _ = split_combinations()
    return sorted({c.caption(k) for c in train for k in range(TRAIN_PHRASINGS)})


def held_out_captions() -> list[str]:
    """Distinct evaluation captions: held-out combinations in every phrasing (never seen in training)."""
    _, held = split_combinations()
    return sorted({c.caption(k) for c in held for k in range(EVAL_PHRASINGS)})


# --------------------------------------------------------------------------- rendering

_SUPERSAMPLE = 4


def _draw_shape(canvas: np.ndarray, shape: str, cx: float, cy: float, r: float, colour) -> None:
    s = _SUPERSAMPLE
    x, y, rr = cx * s, cy * s, r * s
    colour = tuple(int(v) for v in colour)
    if shape == "circle":
        cv2.circle(canvas, (int(round(x)), int(round(y))), int(round(rr)), colour, -1, cv2.LINE_AA)
    elif shape == "square":
        h = rr * 0.9  # squares look bigger than circles of the same radius
        pts = np.array([[x - h, y - h], [x + h, y - h], [x + h, y + h], [x - h, y + h]])
        cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], colour, cv2.LINE_AA)
    elif shape == "triangle":
        # upright equilateral-ish triangle with its centroid at (x, y)
        pts = np.array([[x, y - 1.15 * rr], [x + 1.1 * rr, y + 0.75 * rr], [x - 1.1 * rr, y + 0.75 * rr]])
        cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], colour, cv2.LINE_AA)
    else:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")


def render_clip(
    combo: Combination,
    *,
    frames: int = 16,
    size: int = 32,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Draw one clip (frames×size×size×3 uint8) showing ``combo``.

    Radius, start position and speed are randomised within ranges that keep
    the object inside the frame; moving objects cross about 40% of it.
    """
    rng = rng if rng is not None else np.random.default_rng()
    r = size * rng.uniform(0.17, 0.22)
    margin = r * 1.2 + 1
    dx, dy = MOTIONS[combo.motion]
    travel = size * rng.uniform(0.40, 0.55) if (dx or dy) else 0.0

    def start_and_end(d: int) -> tuple[float, float]:
        lo, hi = margin, size - margin
        if d == 0:
            p = rng.uniform(lo + 0.15 * size, hi - 0.15 * size)
            return p, p
        span = min(travel, hi - lo)
        slack = rng.uniform(0.0, 1.0) * (hi - lo - span)
        start = lo + slack if d > 0 else hi - slack
        return start, start + d * span

    x0, x1 = start_and_end(dx)
    y0, y1 = start_and_end(dy)
    bg = np.array(BACKGROUNDS[combo.background], dtype=np.uint8)
    # small colour jitter so the model learns a colour name, not one RGB value
    colour = np.clip(np.array(COLOURS[combo.colour]) + rng.integers(-12, 13, size=3), 0, 255)
    big = size * _SUPERSAMPLE
    out = np.empty((frames, size, size, 3), dtype=np.uint8)
    for i in range(frames):
        a = i / max(frames - 1, 1)
        canvas = np.empty((big, big, 3), dtype=np.uint8)
        canvas[:] = bg
        _draw_shape(canvas, combo.shape, x0 + a * (x1 - x0), y0 + a * (y1 - y0), r, colour)
        out[i] = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return out


def sample_batch(
    combos: list[Combination],
    batch: int,
    rng: np.random.Generator,
    *,
    frames: int = 16,
    size: int = 32,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A random training batch: clips (B×T×H×W×3 uint8), object masks
    (B×T×H×W bool, pixels that differ from the background) and captions."""
    clips, masks, captions = [], [], []
    for _ in range(batch):
        combo = combos[int(rng.integers(len(combos)))]
        clip = render_clip(combo, frames=frames, size=size, rng=rng)
        bg = np.array(BACKGROUNDS[combo.background], dtype=np.int16)
        clips.append(clip)
        masks.append(np.abs(clip.astype(np.int16) - bg).max(axis=-1) > 20)
        captions.append(combo.caption(int(rng.integers(TRAIN_PHRASINGS))))
    return np.stack(clips), np.stack(masks), captions
