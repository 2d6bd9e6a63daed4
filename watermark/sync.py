"""Geometric synchronisation for dct-ss: find the scale and the grid/tile offset of a mark in a cropped or rescaled frame.

The mark is a 128 x 128 px tile repeated over the frame and identical in every frame, so
- its scale shows as spectral lines at the harmonics of the tile period (along both axes);
  a comb over the normalised power spectrum finds the period, and
- once the scale is undone, the offset of the block grid (dctss searches it coarse to fine) and
  of the tile (every block position, by circular cross-correlation over the folded tile) is
  found where the per-symbol sums carry the most energy. The energy does not need the payload.
Only numpy.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

TILE = 128
# Scales searched by the autocorrelation: a tile period of 0.4x to 2.2x its original size.
MIN_SCALE, MAX_SCALE = 0.4, 2.2


def resample(plane: np.ndarray, scale: float) -> np.ndarray:
    """Undo a resize by `scale`: a frame that was scaled by `scale` comes back at its original pixel pitch.

    Linear interpolation with pixel-centre alignment (the convention OpenCV and FFmpeg use),
    rows then columns.
    """
    lo, frac = _interp(plane.shape[0], scale)
    rows = plane[lo] * (1 - frac)[:, None] + plane[lo + 1] * frac[:, None]
    lo, frac = _interp(plane.shape[1], scale)
    return rows[:, lo] * (1 - frac)[None, :] + rows[:, lo + 1] * frac[None, :]


def _interp(n_in: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    n_out = int(np.floor(n_in / scale))
    pos = np.clip((np.arange(n_out) + 0.5) * scale - 0.5, 0, n_in - 1)
    lo = np.minimum(np.floor(pos).astype(np.int64), n_in - 2)
    return lo, (pos - lo).astype(np.float32)


def _box(x: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Moving average over 2 * radius + 1 samples along `axis` (wrapping on axis 0, reflecting on 1)."""
    pad = [(radius + 1, radius) if a == axis else (0, 0) for a in range(x.ndim)]
    c = np.cumsum(np.pad(x, pad, mode="wrap" if axis == 0 else "reflect"), axis=axis)
    n = x.shape[axis]
    return (np.take(c, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis) - np.take(c, np.arange(n), axis=axis)) / (
        2 * radius + 1
    )


def line_spectrum(luma: np.ndarray) -> np.ndarray:
    """Power spectrum over its local average (rfft2 layout): about 1 everywhere except at periodic structure."""
    h, w = luma.shape
    plane = (luma - luma.mean()) * np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    power = np.abs(np.fft.rfft2(plane)) ** 2
    ratio = power / (_box(_box(power, 3, 0), 3, 1) + 1e-12)
    # Codecs leave their own periodic structure: block edges every 4, 8 or 16 px put lines at
    # multiples of 1/16 cycle per px, which a comb of the wrong period would pick up. Those rows
    # and columns of the spectrum are set to the no-structure level of 1.
    for axis, n in ((0, h), (1, w)):
        k = np.arange(1, 9) * n / CODEC_GRID
        bins = np.unique(np.concatenate([np.floor(k), np.ceil(k)]).astype(np.int64))
        bins = np.concatenate([bins, n - bins]) if axis == 0 else bins
        bins = bins[(bins > 0) & (bins < ratio.shape[axis])]
        if axis == 0:
            ratio[bins, :] = 1.0
        else:
            ratio[:, bins] = 1.0
    return ratio


# Period in px of the block structure video and image codecs leave (16 x 16 macroblocks and their 8 and 4 px sub-blocks).
CODEC_GRID = 16


# Harmonics of the tile period looked at: the mark's band ends near 0.25 cycles/px, the 32nd
# harmonic of a 128 px period. The lowest few are left out: content dominates there.
_HARMONICS = 32


