"""A picture to look at for flicker: original, marked, the mark and its frame-to-frame change, side by side.

    python -m bench.watermark.flicker [--clip "pan 640x360 (rocket)"] [--out bench/results/watermark_flicker.png]

Rows are frames 0, 1, 12 and 24 of a bench clip. Columns: the original frame, the marked frame,
the luma mark amplified 20x around mid-grey, and the change of the mark since the previous
frame amplified 20x (flat grey = no temporal change; speckle = flicker). The numbers printed are
the RMS of the mark and of its frame-to-frame change, per frame pair, in luma levels. It also
writes the marked and original clips side by side as an MP4 (H.264 CRF 12), to play.
"""

from __future__ import annotations

import argparse
import pathlib

import cv2
import numpy as np

import watermark
from bench.watermark import attacks, content

_LUMA = np.array([0.299, 0.587, 0.114])
OUT = pathlib.Path(__file__).resolve().parents[1] / "results" / "watermark_flicker.png"


def _grey(plane: np.ndarray, gain: float) -> np.ndarray:
    img = np.clip(128 + gain * plane, 0, 255).astype(np.uint8)
    return np.repeat(img[..., None], 3, axis=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clip", default="pan 640x360 (rocket)")
    parser.add_argument("--out", type=pathlib.Path, default=OUT)
    parser.add_argument("--gain", type=float, default=20.0)
    args = parser.parse_args()
    clips = dict(content.bench_clips(quick=True))
    clip = clips[args.clip]
    marked = watermark.embed(clip, 0x0123456789ABCDEF)
    mark = (marked.astype(np.float64) - clip) @ _LUMA
    rows = []
    for t in (0, 1, 12, 24):
        step = mark[t] - mark[t - 1] if t > 0 else np.zeros_like(mark[t])
        print(f"frame {t}: mark RMS {np.sqrt(np.mean(mark[t] ** 2)):.2f}, change since previous frame RMS "
              f"{np.sqrt(np.mean(step ** 2)):.3f} (max |change| {np.abs(step).max():.1f})")
        rows.append(np.concatenate([clip[t], marked[t], _grey(mark[t], args.gain), _grey(step, args.gain)], axis=1))
    sheet = np.concatenate(rows, axis=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out} ({sheet.shape[1]} x {sheet.shape[0]})")
    steps = np.sqrt(np.mean(np.diff(mark, axis=0) ** 2, axis=(1, 2)))
    print(f"frame-to-frame change of the mark over the clip: RMS median {np.median(steps):.3f}, max {steps.max():.3f} "
          f"levels; PSNR-Y {attacks.psnr(clip, marked):.2f} dB")
    video = np.concatenate([clip, marked], axis=2)
    path = args.out.with_suffix(".mp4")
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height = video.shape[2] - video.shape[2] % 2, video.shape[1] - video.shape[1] % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12"}
        for frame in video[:, : stream.height, : stream.width]:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    print(f"wrote {path} (original left, marked right; {len(video)} frames)")


if __name__ == "__main__":
    main()
