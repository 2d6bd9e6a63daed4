"""The dct-ss.1 method: informed spread spectrum over mid-frequency 8x8 block-DCT luma coefficients.

This module owns the signal processing: where each coded symbol lives in a frame, how much a
coefficient may move, how a frame is marked and how evidence is gathered back. Inputs are
validated by the caller (`watermark.api`); here frames are assumed to be uint8 T x H x W x 3.

In short (README.md has the reasoning and the measurements):
- Luma only. The change to Y is added equally to R, G and B, which leaves Cb and Cr untouched.
- The frame is cut into 8x8 blocks on the pixel grid. A key-seeded layout assigns every
  (block position inside a 16 x 16-block tile, band coefficient) slot to one of the 192 coded
  symbols, with a random sign (chip). The tile repeats across the frame and the same layout is
  used in every frame, so evidence adds up over tiles and over frames.
- Each slot moves by `amplitude * chip * symbol * scale[symbol]`. The scale is chosen so that
  the frame's own content, which also projects onto each symbol's pattern, is compensated
  (informed embedding): the extractor sees at least `margin` units of the intended sign
  whenever [scale_min, scale_max] allows. The content's projection is averaged over a few
  frames first, so the pattern's strength drifts slowly and never flickers.
- A global cap keeps the luma MSE of the change under the budget for the requested strength.
- Extraction weights each block by how quiet it is in the band (busy blocks carry more
  content and codec noise), correlates with the layout and pools over frames, each frame
  weighted by how much mark it visibly carries; the 192 sums go to `coding.decode`.
- When the frames as they are decode to nothing, `extract` undoes a rescale and finds the
  block-grid and tile offsets (crops) with `sync`, then decodes there (at most 4 decodes).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from . import coding, sync

ALGORITHM = "com.hallmark.wm.dct-ss.1"

BLOCK = 8
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # BT.601; sums to 1


@dataclass(frozen=True)
class DctSsParams:
    """Every constant that defines dct-ss.1. Changing any of them makes a new, incompatible method."""

    key: bytes = b"com.hallmark.wm.dct-ss.1/default-key"
    tile_blocks: int = 16
    # (vertical, horizontal) DCT frequencies used: the low-mid band below the half-resolution
    # Nyquist limit (index < 4), so a 2x down-and-up scale keeps most of it, and above the
    # lowest two, so the pattern does not show as block-wise gradients.
    band: tuple[tuple[int, int], ...] = (
        (0, 2), (1, 1), (2, 0),
        (0, 3), (1, 2), (2, 1), (3, 0),
        (1, 3), (2, 2), (3, 1),
    )
    # Base change of one band coefficient (orthonormal DCT, 8-bit luma levels) at strength 1.
    amplitude: float = 4.95
    # Detection weight per block: 1 / (mean squared band coefficient + detection_floor**2).
    # Busy blocks carry more host and codec noise in the band, so they count for less.
    detection_floor: float = 4.0
    # Informed embedding: per symbol, the scale t is chosen so that the weighted projection
    # reaches `margin` times the symbol's weighted amplitude, within [scale_min, scale_max].
    margin: float = 1.0
    scale_min: float = 0.5
    scale_max: float = 2.0
    # The host projection that sets t is averaged over +-temporal_window frames, so t (and
    # with it the pattern's strength) changes slowly over time: no flicker.
    temporal_window: int = 12
    # Hard ceiling on the luma change: PSNR never below this at strength 1 (it drops by
    # 20*log10(strength) for other strengths).
    min_psnr_db: float = 41.5


DEFAULT_PARAMS = DctSsParams()


@dataclass(frozen=True)
class _Layout:
    """The key-seeded tile layout: per slot, which coded symbol it carries and with which sign."""

    basis: np.ndarray = field(repr=False)  # (64, K) orthonormal DCT basis vectors of the band
    symbol: np.ndarray = field(repr=False)  # (tile_blocks**2, K) int64, symbol index per slot
    chip: np.ndarray = field(repr=False)  # (tile_blocks**2, K) float32, +-1


def _dct_matrix() -> np.ndarray:
    n = np.arange(BLOCK)
    m = np.cos((2 * n[None, :] + 1) * n[:, None] * np.pi / (2 * BLOCK)) * np.sqrt(2.0 / BLOCK)
    m[0] /= np.sqrt(2.0)
    return m  # m[u, x]


@lru_cache(maxsize=4)
def _layout(params: DctSsParams) -> _Layout:
    m = _dct_matrix()
    basis = np.stack([np.outer(m[u], m[v]).reshape(-1) for u, v in params.band], axis=1)
    n_slots = params.tile_blocks**2 * len(params.band)
    if n_slots < 4 * coding.CODED_BITS:
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
def _pattern_fft(params: DctSsParams) -> np.ndarray:
    """FFT over the tile of each symbol's chip pattern: (n_symbols, K, tb, tb), for the tile-offset search."""
    layout = _layout(params)
    tb, k = params.tile_blocks, len(params.band)
    pattern = np.zeros((coding.CODED_BITS, k, tb, tb))
    ty, tx = np.divmod(np.arange(tb * tb), tb)
    for j in range(k):
        pattern[layout.symbol[:, j], j, ty, tx] = layout.chip[:, j]
    return np.fft.fft2(pattern)


