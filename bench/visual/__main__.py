"""bench/visual: the picture screens (classifiers.visual) and what they add to a generation.

- image classifier: scores on benign pictures we may use (scikit-image's sample photographs, the two portraits in
  tests/data, rendered still scenes, frames of the built-in model's clips) → false positives at the packs'
  thresholds; recall is not measured (no explicit set we may lawfully hold); per-image latency on one thread;
- PDQ: distance of each picture to itself after crop 10 %, resize 50 %, JPEG 50 and H.264 CRF 28, the match rate at
  the operating distance, and false matches of N unrelated frames against a list of every original;
- faces: true accepts (same person after the same attacks, plus flip, brightness, small rotation) and false accepts
  (the other person) at 0.5 and 0.6 on the portraits we may use;
- added time per clip: the output screen on a 4 s 256×256 built-in clip against its generation time.

Run: ``.venv/bin/python -m bench.visual [--unrelated 10000] [--clips 6] [--only-added-time] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pathlib
import platform
import time

import numpy as np
from PIL import Image, ImageDraw

from classifiers.visual import (
    FACE_MATCH_DISTANCE,
    PDQ_MATCH_DISTANCE,
    FaceEmbedder,
    SexualImageScorer,
    face_distances,
    pdq_distances,
    pdq_hash,
    pdq_hex_to_bits,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "visual.json"
DATA = ROOT / "tests" / "data"
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "camera", "rocket", "motorcycle_left", "hubble_deep_field",
                  "coins", "horse", "retina", "immunohistochemistry", "page", "grass", "gravel", "brick", "moon")
PROMPTS = ("a red circle moving right on a black background", "a blue square moving up on a white background",
           "a green triangle spinning on a grey background", "a yellow ball bouncing on a purple background",
           "two white circles moving apart on a black background", "an orange square moving left on a blue background")


# -- pictures ------------------------------------------------------------------------------------------------------
def _rgb(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.dtype != np.uint8:
        array = (255 * (array.astype(np.float64) / max(1e-9, float(array.max())))).astype(np.uint8)
    return np.ascontiguousarray(array[..., :3])


def photographs() -> dict[str, np.ndarray]:
    """scikit-image's sample photographs (public domain or CC0, as its docstrings state) and tests/data's portraits."""
    out = {}
    try:
        import skimage.data as data

        for name in SKIMAGE_PHOTOS:
            try:
                out[name] = _rgb(getattr(data, name)())
            except Exception:  # a sample that needs a download (pooch) is skipped
                continue
    except ImportError:
        pass
    for name in ("astronaut", "chelsea", "hopper"):
        out.setdefault(name if name != "astronaut" else "astronaut_256", _rgb(Image.open(DATA / f"{name}.jpg")))
    return out


def rendered_scenes(count: int, seed: int = 7, size: int = 256) -> list[np.ndarray]:
    """COCO-style still scenes, rendered: a sky/ground gradient, textured noise and a few filled shapes each."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        ramp = np.linspace(0, 1, size)[:, None, None]
        image = (top * (1 - ramp) + bottom * ramp).repeat(size, axis=1)
        image = np.clip(image + rng.normal(0, rng.uniform(2, 25), image.shape), 0, 255).astype(np.uint8)
        canvas = Image.fromarray(image)
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(rng.integers(2, 9))):
            x0, y0 = rng.integers(-40, size, 2)
            w, h = rng.integers(10, size // 2, 2)
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            box = [int(x0), int(y0), int(x0 + w), int(y0 + h)]
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
        frames.append(np.asarray(canvas))
    return frames


def generated_clips(count: int) -> tuple[list[np.ndarray], list[float]]:
    """``count`` 4 s 256×256 clips of the built-in model and the seconds each took."""
    from generator import GenerationRequest, load_builtin

    model = load_builtin()
    clips, seconds = [], []
    for k in range(count):
        started = time.perf_counter()
        clip = model.generate(GenerationRequest(prompt=PROMPTS[k % len(PROMPTS)], seconds=4.0, size=(256, 256),
                                                seed=100 + k))
        seconds.append(time.perf_counter() - started)
        clips.append(clip.frames)
    return clips, seconds


# -- attacks -------------------------------------------------------------------------------------------------------
def crop10(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[:2]
    dy, dx = round(h * 0.05), round(w * 0.05)  # 10 % of each side's length in all, 5 % off each edge
    return np.ascontiguousarray(x[dy:h - dy, dx:w - dx])


def resize50(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[:2]
    return np.asarray(Image.fromarray(x).resize((max(1, w // 2), max(1, h // 2)), Image.BILINEAR))


def jpeg50(x: np.ndarray) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(x).save(buf, format="JPEG", quality=50)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def h264_crf28(x: np.ndarray) -> np.ndarray:
    from gateway.media import decode_media, encode_mp4

    h, w = (d - d % 2 for d in x.shape[:2])
    clip = np.stack([x[:h, :w]] * 8)
    return decode_media(encode_mp4(clip, 8.0, crf=28)).frames[4]


def flip(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x[:, ::-1])


def brighter(x: np.ndarray) -> np.ndarray:
    return np.clip(x.astype(int) + 25, 0, 255).astype(np.uint8)


def rotate5(x: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(x).rotate(5, resample=Image.BILINEAR))


PDQ_ATTACKS = {"crop10": crop10, "resize50": resize50, "jpeg50": jpeg50, "h264_crf28": h264_crf28}
FACE_ATTACKS = {**PDQ_ATTACKS, "flip": flip, "brightness+25": brighter, "rotate5": rotate5}


# -- measurements --------------------------------------------------------------------------------------------------
def bench_classifier(scorer: SexualImageScorer, named: dict[str, np.ndarray], scenes: list[np.ndarray],
                     frames: list[np.ndarray]) -> dict:
    groups = {"photographs": list(named.values()), "rendered_scenes": scenes, "generated_frames": frames}
    out: dict = {"recall": "not measured: no labelled sexual image set we may lawfully hold and use"}
    for group, pictures in groups.items():
        scores = scorer.score(pictures)
        out[group] = {"n": len(pictures), "max": float(scores.max()), "p99": float(np.percentile(scores, 99)),
                      "mean": float(scores.mean()), "at_or_above_0.5": int((scores >= 0.5).sum()),
                      "at_or_above_0.8": int((scores >= 0.8).sum())}
    out["photograph_scores"] = {name: round(float(s), 4) for name, s in zip(named, scorer.score(list(named.values())))}
    sample = (list(named.values()) + scenes)[:40]
    for picture in sample[:3]:
        scorer.score([picture])
    times = []
    for picture in sample:
        started = time.perf_counter()
        scorer.score([picture])
        times.append(1000 * (time.perf_counter() - started))
    out["ms_per_image"] = {"p50": float(np.median(times)), "p95": float(np.percentile(times, 95))}
    return out


def bench_pdq(originals: list[np.ndarray], unrelated: list[np.ndarray]) -> dict:
    from gateway.moderation.hashlists import PDQ_MIN_QUALITY

    base = [pdq_hash(x) for x in originals]
    out: dict = {"originals": len(originals), "operating_distance": PDQ_MATCH_DISTANCE,
                 "originals_below_quality": sum(q < PDQ_MIN_QUALITY for _, q in base), "attacks": {}}
    for name, attack in PDQ_ATTACKS.items():
        distances = []
        for x, (h, q) in zip(originals, base):
            if q < PDQ_MIN_QUALITY:
                continue
            distances.append(int(pdq_distances(pdq_hex_to_bits(pdq_hash(attack(x))[0]),
                                               pdq_hex_to_bits(h)[None, :])[0]))
        d = np.asarray(distances)
        out["attacks"][name] = {"n": len(d), "median": float(np.median(d)), "p90": float(np.percentile(d, 90)),
                                "max": int(d.max()), "match_rate_at_31": float((d <= PDQ_MATCH_DISTANCE).mean()),
                                "match_rate_at_63": float((d <= 63).mean())}
    stored = np.stack([pdq_hex_to_bits(h) for h, q in base if q >= PDQ_MIN_QUALITY])
    started = time.perf_counter()
    nearest, skipped = [], 0
    for x in unrelated:
        h, q = pdq_hash(x)
        if q < PDQ_MIN_QUALITY:
            skipped += 1
            continue
        nearest.append(int(pdq_distances(pdq_hex_to_bits(h), stored).min()))
    n = np.asarray(nearest)
    out["unrelated"] = {"n": len(unrelated), "below_quality_not_matched": skipped, "matched_against": len(stored),
                        "nearest_min": int(n.min()), "nearest_p01": float(np.percentile(n, 1)),
                        "nearest_median": float(np.median(n)),
                        "false_matches_at_31": int((n <= PDQ_MATCH_DISTANCE).sum()),
                        "ms_per_frame_hash_and_match": 1000 * (time.perf_counter() - started) / max(1, len(unrelated))}
    return out


def bench_faces(embedder: FaceEmbedder, people: dict[str, np.ndarray]) -> dict:
    enrolled = {}
    for name, x in people.items():
        faces = embedder.embed(x, max_faces=1)
        if faces:
            enrolled[name] = faces[0].vector
    genuine, impostor, missed = [], [], 0
    for name, x in people.items():
        for attack_name, attack in FACE_ATTACKS.items():
            faces = embedder.embed(attack(x), max_faces=1)
            if not faces:
                missed += 1
                continue
            for other, vector in enrolled.items():
                d = float(face_distances(faces[0].vector, vector[None, :])[0])
                same = other.split("_")[0] == name.split("_")[0]  # astronaut_512 is the astronaut
                (genuine if same else impostor).append((name, attack_name, other, round(d, 4)))
    g = np.asarray([d for *_, d in genuine])
    i = np.asarray([d for *_, d in impostor])
    times = []
    for x in list(people.values()) * 3:
        started = time.perf_counter()
        embedder.embed(x)
        times.append(1000 * (time.perf_counter() - started))
    return {"people": list(enrolled), "attacks": list(FACE_ATTACKS), "faces_not_found_after_attack": missed,
            "genuine_pairs": len(g), "impostor_pairs": len(i),
            "true_accept_at_0.5": float((g <= 0.5).mean()), "true_accept_at_0.6": float((g <= 0.6).mean()),
            "false_accept_at_0.5": float((i <= 0.5).mean()), "false_accept_at_0.6": float((i <= 0.6).mean()),
            "genuine_max": float(g.max()), "impostor_min": float(i.min()), "operating_distance": FACE_MATCH_DISTANCE,
            "pairs": {"genuine": genuine, "impostor": impostor},
            "ms_per_image_with_one_face": {"p50": float(np.median(times)), "max": float(max(times))}}


def bench_added_time(clips: list[np.ndarray], gen_seconds: list[float], list_size: int) -> dict:
    """The output screen as the worker runs it (9 sampled frames: sexual score, PDQ against a list of ``list_size``
    hashes, faces against one registered character), without the database round trips."""
    from gateway.media import evenly_spaced
    from gateway.moderation.visual import OUTPUT_FRAMES

    scorer, embedder = SexualImageScorer(), FaceEmbedder()
    rng = np.random.default_rng(3)
    hash_list = rng.integers(0, 256, (list_size, 32), dtype=np.uint8)
    character = rng.normal(0, 0.1, (4, 128)).astype(np.float32)
    per_clip, per_frame = [], []
    parts = {"sexual": 0.0, "pdq_and_list": 0.0, "faces": 0.0}
    for frames in clips:
        indices = evenly_spaced(len(frames), OUTPUT_FRAMES)
        started = time.perf_counter()
        pictures = [frames[i] for i in indices]
        scorer.score(pictures)
        parts["sexual"] += time.perf_counter() - started
        for picture in pictures:
            t0 = time.perf_counter()
            h, _ = pdq_hash(picture)
            pdq_distances(pdq_hex_to_bits(h), hash_list)
            t1 = time.perf_counter()
            for face in embedder.embed(picture):
                face_distances(face.vector, character)
            parts["pdq_and_list"] += t1 - t0
            parts["faces"] += time.perf_counter() - t1
        elapsed = time.perf_counter() - started
        per_clip.append(elapsed)
        per_frame.append(1000 * elapsed / len(indices))
    sampled = OUTPUT_FRAMES * len(clips)
    generation = float(np.median(gen_seconds))
    screen = float(np.median(per_clip))
    return {"clips": len(clips), "frames_per_clip": int(len(clips[0])), "sampled_frames": OUTPUT_FRAMES,
            "generation_s_median": generation, "screen_s_median": screen, "added_fraction": screen / generation,
            "ms_per_sampled_frame_median": float(np.median(per_frame)),
            "ms_per_sampled_frame_max": float(max(per_frame)),
            "ms_per_sampled_frame_by_part": {k: 1000 * v / sampled for k, v in parts.items()},
            "load_average": os.getloadavg(), "hash_list_size": list_size,
            "bars": {"added_fraction": 0.15, "ms_per_sampled_frame": 50.0}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unrelated", type=int, default=10_000, help="unrelated frames for PDQ false matches")
    parser.add_argument("--clips", type=int, default=6, help="4 s 256×256 built-in clips to generate")
    parser.add_argument("--list-size", type=int, default=100_000, help="hash list size for the added-time run")
    parser.add_argument("--only-added-time", action="store_true",
                        help="measure only the added time per clip (for a rerun on a quiet machine)")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    started = time.time()
    named = photographs()
    clips, gen_seconds = generated_clips(args.clips)
    frames = [clip[i] for clip in clips for i in np.linspace(0, len(clip) - 1, 9).round().astype(int)]
    scenes = rendered_scenes(200)
    result = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                          "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()},
              "date": time.strftime("%Y-%m-%d", time.gmtime())}
    result["added_time"] = bench_added_time(clips, gen_seconds, args.list_size)
    print(json.dumps(result["added_time"], indent=1))
    if args.only_added_time:
        result["machine"]["load_average_at_end"] = os.getloadavg()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, default=float))
        return
    result["classifier"] = bench_classifier(SexualImageScorer(), named, scenes, frames)
    print(json.dumps({k: v for k, v in result["classifier"].items() if k != "photograph_scores"}, indent=1))
    # Unrelated frames: rendered scenes (another seed) and every frame of the generated clips.
    every_frame = [f for clip in clips for f in clip]
    unrelated = rendered_scenes(max(0, args.unrelated - len(every_frame)), seed=11) + every_frame
    result["pdq"] = bench_pdq(list(named.values()) + rendered_scenes(100, seed=5), unrelated[:args.unrelated])
    print(json.dumps(result["pdq"], indent=1))
    people = {"astronaut": _rgb(Image.open(DATA / "astronaut.jpg")), "hopper": _rgb(Image.open(DATA / "hopper.jpg"))}
    try:
        import skimage.data as data

        people["astronaut_512"] = _rgb(data.astronaut())
    except ImportError:
        pass
    result["faces"] = bench_faces(FaceEmbedder(), people)
    print(json.dumps({k: v for k, v in result["faces"].items() if k != "pairs"}, indent=1))
    result["machine"]["load_average_at_end"] = os.getloadavg()
    result["seconds"] = time.time() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=float))
    print(f"wrote {args.out} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
