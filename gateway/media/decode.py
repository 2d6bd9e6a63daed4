"""Bytes → frames: the one place where uploads are decoded (PyAV for video, Pillow for images).

Every failure on untrusted input is a typed :class:`MediaError` carrying an HTTP status and a stable error code.
"""

from __future__ import annotations

import io
import math
import threading
from dataclasses import dataclass
from typing import Callable, Sequence

import av
import numpy as np
from PIL import Image

from ..core.errors import MediaError, UndecodableMedia, UnsupportedMediaType
from .bmff import truncation
from .sniff import IMAGE_MIME_TYPES, describe_supported, describe_unknown, sniff_mime

__all__ = [
    "MediaError",
    "UnsupportedMediaType",
    "UndecodableMedia",
    "DecodedMedia",
    "FrameSelection",
    "MAX_IMAGE_PIXELS",
    "decode_media",
]

# Images larger than this are refused before their pixels are decoded (Pillow's own bomb limit is 89 MP).
MAX_IMAGE_PIXELS = 64_000_000
# Below the refusal, a large image still costs its full-size decode (Pillow cannot decode a PNG, WebP or GIF at
# reduced size; a JPEG it can). That buffer is the only full-size one: the image is then shrunk band by band to less
# than 4 × max_pixels before it is resampled. Images past LARGE_IMAGE_PIXELS decode at most LARGE_DECODES at a time,
# so concurrent uploads of large images cannot multiply that buffer.
LARGE_IMAGE_PIXELS = 16_000_000
LARGE_DECODES = 2
_large_decodes = threading.BoundedSemaphore(LARGE_DECODES)
_BAND_PIXELS = 2_000_000  # rows converted to RGB at a time while shrinking
_EXIF_ORIENTATION = 0x0112
_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
              5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}


@dataclass
class DecodedMedia:
    """Frames decoded from an upload: ``frames`` is T×H×W×3 uint8 RGB (T=1 for an image).

    With a frame selection (``decode_media(select=...)``) ``frames`` holds one frame per selected index and
    ``indices`` the source index each stands for; ``total_frames`` is the source's frame count either way."""

    frames: np.ndarray
    fps: float
    mime: str
    is_image: bool
    total_frames: int = 0
    indices: np.ndarray | None = None


FrameSelection = Callable[[int, int, int], Sequence[int]]
"""(frame count, height, width) of a video → the source frame indices wanted (see ``decode_media``)."""


def decode_media(data: bytes, *, max_frames: int = 600, max_pixels: int = 1920 * 1080,
                 select: FrameSelection | None = None) -> DecodedMedia:
    """Decode a video or image into RGB frames.

    At most ``max_frames`` frames are decoded (the rest of a longer video is ignored);
    frames with more than ``max_pixels`` pixels are downscaled, keeping the aspect ratio.

    ``select`` asks for some frames of a video only: it is called with the frame count (at most
    ``max_frames``) and the frame size, and returns the indices wanted. Only those frames are converted
    to RGB, and when fewer than half the frames are wanted the decoder skips the frames no other frame
    refers to (non-reference B-frames), so each index gets the nearest frame decoded (a frame or two
    away at most). Images ignore it.

    Raises:
        UnsupportedMediaType: the bytes are not a supported video or image format.
        UndecodableMedia: empty input, or a supported format that cannot be decoded,
            is truncated, or holds no frames.
    """
    if max_frames < 1:
        raise ValueError("max_frames must be at least 1")
    if max_pixels < 1:
        raise ValueError("max_pixels must be at least 1")
    if len(data) == 0:
        raise UndecodableMedia("The upload is empty (0 bytes); send the video or image file's contents.")
    mime = sniff_mime(data)
    if mime is None:
        raise UnsupportedMediaType(
            f"The upload is not a supported video or image ({describe_unknown(data)}); "
            f"send {describe_supported('video')} video, or a {describe_supported('image')} image."
        )
    if mime in IMAGE_MIME_TYPES:
        return _decode_image(data, mime, max_pixels)
    if select is not None:
        return _decode_video_selected(data, mime, max_frames, max_pixels, select)
    return _decode_video(data, mime, max_frames, max_pixels)