@lru_cache(maxsize=32)
def _frame_layout(
    params: DctSsParams, blocks_y: int, blocks_x: int, tile_y: int = 0, tile_x: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Symbol index and chip per (block, band coefficient) for a frame of blocks_y x blocks_x blocks.

    (tile_y, tile_x) is the tile position, in blocks, of the frame's first block: zero for a frame
    as it was marked, something else for a frame cropped from the top or left.
    """
    layout = _layout(params)
    tb = params.tile_blocks
    by, bx = np.meshgrid((np.arange(blocks_y) + tile_y) % tb, (np.arange(blocks_x) + tile_x) % tb, indexing="ij")
    tile_pos = (by * tb + bx).reshape(-1)
    return layout.symbol[tile_pos], layout.chip[tile_pos]


def _to_blocks(plane: np.ndarray) -> np.ndarray:
    """(H, W) -> (n_blocks, 64) over the largest whole-block top-left region."""
    h, w = plane.shape
    by, bx = h // BLOCK, w // BLOCK
    region = plane[: by * BLOCK, : bx * BLOCK]
    return region.reshape(by, BLOCK, bx, BLOCK).transpose(0, 2, 1, 3).reshape(by * bx, BLOCK * BLOCK)


def _from_blocks(blocks: np.ndarray, blocks_y: int, blocks_x: int) -> np.ndarray:
    return blocks.reshape(blocks_y, blocks_x, BLOCK, BLOCK).transpose(0, 2, 1, 3).reshape(
        blocks_y * BLOCK, blocks_x * BLOCK
    )


def _luma(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32) @ _LUMA


def _detection_weights(coeffs: np.ndarray, params: DctSsParams) -> np.ndarray:
    """Per block: 1 / (mean squared band coefficient + detection_floor**2)."""
    return 1.0 / (np.mean(coeffs**2, axis=1) + params.detection_floor**2)


def _band_coefficients(frame: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """(n_blocks, K) band coefficients of the frame's luma."""
    return _to_blocks(_luma(frame)) @ basis


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
    blocks_y, blocks_x = h // BLOCK, w // BLOCK
    symbol_of, chip_of = _frame_layout(params, blocks_y, blocks_x)
    flat_symbol = symbol_of.ravel()
    n_sym = coding.CODED_BITS
    amplitude = params.amplitude * strength

    # Pass 1: how much each frame's own content already leans along each symbol's pattern,
    # in units of what the mark adds at scale 1 (same detection weights as the extractor).
    lean = np.empty((n_frames, n_sym))
    for i, frame in enumerate(frames):
        coeffs = _band_coefficients(frame, layout.basis)
        weight = _detection_weights(coeffs, params)[:, None]
        host = np.bincount(flat_symbol, weights=(weight * chip_of * coeffs).ravel(), minlength=n_sym)
        reach = np.bincount(flat_symbol, weights=np.broadcast_to(weight, coeffs.shape).ravel(), minlength=n_sym)
        lean[i] = symbols * host / (amplitude * reach)
    lean = _moving_average(lean, params.temporal_window)
    scale = np.clip(params.margin - lean, params.scale_min, params.scale_max)

    # Pass 2: add the pattern, scaled per symbol, to R, G and B alike.
    max_mse = (255.0 * strength) ** 2 / 10 ** (params.min_psnr_db / 10)
    basis_t = layout.basis.T * np.float32(amplitude)
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        change = chip_of * (symbols * scale[i]).astype(np.float32)[symbol_of]  # (n, K)
        delta = _from_blocks(change @ basis_t, blocks_y, blocks_x)
        mse = float(np.mean(delta.astype(np.float64) ** 2)) * delta.size / (h * w)
        if mse > max_mse:
            delta *= np.float32(np.sqrt(max_mse / mse))
        rgb = frame.astype(np.float32)
        rgb[: delta.shape[0], : delta.shape[1]] += delta[:, :, None]
        out[i] = np.clip(np.rint(rgb), 0, 255)
    return out


@dataclass(frozen=True)
class Alignment:
    """Where the marked grid lies in a frame: scale to undo, pixel offset of the first whole block, its tile position."""

    scale: float = 1.0
    dy: int = 0
    dx: int = 0
    tile_y: int = 0
    tile_x: int = 0


ORIGIN = Alignment()


def _luma_at(frame: np.ndarray, alignment: Alignment) -> np.ndarray:
    luma = _luma(frame)
    if alignment.scale != 1.0:
        luma = sync.resample(luma, alignment.scale)
    return luma[alignment.dy :, alignment.dx :]


def _plane_evidence(luma: np.ndarray, alignment: Alignment, params: DctSsParams) -> np.ndarray:
    return _plane_evidence_and_noise(luma, alignment, params)[0]


def _plane_evidence_and_noise(luma: np.ndarray, alignment: Alignment, params: DctSsParams) -> tuple[np.ndarray, float]:
    """The symbol sums and their expected energy without a mark (the sum of the squared weighted slots)."""
    layout = _layout(params)
    h, w = luma.shape
    symbol_of, chip_of = _frame_layout(params, h // BLOCK, w // BLOCK, alignment.tile_y, alignment.tile_x)
    coeffs = _to_blocks(luma) @ layout.basis
    weighted = _detection_weights(coeffs, params)[:, None] * coeffs
    sums = np.bincount(symbol_of.ravel(), weights=(chip_of * weighted).ravel(), minlength=coding.CODED_BITS)
    return sums, float(np.sum(weighted.astype(np.float64) ** 2))


class _Pooled:
    """Evidence pooled over frames, each frame weighted by how much mark it visibly carries.

    A frame's symbol energy over its no-mark expectation is about 1 without a mark and 1 + SNR
    with one; after a codec the intra frame can carry ten times the mark of the predicted
    frames, so equal weights would drown it. Weight = FRAME_WEIGHT_FLOOR + max(energy - 1, 0),
    on evidence normalised by its noise: about +2 to +3 dB of evidence after H.264 CRF 28.
    """

    def __init__(self) -> None:
        self.total = np.zeros(coding.CODED_BITS)

    def add(self, sums: np.ndarray, noise_energy: float) -> None:
        if noise_energy <= 0.0:
            return
        normalised = sums / np.sqrt(noise_energy)
        energy = float(np.sum(normalised**2))
        self.total += (FRAME_WEIGHT_FLOOR + max(energy - 1.0, 0.0)) * normalised


FRAME_WEIGHT_FLOOR = 0.25
def frame_evidence(frame: np.ndarray, params: DctSsParams = DEFAULT_PARAMS, alignment: Alignment = ORIGIN) -> np.ndarray:
    """The CODED_BITS weighted correlation sums for one uint8 H x W x 3 frame (> 0 leans to coded bit 1)."""
    return _plane_evidence(_luma_at(frame, alignment), alignment, params)


def symbol_evidence(frames: np.ndarray, params: DctSsParams = DEFAULT_PARAMS, alignment: Alignment = ORIGIN) -> np.ndarray:
    """Evidence pooled over the frames of a uint8 T x H x W x 3 clip (reliability-weighted, see `_Pooled`)."""
    pooled = _Pooled()
    for frame in frames:
        pooled.add(*_plane_evidence_and_noise(_luma_at(frame, alignment), alignment, params))
    return pooled.total


def _band_planes(luma: np.ndarray, params: DctSsParams) -> np.ndarray:
    """Band coefficients of the 8 x 8 block starting at every pixel: (K, H - 7, W - 7), separably."""
    m = _dct_matrix().astype(np.float32)
    h, w = luma.shape
    rows = {}
    for u in sorted({u for u, _ in params.band}):
        acc = np.zeros((h - BLOCK + 1, w), dtype=np.float32)
        for i in range(BLOCK):
            acc += m[u, i] * luma[i : h - BLOCK + 1 + i]
        rows[u] = acc
    out = np.empty((len(params.band), h - BLOCK + 1, w - BLOCK + 1), dtype=np.float32)
    for j, (u, v) in enumerate(params.band):
        acc = np.zeros((h - BLOCK + 1, w - BLOCK + 1), dtype=np.float32)
        for i in range(BLOCK):
            acc += m[v, i] * rows[u][:, i : w - BLOCK + 1 + i]
        out[j] = acc
    return out


def search_alignment(lumas: list[np.ndarray], scale: float, params: DctSsParams = DEFAULT_PARAMS) -> tuple[Alignment, float]:
    """The block-grid offset (64 candidates) and tile offset (256) where the mark's symbol energy peaks.

    `lumas` are a few frames' luma planes, already at the original pixel pitch (scale undone);
    their folded tiles are summed coherently. Returns the alignment and its normalised energy
    (about 1 on unmarked content, well above on marked content).
    """
    tb = params.tile_blocks
    folded = np.zeros((BLOCK, BLOCK, tb, tb, len(params.band)))
    for luma in lumas:
        planes = _band_planes(luma, params)
        for dy in range(BLOCK):
            for dx in range(BLOCK):
                coeffs = np.moveaxis(planes[:, dy::BLOCK, dx::BLOCK], 0, -1)  # (by, bx, K)
                weight = 1.0 / (np.mean(coeffs**2, axis=-1, keepdims=True) + params.detection_floor**2)
                folded[dy, dx] += sync.fold(weight * coeffs, tb)
    energy = sync.tile_shift_energy(folded.reshape(BLOCK * BLOCK, tb, tb, -1), _pattern_fft(params))
    best = int(np.argmax(energy))
    offset, ty, tx = np.unravel_index(best, energy.shape)
    dy, dx = divmod(int(offset), BLOCK)
    return Alignment(scale, dy, dx, int(ty), int(tx)), float(energy.flat[best])


# Frames (evenly spaced, the first always included: after a codec it is the intra frame with
# the clearest mark) used to estimate the scale and find the offsets.
SEARCH_FRAMES = 4
MAX_SCALE_CANDIDATES = 2
# A found alignment is decoded only if its normalised symbol energy reaches this. On unmarked
# content the best of the 16,384 offsets reaches about 1.4 (the energy is a chi-square with 192
# degrees of freedom over 192, maximised); a mark that can still be decoded gives 2 and more.
SYNC_MIN_ENERGY = 1.5


def extract(frames: np.ndarray, params: DctSsParams = DEFAULT_PARAMS) -> coding.DecodedPayload:
    """Decode the payload, searching for crops and rescales when the frames are not as they were marked.

    At most 2 + MAX_SCALE_CANDIDATES decodes are tried (README.md: false positives).
    """
    # Pass 1: the frames as marked (the common case: no geometric change).
    first = coding.decode(symbol_evidence(frames, params))
    if first.payload is not None:
        return first

    # Pass 2: estimate the scale from the tile's spectral lines, undo it, find the grid and tile
    # offsets on a few frames, then gather evidence from every frame there.
    picks = np.unique(np.linspace(0, len(frames) - 1, min(SEARCH_FRAMES, len(frames))).round().astype(int))
    lumas = [_luma(frames[i]) for i in picks]
    ratio = sum(sync.line_spectrum(luma) for luma in lumas)
    scales = [1.0]
    for s in sync.estimate_scales(ratio, lumas[0].shape, candidates=MAX_SCALE_CANDIDATES):
        if abs(s - 1.0) > 0.01:
            scales.append(s)
    for scale in scales[: 1 + MAX_SCALE_CANDIDATES]:
        planes = lumas if scale == 1.0 else [sync.resample(luma, scale) for luma in lumas]
        if min(planes[0].shape) < params.tile_blocks * BLOCK // 2:
            continue
        alignment, energy = search_alignment(planes, scale, params)
        if alignment == ORIGIN or energy < SYNC_MIN_ENERGY:
            continue
        decoded = coding.decode(symbol_evidence(frames, params, alignment))
        if decoded.payload is not None:
            return decoded
    return first
