"""The transformations the watermark is claimed to survive, as plain functions on uint8 clips.

Each attack takes and returns a uint8 T x H x W x 3 array, so the robustness table in
bench_watermark.py and the tests use exactly the same code.
"""

from __future__ import annotations

import os
import tempfile

import av
import cv2
import numpy as np


def h264(frames: np.ndarray, *, crf: int, fps: int = 24, preset: str = "medium") -> np.ndarray:
    """Encode to an H.264 (libx264, yuv420p) MP4 through PyAV and decode it back to RGB."""
    t, h, w, _ = frames.shape
    fd, path = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        with av.open(path, mode="w") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height = w, h
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(crf), "preset": preset}
            for frame in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        with av.open(path) as container:
            decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    finally:
        os.unlink(path)
    return np.stack(decoded)


def jpeg(frames: np.ndarray, *, quality: int) -> np.ndarray:
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        out[i] = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return out


def gaussian_noise(frames: np.ndarray, *, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(frames + rng.normal(0.0, sigma, size=frames.shape), 0, 255).astype(np.uint8)


def brightness(frames: np.ndarray, *, offset: int) -> np.ndarray:
    return np.clip(frames.astype(np.int16) + offset, 0, 255).astype(np.uint8)


def resize_and_back(frames: np.ndarray, *, factor: float) -> np.ndarray:
    """Scale by `factor` (area averaging when shrinking) and back to the original size (bilinear)."""
    _, h, w, _ = frames.shape
    small = (max(1, round(w * factor)), max(1, round(h * factor)))
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        down = cv2.resize(frame, small, interpolation=cv2.INTER_AREA)
        out[i] = cv2.resize(down, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


def excerpt(frames: np.ndarray, *, start: int, length: int) -> np.ndarray:
    return frames[start : start + length]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 RGB clips, on BT.601 luma."""
    weights = np.array([0.299, 0.587, 0.114])
    ya, yb = a.astype(np.float64) @ weights, b.astype(np.float64) @ weights
    mse = float(np.mean((ya - yb) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