def _scaled_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    if width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _decode_image(data: bytes, mime: str, max_pixels: int) -> DecodedMedia:
    try:
        with Image.open(io.BytesIO(data)) as img:
            # Only the header has been read: refuse absurd sizes before decoding pixels.
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise UndecodableMedia(
                    f"The {mime} image is {img.width}×{img.height} pixels, more than the "
                    f"{MAX_IMAGE_PIXELS:,} this service decodes; send a smaller image."
                )
            large = img.width * img.height > LARGE_IMAGE_PIXELS
            if large:
                _large_decodes.acquire()
            try:
                img.seek(0)  # animated GIF/WebP: the first frame stands for the image
                if mime == "image/jpeg":
                    img.draft("RGB", _scaled_size(img.width, img.height, max_pixels))  # DCT-domain downscale
                img.load()
                orientation = img.getexif().get(_EXIF_ORIENTATION)
                rgb = _shrunk_rgb(img, max_pixels)
            finally:
                if large:
                    _large_decodes.release()
        width, height = _scaled_size(rgb.width, rgb.height, max_pixels)
        if (width, height) != rgb.size:
            rgb = rgb.resize((width, height), Image.Resampling.LANCZOS)
        if orientation in _TRANSPOSE:
            rgb = rgb.transpose(_TRANSPOSE[orientation])
        frame = np.asarray(rgb, dtype=np.uint8)
    except MediaError:
        raise
    except Image.DecompressionBombError as exc:
        raise UndecodableMedia(f"The {mime} image is too large to decode safely: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise UndecodableMedia(
            f"The upload looks like {mime} but cannot be decoded ({exc}); the file may be corrupt or truncated."
        ) from exc
    return DecodedMedia(frames=frame[np.newaxis].copy(), fps=0.0, mime=mime, is_image=True, total_frames=1)


