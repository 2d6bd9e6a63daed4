"""The dct-ss.2 method: informed spread spectrum over low-mid-frequency 16 x 16 block-DCT luma coefficients.

This module owns the signal processing: where each coded symbol lives in a frame, how much a
coefficient may move, how a frame is marked and how evidence is gathered back. Inputs are
validated by the caller (`watermark.api`); here frames are assumed to be uint8 T x H x W x 3.

In short (README.md has the reasoning and the measurements):
- Luma only. The change to Y is added equally to R, G and B, which leaves Cb and Cr untouched.
- The frame is cut into 16 x 16 blocks on the pixel grid. A key-seeded layout assigns every
  (block position inside an 8 x 8-block tile, band coefficient) slot to one of the 208 coded
  symbols, with a random sign (chip). The 128 px tile repeats across the frame and the same
  layout is used in every frame, so evidence adds up over tiles and over frames.
- Each slot moves by `amplitude * chip * symbol * scale[symbol]`. The scale is chosen so that
  the frame's own content, which also projects onto each symbol's pattern, is compensated
  (informed embedding): the extractor sees at least `margin` units of the intended sign
  whenever [scale_min, scale_max] allows. The content's projection is averaged over a few
  frames first, so the pattern's strength drifts slowly and never flickers.
- A block mask puts more of the mark into flat blocks and less into busy ones (the codec keeps
  flat blocks better, busy ones carry more host interference); its gains are averaged over a
  few frames too.
- A global cap keeps the luma MSE of the change under the budget for the requested strength.
- Extraction weights each block by how quiet it is in the band (busy blocks carry more
  content and codec noise), correlates with the layout and pools over frames, only frames that
  visibly carry a mark counting when some do; the 208 sums go to `coding.decode`.
- When the frames as they are decode to nothing, `extract` undoes a rescale and finds the
  block-grid and tile offsets (crops) with `sync`, reading every offset through the layout and its
  three mirrors (FLIPS), then tries small rotations, then decodes there (at most 4 decodes in all).
- A per-block visibility budget (jnd_flat) keeps the mark under a level or two RMS on flat regions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from . import coding, sync

ALGORITHM = "com.hallmark.wm.dct-ss.2"

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # BT.601; sums to 1


@dataclass(frozen=True)
class DctSsParams:
    """Every constant that defines dct-ss.2. Changing the key, block, tile, band or code makes a new,
    incompatible method; the amplitude, tilt, compensation, mask, detection and cap settings are free."""

    key: bytes = b"com.hallmark.wm.dct-ss.2/default-key"
    # 16 x 16 px blocks, 8 x 8 of them to a 128 x 128 px tile.
    block: int = 16
    tile_blocks: int = 8
    # (vertical, horizontal) DCT frequencies used (u / 32 cycles per px): 2 <= u + v <= 4, i.e.
    # periods 32 / sqrt(u**2 + v**2) of 8 to 23 px. Low enough that H.264 at CRF 35 and JPEG 50
    # keep much of it and that SSIM's 11 x 11 window sees it partly as a change of local mean (which it barely
    # penalises); the lowest two, (0, 1) and (1, 0), are left out: content dominates there.
    band: tuple[tuple[int, int], ...] = (
        (0, 2), (1, 1), (2, 0),
        (0, 3), (1, 2), (2, 1), (3, 0),
        (0, 4), (1, 3), (2, 2), (3, 1), (4, 0),
    )
    # Base change of one band coefficient (orthonormal DCT, 8-bit luma levels) at strength 1.
    amplitude: float = 9.0
    # Relative amplitude per diagonal u + v = 2, 3, 4 of the band (normalised to unit mean square).
    # Measured: (1.4, 1, 0.7) gains about 3 dB after H.264 CRF 35 on a 256 px pan but loses 2 to 3
    # dB after CRF 28 and JPEG 50, which the crop -> rescale -> CRF 28 sync needs; flat it is.
    tilt: tuple[float, float, float] = (1.0, 1.0, 1.0)
    # Detection weight per block: 1 / (mean squared band coefficient + detection_floor**2).
    # Busy blocks carry more host and codec noise in the band, so they count for less.
    detection_floor: float = 16.0
    # Informed embedding: per symbol, the scale t is chosen so that the weighted projection
    # reaches `margin` times the symbol's weighted amplitude, within [scale_min, scale_max].
    # scale_max 3: on the 256 px pans over photographs the host outweighs a doubled pattern for some symbols; tripling
    # measured +0.5 to +0.7 dB after H.264 CRF 28 there over doubling, no change on other clips, PSNR and SSIM
    # unchanged.
    margin: float = 1.0
    scale_min: float = 0.5
    scale_max: float = 3.0
    # The host projection that sets t is averaged over +-temporal_window frames, so t (and
    # with it the pattern's strength) changes slowly over time: no flicker.
    temporal_window: int = 12
    # The compensation can be worked out per region of this many tiles a side (0: per frame), so a
    # crop that keeps only a few tiles still sees each symbol compensated. Measured with 1: +1 to
    # +2 dB on 128 px crops of textured content, but the mark then needs more energy and the
    # PSNR cap (41.5 dB) binds; off.
    compensation_tiles: int = 0
    # Hard ceiling on the luma change: PSNR never below this at strength 1 (it drops by
    # 20*log10(strength) for other strengths).
    min_psnr_db: float = 41.5
    # Block mask: a block's amplitude is multiplied by ((var + mask_c) / mask_c) ** (mask_gamma / 2), at most
    # mask_max, where var is the block's own luma variance (0 = no mask). gamma < 0 puts more of the mark into flat
    # blocks and less into busy ones: x264 spends more bits on flat blocks (adaptive quantisation), and busy blocks
    # carry more host interference. Measured on the photograph bench clips, gamma -1 against no mask: +1.2 to +5.3 dB
    # after H.264 CRF 28 on the 256 px and 640 x 360 clips (the 256 px pan over the astronaut from -2.2 to +3.1 dB),
    # H.264 CRF 35 decoded on 5 of 8 clips instead of 4, SSIM-Y -0.004 on average; gamma +0.5 and +1 (more mark in
    # busy blocks) had cost 1 to 15 dB after H.264. A floor on the gain (0.4 or 0.6) gave back part of what small
    # crops of busy content lose, but also most of the CRF 28 gain, so there is none.
    mask_gamma: float = -1.0
    mask_c: float = 50.0
    mask_max: float = 3.0
    # After masking, each frame's gains are averaged over +-mask_temporal_window frames (a block's gain drifts as the
    # content moves through it: frame-to-frame change of the mark 0.04 to 0.34 levels RMS on the bench clips, 0.04 to
    # 0.88 without it), the frame's mean squared gain is brought to mask_norm (1 = the unmasked energy), and no
    # block's gain exceeds mask_gain_max.
    mask_norm: float = 1.0
    mask_gain_max: float = 3.0
    mask_temporal_window: int = 12
    # Visibility budget (JND) per block, applied last: the mark's RMS change in a block may not exceed
    # strength * (jnd_flat + jnd_texture * texture) luma levels, texture being the standard deviation of the block's
    # content without its linear ramp (its variance less the energy of its two lowest DCT coefficients: a smooth
    # gradient masks nothing). On flat regions (skies, walls, gradients) the eye sees a static mid-frequency pattern of
    # a level or two RMS as mottle (periods of 8 to 23 px sit near the peak of contrast sensitivity at normal viewing
    # distances); texture masks it in proportion to its own contrast (contrast masking). No luminance term: in 8-bit
    # gamma-coded levels the threshold is about as low on a bright sky as on a dark one (a Weber term, budget times
    # mean / 128 above mid-grey, left the mottle visible on the 720p pan's bright sky). The budget is averaged over
    # +-mask_temporal_window frames like the gains. 0 = no budget (the mark before issue 23).
    jnd_flat: float = 1.5
    jnd_texture: float = 0.3
    # What the budget takes from flat blocks goes to the blocks still under theirs (at most this factor each), so the
    # frame's mark energy, and with it the evidence after a codec, stays about as it was.
    jnd_refill_max: float = 2.0


DEFAULT_PARAMS = DctSsParams()


@dataclass(frozen=True)
class _Layout:
    """The key-seeded tile layout: per slot, which coded symbol it carries and with which sign."""

    basis: np.ndarray = field(repr=False)  # (block**2, K) orthonormal DCT basis vectors of the band
    symbol: np.ndarray = field(repr=False)  # (tile_blocks**2, K) int64, symbol index per slot
    chip: np.ndarray = field(repr=False)  # (tile_blocks**2, K) float32, +-1


def _dct_matrix(block: int) -> np.ndarray:
    n = np.arange(block)
    m = np.cos((2 * n[None, :] + 1) * n[:, None] * np.pi / (2 * block)) * np.sqrt(2.0 / block)
    m[0] /= np.sqrt(2.0)
    return m  # m[u, x]


# Mirrors the search reads through (bits of `Alignment.flip`): a frame flipped left-right (1), upside down (2) or both
# (3, a half turn). A mirrored frame's 16 px blocks are the marked blocks mirrored, so its grid is found by the same
# offset search, and a mirrored block's DCT coefficient (u, v) is the original's times (-1)**v for a left-right flip
# ((-1)**u upside down): the mirrored frame carries the same layout with its tile positions reflected and those chips
# negated. Reading it through that mirrored layout costs no pixel work: the search's folded tiles are shared by all four.
FLIP_H, FLIP_V = 1, 2
FLIPS = (0, FLIP_H, FLIP_V, FLIP_H | FLIP_V)


@lru_cache(maxsize=16)
def _layout(params: DctSsParams, flip: int = 0) -> _Layout:
    if flip:
        plain, tb = _layout(params), params.tile_blocks
        ty, tx = np.divmod(np.arange(tb * tb), tb)
        ty, tx = (-ty % tb if flip & FLIP_V else ty), (-tx % tb if flip & FLIP_H else tx)
        source = ty * tb + tx
        sign = np.array([(-1.0) ** ((v if flip & FLIP_H else 0) + (u if flip & FLIP_V else 0)) for u, v in params.band],
                        dtype=np.float32)
        return _Layout(plain.basis, plain.symbol[source], plain.chip[source] * sign[None, :])
    m = _dct_matrix(params.block)
    basis = np.stack([np.outer(m[u], m[v]).reshape(-1) for u, v in params.band], axis=1)
    n_slots = params.tile_blocks**2 * len(params.band)
    if n_slots < 3 * coding.CODED_BITS:
        raise ValueError("tile too small for the code")
    seed = int.from_bytes(hashlib.sha256(params.key).digest()[:16], "big")
    rng = np.random.Generator(np.random.PCG64(seed))
    # Every symbol gets the same number of slots (+-1), scattered at random over the tile so
    # that a damaged region hurts many symbols a little rather than a few symbols a lot.
    symbol = rng.permutation(np.arange(n_slots) % coding.CODED_BITS)
    chip = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=n_slots)
    shape = (params.tile_blocks**2, len(params.band))
    return _Layout(basis.astype(np.float32), symbol.reshape(shape), chip.reshape(shape))


@lru_cache(maxsize=4)
def _pattern_spectra(params: DctSsParams, flips: tuple[int, ...] = (0,)) -> np.ndarray:
    """`_pattern_fft` laid out for `sync.tile_shift_energy`, the layouts of `flips` one after the other."""
    return np.concatenate([sync.pattern_spectra(_pattern_fft(params, f)) for f in flips], axis=2)


@lru_cache(maxsize=16)
def _pattern_fft(params: DctSsParams, flip: int = 0) -> np.ndarray:
    """FFT over the tile of each symbol's chip pattern: (n_symbols, K, tb, tb), for the tile-offset search."""
    layout = _layout(params, flip)
    tb, k = params.tile_blocks, len(params.band)
    pattern = np.zeros((coding.CODED_BITS, k, tb, tb))
    ty, tx = np.divmod(np.arange(tb * tb), tb)
    for j in range(k):
        pattern[layout.symbol[:, j], j, ty, tx] = layout.chip[:, j]
    return np.fft.fft2(pattern)


