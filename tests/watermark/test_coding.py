"""Payload coding: CRC, convolutional code, soft decoding and its refusal to guess."""

from __future__ import annotations

import numpy as np
import pytest

from watermark import coding


def _payload_bits(payload: int) -> np.ndarray:
    return np.array([(payload >> (63 - i)) & 1 for i in range(64)])


def test_crc32_matches_the_standard_check_value():
    assert coding.crc32(b"123456789") == 0xCBF43926
    assert coding.crc32(b"") == 0


def test_codeword_shape_and_alphabet():
    symbols = coding.encode(0x0123456789ABCDEF)
    assert symbols.shape == (coding.CODED_BITS,) == (208,)
    assert set(np.unique(symbols)) == {-1.0, 1.0}


@pytest.mark.parametrize("payload", [0, 1, 2**63, 2**64 - 1, 0xDEADBEEFCAFEF00D])
def test_clean_roundtrip(payload):
    decoded = coding.decode(coding.encode(payload))
    assert decoded.payload == payload
    assert decoded.crc_ok
    assert decoded.confidence == 1.0
    assert np.array_equal(decoded.soft_bits > 0, _payload_bits(payload) == 1)
    assert np.all(np.abs(decoded.soft_bits) <= 1.0)


def test_scale_of_soft_input_does_not_matter():
    symbols = coding.encode(12345)
    assert coding.decode(symbols * 1e-9).payload == coding.decode(symbols * 1e6).payload == 12345


def test_corrects_scattered_hard_errors():
    rng = np.random.default_rng(0)
    for _ in range(20):
        payload = int(rng.integers(0, 2**63))
        received = coding.encode(payload)
        flips = rng.choice(coding.CODED_BITS, size=5, replace=False)
        received[flips] *= -1
        assert coding.decode(received).payload == payload


def test_decodes_noisy_soft_symbols_and_never_reports_a_wrong_payload():
    rng = np.random.default_rng(1)
    amplitude = 10 ** (3 / 20)  # symbol SNR 3 dB
    correct = 0
    for _ in range(40):
        payload = int(rng.integers(0, 2**63))
        decoded = coding.decode(amplitude * coding.encode(payload) + rng.standard_normal(coding.CODED_BITS))
        assert decoded.payload in (None, payload)
        correct += decoded.payload == payload
    assert correct >= 38


def test_noise_and_silence_decode_to_nothing():
    rng = np.random.default_rng(2)
    for _ in range(300):
        decoded = coding.decode(rng.standard_normal(coding.CODED_BITS))
        assert decoded.payload is None
        assert decoded.confidence == 0.0
    silent = coding.decode(np.zeros(coding.CODED_BITS))
    assert silent.payload is None and silent.confidence == 0.0


def test_check_payload_rejects_out_of_range_and_non_integers():
    for bad in (-1, 2**64, 1.0, "1", True, None):
        with pytest.raises((TypeError, ValueError)):
            coding.check_payload(bad)
    coding.check_payload(np.uint64(2**64 - 1))


def test_decode_rejects_wrong_length():
    with pytest.raises(ValueError):
        coding.decode(np.ones(coding.CODED_BITS - 1))