def _shrunk_rgb(img: Image.Image, max_pixels: int) -> Image.Image:
    """The decoded image in RGB, box-reduced by the largest whole factor that keeps it at least the size it is
    resampled to; converted a band of rows at a time, so no second full-size copy is ever made."""
    width, height = _scaled_size(img.width, img.height, max_pixels)
    factor = max(1, min(img.width // width, img.height // height))
    if factor == 1 and img.width * img.height <= _BAND_PIXELS:
        return img.convert("RGB")
    band = max(factor, _BAND_PIXELS // img.width // factor * factor)
    out = Image.new("RGB", (-(-img.width // factor), -(-img.height // factor)))
    for top in range(0, img.height, band):
        part = img.crop((0, top, img.width, min(top + band, img.height))).convert("RGB")
        out.paste(part.reduce(factor) if factor > 1 else part, (0, top // factor))
    return out


def ffmpeg_reason(exc: BaseException) -> str:
    """FFmpeg errors carry errno noise; keep the human part."""
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def stream_fps(stream: av.video.stream.VideoStream) -> float:
    """The stream's frame rate, from the first of its average, guessed and base rates that is usable; else 0."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            value = float(rate)
            if math.isfinite(value) and value > 0:
                return value
    return 0.0


def _reject_truncated(data: bytes, mime: str) -> None:
    if mime in ("video/mp4", "video/quicktime"):
        cut = truncation(data)
        if cut:
            raise UndecodableMedia(f"The {mime} file is truncated: {cut}.")


def _video_stream(container, mime: str):
    """The first video stream, decoded with frame threads; a file without one is undecodable."""
    if not container.streams.video:
        raise UndecodableMedia(f"The {mime} file contains no video stream.")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return stream


def _undecodable(mime: str, exc: BaseException) -> UndecodableMedia:
    return UndecodableMedia(
        f"The upload looks like {mime} but cannot be decoded ({ffmpeg_reason(exc)}); "
        "the file may be corrupt or truncated."
    )


def _decode_video(data: bytes, mime: str, max_frames: int, max_pixels: int) -> DecodedMedia:
    _reject_truncated(data, mime)
    frames: list[np.ndarray] = []
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = _video_stream(container, mime)
            fps = stream_fps(stream)
            declared_frames = int(stream.frames or 0)
            for frame in container.decode(stream):
                width, height = _scaled_size(frame.width, frame.height, max_pixels)
                frames.append(frame.to_ndarray(width=width, height=height, format="rgb24"))
                if len(frames) >= max_frames:
                    break
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise _undecodable(mime, exc) from exc
    if not frames:
        raise UndecodableMedia(f"The {mime} file holds no decodable video frames; it may be truncated or corrupt.")
    # Edit lists can legitimately hide a few declared frames; losing half of them is corruption.
    if declared_frames and len(frames) < min(declared_frames, max_frames) // 2:
        raise UndecodableMedia(
            f"The {mime} file declares {declared_frames} frames but only {len(frames)} could be decoded; "
            "it is truncated or corrupt."
        )
    # Mid-stream resolution changes: bring every frame to the first frame's size.
    frames = _same_size(frames)
    return DecodedMedia(frames=np.stack(frames), fps=fps, mime=mime, is_image=False, total_frames=len(frames))


def _same_size(frames: list[np.ndarray]) -> list[np.ndarray]:
    shape = frames[0].shape
    return [f if f.shape == shape else np.asarray(Image.fromarray(f).resize((shape[1], shape[0]))) for f in frames]


def _count_packets(data: bytes) -> int:
    with av.open(io.BytesIO(data), mode="r") as container:
        return sum(1 for packet in container.demux(container.streams.video[0]) if packet.size)


def _decode_video_selected(data: bytes, mime: str, max_frames: int, max_pixels: int,
                           select: FrameSelection) -> DecodedMedia:
    _reject_truncated(data, mime)
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = _video_stream(container, mime)
            fps = stream_fps(stream)
            declared = int(stream.frames or 0)
            total = min(declared or _count_packets(data), max_frames)
            cc = stream.codec_context
            width, height = _scaled_size(cc.width or 1, cc.height or 1, max_pixels)
            wanted = sorted({int(i) for i in select(total, height, width) if 0 <= int(i) < max(total, 1)})
            if not wanted:
                raise ValueError("the frame selection is empty")
            # Frame positions from timestamps, so that skipped frames do not shift the ones after them.
            timed = bool(fps) and stream.time_base is not None
            if timed and 2 * len(wanted) < total:
                cc.skip_frame = "NONREF"
            # Each wanted index takes the nearer of the last frame at or before it and the first frame after it; a
            # frame is converted to RGB only once it is chosen.
            chosen: dict[int, np.ndarray] = {}
            rgb_of: dict[int, np.ndarray] = {}

            def rgb(position: int, frame) -> np.ndarray:
                if position not in rgb_of:
                    w, h = _scaled_size(frame.width, frame.height, max_pixels)
                    rgb_of.clear()  # at most the previous and the current frame are ever needed again
                    rgb_of[position] = frame.to_ndarray(width=w, height=h, format="rgb24")
                return rgb_of[position]

            first_pts = None
            previous = None  # (position, frame)
            last = -1
            pending = 0  # wanted[pending] is the next index without a frame
            for count, frame in enumerate(container.decode(stream)):
                if timed and frame.pts is not None:
                    first_pts = frame.pts if first_pts is None else first_pts
                    position = round(float((frame.pts - first_pts) * stream.time_base) * fps)
                else:
                    position = count
                if position >= total:
                    break
                if position <= last:
                    continue
                last = position
                while pending < len(wanted) and wanted[pending] <= position:
                    target = wanted[pending]
                    if previous is not None and target - previous[0] < position - target:
                        chosen[target] = rgb(*previous)
                    else:
                        chosen[target] = rgb(position, frame)
                    pending += 1
                if pending == len(wanted):
                    break
                previous = (position, frame)
            if previous is not None:
                for target in wanted[pending:]:  # past the last decoded frame: it stands for them
                    chosen[target] = rgb(*previous)
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise _undecodable(mime, exc) from exc
    if not chosen:
        raise UndecodableMedia(f"The {mime} file holds no decodable video frames; it may be truncated or corrupt.")
    if total and last + 1 < min(total, wanted[-1] + 1) // 2:
        raise UndecodableMedia(
            f"The {mime} file declares {total} frames but only {last + 1} could be decoded; "
            "it is truncated or corrupt."
        )
    indices = [i for i in wanted if i in chosen]
    return DecodedMedia(frames=np.stack(_same_size([chosen[i] for i in indices])), fps=fps, mime=mime,
                        is_image=False, total_frames=total, indices=np.array(indices, dtype=int))
