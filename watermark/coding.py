"""Payload coding: the 64-bit payload, its CRC-32 and a convolutional code with soft decoding.

This module owns how a payload becomes the ±1 symbols the embedder spreads over the frames,
and how noisy soft symbols become a payload again (or nothing, when the checksum disagrees).
It knows nothing about images.

Layout of one codeword (all bits MSB first):

    payload (64 bits) | CRC-32 (ISO-HDLC, as zlib) of the payload as 8 big-endian bytes (32 bits) | 8 zero tail bits

encoded with the rate-1/2, constraint-length-9 convolutional code with generators 561 and 753
(octal; free distance 12), giving 2 * 104 = 208 coded symbols. Decoding is max-log-MAP
(forward-backward), which yields the maximum-likelihood message and a log-likelihood ratio per
message bit. The CRC has a non-zero initial value and final XOR, so an all-zero (or absent)
signal does not decode to a valid message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAYLOAD_BITS = 64
CRC_BITS = 32
CONSTRAINT_LENGTH = 9
GENERATORS = (0o561, 0o753)

MESSAGE_BITS = PAYLOAD_BITS + CRC_BITS
_MEMORY = CONSTRAINT_LENGTH - 1
_STEPS = MESSAGE_BITS + _MEMORY
CODED_BITS = len(GENERATORS) * _STEPS

_CRC32_POLY = 0xEDB88320  # reflected 0x04C11DB7
_CRC32_MASK = 0xFFFFFFFF

# A decode is trusted only if its CRC-32 matches *and* the received soft symbols correlate with
# the re-encoded decision at least this much (normalised, in [-1, 1]). The CRC alone lets a
# random decode through with probability 2**-32 (2.3e-10); the decoder picks the best of 2**96
# codewords, so pure Gaussian noise reaches a correlation of about 0.660 +- 0.011 and this gate
# (that median) turns away about half of noise decodes more, while a real mark at a
# symbol SNR of -1 dB or more clears it. The extractor tries at most 4 decodes per extraction,
# so a wrong payload is reported with probability at most 4 * 0.5 * 2**-32 = 4.7e-10.
# See README.md.
MIN_CORRELATION = 0.66
# Correlation at which confidence saturates at 1 (a symbol SNR of about 5 dB).
_FULL_CORRELATION = 0.85
# Maps a message bit's log-likelihood ratio (in units of unit-RMS symbols) to [-1, 1] with tanh.
_LLR_SCALE = 8.0
_NEG = -1e30


def crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC (the Ethernet, zlib and PNG CRC) of `data`, bit by bit (reflected)."""
    crc = _CRC32_MASK
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (_CRC32_POLY if crc & 1 else 0)
    return crc ^ _CRC32_MASK


