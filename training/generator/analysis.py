"""A simple clip analyser (numpy + OpenCV) that reads back what a clip shows.

Used to measure prompt adherence of the built-in model: background and
object colour (nearest vocabulary colour), shape (from the object's contour)
and motion direction (from the centroid track). It knows the procedural
vocabulary in ``generator.data`` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from generator.data import BACKGROUNDS, COLOURS

_FG_DISTANCE = 60.0  # RGB distance from the background that counts as object


@dataclass(frozen=True)
class ClipAnalysis:
    background: str
    colour: str | None  # None when no object was found
    shape: str | None
    motion: str | None
    object_fraction: float  # mean share of pixels that belong to the object
    object_rgb: tuple[int, int, int] | None


def _nearest(rgb: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> str:
    names = list(palette)
    d = [np.linalg.norm(rgb - np.array(palette[n], dtype=np.float64)) for n in names]
    return names[int(np.argmin(d))]


def _shape_of(mask: np.ndarray) -> str | None:
    """Classify the object's silhouette by how much of its bounding box it fills."""
    ys, xs = np.nonzero(mask)
    if len(xs) < 9:
        return None
    w, h = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    extent = len(xs) / float(w * h)  # square ≈ 1, circle ≈ π/4, triangle ≈ 1/2
    if extent > 0.88:
        return "square"
    if extent > 0.66:
        return "circle"
    return "triangle"


def analyse_clip(frames: np.ndarray) -> ClipAnalysis:
    """frames: T×H×W×3 uint8 RGB."""
    t, h, w, _ = frames.shape
    f = frames.astype(np.float64)
    border = np.concatenate([f[:, 0], f[:, -1], f[:, :, 0], f[:, :, -1]], axis=1).reshape(-1, 3)
    bg_rgb = np.median(border, axis=0)
    background = _nearest(bg_rgb, BACKGROUNDS)
    dist = np.linalg.norm(f - bg_rgb, axis=-1)
    masks = dist > _FG_DISTANCE
    # keep only the largest blob per frame so specks do not move the centroid
    cleaned = np.zeros_like(masks)
    for i in range(t):
        n, labels, stats, _ = cv2.connectedComponentsWithStats(masks[i].astype(np.uint8), connectivity=8)
        if n > 1:
            k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            cleaned[i] = labels == k
    frac = float(cleaned.mean())
    if cleaned.sum() < max(9, 0.002 * h * w * t):
        return ClipAnalysis(background, None, None, None, frac, None)
    obj_rgb = np.median(f[cleaned], axis=0)
    colour = _nearest(obj_rgb, COLOURS)
    votes = [s for s in (_shape_of(cleaned[i]) for i in range(t)) if s]
    shape = max(set(votes), key=votes.count) if votes else None
    ys, xs, ts = [], [], []
    for i in range(t):
        yy, xx = np.nonzero(cleaned[i])
        if len(xx):
            ts.append(i)
            xs.append(xx.mean())
            ys.append(yy.mean())
    motion = None
    if len(ts) >= 2:
        # least-squares slope of the centroid track, in image sizes per clip
        tt = np.asarray(ts, dtype=np.float64) / max(t - 1, 1)
        sx = np.polyfit(tt, np.asarray(xs) / w, 1)[0] if len(set(ts)) > 1 else 0.0
        sy = np.polyfit(tt, np.asarray(ys) / h, 1)[0] if len(set(ts)) > 1 else 0.0
        if max(abs(sx), abs(sy)) < 0.12:
            motion = "static"
        elif abs(sx) >= abs(sy):
            motion = "right" if sx > 0 else "left"
        else:
            motion = "down" if sy > 0 else "up"
    return ClipAnalysis(background, colour, shape, motion, frac, tuple(int(v) for v in obj_rgb))
