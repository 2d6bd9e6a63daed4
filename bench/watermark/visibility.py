"""A picture to look at for visibility on smooth regions: the smoothest part of every bench clip, before and after.

    python -m bench.watermark.visibility [--out bench/results/watermark_visibility.png] [--before-jnd 0]

For every bench clip, the 128 x 128 px window of its first frame with the least texture (the mean over its 16 px blocks
of their standard deviation without their linear ramp: skies, walls, gradients) is cut out of the original and the
marked frame. Columns: the original at 1:1, the marked frame at 1:1, both contrast-stretched 4x around the window's
mean (what a bright display or a curious eye makes of a dark sky), and the luma mark amplified 10x around mid-grey.
With `--before-jnd X` a second marked row per clip uses the visibility budget `jnd_flat = X` (0: none, the mark as it
was before issue 23), to compare. Prints per clip the mark's RMS in that window and over the frame, in luma levels.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib

import cv2
import numpy as np

from bench.watermark import content
from watermark import dctss

_LUMA = np.array([0.299, 0.587, 0.114])
OUT = pathlib.Path(__file__).resolve().parents[1] / "results" / "watermark_visibility.png"
WINDOW = 128


def smoothest_window(frame: np.ndarray) -> tuple[int, int]:
    """Top-left corner of the WINDOW x WINDOW window (on the 16 px grid) whose blocks carry the least texture."""
    luma = frame.astype(np.float64) @ _LUMA
    h, w = luma.shape
    by, bx = h // 16, w // 16
    blocks = luma[: by * 16, : bx * 16].reshape(by, 16, bx, 16).transpose(0, 2, 1, 3)
    yy, xx = np.mgrid[0:16, 0:16] - 7.5
    texture = np.empty((by, bx))
    for i in range(by):
        for j in range(bx):
            block = blocks[i, j]
            a = np.stack([np.ones(256), yy.ravel(), xx.ravel()], axis=1)
            fit, *_ = np.linalg.lstsq(a, block.ravel(), rcond=None)
            texture[i, j] = np.std(block.ravel() - a @ fit)
    n = WINDOW // 16
    best, corner = np.inf, (0, 0)
    for i in range(by - n + 1):
        for j in range(bx - n + 1):
            t = texture[i : i + n, j : j + n].mean()
            if t < best:
                best, corner = t, (i * 16, j * 16)
    return corner


def _stretch(img: np.ndarray, mean: float, gain: float) -> np.ndarray:
    return np.clip(mean + gain * (img.astype(np.float64) - mean), 0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=pathlib.Path, default=OUT)
    parser.add_argument("--before-jnd", type=float, default=None, help="also show the mark with jnd_flat = this")
    args = parser.parse_args()
    rows = []
    for name, clip in content.bench_clips():
        frame = clip[0]
        variants = [("now", dctss.embed(clip[:1], 0x0123456789ABCDEF, 1.0)[0])]
        if args.before_jnd is not None:
            params = dataclasses.replace(dctss.DEFAULT_PARAMS, jnd_flat=args.before_jnd)
            variants.append((f"jnd {args.before_jnd:g}", dctss.embed(clip[:1], 0x0123456789ABCDEF, 1.0, params)[0]))
        top, left = smoothest_window(frame)
        win = (slice(top, top + WINDOW), slice(left, left + WINDOW))
        orig = frame[win]
        mean = float((orig.astype(np.float64) @ _LUMA).mean())
        for label, marked in variants:
            mark = (marked.astype(np.float64) - frame) @ _LUMA
            print(f"{name} [{label}]: window at ({top}, {left}), mean luma {mean:.0f}; mark RMS {np.sqrt(np.mean(mark[win] ** 2)):.2f}"
                  f" in the window, {np.sqrt(np.mean(mark ** 2)):.2f} over the frame")
            grey = np.clip(128 + 10 * mark[win], 0, 255).astype(np.uint8)
            tiles = [orig, marked[win], _stretch(orig, mean, 4), _stretch(marked[win], mean, 4),
                     np.repeat(grey[..., None], 3, axis=2)]
            row = np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255) for t in tiles], axis=1)
            rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
