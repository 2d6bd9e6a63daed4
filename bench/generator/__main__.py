"""Prompt adherence of the built-in model on held-out captions, and the time for a default 4-second clip.

Held-out captions: the 38 combinations never rendered in training, each in the two training phrasings and
in a third phrasing used only for evaluation (114 distinct captions, 2 seeds each). Prints a table and
writes bench/results/generator.json. The issue's bars: ≥ 100 held-out captions, colour ≥ 90%,
shape ≥ 80%, motion ≥ 80%, a 4-second clip at the default size in ≤ 10 s on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from generator import GenerationRequest, load_builtin
from training.generator.evaluate import FIELDS, evaluate

BARS = {"colour": 0.90, "shape": 0.80, "motion": 0.80}
SPEED_BAR_S = 10.0
MIN_CAPTIONS = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="8 combinations, 1 seed")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/generator.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = load_builtin()
    report = evaluate(model, seeds=1 if args.quick else 2, limit=8 if args.quick else None)
    timings = []
    for seed in range(3):
        start = time.perf_counter()
        model.generate(GenerationRequest(prompt="a red circle moving right on a black background", seconds=4.0,
                                         size=(256, 256), seed=seed))
        timings.append(time.perf_counter() - start)
    report["seconds_per_4s_256_clip"] = min(timings)
    report["threads"] = args.threads
    report["machine"] = platform.processor() or platform.machine()

    print(f"{'metric':<28}{'measured':>10}{'bar':>8}  ok")
    n_captions = report["captions"]
    print(f"{'held-out captions':<28}{n_captions:>10}{MIN_CAPTIONS:>8}  {'yes' if n_captions >= MIN_CAPTIONS else 'NO'}"
          + ("  (--quick)" if args.quick else ""))
    for field in FIELDS:
        bar = BARS.get(field)
        value = report["accuracy"][field]
        print(f"{field + ' accuracy':<28}{value:>10.1%}{(f'{bar:.0%}' if bar else '-'):>8}  "
              f"{'yes' if bar is None or value >= bar else 'NO'}")
    speed = report["seconds_per_4s_256_clip"]
    print(f"{'4 s 256x256 clip (s)':<28}{speed:>10.2f}{SPEED_BAR_S:>8.0f}  {'yes' if speed <= SPEED_BAR_S else 'NO'}")
    print(f"({report['clips']} clips: {report['captions']} captions over {report['combinations']} held-out "
          f"combinations, {args.threads} threads)")
    for name, acc in report["accuracy_by_phrasing"].items():
        print(f"  {name:<18}" + "  ".join(f"{f} {acc[f]:.0%}" for f in FIELDS))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
