"""Frames → files: H.264 MP4s and JPEG thumbnails, and reading back what a written container holds."""

from __future__ import annotations

import io
import math
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from ..core.errors import MediaError, UndecodableMedia
from .bmff import whole_boxes
from .decode import ffmpeg_reason, stream_fps

__all__ = ["encode_mp4", "thumbnail_jpeg", "read_container_metadata", "probe_mp4"]


def _check_frames(frames: np.ndarray) -> None:
    if not isinstance(frames, np.ndarray):
        raise TypeError(f"frames must be a numpy array, got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be T×H×W×3 RGB, got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {frames.dtype}")
    if frames.shape[0] < 1 or frames.shape[1] < 1 or frames.shape[2] < 1:
        raise ValueError(f"frames must hold at least one non-empty frame, got shape {frames.shape}")


def _pad_to_even(frames: np.ndarray) -> np.ndarray:
    """yuv420p needs even width and height: repeat the last row/column where they are odd."""
    pad_h = frames.shape[1] % 2
    pad_w = frames.shape[2] % 2
    if not pad_h and not pad_w:
        return frames
    return np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def encode_mp4(frames: np.ndarray, fps: float, *, crf: int = 18, preset: str = "medium",
               metadata: dict[str, str] | None = None) -> bytes:
    """Encode T×H×W×3 uint8 RGB frames as an H.264 (libx264, yuv420p, BT.709) MP4 with faststart.

    ``metadata`` entries are written as container-level tags (``moov/udta/meta`` keys), any key name
    allowed — the AIGC implicit label of GB 45438 is one of them.

    Odd widths or heights are padded by one replicated row/column, because 4:2:0
    chroma needs even dimensions; the output can therefore be one pixel larger
    than the input in either direction.
    """
    _check_frames(frames)
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive finite number, got {fps!r}")
    if not 0 <= crf <= 51:
        raise ValueError(f"crf must be within 0..51, got {crf}")
    frames = np.ascontiguousarray(_pad_to_even(frames))
    rate = Fraction(fps).limit_denominator(1001)
    height, width = frames.shape[1:3]

    # PyAV cannot move the moov atom to the front (+faststart) when writing to a
    # BytesIO, because the muxer rewrites the file in a second pass: use a temp file.
    with tempfile.TemporaryDirectory(prefix="hallmark-encode-") as tmp:
        path = Path(tmp) / "out.mp4"
        movflags = "+faststart+use_metadata_tags" if metadata else "+faststart"
        with av.open(str(path), mode="w", format="mp4", options={"movflags": movflags}) as container:
            for key, value in (metadata or {}).items():
                container.metadata[key] = value
            stream = container.add_stream("libx264", rate=rate)
            stream.width = width
            stream.height = height
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(crf), "preset": preset}
            cc = stream.codec_context
            cc.colorspace = av.video.reformatter.Colorspace.ITU709
            cc.color_primaries = 1  # BT.709
            cc.color_trc = 1  # BT.709
            cc.color_range = av.video.reformatter.ColorRange.MPEG
            for index, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame = frame.reformat(
                    format="yuv420p",
                    dst_colorspace=av.video.reformatter.Colorspace.ITU709,
                    dst_color_range=av.video.reformatter.ColorRange.MPEG,
                )
                frame.pts = index
                frame.time_base = 1 / rate
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        return path.read_bytes()


def png_bytes(frame: np.ndarray) -> bytes:
    """One H x W x 3 uint8 frame as a PNG (no metadata)."""
    out = io.BytesIO()
    Image.fromarray(frame).save(out, format="PNG")
    return out.getvalue()


def thumbnail_jpeg(frames: np.ndarray, *, max_side: int = 512, quality: int = 85) -> bytes:
    """Return the middle frame as a JPEG whose longer side is at most ``max_side`` pixels."""
    _check_frames(frames)
    if max_side < 1:
        raise ValueError("max_side must be at least 1")
    image = Image.fromarray(frames[frames.shape[0] // 2])
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


SPRITESHEET_COLUMNS = 5
SPRITESHEET_FRAMES = 25


def spritesheet_jpeg(frames: np.ndarray, *, tile_width: int = 160, quality: int = 80) -> bytes:
    """A JPEG grid of evenly spaced frames, left to right then top to bottom: ``SPRITESHEET_FRAMES`` (fewer for a
    shorter clip) in rows of ``SPRITESHEET_COLUMNS``, each tile ``tile_width`` wide with the clip's aspect ratio."""
    from .sampling import evenly_spaced

    _check_frames(frames)
    picked = frames[evenly_spaced(frames.shape[0], SPRITESHEET_FRAMES)]
    height, width = picked.shape[1:3]
    tile_w = min(tile_width, width)
    tile_h = max(1, round(height * tile_w / width))
    columns = min(SPRITESHEET_COLUMNS, len(picked))
    rows = -(-len(picked) // columns)
    sheet = Image.new("RGB", (columns * tile_w, rows * tile_h))
    for i, frame in enumerate(picked):
        tile = Image.fromarray(frame).resize((tile_w, tile_h), Image.Resampling.LANCZOS)
        sheet.paste(tile, ((i % columns) * tile_w, (i // columns) * tile_h))
    out = io.BytesIO()
    sheet.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def read_container_metadata(data: bytes) -> dict[str, str]:
    """The container-level tags of a video (e.g. the AIGC implicit label)."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            return dict(container.metadata)
    except (av.FFmpegError, ValueError) as exc:
        raise UndecodableMedia(f"Cannot read the container: {exc}") from exc


def probe_mp4(data: bytes) -> dict:
    """Describe the first video stream of a container: codec, size, fps, frame count, duration.

    Frames are counted by demuxing (no decoding). ``faststart`` is True when the
    ``moov`` box precedes ``mdat``.
    """
    if len(data) == 0:
        raise UndecodableMedia("Cannot probe an empty file (0 bytes).")
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise UndecodableMedia("The file contains no video stream.")
            stream = container.streams.video[0]
            cc = stream.codec_context
            info = {
                "container": container.format.name,
                "codec": cc.name,
                "profile": cc.profile,
                "pix_fmt": cc.pix_fmt,
                "width": cc.width,
                "height": cc.height,
                "fps": stream_fps(stream),
                "declared_frames": int(stream.frames or 0),
            }
            packets = 0
            end = 0
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue  # the flush packet
                packets += 1
                if packet.pts is not None:
                    end = max(end, packet.pts + (packet.duration or 0))
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif end and stream.time_base is not None:
                duration = float(end * stream.time_base)
            else:
                duration = float(container.duration or 0) / av.time_base
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise UndecodableMedia(
            f"Cannot probe the file ({ffmpeg_reason(exc)}); it may be corrupt or not a video."
        ) from exc
    info["frames"] = packets
    info["duration"] = duration
    boxes = [box.type for box in whole_boxes(data)]
    info["faststart"] = "moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat")
    return info
