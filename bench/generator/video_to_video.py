"""Remix (transform) and extend (continue) with the built-in model, measured with the clip analyser.

``python -m bench.generator.video_to_video [--quick] [--strengths 0.6,0.7] [--out PATH]``

Sources are clips the built-in model made from a caption (128×128, 4 s at 8 fps), analysed first; a source whose
analysis does not read back its caption's colour and motion is skipped, so a miss below is the remix's or the
extension's, not the source's. Combinations are split as in training: the strength and guidance defaults are picked
on the training combinations and then reported on the held-out ones.

* transform, new colour: the caption with the colour swapped; right = the analyser reads the new colour and the
  source's motion.
* transform, no motion word: "a <colour> <shape> on a <background> background" (no direction): right = the
  source's motion (the only place the direction can come from).
* continue: the source cut after its first ``--cut`` frames (the object mid-way, with room to move on) and the
  whole source (the object near the edge it moves towards), extended by 4 s under its caption and under the caption
  without the direction; right = the new frames move the source's way. Closeness: mean absolute pixel difference
  between the source's last frame and the first new frame, against the same difference to the first frame of a
  fresh text-to-video clip of the same caption (same colours, object elsewhere).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from generator import GenerationRequest, SourceVideo, load_builtin
from generator.data import COLOURS, Combination, split_combinations
from training.generator.analysis import analyse_clip

SIZE = (128, 128)


def no_motion_caption(c: Combination) -> str:
    return f"a {c.colour} {c.shape} on a {c.background} background"


def pick(combos: list[Combination], n: int, rng: np.random.Generator) -> list[Combination]:
    moving = [c for c in combos if c.motion != "static"]
    return [moving[i] for i in rng.permutation(len(moving))[:n]]


def make_sources(model, combos: list[Combination], seed: int) -> list[tuple[Combination, np.ndarray]]:
    out = []
    for i, c in enumerate(combos):
        clip = model.generate(GenerationRequest(c.caption(), seconds=4, size=SIZE, seed=seed + i)).frames
        a = analyse_clip(clip)
        if (a.colour, a.motion) == (c.colour, c.motion):
            out.append((c, clip))
    return out


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def bench_transform(model, sources, strengths, guidances, seed) -> dict:
    rng = np.random.default_rng(seed)
    results = {}
    for g in guidances:
        for s in strengths:
            colour_ok = both_ok = kept = n_col = n_kept = 0
            misses: list[str] = []
            for j, (c, clip) in enumerate(sources):
                others = [k for k in COLOURS if k != c.colour and k not in (c.background,)]
                target = replace(c, colour=others[int(rng.integers(len(others)))])
                src = SourceVideo(clip, fps=8.0, mode="transform", strength=s)
                out = model.generate(GenerationRequest(target.caption(), seconds=2, size=SIZE, seed=seed + j,
                                                       guidance=g, source=src)).frames
                a = analyse_clip(out)
                n_col += 1
                colour_ok += a.colour == target.colour
                both_ok += a.colour == target.colour and a.motion == c.motion
                if (a.colour, a.motion) != (target.colour, c.motion):
                    misses.append(f"{c.caption()} -> {target.colour}: read {a.colour} {a.motion}")
                out = model.generate(GenerationRequest(no_motion_caption(c), seconds=2, size=SIZE, seed=seed + j,
                                                       guidance=g, source=src)).frames
                n_kept += 1
                motion = analyse_clip(out).motion
                kept += motion == c.motion
                if motion != c.motion:
                    misses.append(f"{c.caption()} -> no motion word: read {motion}")
            results[f"strength={s:g},guidance={g:g}"] = {
                "strength": s, "guidance": g, "clips": n_col,
                "new_colour": colour_ok / n_col, "new_colour_and_same_motion": both_ok / n_col,
                "motion_without_motion_word": kept / n_kept, "misses": misses,
            }
    return results


def bench_continue(model, sources, cut: int, held_frames: list[int], guidances, seed) -> dict:
    results = {}
    pipe = model.pipeline
    default_k = pipe.continue_frames
    # the first frame of a fresh clip of the same caption: same colours, the object wherever the sampler puts it
    fresh = [model.generate(GenerationRequest(c.caption(), seconds=4, size=SIZE, seed=seed + 1000 + j)).frames[0]
             for j, (c, _) in enumerate(sources)]
    try:
        for k in held_frames:
            pipe.continue_frames = k
            for g in guidances:
                for part in ("cut", "whole"):
                    moved = moved_plain = 0
                    close, fresh_diff = [], []
                    for j, (c, clip) in enumerate(sources):
                        src_frames = clip[:cut] if part == "cut" else clip
                        src = SourceVideo(src_frames, fps=8.0, mode="continue")
                        out = model.generate(GenerationRequest(c.caption(), seconds=4, size=SIZE, seed=seed + j,
                                                               guidance=g, source=src)).frames
                        moved += analyse_clip(out).motion == c.motion
                        close.append(mad(out[0], src_frames[-1]))
                        fresh_diff.append(mad(fresh[j], src_frames[-1]))
                        out = model.generate(GenerationRequest(no_motion_caption(c), seconds=4, size=SIZE,
                                                               seed=seed + j, guidance=g, source=src)).frames
                        moved_plain += analyse_clip(out).motion == c.motion
                    n = len(sources)
                    results[f"k={k},guidance={g:g},{part}"] = {
                        "held_frames": k, "guidance": g, "source": part, "clips": n,
                        "same_motion": moved / n, "same_motion_without_motion_word": moved_plain / n,
                        "first_frame_mad": float(np.mean(close)), "first_frame_mad_max": float(np.max(close)),
                        "fresh_clip_mad": float(np.mean(fresh_diff)),
                        "ratio": float(np.mean(close) / np.mean(fresh_diff)),
                    }
    finally:
        pipe.continue_frames = default_k
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few sources, one setting")
    parser.add_argument("--split", choices=("train", "held_out", "both"), default="both")
    parser.add_argument("--sources", type=int, default=16, help="source combinations per split")
    parser.add_argument("--strengths", default="0.5")
    parser.add_argument("--guidances", default="5")
    parser.add_argument("--held-frames", default="4")
    parser.add_argument("--continue-guidances", default="4")
    parser.add_argument("--cut", type=int, default=16, help="frames of the source kept for the 'cut' extension")
    parser.add_argument("--skip", choices=("transform", "continue"), default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("bench/results/generator_video_to_video.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    floats = lambda s: [float(v) for v in s.split(",")]  # noqa: E731
    model = load_builtin()
    train, held = split_combinations()
    rng = np.random.default_rng(args.seed)
    n = 4 if args.quick else args.sources
    splits = {"train": train, "held_out": held}
    report: dict = {"threads": args.threads, "machine": platform.processor() or platform.machine(),
                    "date": time.strftime("%Y-%m-%d"), "size": list(SIZE), "seed": args.seed}
    started = time.perf_counter()
    for name in (["train", "held_out"] if args.split == "both" else [args.split]):
        sources = make_sources(model, pick(splits[name], n, rng), args.seed)
        part = report[name] = {"sources": [c.caption() for c, _ in sources]}
        if args.skip != "transform":
            part["transform"] = bench_transform(model, sources, floats(args.strengths), floats(args.guidances),
                                                args.seed)
            for key, r in part["transform"].items():
                print(f"{name:<9} transform {key:<26} n={r['clips']:<3} new colour {r['new_colour']:6.1%}  "
                      f"colour+motion {r['new_colour_and_same_motion']:6.1%}  "
                      f"motion w/o word {r['motion_without_motion_word']:6.1%}", flush=True)
        if args.skip != "continue":
            part["continue"] = bench_continue(model, sources, args.cut, [int(v) for v in args.held_frames.split(",")],
                                              floats(args.continue_guidances), args.seed)
            for key, r in part["continue"].items():
                print(f"{name:<9} continue {key:<26} n={r['clips']:<3} motion {r['same_motion']:6.1%}  "
                      f"w/o word {r['same_motion_without_motion_word']:6.1%}  first-frame MAD "
                      f"{r['first_frame_mad']:5.1f} (max {r['first_frame_mad_max']:5.1f}) vs fresh "
                      f"{r['fresh_clip_mad']:5.1f}", flush=True)
    report["minutes"] = (time.perf_counter() - started) / 60
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out} ({report['minutes']:.1f} min)")


if __name__ == "__main__":
    main()
