"""Test clips: camera moves over scikit-image's sample photographs (the bench), and procedural ones (the tests).

The bench (`bench_clips`) pans over and zooms into the photographs scikit-image ships, plus a
synthetic clip and a dark, flat one. The procedural clips need no image files: natural images
have roughly 1/f amplitude spectra, so a panned 1/f texture over a colour gradient, with a few
moving shapes and a touch of sensor noise, exercises codec motion compensation and flat regions.
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


# --- camera moves over a still ---------------------------------------------------------------
#
# The bench's camera clips pan over and zoom into the photographs that scikit-image ships inside its
# wheel (`skimage.data`, no download; a bench-only dependency, in the `dev` extra). `photo` below is
# a procedural, photograph-like still (1/f-textured landscape, sky gradient, ridge line, sharp-edged
# objects, fine grain) of any size, used by the tests and wherever scikit-image is not wanted.

# The bench's camera clips: (move, height, width, `skimage.data` function; a stereo pair gives its left view).
BENCH_CAMERA_CLIPS = (
    ("pan", 256, 256, "astronaut"),
    ("zoom", 256, 256, "coffee"),
    ("pan", 360, 640, "rocket"),
    ("zoom", 360, 640, "chelsea"),
    ("pan", 720, 1280, "stereo_motorcycle"),
    ("zoom", 720, 1280, "camera"),
)


def photograph(name: str, height: int, width: int) -> np.ndarray:
    """A scikit-image sample photograph as a float32 H x W x 3 still in [0, 255]: centre-cropped to the aspect ratio
    of (height, width), then resized to it (area when shrinking, bicubic when enlarging)."""
    import cv2  # bench-only dependency
    from skimage import data  # bench-only dependency (dev extra)

    image = getattr(data, name)()
    if isinstance(image, tuple):  # stereo pairs: the left view
        image = image[0]
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = image[..., :3].astype(np.float32)
    ih, iw = image.shape[:2]
    if iw * height > ih * width:  # too wide: crop the sides
        cw = int(round(ih * width / height))
        image = image[:, (iw - cw) // 2 : (iw - cw) // 2 + cw]
    else:
        ch = int(round(iw * height / width))
        image = image[(ih - ch) // 2 : (ih - ch) // 2 + ch]
    shrink = image.shape[0] > height
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    return np.clip(resized, 0, 255).astype(np.float32)


def photo(height: int, width: int, *, seed: int) -> np.ndarray:
    """A float32 H x W x 3 photograph-like still in [0, 255]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    sky_top, sky_bottom = rng.uniform(60, 230, size=3), rng.uniform(120, 250, size=3)
    img = sky_top + (sky_bottom - sky_top) * (yy / height)[..., None]
    # A ridge line whose height is itself a 1/f curve; textured ground below it.
    ridge_curve = np.cumsum(rng.standard_normal(width)) * 0.6
    ridge_curve = height * rng.uniform(0.3, 0.55) + ridge_curve - ridge_curve.mean()
    ground = yy > ridge_curve[None, :]
    ground_colour = rng.uniform(30, 170, size=3)
    coarse = _pink_texture(rng, height, width, exponent=1.2)
    fine = _pink_texture(rng, height, width, exponent=0.8)
    tex = rng.uniform(15, 35) * coarse + rng.uniform(4, 10) * fine
    shade = 0.6 + 0.4 * np.clip((yy - ridge_curve[None, :]) / height, 0, 1)
    ground_img = ground_colour * shade[..., None] + tex[..., None] * rng.uniform(0.7, 1.0, size=3)
    img = np.where(ground[..., None], ground_img, img + 3 * fine[..., None])
    # Buildings / rocks: sharp-edged rectangles and discs with their own texture.
    for _ in range(int(rng.integers(4, 9))):
        cy, cx = rng.uniform(0.35, 0.95) * height, rng.uniform(0, 1) * width
        r = rng.uniform(0.03, 0.12) * min(height, width)
        colour = rng.uniform(10, 245, size=3)
        if rng.random() < 0.5:
            inside = (np.abs(yy - cy) < r * rng.uniform(0.6, 1.6)) & (np.abs(xx - cx) < r)
        else:
            inside = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
        img[inside] = colour + 8 * fine[inside][:, None]
    return np.clip(img, 0, 255).astype(np.float32)


def camera_clip(
    frames: int,
    height: int,
    width: int,
    *,
    seed: int,
    move: str = "pan",
    noise: float = 1.0,
    photograph_name: str | None = None,
) -> np.ndarray:
    """A uint8 clip of a virtual camera panning over (or zooming into) a still 1.6 times the frame size: the named
    scikit-image photograph (a `skimage.data` function) or, without a name, a procedural one (`photo`)."""
    import cv2  # bench-only dependency

    rng = np.random.default_rng(seed)
    size = int(height * 1.6), int(width * 1.6)
    still = photo(*size, seed=seed) if photograph_name is None else photograph(photograph_name, *size)
    sh, sw = still.shape[:2]
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        a = t / max(frames - 1, 1)
        if move == "pan":
            zoom = 1.25
            cy = sh / 2 + (a - 0.5) * 0.25 * sh
            cx = sw * (0.3 + 0.4 * a)
        else:  # zoom in towards a point
            zoom = 1.1 + 0.45 * a
            cy, cx = sh / 2, sw / 2
        view_h, view_w = sh / zoom, sw / zoom
        # Sub-pixel camera positions: an affine warp, as a real camera move would give.
        sx, sy = view_w / width, view_h / height
        matrix = np.array([[sx, 0, cx - view_w / 2], [0, sy, cy - view_h / 2]], dtype=np.float64)
        img = cv2.warpAffine(
            still, matrix, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )
        if noise:
            img = img + rng.normal(0.0, noise, size=img.shape)
        out[t] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def synthetic_clip(frames: int, height: int, width: int) -> np.ndarray:
    """A computer-graphics-like clip: colour bars, a sharp moving checkerboard and a gradient."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    bars = np.array([[235, 235, 235], [235, 235, 16], [16, 235, 235], [16, 235, 16],
                     [235, 16, 235], [235, 16, 16], [16, 16, 235]], dtype=np.float32)
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        img = bars[np.minimum((xx * 7 / width).astype(int), 6)]
        lower = yy > height * 0.6
        checker = (((xx + 3 * t) // 24 + (yy // 24)) % 2) * 200 + 28
        img[lower] = checker[lower][:, None]
        band = (yy > height * 0.45) & (yy <= height * 0.6)
        img[band] = (xx[band] / width * 255)[:, None]
        out[t] = img.astype(np.uint8)
    return out


def bench_clips(quick: bool = False, *, fps: int = 24) -> list[tuple[str, np.ndarray]]:
    """The bench's clip set: camera moves over scikit-image photographs at three sizes, a synthetic clip and a dark,
    flat one; 2 s each. `quick` drops the 720p zoom."""
    n = 2 * fps
    clips: list[tuple[str, np.ndarray]] = []
    for i, (move, h, w, name) in enumerate(BENCH_CAMERA_CLIPS):
        if quick and h == 720 and move == "zoom":
            continue
        clip = camera_clip(n, h, w, seed=100 + i, move=move, photograph_name=name)
        clips.append((f"{move} {w}x{h} ({name})", clip))
    clips.append(("synthetic 640x360", synthetic_clip(n, 360, 640)))
    dark = natural_clip(n, 360, 640, seed=7, texture=3.0, shapes=1, noise=0.6, brightness=0.12)
    clips.append(("dark flat 640x360", dark))
    return clips
