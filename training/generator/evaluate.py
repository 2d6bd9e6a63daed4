"""Measure prompt adherence of a checkpoint: ``python -m training.generator.evaluate``.

Generates one clip per (caption, seed) for the held-out combinations (never
seen in training) and scores background, colour, shape and motion with
``training.generator.analysis``. Prints one table; ``--json`` writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import torch

from generator.builtin import BuiltinVideoGenerator
from generator.data import EVAL_PHRASINGS, TRAIN_PHRASINGS, split_combinations
from generator.types import GenerationRequest

from .analysis import analyse_clip

FIELDS = ("background", "colour", "shape", "motion")


def evaluate(
    gen: BuiltinVideoGenerator,
    *,
    split: str = "held_out",
    seeds: int = 2,
    steps: int | None = None,
    guidance: float | None = None,
    size: int = 128,
    templates: int = EVAL_PHRASINGS,
    limit: int | None = None,
) -> dict:
    """Generate one clip per (combination, phrasing, seed) and score it.

    ``templates`` phrasings per combination: the first TRAIN_PHRASINGS are the
    sentences used in training (for other combinations), the last one is used
    only here. ``captions`` in the result counts distinct prompts.
    """
    if not 1 <= templates <= EVAL_PHRASINGS:
        raise ValueError(f"templates must be 1..{EVAL_PHRASINGS}")
    train, held = split_combinations()
    # the training split is large; an evenly spaced sixth of it is compared
    combos = held if split == "held_out" else train[::6]
    if limit:
        combos = combos[:limit]
    hits, confusion, n = Counter(), Counter(), 0
    per_phrasing: dict[int, Counter] = {k: Counter() for k in range(templates)}
    captions: set[str] = set()
    t0 = time.time()
    for combo in combos:
        for template, seed in ((k, s) for k in range(templates) for s in range(seeds)):
            caption = combo.caption(template)
            captions.add(caption)
            req = GenerationRequest(
                caption, seconds=4.0, size=(size, size), seed=seed, steps=steps, guidance=guidance
            )
            a = analyse_clip(gen.generate(req).frames)
            n += 1
            per_phrasing[template]["clips"] += 1
            for f in FIELDS:
                ok = getattr(a, f) == getattr(combo, f)
                hits[f] += ok
                per_phrasing[template][f] += ok
                if not ok:
                    confusion[f"{f}: {getattr(combo, f)} → {getattr(a, f)}"] += 1
    return {
        "split": split,
        "combinations": len(combos),
        "captions": len(captions),
        "clips": n,
        "accuracy": {f: hits[f] / n for f in FIELDS},
        "accuracy_by_phrasing": {
            ("eval_only" if k >= TRAIN_PHRASINGS else f"train_phrasing_{k}"): {
                "clips": c["clips"], **{f: c[f] / c["clips"] for f in FIELDS}
            }
            for k, c in per_phrasing.items()
        },
        "seconds_per_clip": (time.time() - t0) / n,
        "top_confusions": confusion.most_common(12),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--weights", default=None, help="weights folder (default: the shipped one)")
    ap.add_argument("--split", choices=("held_out", "train"), default="held_out")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--guidance", type=float, default=None)
    ap.add_argument("--templates", type=int, default=EVAL_PHRASINGS,
                    help=f"caption phrasings per combination (1..{EVAL_PHRASINGS}; the last is evaluation-only)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    gen = BuiltinVideoGenerator(args.weights)
    res = evaluate(
        gen, split=args.split, seeds=args.seeds, steps=args.steps, guidance=args.guidance,
        templates=args.templates, limit=args.limit,
    )
    res.update(steps=args.steps, guidance=args.guidance, weights=str(args.weights or "shipped"))
    print(f"{res['split']}: {res['combinations']} combinations, {res['captions']} captions, {res['clips']} clips, "
          f"{res['seconds_per_clip']:.2f} s/clip "
          f"(steps={args.steps or 'default'}, guidance={args.guidance or 'default'})")
    for f, v in res["accuracy"].items():
        print(f"  {f:<11}{100 * v:5.1f}%")
    for name, acc in res["accuracy_by_phrasing"].items():
        print(f"    {name:<17}" + "  ".join(f"{f} {100 * acc[f]:5.1f}%" for f in FIELDS))
    for k, v in res["top_confusions"]:
        print(f"    {v:3d}× {k}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
