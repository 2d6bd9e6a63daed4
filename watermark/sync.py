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


def tile_shift_energy(folded: np.ndarray, spectra_p: np.ndarray) -> np.ndarray:
    """Normalised symbol energy for every circular tile shift of each folded tile.

    `folded` is (n, tb, tb, K): n candidate grid offsets, each folded into one tile;
    `spectra_p` is `pattern_spectra` of the FFT over the tile of each symbol's chip pattern.
    Returns (n, tb, tb): the per-symbol sums' energy at each tile shift over its expectation
    without a mark, so unmarked content gives about 1. The per-symbol sums are circular
    cross-correlations: one batched matrix product per frequency, then back to shifts by a
    matrix product with the inverse real DFT.
    """
    n, tb, _, k = folded.shape
    half = tb // 2 + 1  # real signals: half the spectrum is enough
    a = np.fft.rfft2(folded, axes=(1, 2)).reshape(n, tb * half, k)  # (n, f, K)
    a = np.ascontiguousarray(np.conj(a).transpose(1, 0, 2)).astype(np.complex64)  # (f, n, K)
    spectra = np.matmul(a, spectra_p).transpose(1, 2, 0)  # (n, S, f)
    cos, sin = _inverse_rdft(tb)
    sums = np.ascontiguousarray(spectra.real) @ cos + np.ascontiguousarray(spectra.imag) @ sin  # (n, S, tb * tb)
    denom = np.maximum(np.sum(folded**2, axis=(1, 2, 3)), 1e-12)
    return (np.einsum("nsf,nsf->nf", sums, sums).reshape(n, tb, tb)) / denom[:, None, None]