@lru_cache(maxsize=32)
def _frame_layout(
    params: DctSsParams, blocks_y: int, blocks_x: int, tile_y: int = 0, tile_x: int = 0, flip: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Symbol index and chip per (block, band coefficient) for a frame of blocks_y x blocks_x blocks.

    (tile_y, tile_x) is the tile position, in blocks, of the frame's first block: zero for a frame
    as it was marked, something else for a frame cropped from the top or left. `flip`: read through a mirrored layout.
    """
    layout = _layout(params, flip)
    tb = params.tile_blocks
    by, bx = np.meshgrid((np.arange(blocks_y) + tile_y) % tb, (np.arange(blocks_x) + tile_x) % tb, indexing="ij")
    tile_pos = (by * tb + bx).reshape(-1)
    return layout.symbol[tile_pos], layout.chip[tile_pos]


def _to_blocks(plane: np.ndarray, b: int) -> np.ndarray:
    """(H, W) -> (n_blocks, b * b) over the largest whole-block top-left region."""
    h, w = plane.shape
    by, bx = h // b, w // b
    region = plane[: by * b, : bx * b]
    return region.reshape(by, b, bx, b).transpose(0, 2, 1, 3).reshape(by * bx, b * b)


def _from_blocks(blocks: np.ndarray, blocks_y: int, blocks_x: int, b: int) -> np.ndarray:
    return blocks.reshape(blocks_y, blocks_x, b, b).transpose(0, 2, 1, 3).reshape(blocks_y * b, blocks_x * b)


def _mask(blocks: np.ndarray, params: DctSsParams) -> np.ndarray:
    """Per block amplitude gain from its own luma variance (all ones without a mask)."""
    if params.mask_gamma == 0.0:
        return np.ones(blocks.shape[0], dtype=np.float32)
    return _mask_from_var(_block_stats(blocks)[1], params)


def _block_stats(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per block mean and variance of its levels."""
    # Two single passes without temporaries (blocks.var makes three); float32 sums of 8-bit levels over a block lose
    # under 0.1 of variance.
    n = blocks.shape[1]
    mean = blocks.sum(axis=1).astype(np.float64) / n
    return mean, np.einsum("ij,ij->i", blocks, blocks).astype(np.float64) / n - mean**2


@lru_cache(maxsize=4)
def _ramp_basis(params: DctSsParams) -> np.ndarray:
    """(block**2, 2) orthonormal DCT basis vectors (0, 1) and (1, 0): a block's linear ramps."""
    m = _dct_matrix(params.block)
    return np.stack([np.outer(m[0], m[1]).reshape(-1), np.outer(m[1], m[0]).reshape(-1)], axis=1).astype(np.float32)


def _jnd_budget(blocks: np.ndarray, var: np.ndarray, params: DctSsParams) -> np.ndarray:
    """Per block, the largest RMS change (luma levels, at strength 1) the visibility budget allows (see jnd_flat), from
    the blocks and their variance."""
    ramp = blocks @ _ramp_basis(params)
    texture = np.sqrt(np.maximum(var - np.sum(ramp.astype(np.float64) ** 2, axis=1) / blocks.shape[1], 0.0))
    return params.jnd_flat + params.jnd_texture * texture


def _mask_from_var(var: np.ndarray, params: DctSsParams) -> np.ndarray:
    m = ((np.maximum(var, 0.0) + params.mask_c) / params.mask_c) ** (params.mask_gamma / 2)
    return np.minimum(m, params.mask_max).astype(np.float32)


def _block_gains(masks: np.ndarray, params: DctSsParams) -> np.ndarray:
    """Per frame and block, the amplitude gain the embedder uses: the mask averaged over +-mask_temporal_window frames
    (a block's gain then drifts as content moves through it instead of jumping: no flicker), each frame's mean squared
    gain brought to mask_norm, no gain above mask_gain_max."""
    if params.mask_gamma == 0.0:
        return masks
    smooth = _moving_average(masks.astype(np.float64), params.mask_temporal_window)
    norm = np.sqrt(np.mean(smooth**2, axis=1, keepdims=True))
    return np.minimum(smooth * (params.mask_norm / norm), params.mask_gain_max).astype(np.float32)


def _within_budget(energy: np.ndarray, budget: np.ndarray, refill_max: float) -> np.ndarray:
    """Per block amplitude factors that keep every block's energy within its budget and, as far as the budgets and
    refill_max allow, the frame's total energy as it was: what the capped blocks lose is given to the blocks still under
    their budget (each scaled by the same factor, at most refill_max, none past its own budget)."""
    energy = energy.astype(np.float64)
    target = float(energy.sum())
    limit = np.sqrt(budget / np.maximum(energy, 1e-12))  # the factor at which each block reaches its budget
    factor = np.minimum(1.0, limit)
    for _ in range(4):  # water-filling: a few rounds settle it (each round only caps more blocks)
        free = factor < limit
        spent = float(np.sum(energy * factor**2))
        free_energy = float(np.sum(energy[free] * factor[free] ** 2))
        if spent >= target * 0.999 or free_energy <= 0.0:
            break
        k = np.sqrt((target - spent + free_energy) / free_energy)
        factor[free] = np.minimum(np.minimum(factor[free] * k, refill_max), limit[free])
    return factor.astype(np.float32)


def _luma(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32) @ _LUMA


def _detection_weights(coeffs: np.ndarray, params: DctSsParams, mask: np.ndarray | None = None) -> np.ndarray:
    """Per block: mask / (mean squared band coefficient + detection_floor**2)."""
    w = 1.0 / (np.mean(coeffs**2, axis=1) + params.detection_floor**2)
    return w if mask is None else w * mask


def _moving_average(x: np.ndarray, half_window: int) -> np.ndarray:
    """Centred moving average along axis 0, with the window shrunk at both ends."""
    if half_window <= 0 or x.shape[0] == 1:
        return x
    csum = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)])
    t = np.arange(x.shape[0])
    lo = np.maximum(t - half_window, 0)
    hi = np.minimum(t + half_window + 1, x.shape[0])
    return (csum[hi] - csum[lo]) / (hi - lo)[:, None]