def _comb_scores(ratio: np.ndarray, shape: tuple[int, int], periods: np.ndarray, harmonics: int = _HARMONICS) -> np.ndarray:
    """Mean of `ratio` over the spectral lines a tile of each period would make (about 1 when there are none)."""
    h, w = shape
    a, b = np.meshgrid(np.arange(-harmonics, harmonics + 1), np.arange(harmonics + 1), indexing="ij")
    keep = ~((np.abs(a) <= 2) & (b <= 2))
    a, b = a[keep].astype(np.float64), b[keep].astype(np.float64)
    scores = np.empty(len(periods))
    for lo in range(0, len(periods), 128):  # vectorised over chunks of periods
        p = np.asarray(periods[lo : lo + 128], dtype=np.float64)[:, None]
        ok = (np.abs(a)[None, :] < p / 2 - 1) & (b[None, :] < p / 2 - 1)
        fy, fx = (a[None, :] * h / p) % h, b[None, :] * w / p
        y0, x0 = np.floor(fy).astype(np.int64), np.floor(fx).astype(np.int64)
        ty, tx = fy - y0, fx - x0
        x0 = np.minimum(x0, ratio.shape[1] - 1)
        x1 = np.minimum(x0 + 1, ratio.shape[1] - 1)
        v = (
            ratio[y0 % h, x0] * (1 - ty) * (1 - tx)
            + ratio[(y0 + 1) % h, x0] * ty * (1 - tx)
            + ratio[y0 % h, x1] * (1 - ty) * tx
            + ratio[(y0 + 1) % h, x1] * ty * tx
        )
        scores[lo : lo + 128] = np.sum(v * ok, axis=1) / np.maximum(ok.sum(axis=1), 1)
    return scores


def estimate_scales(ratio: np.ndarray, shape: tuple[int, int], *, candidates: int = 2, tile: int = TILE,
                    harmonics: int = _HARMONICS) -> list[float]:
    """Up to `candidates` tile scales (period / 128), best first, from a `line_spectrum` (summed over frames).

    A tile of period p puts spectral lines at multiples of 1/p cycles per pixel along both axes;
    the comb that collects the most of `ratio` gives the period. Coarse grid (0.2 px), then 0.04 px.
    """
    h, w = shape
    top = min(tile * MAX_SCALE, 0.75 * min(h, w))
    periods = np.arange(tile * MIN_SCALE, top, 0.2)
    if len(periods) == 0:
        return []
    scores = _comb_scores(ratio, shape, periods, harmonics)
    found: list[float] = []
    for i in np.argsort(-scores):
        p = periods[i]
        if any(abs(p / (tile * s) - 1) < 0.03 for s in found):
            continue
        fine = p + np.arange(-0.2, 0.21, 0.04)
        p = float(fine[int(np.argmax(_comb_scores(ratio, shape, fine, harmonics)))])
        found.append(p / tile)
        if len(found) == candidates:
            break
    return found


