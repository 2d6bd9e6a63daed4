"""Runner: quality, robustness per attack, false detections and speed of `watermark`, as a table and JSON."""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import time

import numpy as np

import watermark
from bench.watermark import attacks, content

RESULTS = pathlib.Path(__file__).resolve().parents[1] / "results" / "watermark.json"
_LUMA = np.array([0.299, 0.587, 0.114])


def _bits(payload: int) -> np.ndarray:
    return np.array([(payload >> (63 - i)) & 1 for i in range(64)])


def _flicker(clip: np.ndarray, marked: np.ndarray) -> tuple[float, float]:
    """RMS of the luma mark and RMS of its frame-to-frame change (levels)."""
    mark = (marked.astype(np.float64) - clip) @ _LUMA
    step = np.diff(mark, axis=0) if len(mark) > 1 else np.zeros(1)
    return float(np.sqrt(np.mean(mark**2))), float(np.sqrt(np.mean(step**2)))


def quality_and_robustness(clips, rng) -> tuple[list[dict], dict]:
    quality, per_attack = [], {name: [] for name in attacks.ATTACKS}
    for name, clip in clips:
        payload = int(rng.integers(0, 2**63)) * 2 + int(rng.integers(0, 2))
        marked = watermark.embed(clip, payload)
        mark_rms, step_rms = _flicker(clip, marked)
        quality.append(dict(clip=name, psnr_y=attacks.psnr(clip, marked), ssim_y=attacks.ssim(clip, marked),
                            mark_rms=mark_rms, frame_to_frame_rms=step_rms))
        print(f"  {name}: PSNR-Y {quality[-1]['psnr_y']:.2f} dB, SSIM-Y {quality[-1]['ssim_y']:.4f}", flush=True)
        for attack_name, attack in attacks.ATTACKS.items():
            found = watermark.extract(attack(marked))
            soft = found.soft_bits
            per_attack[attack_name].append(dict(
                clip=name, exact=found.payload == payload, wrong=found.payload not in (None, payload),
                bit_accuracy=float(np.mean((soft > 0) == (_bits(payload) == 1))), confidence=found.confidence))
    return quality, per_attack


def false_detections(n: int, rng) -> dict:
    """Extractions on unmarked inputs: camera clips (raw and H.264), single frames, noise, flat colours."""
    reported = 0
    kinds = {"natural frame": 0, "camera clip 12 frames": 0, "H.264 clip 12 frames": 0, "noise frame": 0, "flat frame": 0}
    for i in range(n):
        kind = list(kinds)[i % 5] if i % 50 else "H.264 clip 12 frames"
        if kind == "H.264 clip 12 frames" and i % 50:
            kind = "natural frame"
        h = int(rng.choice([128, 144, 180, 256]))
        w = int(rng.choice([128, 160, 256, 320]))
        if kind == "natural frame":
            frames = content.natural_clip(1, h, w, seed=50_000 + i, texture=float(rng.uniform(2, 40)))
        elif kind == "camera clip 12 frames":
            frames = content.camera_clip(12, h, w, seed=60_000 + i, move="pan" if i % 2 else "zoom")
        elif kind == "H.264 clip 12 frames":
            frames = attacks.h264(content.camera_clip(12, h, w, seed=70_000 + i), crf=int(rng.choice([23, 28, 35])))
        elif kind == "noise frame":
            frames = rng.integers(0, 256, size=(1, h, w, 3), dtype=np.uint8)
        else:
            frames = content.flat_clip(1, h, w, tuple(int(v) for v in rng.integers(0, 256, size=3)))
        kinds[kind] += 1
        reported += watermark.extract(frames).payload is not None
    return dict(extractions=n, reported=reported, by_kind=kinds)


def speed(quick: bool) -> list[dict]:
    rows = []
    for t, h, w in ((48, 256, 256), (48, 360, 640), (48, 720, 1280)):
        clip = content.camera_clip(t, h, w, seed=1)
        start = time.perf_counter()
        marked = watermark.embed(clip, 0xDEADBEEF)
        embed_s = time.perf_counter() - start
        start = time.perf_counter()
        watermark.extract(marked)
        extract_s = time.perf_counter() - start
        rows.append(dict(size=f"{w}x{h}", frames=t, embed_fps=t / embed_s, extract_fps=t / extract_s,
                         extract_s_per_10s_at_24fps=240 / (t / extract_s)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer clips and false-positive trials")
    parser.add_argument("--false-trials", type=int, default=None, help="unmarked extractions (default 2000, quick 200)")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    started = time.time()

    print(f"# watermark bench: {watermark.ALGORITHM}{' (quick)' if args.quick else ''}\n", flush=True)
    clips = content.bench_clips(args.quick)
    quality, per_attack = quality_and_robustness(clips, rng)

    print("\n| attack | exact payload | mean bit accuracy | wrong payloads | bar | meets |")
    print("|---|---|---|---|---|---|")
    robustness = []
    for name, rows in per_attack.items():
        exact = float(np.mean([r["exact"] for r in rows]))
        bar = 0.99 if name in attacks.BAR_99 else (None if name == "none" else 0.90)
        row = dict(attack=name, exact_rate=exact, bit_accuracy=float(np.mean([r["bit_accuracy"] for r in rows])),
                   wrong=int(sum(r["wrong"] for r in rows)), clips=len(rows), bar=bar,
                   meets=None if bar is None else exact >= bar,
                   failed_clips=[r["clip"] for r in rows if not r["exact"]])
        robustness.append(row)
        meets = "" if bar is None else ("yes" if row["meets"] else "NO")
        print(f"| {name} | {exact:.0%} ({sum(r['exact'] for r in rows)}/{len(rows)}) | {row['bit_accuracy']:.3f} "
              f"| {row['wrong']} | {'' if bar is None else f'{bar:.0%}'} | {meets} |", flush=True)

    print("\n| clip | PSNR-Y dB | SSIM-Y | mark RMS | frame-to-frame RMS |")
    print("|---|---|---|---|---|")
    for q in quality:
        print(f"| {q['clip']} | {q['psnr_y']:.2f} | {q['ssim_y']:.4f} | {q['mark_rms']:.2f} | {q['frame_to_frame_rms']:.3f} |")
    mean_psnr = float(np.mean([q["psnr_y"] for q in quality]))
    mean_ssim = float(np.mean([q["ssim_y"] for q in quality]))
    print(f"| mean | {mean_psnr:.2f} | {mean_ssim:.4f} | | |")

    n_false = args.false_trials if args.false_trials is not None else (200 if args.quick else 2000)
    false = false_detections(n_false, rng)
    print(f"\nFalse detections: {false['reported']} in {false['extractions']} extractions on unmarked input "
          f"({', '.join(f'{k}: {v}' for k, v in false['by_kind'].items())}).")

    rows = speed(args.quick)
    print("\n| size | embed fps | extract fps | extract s for 10 s at 24 fps |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['embed_fps']:.1f} | {r['extract_fps']:.1f} | {r['extract_s_per_10s_at_24fps']:.2f} |")

    result = dict(algorithm=watermark.ALGORITHM, quick=args.quick, machine=dict(
        cpus=os.cpu_count(), platform=platform.platform()), seconds=time.time() - started,
        clips=[name for name, _ in clips], robustness=robustness, quality=quality,
        mean_psnr_y=mean_psnr, mean_ssim_y=mean_ssim, false_detections=false, speed=rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
