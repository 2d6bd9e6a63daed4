"""What the per-segment timeline costs: the verifier timed with and without it on a 10 s 720p clip (marked and
registered) and on a 10 s 720p splice (4 s of it, then 6 s of other footage), plus how few frames of a marked clip
still decode the mark as marked (the timeline's per-window pixel budget).

    .venv/bin/python -m bench.verify.timeline          # table on stdout, JSON in bench/results/verify_timeline.json
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import tempfile
import time

import numpy as np

import watermark
from bench.watermark import content
from gateway.bootstrap import Runtime
from gateway.core.ids import content_id_hex
from gateway.core.settings import Settings
from gateway.media import decode_media, encode_mp4
from gateway.registry.fingerprint import fingerprint_frames
from gateway.registry.records import Registry

FPS = 24.0
RESULTS = pathlib.Path(__file__).resolve().parents[1] / "results" / "verify_timeline.json"


def _time(rt: Runtime, upload: bytes, timeline: bool, runs: int) -> tuple[list[float], list[float], object]:
    """Wall and CPU seconds per run (CPU: less at the mercy of whatever else shares the cores)."""
    timings, cpu, verdict = [], [], None
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), time.process_time()
        verdict = rt.verification.verify(upload, tenant=None, actor="bench", timeline=timeline)
        timings.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    return timings, cpu, verdict


def frames_needed(sizes=((128, 128), (360, 640), (720, 1280)), counts=(1, 2, 4, 8, 12, 24)) -> list[dict]:
    """Per size and frame count: how many 1 s windows of a marked CRF-23 clip decode the mark as marked."""
    rows = []
    for height, width in sizes:
        clip = watermark.embed(content.camera_clip(48, height, width, seed=5, move="pan"), 0x1234567890ABCDEF)
        frames = decode_media(encode_mp4(clip, FPS, crf=23)).frames
        for n in counts:
            starts = range(0, 48 - 24 + 1, 6)
            found = sum(watermark.extract(frames[s:s + 24][np.linspace(0, 23, n).round().astype(int)],
                                          search=False).payload == 0x1234567890ABCDEF for s in starts)
            rows.append({"size": f"{width}x{height}", "frames": n, "found": found, "windows": len(starts)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true", help="skip the frames-needed table")
    args = parser.parse_args()
    ours = 0x7E57C1A5C0FFEE01
    clip = content.camera_clip(int(10 * FPS), 720, 1280, seed=4242, move="pan")
    marked = watermark.embed(clip, ours)
    other = content.camera_clip(int(6 * FPS), 720, 1280, seed=4343, move="zoom")
    cases = {"10 s 720p, ours": encode_mp4(marked, FPS, crf=23),
             "10 s 720p, 4 s ours + 6 s other": encode_mp4(np.concatenate([marked[:int(4 * FPS)], other]), FPS,
                                                            crf=23)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rt = Runtime(Settings(data_dir=pathlib.Path(tmp) / "data"))
        try:
            Registry(rt.db).record(content_id=ours, video_id="video_bench", tenant="t", model="m", asset=b"x",
                                   frame_hashes=fingerprint_frames(marked), watermark_alg=watermark.ALGORITHM,
                                   manifest_id=None, manifest_store=None)
            for name, upload in cases.items():
                _time(rt, upload, True, 1)  # warm-up: imports, the registry index
                plain, plain_cpu, _ = _time(rt, upload, False, args.runs)
                timed, timed_cpu, verdict = _time(rt, upload, True, args.runs)
                ours_hex = content_id_hex(ours)
                marks = "".join("W" if s.watermark.content_id == ours_hex else "." for s in verdict.timeline)
                regs = "".join("R" if s.registry and s.registry.content_id == ours_hex else "."
                               for s in verdict.timeline)
                rows.append({"case": name, "without_s": float(np.median(plain)), "with_s": float(np.median(timed)),
                             "without_cpu_s": float(np.median(plain_cpu)), "with_cpu_s": float(np.median(timed_cpu)),
                             "without_runs": plain, "with_runs": timed, "segments": len(verdict.timeline),
                             "watermark_by_segment": marks, "registry_by_segment": regs})
        finally:
            rt.close()
    needed = [] if args.quick else frames_needed()
    print(f"{'case':34} {'without s (cpu)':>15} {'with s (cpu)':>13}  segments (W watermark, R registry)")
    for row in rows:
        print(f"{row['case']:34} {row['without_s']:6.2f} ({row['without_cpu_s']:4.2f}) {row['with_s']:6.2f} "
              f"({row['with_cpu_s']:4.2f})  {row['watermark_by_segment']} {row['registry_by_segment']}")
    print("\nframes per 1 s window, read as marked (CRF 23): windows decoded")
    for row in needed:
        print(f"  {row['size']:>9} {row['frames']:2d} frames: {row['found']}/{row['windows']}")
    result = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cpus, load {open('/proc/loadavg').read().split()[:3]}",
              "verify": rows, "frames_needed": needed}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