def embed(frames: np.ndarray, payload: int, strength: float, params: DctSsParams = DEFAULT_PARAMS) -> np.ndarray:
    """Mark every frame of a uint8 T x H x W x 3 clip with the same payload; returns a new clip."""
    layout = _layout(params)
    symbols = coding.encode(payload)
    n_frames, h, w, _ = frames.shape
    b = params.block
    blocks_y, blocks_x = h // b, w // b
    symbol_of, chip_of = _frame_layout(params, blocks_y, blocks_x)
    n_sym = coding.CODED_BITS
    amplitude = params.amplitude * strength
    # Compensation groups: (region, symbol), a region being `compensation_tiles` x
    # `compensation_tiles` tiles (0: the whole frame is one region).
    if params.compensation_tiles > 0:
        span = params.compensation_tiles * params.tile_blocks
        ry, rx = np.meshgrid(np.arange(blocks_y) // span, np.arange(blocks_x) // span, indexing="ij")
        region = (ry * (-(-blocks_x // span)) + rx).reshape(-1)
    else:
        region = np.zeros(blocks_y * blocks_x, dtype=np.int64)
    n_groups = (int(region.max()) + 1) * n_sym
    group_of = region[:, None] * n_sym + symbol_of  # (n, K)
    flat_group = group_of.ravel()
    symbols_of_group = np.tile(symbols, n_groups // n_sym)

    # Pass 1: how much each frame's own content already leans along each symbol's pattern (per
    # region), in units of what the mark adds at scale 1 (same detection weights as the extractor).
    tilt = np.array([params.tilt[u + v - 2] for u, v in params.band], dtype=np.float32)
    tilt /= np.sqrt(np.mean(tilt**2))
    n_blocks = blocks_y * blocks_x
    masks = np.empty((n_frames, n_blocks), dtype=np.float32)
    weights = np.empty((n_frames, n_blocks), dtype=np.float32)
    budget = np.empty((n_frames, n_blocks)) if params.jnd_flat > 0 else None
    host = np.empty((n_frames, n_groups))
    for i, frame in enumerate(frames):
        blocks = _to_blocks(_luma(frame), b)
        coeffs = blocks @ layout.basis
        var = _block_stats(blocks)[1]
        masks[i] = _mask_from_var(var, params) if params.mask_gamma != 0.0 else 1.0
        if budget is not None:
            budget[i] = _jnd_budget(blocks, var, params)
        weights[i] = _detection_weights(coeffs, params, masks[i])
        host[i] = np.bincount(flat_group, weights=(weights[i][:, None] * chip_of * coeffs).ravel(), minlength=n_groups)
    gains = _block_gains(masks, params)
    lean = np.empty((n_frames, n_groups))
    for i in range(n_frames):
        reach = np.bincount(flat_group, weights=(weights[i][:, None] * gains[i][:, None] * tilt[None, :]).ravel(),
                            minlength=n_groups)
        lean[i] = symbols_of_group * host[i] / (amplitude * np.maximum(reach, 1e-12))
    lean = _moving_average(lean, params.temporal_window)
    scale = np.clip(params.margin - lean, params.scale_min, params.scale_max)
    if budget is not None:  # drifts with the content like the gains: no flicker; in squared levels per block
        budget = (_moving_average(budget, params.mask_temporal_window) * strength) ** 2 * (b * b)

    # Pass 2: add the pattern, scaled per symbol, to R, G and B alike.
    max_mse = (255.0 * strength) ** 2 / 10 ** (params.min_psnr_db / 10)
    basis_t = layout.basis.T * (np.float32(amplitude) * tilt[:, None])
    coeff_gain = amplitude * tilt.astype(np.float64)[None, :]
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        change = chip_of * (symbols_of_group * scale[i]).astype(np.float32)[group_of] * gains[i][:, None]  # (n, K)
        if budget is not None:
            change *= _within_budget(np.einsum("nk,nk->n", change, change * np.float32(coeff_gain**2)), budget[i],
                                     params.jnd_refill_max)[:, None]
        # The basis is orthonormal, so the pixel-domain energy of the change is that of its coefficients.
        mse = float(np.sum((change.astype(np.float64) * coeff_gain) ** 2)) / (h * w)
        if mse > max_mse:
            change *= np.float32(np.sqrt(max_mse / mse))
        delta = _from_blocks(change @ basis_t, blocks_y, blocks_x, b)
        # frame + delta rounded = frame + rounded delta (the frame is integer; only exact .5 ties differ).
        # The same step goes to R, G and B: three strided additions (faster than np.repeat or a broadcast addition).
        step = np.rint(delta).astype(np.int16)
        sh, sw = step.shape
        region = frame[:sh, :sw].astype(np.int16)
        for c in range(3):
            region[:, :, c] += step
        np.clip(region, 0, 255, out=region)
        if (sh, sw) != (h, w):
            out[i] = frame
        out[i, :sh, :sw] = region
    return out


@dataclass(frozen=True)
class Alignment:
    """Where the marked grid lies in a frame: rotation and scale to undo, pixel offset of the first whole block, its tile
    position, and the mirror (FLIPS) its layout is read through."""

    scale: float = 1.0
    dy: int = 0
    dx: int = 0
    tile_y: int = 0
    tile_x: int = 0
    flip: int = 0
    angle: float = 0.0


ORIGIN = Alignment()


def _luma_at(frame: np.ndarray, alignment: Alignment) -> np.ndarray:
    luma = _luma(frame)
    if alignment.angle != 0.0:
        luma = sync.warp([luma], alignment.angle, alignment.scale)[0]
    elif alignment.scale != 1.0:
        luma = sync.resample(luma, alignment.scale)
    return luma[alignment.dy :, alignment.dx :]


def _plane_evidence_and_noise(luma: np.ndarray, alignment: Alignment, params: DctSsParams) -> tuple[np.ndarray, float]:
    """The symbol sums and their expected energy without a mark (the sum of the squared weighted slots)."""
    layout = _layout(params)
    h, w = luma.shape
    b = params.block
    symbol_of, chip_of = _frame_layout(params, h // b, w // b, alignment.tile_y, alignment.tile_x, alignment.flip)
    blocks = _to_blocks(luma, b)
    coeffs = blocks @ layout.basis
    weighted = _detection_weights(coeffs, params, _mask(blocks, params))[:, None] * coeffs
    sums = np.bincount(symbol_of.ravel(), weights=(chip_of * weighted).ravel(), minlength=coding.CODED_BITS)
    return sums, float(np.sum(weighted.astype(np.float64) ** 2))


class _Pooled:
    """Evidence pooled over frames, each frame weighted by how much mark it visibly carries.

    A frame's symbol energy over its no-mark expectation is about 1 without a mark and 1 + SNR
    with one (SNR as a power ratio per symbol); without a mark it scatters by about
    sqrt(2 / CODED_BITS) = 0.1. After a codec the intra frame can carry ten times the mark of
    the predicted frames, and 47 predicted frames with next to no mark given any weight drown
    it. So when some frame clearly carries a mark (its excess energy reaches FRAME_STRONG, five
    times the no-mark spread), a frame's weight is max(energy - 1 - FRAME_ENERGY_MARGIN, 0): only
    frames that visibly carry a mark count, the more the stronger. Otherwise (every frame carries
    a little mark and none stands out, as in a short, small, dark clip, or there is no mark) every
    frame counts: FRAME_WEIGHT_FLOOR + max(energy - 1, 0); there a frame clearing the margin by
    chance (host interference on clipped dark content reaches 0.37) must not decide alone.
    """

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def add(self, sums: np.ndarray, noise_energy: float) -> None:
        if noise_energy > 0.0:
            self.frames.append(sums / np.sqrt(noise_energy))

    @property
    def total(self) -> np.ndarray:
        if not self.frames:
            return np.zeros(coding.CODED_BITS)
        n = np.stack(self.frames)  # (frames, symbols)
        excess = np.sum(n**2, axis=1) - 1.0
        if float(excess.max()) >= FRAME_STRONG:
            weight = np.maximum(excess - FRAME_ENERGY_MARGIN, 0.0)
        else:
            weight = FRAME_WEIGHT_FLOOR + np.maximum(excess, 0.0)
        return weight @ n


FRAME_WEIGHT_FLOOR = 0.25
FRAME_ENERGY_MARGIN = 0.3
FRAME_STRONG = 0.5


def symbol_evidence(frames: np.ndarray, params: DctSsParams = DEFAULT_PARAMS, alignment: Alignment = ORIGIN) -> np.ndarray:
    """Evidence pooled over the frames of a uint8 T x H x W x 3 clip (reliability-weighted, see `_Pooled`)."""
    pooled = _Pooled()
    for frame in frames:
        pooled.add(*_plane_evidence_and_noise(_luma_at(frame, alignment), alignment, params))
    return pooled.total


def _harmonics(params: DctSsParams) -> int:
    """The highest tile harmonic the band reaches (its top frequency times the tile period)."""
    top = max(max(u, v) for u, v in params.band) + 1
    return int(round(top / (2 * params.block) * params.tile_blocks * params.block))


# The offset search looks at no more than this many pixels (short side, long side) of each frame, centred: a 720p frame
# whole, and it bounds the cost on larger ones. A centred 640 x 640 square is too little: on a 720p pan over a busy
# motorcycle, cropped 90%, scaled to 360p (undone: 683 x 1214) and H.264 CRF 28, it held too little of the mark to be
# found (best energy 1.38 at the true scale, against 1.61 over the whole frame).
SEARCH_REGION = (720, 1280)
# Grid offsets are searched on a 2 px lattice first; the band's highest frequency (1/8 cycle per
# px) keeps most of its correlation 1 px off. The best coarse offsets are then refined to 1 px.
COARSE_STEP = 2
REFINE_CANDIDATES = 2


@lru_cache(maxsize=4)
def _separable_band(params: DctSsParams) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The band as a separable transform: the vertical DCT rows (n_u, b) and horizontal DCT columns (b, n_v) it needs
    (frequency 0 always included: coefficient (0, 0) gives the block sum), and where each band coefficient sits in the
    (n_u, n_v) product."""
    m = _dct_matrix(params.block).astype(np.float32)
    us = sorted({u for u, _ in params.band} | {0})
    vs = sorted({v for _, v in params.band} | {0})
    band = (np.array([us.index(u) for u, _ in params.band]), np.array([vs.index(v) for _, v in params.band]))
    return m[us], np.ascontiguousarray(m[vs].T), band


class _BlockGrids:
    """One luma plane's weighted band coefficients, for the block grid at any grid offset, folded into one tile.

    The offset search looks at many grid offsets of the same plane. Cutting the plane into blocks anew for each copies
    the whole plane every time; here the block DCT is separable: a row pass (the horizontal DCT of every 16 px row
    segment) is worked out once per horizontal offset dx and shared by every vertical offset dy, and the column pass
    per (dy, dx) only touches the row pass's band columns. The values are those of `_to_blocks` and the layout's basis.
    """

    def __init__(self, plane: np.ndarray, params: DctSsParams) -> None:
        self.plane = np.asarray(plane, dtype=np.float32)
        self.params = params
        self.mu, self.mv_t, self.band = _separable_band(params)
        self._rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _row_pass(self, dx: int) -> tuple[np.ndarray, np.ndarray]:
        """(H, bx, n_v) horizontal DCT coefficients and (H, bx) sums of squares of the 16 px row segments from dx on."""
        if dx not in self._rows:
            b = self.params.block
            h, w = self.plane.shape
            bx = (w - dx) // b
            segments = np.ascontiguousarray(self.plane[:, dx : dx + bx * b]).reshape(h, bx, b)
            self._rows[dx] = (segments @ self.mv_t, np.einsum("hbx,hbx->hb", segments, segments))
        return self._rows[dx]

    def folded(self, dy: int, dx: int) -> np.ndarray:
        """The weighted band coefficients of the block grid starting at (dy, dx), folded into one tile (tb, tb, K)."""
        params, b = self.params, self.params.block
        rows, squares = self._row_pass(dx)
        h, bx, n_v = rows.shape
        by = (h - dy) // b
        # Column pass: (n_u, 16) @ (by, 16, bx * n_v) -> (by, n_u, bx, n_v).
        full = (self.mu @ rows[dy : dy + by * b].reshape(by, b, bx * n_v)).reshape(by, len(self.mu), bx, n_v)
        block_squares = squares[dy : dy + by * b].reshape(by, b, bx).sum(axis=1)
        return sync.fold(self._weighted(full, block_squares), params.tile_blocks)

    def _weighted(self, full: np.ndarray, block_squares: np.ndarray) -> np.ndarray:
        """(rows, cols, K) band coefficients times their block's detection weight (band power and mask), from the
        column pass's (rows, n_u, cols, n_v) product and each block's sum of squared levels (rows, cols)."""
        params, b = self.params, self.params.block
        rows_n, _, cols_n, _ = full.shape
        coeffs = np.moveaxis(full[:, self.band[0], :, self.band[1]], 0, -1).reshape(rows_n * cols_n, -1)
        if params.mask_gamma == 0.0:
            mask = None
        else:
            n = b * b
            total = full[:, 0, :, 0].reshape(-1).astype(np.float64) * b  # orthonormal DCT: coefficient (0, 0) = sum / b
            sq = block_squares.reshape(-1).astype(np.float64)
            mask = _mask_from_var(sq / n - (total / n) ** 2, params)
        weight = _detection_weights(coeffs, params, mask)[:, None]
        return (weight * coeffs).reshape(rows_n, cols_n, -1)

    def folded_lattice(self, step: int) -> np.ndarray:
        """`folded(dy, dx)` for every grid offset on a `step` px lattice at once: (b // step, b // step, tb, tb, K),
        [i, j] being the offset (i * step, j * step); same values.

        A block may start at any multiple of `step`; the band coefficients and weights of all of them come from two
        strided matrix products (the coarse search would otherwise run one small pass per offset, most of the time
        spent in per-call overhead), and each offset's blocks are every (b // step)-th of them.
        """
        b, tb = self.params.block, self.params.tile_blocks
        if b % step:
            raise ValueError("the lattice step must divide the block size")
        q = b // step
        plane = self.plane
        h, w = plane.shape
        rows_n, cols_n = (h - b) // step + 1, (w - b) // step + 1  # block starts that fit
        s0, s1 = plane.strides
        # Row pass: every 16 px row segment starting at a multiple of step: (h, cols_n, b) windows (a strided view).
        windows = np.lib.stride_tricks.as_strided(plane, (h, cols_n, b), (s0, step * s1, s1), writeable=False)
        windows = np.ascontiguousarray(windows)
        rows = windows @ self.mv_t  # (h, cols_n, n_v)
        squares = np.einsum("hcx,hcx->hc", windows, windows)
        del windows
        # Column pass: every 16-row window starting at a multiple of step (contiguous slices of `rows`).
        n_v = rows.shape[2]
        flat = rows.reshape(h, cols_n * n_v)
        r0, r1 = flat.strides
        stacked = np.lib.stride_tricks.as_strided(flat, (rows_n, b, cols_n * n_v), (step * r0, r0, r1), writeable=False)
        full = (self.mu @ stacked).reshape(rows_n, len(self.mu), cols_n, n_v)
        q0, q1 = squares.strides
        block_squares = np.lib.stride_tricks.as_strided(squares, (rows_n, b, cols_n), (step * q0, q0, q1),
                                                        writeable=False).sum(axis=1)
        weighted = self._weighted(full, block_squares)
        k = weighted.shape[-1]
        # Offset (i, j) uses block starts (i + q * r, j + q * c): pad to whole tiles of such starts and sum the tiles.
        span = q * tb
        ny, nx = -(-rows_n // span), -(-cols_n // span)
        padded = np.zeros((ny * span, nx * span, k), dtype=weighted.dtype)
        padded[:rows_n, :cols_n] = weighted
        tiles = padded.reshape(ny, tb, q, nx, tb, q, k).sum(axis=(0, 3))  # (tb, q, tb, q, K)
        return tiles.transpose(1, 3, 0, 2, 4)


def search_alignment(lumas: list[np.ndarray], scale: float, params: DctSsParams = DEFAULT_PARAMS, *,
                     coarse_step: int = COARSE_STEP, refine: bool = True, flips: tuple[int, ...] = FLIPS,
                     angle: float = 0.0) -> tuple[Alignment, float]:
    """The block-grid offset (block**2 candidates) and tile offset (tile_blocks**2) where the mark's symbol energy peaks.

    `lumas` are a few frames' luma planes, already at the original pixel pitch (scale undone);
    their folded tiles are summed coherently. Returns the alignment and its normalised energy
    (about 1 on unmarked content, well above on marked content). Grid offsets are tried on a
    `coarse_step` lattice, then (with `refine`) around the best REFINE_CANDIDATES of them at 1 px. Every offset is
    scored through the layout and each of its mirrors in `flips` (the folded tiles are shared, see FLIPS); `angle` is
    the rotation already undone, recorded in the alignment.
    """
    tb, b = params.tile_blocks, params.block
    crops = []
    for luma in lumas:
        h, w = luma.shape
        rh, rw = SEARCH_REGION if h <= w else SEARCH_REGION[::-1]
        top, left = max(0, (h - rh) // 2), max(0, (w - rw) // 2)
        # Keep the tile phase: the crop starts on a whole number of tiles from the frame's origin.
        top, left = top - top % (tb * b), left - left % (tb * b)
        crops.append(luma[top : top + rh + b, left : left + rw + b])
    pattern = _pattern_spectra(params, tuple(flips))
    grids = [_BlockGrids(crop, params) for crop in crops]
    energies: dict[tuple[int, int], np.ndarray] = {}

    def evaluate(offsets: list[tuple[int, int]], lattice: int = 0) -> None:
        offsets = [o for o in offsets if o not in energies]
        if not offsets:
            return
        # Two hypotheses per offset: all frames summed, and the first frame alone (after a codec
        # the intra frame can hold most of the mark, and the predicted frames only dilute it).
        if lattice:  # every offset on the lattice, all at once (same values as one by one)
            tiles = [g.folded_lattice(lattice) for g in grids]
            first = [tiles[0][dy // lattice, dx // lattice] for dy, dx in offsets]
            rest = [sum(t[dy // lattice, dx // lattice] for t in tiles[1:]) for dy, dx in offsets] if len(grids) > 1 else []
        else:
            first = [grids[0].folded(dy, dx) for dy, dx in offsets]
            rest = [sum(g.folded(dy, dx) for g in grids[1:]) for dy, dx in offsets] if len(grids) > 1 else []
        folded = np.stack(first + [f + r for f, r in zip(first, rest)])
        energy = sync.tile_shift_energy(folded, pattern, groups=len(flips)).reshape(len(folded), len(flips), tb, tb)
        for i, o in enumerate(offsets):
            energies[o] = energy[i] if not rest else np.maximum(energy[i], energy[len(offsets) + i])

    evaluate([(dy, dx) for dy in range(0, b, coarse_step) for dx in range(0, b, coarse_step)], lattice=coarse_step)
    if refine:
        coarse = sorted(energies, key=lambda o: -float(energies[o].max()))[:REFINE_CANDIDATES]
        evaluate([((dy + i) % b, (dx + j) % b) for dy, dx in coarse for i in (-1, 0, 1) for j in (-1, 0, 1)])
    (dy, dx), e = max(energies.items(), key=lambda item: float(item[1].max()))
    g, ty, tx = np.unravel_index(int(np.argmax(e)), e.shape)
    # A grid offset of dy means the first whole block starts dy px in; a wrap (dy near b) is
    # the same grid one block earlier, which the tile offset absorbs.
    return Alignment(scale, int(dy), int(dx), int(ty), int(tx), flips[int(g)], angle), float(e.max())


# Frames (evenly spaced, the first always included: after a codec it is the intra frame with
# the clearest mark) used to estimate the scale and find the offsets.
SEARCH_FRAMES = 4
# Scale candidates from the spectral comb whose offsets are searched (besides scale 1).
MAX_SCALE_CANDIDATES = 3
# At most this many of the searched alignments (the most energetic first) are decoded.
MAX_SEARCH_DECODES = 3
# A found alignment is decoded only if its normalised symbol energy reaches this. On unmarked
# content the best of the 16,384 offsets reaches about 1.3 to 1.4 (the energy is a chi-square
# with 208 degrees of freedom over 208, maximised); a mark that can still be decoded gives 2 and more.
SYNC_MIN_ENERGY = 1.5


# Scale sweep (pass 4 of `extract`). The spectral comb needs about 2.5 tile periods on the frame's short side; a frame
# that holds fewer at some scale (a small clip scaled up: 256 px cropped to 243 and scaled to 360 holds 1.9 periods of
# 190 px) is searched by brute force over those scales instead: on the first SWEEP_FRAMES frames, a 1% geometric scale
# lattice with a 4 px grid-offset lattice, then the best SWEEP_CANDIDATES scales refined in 0.25% steps at 2 px, then the full
# offset search on every search frame. The comb is also misled by photographs: their own spectral peaks (edges, fine
# regular texture) outscore the mark's lines after a rescale and H.264, so frames up to FULL_SWEEP_MAX_SIDE on the
# short side (360p and 480p, what a platform's re-encode leaves) sweep every scale the comb did not already try. The
# alignments compete for the same decodes as the comb's (at most MAX_SEARCH_DECODES in all), so the false-positive
# bound does not change; the price is time on input that carries no mark (README.md: Speed).
COMB_MIN_PERIODS = 2.5
FULL_SWEEP_MAX_SIDE = 480
SWEEP_STEP = 0.01
SWEEP_COARSE_STEP = 4
SWEEP_CANDIDATES = 3
# The sweep scores each scale on the first SWEEP_FRAMES search frames (the first alone and their sum, like the offset
# search). With the first frame only, the 256 px pan over the astronaut after crop 90% -> 360p -> CRF 28 reached 1.33
# within 1.5% of the true scale, under three wrong scales (up to 1.37); with two, 1.38, among the picks. With all four,
# one more crop of that clip that two frames missed is found (the bench crop chains plus 3 more crop positions per clip:
# 31 of 32, against 30 with two). Four frames cost up to 1.6 times two on unmarked 360p clips (README: "Last on").
# (The mean of the frames as one plane was tried: worse.)
SWEEP_FRAMES = 4
# The sweep scores its scales through the plain layout only: the mirrored ones (FLIPS) made unmarked frames up to 480 px
# about 3 times as slow (a 2-frame 128 x 160 clip: 3.1 -> 9.1 s on the loaded machine). The scales it picks are then
# searched through all four layouts, but a mirrored frame is found by the sweep only where the comb or scale 1 finds it.
SWEEP_FLIPS = (0,)
SWEEP_REFINE = (-0.0075, -0.005, -0.0025, 0.0, 0.0025, 0.005, 0.0075)


def sweep_range(short_side: int, params: DctSsParams = DEFAULT_PARAMS) -> tuple[float, float] | None:
    """The scales the sweep searches for a frame with this short side, within the scales searched at all and with at
    least 128 px of the original frame in view: all of them up to FULL_SWEEP_MAX_SIDE, above it only those at which the
    frame holds too few tile periods for the comb; None when there are none."""
    tile = params.tile_blocks * params.block
    lo = sync.MIN_SCALE
    if short_side > FULL_SWEEP_MAX_SIDE:
        lo = max(lo, short_side / (COMB_MIN_PERIODS * tile))
    hi = min(sync.MAX_SCALE, short_side / tile)
    return (lo, hi) if lo < hi else None


def sweep_scales(lumas: list[np.ndarray], tried: list[float], params: DctSsParams = DEFAULT_PARAMS) -> list[float]:
    """Scale candidates (best first) found by brute force on a few frames' luma where the comb cannot see (see above)."""
    lumas = lumas[:SWEEP_FRAMES]
    span = sweep_range(min(lumas[0].shape), params)
    if span is None:
        return []
    lo, hi = span
    lattice = lo * (1 + SWEEP_STEP) ** np.arange(int(np.log(hi / lo) / np.log1p(SWEEP_STEP)) + 1)
    lattice = [float(s) for s in lattice if all(abs(s / t - 1) > SWEEP_STEP for t in tried)]

    def energy(scale: float, step: int) -> float:
        return search_alignment([sync.resample(luma, scale) for luma in lumas], scale, params, coarse_step=step,
                                refine=False, flips=SWEEP_FLIPS)[1]

    coarse = sorted(((energy(s, SWEEP_COARSE_STEP), s) for s in lattice), reverse=True)
    picked: list[float] = []
    for _, scale in coarse:
        if all(abs(scale / p - 1) > 2 * SWEEP_STEP for p in picked):
            picked.append(scale)
        if len(picked) == SWEEP_CANDIDATES:
            break
    refined = [max((energy(p * (1 + d), COARSE_STEP), p * (1 + d)) for d in SWEEP_REFINE) for p in picked]
    return [s for _, s in sorted(refined, reverse=True)]


# Rotation search (pass 3 of `extract`). A rotation turns the block grid, so the offset search only finds it once the
# rotation is undone to within about a pixel at the edge of the searched region. Brute force, coarse to fine: every
# ROTATION_COARSE_STEP degrees out to ROTATION_MAX either way, on a ROTATION_PATCH px square at the frame's centre (0.25
# degrees off moves its corner by under a pixel) of the first ROTATION_FRAMES search frames, at two scales per angle:
# 1 (the corners the rotation uncovers are left black) and cos a + (long / short side) sin |a| (the rotated picture
# re-cropped to the frame's aspect ratio and scaled back to its size, what an editor's "straighten" does). The
# ROTATION_CANDIDATES best (angle, scale) pairs whose energy reaches ROTATION_MIN_ENERGY are refined in
# ROTATION_FINE_STEP steps on a ROTATION_REFINE_PATCH px square, then searched on the whole of every search frame and
# decoded like the other alignments, out of the same budget of MAX_SEARCH_DECODES. Mirrors are not combined with
# rotations (their layouts are left out of this pass: it would cost 4 times as much).
ROTATION_MAX = 5.5
ROTATION_COARSE_STEP = 0.5
ROTATION_PATCH = 256
ROTATION_FRAMES = 4
ROTATION_FINE_STEP = 0.1
ROTATION_REFINE_PATCH = 512
ROTATION_CANDIDATES = 2
# Measured on the 8 bench clips (8 frames each): the coarse stage's best energy on unmarked ones rotated by 5 degrees
# 1.38 to 1.45, on marked ones rotated by -2 (black corners) or 5 degrees (re-cropped) 2.02 to 3.66. Below the threshold nothing is refined, which
# keeps unmarked input at the coarse stage's cost; decodes are bounded whatever it is.
ROTATION_MIN_ENERGY = 1.5


def rotation_zoom(degrees: float, shape: tuple[int, int]) -> float:
    """The scale a rotation by `degrees` implies when the rotated picture is re-cropped to the frame's aspect ratio."""
    a = np.deg2rad(abs(degrees))
    h, w = shape
    return float(np.cos(a) + max(h / w, w / h) * np.sin(a))


def rotation_alignments(lumas: list[np.ndarray], params: DctSsParams = DEFAULT_PARAMS) -> list[tuple[float, Alignment]]:
    """Alignments (with their energy, best first) of a rotated mark in a few frames' luma planes (see above)."""
    shape = lumas[0].shape
    steps = int(round(ROTATION_MAX / ROTATION_COARSE_STEP))
    angles = [k * ROTATION_COARSE_STEP for k in range(-steps, steps + 1) if k]

    def energy(angle: float, scale: float, patch: int, planes: list[np.ndarray], step: int) -> float:
        out = (min(patch, int(shape[0] / scale)), min(patch, int(shape[1] / scale)))
        warped = sync.warp(planes, angle, scale, out)
        return search_alignment(warped, scale, params, coarse_step=step, refine=False, flips=(0,))[1]

    few = lumas[:ROTATION_FRAMES]
    coarse = sorted(((energy(a, z, ROTATION_PATCH, few, COARSE_STEP), a, z)
                     for a in angles for z in sorted({1.0, rotation_zoom(a, shape)})), reverse=True)
    picked: list[tuple[float, float]] = []
    for e, angle, scale in coarse:
        if e < ROTATION_MIN_ENERGY or len(picked) == ROTATION_CANDIDATES:
            break
        # The neighbours of a peak are the same peak, a little lower: the next candidate is another angle.
        if all(abs(angle - a) > 2 * ROTATION_COARSE_STEP for a, _ in picked):
            picked.append((angle, scale))
    found = []
    for angle, scale in picked:
        fine = [angle + k * ROTATION_FINE_STEP for k in range(-2, 3)]
        _, angle = max((energy(a, scale, ROTATION_REFINE_PATCH, lumas, COARSE_STEP), a) for a in fine)
        planes = sync.warp(lumas, angle, scale)
        alignment, e = search_alignment(planes, scale, params, flips=(0,), angle=angle)
        found.append((e, alignment))
    return sorted(found, key=lambda item: -item[0])


def extract(frames: np.ndarray, params: DctSsParams = DEFAULT_PARAMS, *, search: bool = True) -> coding.DecodedPayload:
    """Decode the payload, searching for crops and rescales (unless `search` is false) when the frames are not as
    they were marked.

    At most 1 + MAX_SEARCH_DECODES decodes are tried (README.md: false positives).
    """
    # Pass 1: the frames as marked (the common case: no geometric change).
    first = coding.decode(symbol_evidence(frames, params))
    if first.payload is not None or not search:
        return first

    # Pass 2: estimate the scale from the tile's spectral lines, undo it, find the grid and tile
    # offsets on a few frames; the alignments with the most symbol energy are decoded from every frame.
    picks = np.unique(np.linspace(0, len(frames) - 1, min(SEARCH_FRAMES, len(frames))).round().astype(int))
    lumas = [_luma(frames[i]) for i in picks]
    ratio = sum(sync.line_spectrum(luma) for luma in lumas)
    scales = [1.0]
    tile = params.tile_blocks * params.block
    for s in sync.estimate_scales(ratio, lumas[0].shape, candidates=MAX_SCALE_CANDIDATES + 1, tile=tile,
                                  harmonics=_harmonics(params)):
        if abs(s - 1.0) > 0.01 and len(scales) < 1 + MAX_SCALE_CANDIDATES:
            scales.append(s)
    budget = MAX_SEARCH_DECODES

    def search_and_decode(candidates: list[float], found: list[tuple[float, Alignment]] | None = None
                          ) -> coding.DecodedPayload | None:
        nonlocal budget
        found = [item for item in found or [] if item[0] >= SYNC_MIN_ENERGY]
        for scale in candidates:
            planes = lumas if scale == 1.0 else [sync.resample(luma, scale) for luma in lumas]
            if min(planes[0].shape) < tile // 2:
                continue
            alignment, energy = search_alignment(planes, scale, params)
            if alignment != ORIGIN and energy >= SYNC_MIN_ENERGY:
                found.append((energy, alignment))
        found.sort(key=lambda item: -item[0])
        for _, alignment in found[:budget]:
            budget -= 1
            decoded = coding.decode(symbol_evidence(frames, params, alignment))
            if decoded.payload is not None:
                return decoded
        return None

    decoded = search_and_decode(scales)
    if decoded is not None:
        return decoded
    # Pass 3: small rotations, with or without the re-crop they imply (see ROTATION_MAX). Before the scale sweep: it
    # costs a fraction of the sweep on frames up to FULL_SWEEP_MAX_SIDE.
    if budget > 0:
        decoded = search_and_decode([], rotation_alignments(lumas, params))
        if decoded is not None:
            return decoded
    # Pass 4: brute force over scales (frames up to FULL_SWEEP_MAX_SIDE: all the comb did not try; larger frames: those
    # at which they hold too few tile periods for the comb).
    if budget > 0:
        decoded = search_and_decode(sweep_scales(lumas, scales, params))
        if decoded is not None:
            return decoded
    return first
