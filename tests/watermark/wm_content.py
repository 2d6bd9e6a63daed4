"""Synthetic, natural-looking test clips: gradients, 1/f textures, moving shapes, flat and dark scenes.

Natural images have roughly 1/f amplitude spectra; a panned 1/f texture over a colour gradient,
with a few moving shapes and a touch of sensor noise, exercises the texture mask, motion
compensation in the codec and flat regions without needing any image files.
"""

from __future__ import annotations

import numpy as np


def _pink_texture(rng: np.random.Generator, h: int, w: int, exponent: float = 1.0) -> np.ndarray:
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fy**2 + fx**2)
    f[0, 0] = 1.0
    spectrum = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) / f**exponent
    spectrum[0, 0] = 0.0
    tex = np.fft.irfft2(spectrum, s=(h, w))
    return tex / tex.std()


def natural_clip(
    frames: int,
    height: int,
    width: int,
    *,
    seed: int = 0,
    texture: float = 22.0,
    pan: tuple[float, float] = (0.7, 1.3),
    shapes: int = 3,
    noise: float = 1.0,
    brightness: float = 1.0,
) -> np.ndarray:
    """A uint8 T x H x W x 3 clip: a sky-like flat top, a textured lower part, moving shapes."""
    rng = np.random.default_rng(seed)
    pad = int(np.ceil(max(abs(pan[0]), abs(pan[1])) * frames)) + 2
    tex = _pink_texture(rng, height + 2 * pad, width + 2 * pad)
    tint = rng.uniform(0.6, 1.0, size=3)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    c0, c1, c2 = (rng.uniform(30, 220, size=3) for _ in range(3))
    gradient = (
        c0[None, None, :]
        + (c1 - c0)[None, None, :] * (yy / height)[..., None]
        + (c2 - c0)[None, None, :] * (xx / width)[..., None] * 0.5
    )
    # Texture fades in below a soft horizon, so the top of the frame stays smooth.
    horizon = height * rng.uniform(0.25, 0.45)
    texture_weight = np.clip((yy - horizon) / (0.15 * height), 0.0, 1.0)[..., None]
    shape_params = []
    for _ in range(shapes):
        shape_params.append(
            dict(
                cy=rng.uniform(0.2, 0.8) * height,
                cx=rng.uniform(0.2, 0.8) * width,
                vy=rng.uniform(-2, 2),
                vx=rng.uniform(-3, 3),
                r=rng.uniform(0.06, 0.16) * min(height, width),
                color=rng.uniform(0, 255, size=3),
                round=bool(rng.integers(0, 2)),
            )
        )
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        oy, ox = pad + int(round(pan[0] * t)), pad + int(round(pan[1] * t))
        moving_tex = tex[oy - pad // 2 : oy - pad // 2 + height, ox - pad // 2 : ox - pad // 2 + width]
        img = gradient + texture * texture_weight * moving_tex[..., None] * tint[None, None, :]
        for s in shape_params:
            cy, cx = s["cy"] + s["vy"] * t, s["cx"] + s["vx"] * t
            if s["round"]:
                inside = (yy - cy) ** 2 + (xx - cx) ** 2 < s["r"] ** 2
            else:
                inside = (np.abs(yy - cy) < s["r"]) & (np.abs(xx - cx) < 0.7 * s["r"])
            img[inside] = s["color"]
        if noise:
            img = img + rng.normal(0.0, noise, size=img.shape)
        out[t] = np.clip(img * brightness, 0, 255).astype(np.uint8)
    return out


def flat_clip(frames: int, height: int, width: int, color: tuple[int, int, int]) -> np.ndarray:
    return np.broadcast_to(np.array(color, dtype=np.uint8), (frames, height, width, 3)).copy()


def dark_clip(frames: int, height: int, width: int, *, seed: int = 0) -> np.ndarray:
    """A low-light scene: the natural clip scaled down to mostly below 40 levels."""
    return natural_clip(frames, height, width, seed=seed, brightness=0.18, noise=0.5)
