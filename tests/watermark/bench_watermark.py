"""Quality, robustness, false-positive and speed table for the watermark, printed as Markdown.

    PYTHONPATH=. .venv/bin/python tests/watermark/bench_watermark.py            # full table (minutes)
    PYTHONPATH=. .venv/bin/python tests/watermark/bench_watermark.py --quick    # fewer clips

The attacks and the test content are the same functions the tests use (wm_attacks.py,
wm_content.py), so the numbers in watermark/README.md can be reproduced by running this.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import wm_attacks as attacks
import wm_content as content

import watermark
from watermark import coding, dctss

FPS = 24

Attack = Callable[[np.ndarray], np.ndarray]

ATTACKS: dict[str, Attack] = {
    "none (48 frames)": lambda f: f,
    "H.264 CRF 18": lambda f: attacks.h264(f, crf=18, fps=FPS),
    "H.264 CRF 23": lambda f: attacks.h264(f, crf=23, fps=FPS),
    "H.264 CRF 28": lambda f: attacks.h264(f, crf=28, fps=FPS),
    "H.264 CRF 23, one P/B frame": lambda f: attacks.h264(f, crf=23, fps=FPS)[10:11],
    "1 s excerpt, then H.264 CRF 23": lambda f: attacks.h264(attacks.excerpt(f, start=12, length=FPS), crf=23),
    "resize 50% and back, then H.264 CRF 23": lambda f: attacks.h264(attacks.resize_and_back(f, factor=0.5), crf=23),
    "JPEG 75, one frame": lambda f: attacks.jpeg(f[:1], quality=75),
    "JPEG 50, one frame": lambda f: attacks.jpeg(f[:1], quality=50),
    "noise sigma 3, one frame": lambda f: attacks.gaussian_noise(f[:1], sigma=3),
    "noise sigma 8, one frame": lambda f: attacks.gaussian_noise(f[:1], sigma=8),
    "brightness +20, one frame": lambda f: attacks.brightness(f[:1], offset=20),
    "brightness -20, one frame": lambda f: attacks.brightness(f[:1], offset=-20),
    "resize 50% and back, one frame": lambda f: attacks.resize_and_back(f[:1], factor=0.5),
}


def clips(quick: bool) -> list[tuple[str, np.ndarray]]:
    seeds = range(2) if quick else range(4)
    out = []
    for h, w in ((128, 128), (256, 256), (360, 640)):
        for seed in seeds:
            texture = (10.0, 22.0, 35.0, 16.0)[seed]
            out.append((f"natural {w}x{h}", content.natural_clip(48, h, w, seed=seed, texture=texture)))
    out.append(("dark 256x256", content.dark_clip(48, 256, 256, seed=9)))
    out.append(("flat grey 256x256", content.flat_clip(48, 256, 256, (128, 128, 128))))
    out.append(("black 256x256", content.flat_clip(48, 256, 256, (0, 0, 0))))
    return out


def evidence_snr_db(frames: np.ndarray, symbols: np.ndarray) -> float:
    """How clearly the coded symbols stand out in the evidence (decoding needs about 0 dB)."""
    agreement = dctss.symbol_evidence(frames) * symbols
    if agreement.std() == 0:
        return float("inf") if agreement.mean() > 0 else float("-inf")
    ratio = agreement.mean() / agreement.std()
    return 20 * np.log10(ratio) if ratio > 0 else float("-inf")


def coding_table(rng: np.random.Generator, trials: int) -> None:
    """Calibration of the decoder's gate: pure noise versus a known codeword in Gaussian noise."""
    null = np.array([coding.decode(rng.standard_normal(coding.CODED_BITS)).correlation for _ in range(trials)])
    print("## Payload coding (Gaussian channel)\n")
    print(
        f"Pure noise: decoded correlation {null.mean():.3f} +- {null.std():.3f}, "
        f"{(null >= coding.MIN_CORRELATION).mean():.1%} at or above the gate {coding.MIN_CORRELATION}.\n"
    )
    print("| symbol SNR dB | exact payload | wrong payload reported |")
    print("|---|---|---|")
    for snr_db in (-2, -1, 0, 1, 2, 3):
        amplitude = 10 ** (snr_db / 20)
        right = wrong = 0
        for _ in range(trials):
            payload = int(rng.integers(0, 2**63))
            found = coding.decode(amplitude * coding.encode(payload) + rng.standard_normal(coding.CODED_BITS))
            right += found.payload == payload
            wrong += found.payload not in (None, payload)
        print(f"| {snr_db} | {right / trials:.1%} | {wrong} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    coding_table(np.random.default_rng(2024), 200 if args.quick else 1000)
    rng = np.random.default_rng(2024)

    marked_clips = []
    print("## Quality (strength 1.0)\n")
    print("| clip | luma PSNR dB | mark change frame-to-frame, RMS levels |")
    print("|---|---|---|")
    for name, clip in clips(args.quick):
        payload = int(rng.integers(0, 2**63)) * 2 + int(rng.integers(0, 2))
        marked = watermark.embed(clip, payload)
        mark = (marked.astype(np.float64) - clip) @ np.array([0.299, 0.587, 0.114])
        flicker = float(np.sqrt(np.mean(np.diff(mark, axis=0) ** 2)))
        print(f"| {name} | {attacks.psnr(clip, marked):.2f} | {flicker:.2f} |")
        marked_clips.append((name, payload, marked))

    print("\n## Robustness: exact payload recovered / clips (median evidence SNR dB)\n")
    names = sorted({name for name, _, _ in marked_clips}, key=[n for n, _, _ in marked_clips].index)
    print("| attack | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for attack_name, attack in ATTACKS.items():
        cells = []
        for group in names:
            ok, total, snrs = 0, 0, []
            for name, payload, marked in marked_clips:
                if name != group:
                    continue
                attacked = attack(marked)
                found = watermark.extract(attacked)
                ok += found.payload == payload
                assert found.payload in (None, payload), "wrong payload reported"
                total += 1
                snrs.append(evidence_snr_db(attacked, coding.encode(payload)))
            cells.append(f"{ok}/{total} ({np.median(snrs):.1f})")
        print(f"| {attack_name} | " + " | ".join(cells) + " |", flush=True)

    print("\n## False positives on unmarked input\n")
    n_inputs, reported = 0, 0
    for i in range(100 if args.quick else 400):
        kind = i % 4
        if kind == 0:
            clip = rng.integers(0, 256, size=(1, 128, 160, 3), dtype=np.uint8)
        elif kind == 1:
            clip = content.natural_clip(2, 128 + 8 * (i % 5), 192, seed=10_000 + i, texture=float(5 + i % 40))
        elif kind == 2:
            clip = content.flat_clip(1, 128, 128, tuple(int(v) for v in rng.integers(0, 256, size=3)))
        else:
            clip = attacks.h264(content.natural_clip(8, 128, 128, seed=20_000 + i), crf=23)
        n_inputs += 1
        reported += watermark.extract(clip).payload is not None
    print(f"{reported} payloads reported on {n_inputs} unmarked inputs (noise, natural, flat, H.264 natural).")

    print("\n## Speed (this machine, one process)\n")
    print("| clip | embed s | extract s |")
    print("|---|---|---|")
    for t, h, w in ((48, 256, 256), (48, 720, 1280)):
        clip = content.natural_clip(t, h, w, seed=1)
        start = time.perf_counter()
        marked = watermark.embed(clip, 0xDEADBEEF)
        embed_s = time.perf_counter() - start
        start = time.perf_counter()
        watermark.extract(marked)
        extract_s = time.perf_counter() - start
        print(f"| {t} x {w}x{h} | {embed_s:.2f} | {extract_s:.2f} |")


if __name__ == "__main__":
    main()