def fold(weighted: np.ndarray, tile_blocks: int) -> np.ndarray:
    """Sum per-block (by, bx, K) values into one tile: (tile_blocks, tile_blocks, K)."""
    by, bx, k = weighted.shape
    ny, nx = -(-by // tile_blocks), -(-bx // tile_blocks)
    padded = np.zeros((ny * tile_blocks, nx * tile_blocks, k), dtype=weighted.dtype)  # np.pad: same, more overhead
    padded[:by, :bx] = weighted
    return padded.reshape(ny, tile_blocks, nx, tile_blocks, k).sum(axis=(0, 2))


@lru_cache(maxsize=4)
def _inverse_rdft(tb: int) -> tuple[np.ndarray, np.ndarray]:
    """Matrices that take a (tb, tb // 2 + 1) half spectrum (real, imaginary parts) back to the tb x tb real signal.

    x[y, x'] = sum over the half spectrum of w * Re(X * exp(2 pi i (ky y + kx x') / tb)) / tb**2, with
    w = 1 on the kx = 0 and Nyquist columns and 2 elsewhere (the other half is the conjugate).
    As two small matrix products this is much faster than thousands of tiny inverse FFTs.
    """
    half = tb // 2 + 1
    ky, kx = np.meshgrid(np.arange(tb), np.arange(half), indexing="ij")
    y, x = np.meshgrid(np.arange(tb), np.arange(tb), indexing="ij")
    theta = 2 * np.pi * (ky.reshape(-1, 1) * y.reshape(1, -1) + kx.reshape(-1, 1) * x.reshape(1, -1)) / tb
    w = np.where((kx == 0) | (2 * kx == tb), 1.0, 2.0).reshape(-1, 1) / tb**2
    return (w * np.cos(theta)).astype(np.float32), (-w * np.sin(theta)).astype(np.float32)


def pattern_spectra(pattern_fft: np.ndarray) -> np.ndarray:
    """The half spectrum of each symbol's chip pattern laid out for `tile_shift_energy`: (f, K, n_symbols), complex64."""
    s, k, tb, _ = pattern_fft.shape
    half = tb // 2 + 1
    p = pattern_fft[..., :half].reshape(s, k, tb * half)
    return np.ascontiguousarray(p.transpose(2, 1, 0)).astype(np.complex64)


def tile_shift_energy(folded: np.ndarray, spectra_p: np.ndarray, groups: int = 1) -> np.ndarray:
    """Normalised symbol energy for every circular tile shift of each folded tile.

    `folded` is (n, tb, tb, K): n candidate grid offsets, each folded into one tile;
    `spectra_p` is `pattern_spectra` of the FFT over the tile of each symbol's chip pattern.
    Returns (n, tb, tb): the per-symbol sums' energy at each tile shift over its expectation
    without a mark, so unmarked content gives about 1. With `groups` > 1, `spectra_p` holds that many layouts' spectra
    one after the other (the mirrored ones) and the result is (n, groups, tb, tb), one energy map per layout. The per-symbol sums are circular
    cross-correlations: one batched matrix product per frequency, then back to shifts by a
    matrix product with the inverse real DFT.
    """
    n, tb, _, k = folded.shape
    half = tb // 2 + 1  # real signals: half the spectrum is enough
    a = np.fft.rfft2(folded, axes=(1, 2)).reshape(n, tb * half, k)  # (n, f, K)
    a = np.ascontiguousarray(np.conj(a).transpose(1, 0, 2)).astype(np.complex64)  # (f, n, K)
    spectra = np.matmul(a, spectra_p).reshape(tb * half, -1)  # (f, n * groups * S)
    cos, sin = _inverse_rdft(tb)
    # Back to shifts in the (f, ...) layout the product comes in: no transposed copy of the large spectra.
    sums = cos.T @ spectra.real + sin.T @ spectra.imag  # (tb * tb, n * groups * S)
    energy = np.einsum("tgs,tgs->tg", *(sums.reshape(tb * tb, n * groups, -1),) * 2)  # (tb * tb, n * groups)
    denom = np.maximum(np.sum(folded**2, axis=(1, 2, 3)), 1e-12)
    energy = energy.T.reshape(n, groups, tb, tb) / denom[:, None, None, None]
    return energy[:, 0] if groups == 1 else energy


def warp(planes: list[np.ndarray], degrees: float, scale: float = 1.0,
         out_shape: tuple[int, int] | None = None) -> list[np.ndarray]:
    """Undo a rotation by `degrees` (counter-clockwise, about the frame's centre) and a resize by `scale` in each of a
    few same-sized luma planes, like `resample`: they come back at their original pixel pitch and orientation,
    bilinear. The output is the whole frame (floor(h / scale) x floor(w / scale)) or, with `out_shape`, that many
    pixels around its centre; pixels the frame does not cover take the plane's mean. The sample positions are worked
    out once for all the planes."""
    h, w = planes[0].shape
    fh, fw = int(np.floor(h / scale)), int(np.floor(w / scale))
    oh, ow = out_shape if out_shape is not None else (fh, fw)
    a = np.deg2rad(degrees)
    c, s = np.float32(np.cos(a)), np.float32(np.sin(a))
    # Output pixel i (of the whole output; a window starts (full - out) // 2 in) lies at (i + 0.5) * scale - 0.5 in the
    # unrotated input, `resample`'s convention (without a rotation the two agree); the rotation turns that about the
    # input's centre.
    cy, cx = np.float32((h - 1) / 2), np.float32((w - 1) / 2)
    yy = (np.arange(oh, dtype=np.float32)[:, None] + np.float32((fh - oh) // 2 + 0.5)) * np.float32(scale) - 0.5 - cy
    xx = (np.arange(ow, dtype=np.float32)[None, :] + np.float32((fw - ow) // 2 + 0.5)) * np.float32(scale) - 0.5 - cx
    sy = c * yy - s * xx + cy
    sx = s * yy + c * xx + cx
    # Pixels count as covered out to half a pixel past the edge pixels' centres (clamped there, as `resample` does).
    outside = (sy < -0.5) | (sy > h - 0.5) | (sx < -0.5) | (sx > w - 0.5)
    sy, sx = np.clip(sy, 0, h - 1), np.clip(sx, 0, w - 1)
    y0 = np.minimum(np.floor(sy).astype(np.int64), h - 2)
    x0 = np.minimum(np.floor(sx).astype(np.int64), w - 2)
    fy, fx = sy - y0, sx - x0
    i = y0 * w + x0
    out = []
    for plane in planes:
        flat = np.asarray(plane, dtype=np.float32).reshape(-1)
        top = flat[i] * (1 - fx) + flat[i + 1] * fx
        bottom = flat[i + w] * (1 - fx) + flat[i + w + 1] * fx
        warped = top * (1 - fy) + bottom * fy
        warped[outside] = flat.mean()
        out.append(warped)
    return out