def _payload_crc(payload: int) -> int:
    return crc32(int(payload).to_bytes(PAYLOAD_BITS // 8, "big"))


def _int_to_bits(value: int, width: int) -> np.ndarray:
    return np.array([(value >> (width - 1 - i)) & 1 for i in range(width)], dtype=np.uint8)


def _bits_to_int(bits: np.ndarray) -> int:
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value


def _parity(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    out = np.zeros_like(x)
    while np.any(x):
        out ^= x & 1
        x >>= 1
    return out


def _trellis() -> tuple[np.ndarray, np.ndarray]:
    """next_state[s, u] and symbols[s, u, j] in {-1, +1} for every state and input bit.

    The state holds the previous 8 input bits, most recent in the highest bit; the shift
    register seen by the generators is (u << 8) | state.
    """
    states = np.arange(1 << _MEMORY)
    next_state = np.empty((states.size, 2), dtype=np.int64)
    symbols = np.empty((states.size, 2, len(GENERATORS)), dtype=np.float64)
    for u in (0, 1):
        register = (u << _MEMORY) | states
        next_state[:, u] = register >> 1
        for j, g in enumerate(GENERATORS):
            symbols[:, u, j] = 2.0 * _parity(register & g) - 1.0
    return next_state, symbols


_NEXT_STATE, _SYMBOLS = _trellis()
# Each state n is reached from the two states ((n << 1) | {0, 1}) & 0xFF, both with input n >> 7.
_PRED = ((np.arange(1 << _MEMORY)[:, None] << 1) | np.array([0, 1])[None, :]) & ((1 << _MEMORY) - 1)
_PRED_INPUT = np.arange(1 << _MEMORY) >> (_MEMORY - 1)


def check_payload(payload: int) -> None:
    """Raise TypeError or ValueError unless `payload` is an int in [0, 2**64)."""
    if isinstance(payload, bool) or not isinstance(payload, (int, np.integer)):
        raise TypeError(f"payload must be an int, got {type(payload).__name__}")
    if not 0 <= int(payload) < (1 << PAYLOAD_BITS):
        raise ValueError(f"payload must satisfy 0 <= payload < 2**{PAYLOAD_BITS}, got {payload}")


def message_bits(payload: int) -> np.ndarray:
    """The 96 message bits (payload then CRC) as uint8."""
    check_payload(payload)
    return np.concatenate([_int_to_bits(payload, PAYLOAD_BITS), _int_to_bits(_payload_crc(payload), CRC_BITS)])


def _convolve(bits: np.ndarray) -> np.ndarray:
    """Coded ±1 symbols for message bits followed by the zero tail."""
    state = 0
    out = np.empty((_STEPS, len(GENERATORS)), dtype=np.float64)
    for t, u in enumerate(np.concatenate([bits, np.zeros(_MEMORY, dtype=np.uint8)])):
        out[t] = _SYMBOLS[state, int(u)]
        state = int(_NEXT_STATE[state, int(u)])
    return out.reshape(-1)


def encode(payload: int) -> np.ndarray:
    """The CODED_BITS (208) ±1 symbols that carry `payload`."""
    return _convolve(message_bits(payload))


@dataclass(frozen=True)
class DecodedPayload:
    """What the decoder made of a vector of soft symbols."""

    payload: int | None
    """The payload, or None when the CRC or the correlation check failed."""
    crc_ok: bool
    correlation: float
    """Normalised correlation (in [-1, 1]) of the received symbols with the re-encoded decision."""
    confidence: float
    """0.0 when no payload is reported; otherwise in [0.5, 1.0], rising with the margin above
    MIN_CORRELATION (0.5 just above it, 1.0 from _FULL_CORRELATION up)."""
    soft_bits: np.ndarray
    """Per payload bit, tanh of the scaled log-likelihood ratio: > 0 means 1, in [-1, 1]."""


def decode(soft: np.ndarray) -> DecodedPayload:
    """Decode CODED_BITS soft symbols (> 0 means coded bit 1; any positive scale)."""
    soft = np.asarray(soft, dtype=np.float64).reshape(-1)
    if soft.shape != (CODED_BITS,):
        raise ValueError(f"expected {CODED_BITS} soft symbols, got {soft.shape[0]}")
    rms = float(np.sqrt(np.mean(soft**2)))
    if not np.isfinite(rms) or rms == 0.0:
        return DecodedPayload(None, False, 0.0, 0.0, np.zeros(PAYLOAD_BITS))
    soft = soft / rms
    llr = _max_log_map(soft.reshape(_STEPS, len(GENERATORS)))
    bits = (llr[:MESSAGE_BITS] > 0).astype(np.uint8)
    payload = _bits_to_int(bits[:PAYLOAD_BITS])
    crc_ok = _bits_to_int(bits[PAYLOAD_BITS:]) == _payload_crc(payload)
    correlation = float(np.dot(soft, _convolve(bits)) / CODED_BITS)  # ||soft||^2 == CODED_BITS
    trusted = crc_ok and correlation >= MIN_CORRELATION
    margin = (correlation - MIN_CORRELATION) / (_FULL_CORRELATION - MIN_CORRELATION)
    confidence = 0.5 + 0.5 * float(np.clip(margin, 0.0, 1.0))
    return DecodedPayload(
        payload=payload if trusted else None,
        crc_ok=crc_ok,
        correlation=correlation,
        confidence=confidence if trusted else 0.0,
        soft_bits=np.tanh(llr[:PAYLOAD_BITS] / _LLR_SCALE),
    )


def _max_log_map(received: np.ndarray) -> np.ndarray:
    """Per-step log-likelihood ratios (input 1 over input 0) for a zero-started, zero-terminated trellis.

    `received` has shape (steps, symbols per step). Branch metrics are correlations, which is
    the max-log form for antipodal symbols in Gaussian noise (up to a common scale).
    """
    steps = received.shape[0]
    n_states = _NEXT_STATE.shape[0]
    # gamma[t, s, u]: correlation of the received symbols at step t with the branch (s, u).
    gamma = np.einsum("tj,suj->tsu", received, _SYMBOLS)
    alpha = np.full((steps + 1, n_states), _NEG)
    alpha[0, 0] = 0.0
    for t in range(steps):
        arriving = alpha[t][_PRED] + gamma[t][_PRED, _PRED_INPUT[:, None]]
        alpha[t + 1] = arriving.max(axis=1)
    beta = np.full(n_states, _NEG)
    beta[0] = 0.0
    llr = np.empty(steps)
    for t in range(steps - 1, -1, -1):
        through = alpha[t][:, None] + gamma[t] + beta[_NEXT_STATE]  # (s, u)
        best = through.max(axis=0)
        llr[t] = best[1] - best[0]
        beta = (gamma[t] + beta[_NEXT_STATE]).max(axis=1)
    return llr
