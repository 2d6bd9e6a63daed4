"""Where the fingerprint thresholds come from: score distributions on the calibration seeds.

    .venv/bin/python -m bench.verify.calibrate [--unrelated 1000] [--distractors 300]

Registers the bench's clips (watermarked) and distractors on CALIBRATION_SEEDS, then scores with
`gateway.registry.score_frames` (the registry's own second stage):
- positives: every attacked clip against its own record, and frame grabs (any frame; PNG, JPEG, half size, 90% crop)
  against theirs;
- negatives: unrelated inputs (CALIBRATION_SEEDS) and every positive query against every other real record.
Prints the largest positive and smallest negative scores and per-hash fractions, clips and images apart, and writes
bench/results/verify_calibration.json. Random records (the million synthetic ones in the bench) score 0.41-0.5 per
hash against anything, far from the limits, so only real content is scored here. bench/verify then measures on the
held-out EVALUATION_SEEDS.
"""

from __future__ import annotations

import argparse
import json
import pathlib

import numpy as np

import watermark
from bench.verify.__main__ import (
    CALIBRATION_SEEDS,
    RealRecords,
    _clips,
    _distractors,
    _jpeg,
    _png,
    unrelated_inputs,
)
from bench.watermark import attacks
from gateway.media import decode_media
from gateway.registry.fingerprint import (
    CLIP_SCORE_LIMIT,
    FEW_FRAMES,
    HASH_AGREEMENT_LIMIT,
    IMAGE_SCORE_LIMIT,
    fingerprint_frames,
    parse_frames,
    score_frames,
)

OUT = pathlib.Path(__file__).resolve().parents[1] / "results" / "verify_calibration.json"


def _all_scores(real: RealRecords, hashes: list[str], exclude: str | None = None) -> list[tuple[float, float]]:
    """(score, largest per-hash fraction) against every real record but `exclude`."""
    query, extended = parse_frames(hashes)
    out = []
    for cid, (stored, stored_extended) in zip(real.ids, real.frames):
        if cid != exclude:
            r = score_frames(query, extended, stored, stored_extended)
            out.append((r.score, max(r.per_hash)))
    return out


def _accepted(pairs, limit: float) -> int:
    return sum(1 for score, worst in pairs if score <= limit and worst <= HASH_AGREEMENT_LIMIT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--unrelated", type=int, default=1000)
    parser.add_argument("--distractors", type=int, default=300)
    parser.add_argument("--out", type=pathlib.Path, default=OUT)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    real = RealRecords()
    for i, frames in enumerate(_distractors(args.distractors, CALIBRATION_SEEDS)):
        real.add(2 * i, fingerprint_frames(frames))
    clip_pos, grab_pos, clip_neg, image_neg = [], [], [], []
    for n, (name, clip) in enumerate(_clips(False)):
        content_id = 2 * n + 1_000_001
        marked = watermark.embed(clip, content_id)
        real.add(content_id, fingerprint_frames(marked))
        own = real.ids[-1]
        for attack_name, attack in attacks.ATTACKS.items():
            hashes = fingerprint_frames(attack(marked))
            query, extended = parse_frames(hashes)
            r = score_frames(query, extended, *real.frames[-1])
            clip_pos.append(dict(clip=name, attack=attack_name, score=r.score, per_hash=list(r.per_hash)))
            clip_neg.extend(_all_scores(real, hashes, exclude=own))
        for g in range(4):
            frame = marked[int(rng.integers(0, marked.shape[0]))]
            for variant, data in {"png": _png(frame), "jpeg 85": _jpeg(frame),
                                  "half size png": _png(attacks.downscale_half(frame[None])[0]),
                                  "90% crop jpeg": _jpeg(attacks.crop(frame[None], area=0.9, position="random",
                                                                      seed=g)[0])}.items():
                hashes = fingerprint_frames(decode_media(data).frames)
                query, extended = parse_frames(hashes)
                r = score_frames(query, extended, *real.frames[-1])
                grab_pos.append(dict(clip=name, variant=variant, score=r.score, per_hash=list(r.per_hash)))
                image_neg.extend(_all_scores(real, hashes, exclude=own))
        print(f"  {name}", flush=True)
    unrelated = {"clips": [], "images": []}
    for kind, data in unrelated_inputs(args.unrelated, rng, seed_base=CALIBRATION_SEEDS["unrelated"]):
        hashes = fingerprint_frames(decode_media(data).frames)
        pairs = _all_scores(real, hashes)
        (unrelated["images"] if len(hashes) <= FEW_FRAMES else unrelated["clips"]).append(
            dict(kind=kind, min_score=min(p[0] for p in pairs), accepted=_accepted(
                pairs, IMAGE_SCORE_LIMIT if len(hashes) <= FEW_FRAMES else CLIP_SCORE_LIMIT)))
        (image_neg if len(hashes) <= FEW_FRAMES else clip_neg).extend(pairs)

    def dist(values):
        a = np.array(values)
        return dict(n=int(a.size), min=float(a.min()), p1=float(np.percentile(a, 1)), p50=float(np.median(a)),
                    p99=float(np.percentile(a, 99)), max=float(a.max()))

    result = dict(
        limits=dict(clip=CLIP_SCORE_LIMIT, image=IMAGE_SCORE_LIMIT, every_hash=HASH_AGREEMENT_LIMIT),
        positives=dict(clips=dist([p["score"] for p in clip_pos]), frame_grabs=dist([p["score"] for p in grab_pos]),
                       clips_max_per_hash=np.max([p["per_hash"] for p in clip_pos], axis=0).tolist(),
                       grabs_max_per_hash=np.max([p["per_hash"] for p in grab_pos], axis=0).tolist(),
                       clips_rejected=[p for p in clip_pos if p["score"] > CLIP_SCORE_LIMIT
                                       or max(p["per_hash"]) > HASH_AGREEMENT_LIMIT],
                       grabs_rejected=[p for p in grab_pos if p["score"] > IMAGE_SCORE_LIMIT
                                       or max(p["per_hash"]) > HASH_AGREEMENT_LIMIT]),
        negatives=dict(clip_pairs=dist([p[0] for p in clip_neg]), image_pairs=dist([p[0] for p in image_neg]),
                       clip_pairs_accepted=_accepted(clip_neg, CLIP_SCORE_LIMIT),
                       image_pairs_accepted=_accepted(image_neg, IMAGE_SCORE_LIMIT),
                       unrelated_clips_attributed=sum(u["accepted"] > 0 for u in unrelated["clips"]),
                       unrelated_images_attributed=sum(u["accepted"] > 0 for u in unrelated["images"]),
                       closest_unrelated=sorted(unrelated["clips"] + unrelated["images"],
                                                key=lambda u: u["min_score"])[:8]),
    )
    print(json.dumps({k: v for k, v in result.items()}, indent=1, default=float)[:6000])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
