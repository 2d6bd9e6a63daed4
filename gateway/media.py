"""Media I/O for the gateway: sniff, decode and encode video and still images.

Owns the one place where bytes become frames (PyAV for video, Pillow for images)
and frames become an H.264 MP4. Every failure on untrusted input is a typed
:class:`MediaError` carrying an HTTP status and a stable error code.
"""

from __future__ import annotations

import io
import math
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import av
import numpy as np
from PIL import Image, ImageOps

__all__ = [
    "MediaError",
    "UnsupportedMediaType",
    "UndecodableMedia",
    "DecodedMedia",
    "VIDEO_MIME_TYPES",
    "IMAGE_MIME_TYPES",
    "MAX_IMAGE_PIXELS",
    "sniff_mime",
    "encode_mp4",
    "decode_media",
    "thumbnail_jpeg",
    "probe_mp4",
    "top_level_boxes",
]

VIDEO_MIME_TYPES = frozenset({"video/mp4", "video/quicktime", "video/webm", "video/x-matroska"})
IMAGE_MIME_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
# Images larger than this are refused before their pixels are decoded (Pillow's own bomb limit is 89 MP).
MAX_IMAGE_PIXELS = 64_000_000
_SUPPORTED_DESCRIPTION = "MP4, QuickTime, WebM or Matroska video, or a JPEG, PNG, WebP or GIF image"


class MediaError(Exception):
    """Base for errors caused by the media a caller supplied (never by our code)."""

    code: str = "media_error"
    status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedMediaType(MediaError):
    """The bytes are not a video or image format we accept (e.g. a text file)."""

    code = "unsupported_media_type"
    status = 415


class UndecodableMedia(MediaError):
    """The bytes look like a supported format but cannot be decoded (corrupt, truncated, empty)."""

    code = "undecodable_media"
    status = 422


# ---------------------------------------------------------------------------
# Sniffing


def sniff_mime(data: bytes) -> str | None:
    """Return the MIME type that the magic bytes of ``data`` announce, or None.

    Only the leading bytes are inspected; a match says what the file claims to be,
    not that it decodes.
    """
    head = bytes(data[:64])
    if len(head) >= 12 and head[4:8] == b"ftyp":
        major_brand = head[8:12]
        return "video/quicktime" if major_brand == b"qt  " else "video/mp4"
    # QuickTime files written by old tools may start with a bare atom instead of ftyp.
    if len(head) >= 8 and head[4:8] in (b"moov", b"wide", b"mdat") and _plausible_box_size(head):
        return "video/quicktime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # EBML header: the DocType element says whether this is WebM or generic Matroska.
        return "video/webm" if b"webm" in bytes(data[:256]) else "video/x-matroska"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def _plausible_box_size(head: bytes) -> bool:
    size = int.from_bytes(head[:4], "big")
    return size == 0 or size == 1 or size >= 8


def _describe_unknown(data: bytes) -> str:
    head = bytes(data[:512])
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return "it looks like text"
    return f"its first bytes are {head[:8].hex(' ')}"


# ---------------------------------------------------------------------------
# Decoding


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
            f"The upload is not a supported video or image ({_describe_unknown(data)}); "
            f"send {_SUPPORTED_DESCRIPTION}."
        )
    if mime in IMAGE_MIME_TYPES:
        image = _decode_image(data, mime, max_pixels)
        image.total_frames = 1
        return image
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
            img.seek(0)  # animated GIF/WebP: the first frame stands for the image
            width, height = _scaled_size(img.width, img.height, max_pixels)
            if mime == "image/jpeg":
                img.draft("RGB", (width, height))  # cheap DCT-domain downscale first
            img.load()
            img = ImageOps.exif_transpose(img)
            rgb = img.convert("RGB")
            width, height = _scaled_size(rgb.width, rgb.height, max_pixels)
            if (width, height) != rgb.size:
                rgb = rgb.resize((width, height), Image.Resampling.LANCZOS)
            frame = np.asarray(rgb, dtype=np.uint8)
    except MediaError:
        raise
    except Image.DecompressionBombError as exc:
        raise UndecodableMedia(f"The {mime} image is too large to decode safely: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise UndecodableMedia(
            f"The upload looks like {mime} but cannot be decoded ({exc}); the file may be corrupt or truncated."
        ) from exc
    return DecodedMedia(frames=frame[np.newaxis].copy(), fps=0.0, mime=mime, is_image=True)


def _reason(exc: BaseException) -> str:
    """FFmpeg errors carry errno noise; keep the human part."""
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _stream_fps(stream: av.video.stream.VideoStream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            value = float(rate)
            if math.isfinite(value) and value > 0:
                return value
    return 0.0


def _bmff_truncation(data: bytes) -> str | None:
    """Where an MP4/MOV's top-level box runs past the end of the data, say so (FFmpeg often decodes on)."""
    offset = 0
    total = len(data)
    while offset + 8 <= total:
        size = int.from_bytes(data[offset : offset + 4], "big")
        box_type = bytes(data[offset + 4 : offset + 8]).decode("latin-1")
        if size == 1 and offset + 16 <= total:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        elif size == 0:
            return None  # "extends to the end of the file"
        if size < 8:
            return None  # not a box boundary we can judge; leave it to the decoder
        if offset + size > total:
            return f"its '{box_type}' box declares {size} bytes but only {total - offset} remain"
        offset += size
    return None


def _reject_truncated(data: bytes, mime: str) -> None:
    if mime in ("video/mp4", "video/quicktime"):
        truncation = _bmff_truncation(data)
        if truncation:
            raise UndecodableMedia(f"The {mime} file is truncated: {truncation}.")


def _video_stream(container, mime: str):
    """The first video stream, decoded with frame threads; a file without one is undecodable."""
    if not container.streams.video:
        raise UndecodableMedia(f"The {mime} file contains no video stream.")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return stream


def _decode_video(data: bytes, mime: str, max_frames: int, max_pixels: int) -> DecodedMedia:
    _reject_truncated(data, mime)
    frames: list[np.ndarray] = []
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = _video_stream(container, mime)
            fps = _stream_fps(stream)
            declared_frames = int(stream.frames or 0)
            for frame in container.decode(stream):
                width, height = _scaled_size(frame.width, frame.height, max_pixels)
                frames.append(frame.to_ndarray(width=width, height=height, format="rgb24"))
                if len(frames) >= max_frames:
                    break
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise UndecodableMedia(
            f"The upload looks like {mime} but cannot be decoded ({_reason(exc)}); "
            "the file may be corrupt or truncated."
        ) from exc
    if not frames:
        raise UndecodableMedia(f"The {mime} file holds no decodable video frames; it may be truncated or corrupt.")
    # Edit lists can legitimately hide a few declared frames; losing half of them is corruption.
    if declared_frames and len(frames) < min(declared_frames, max_frames) // 2:
        raise UndecodableMedia(
            f"The {mime} file declares {declared_frames} frames but only {len(frames)} could be decoded; "
            "it is truncated or corrupt."
        )
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        # Mid-stream resolution changes: bring every frame to the first frame's size.
        height, width = frames[0].shape[:2]
        frames = [
            f if f.shape == frames[0].shape else np.asarray(Image.fromarray(f).resize((width, height)))
            for f in frames
        ]
    return DecodedMedia(frames=np.stack(frames), fps=fps, mime=mime, is_image=False, total_frames=len(frames))


def _count_packets(data: bytes) -> int:
    with av.open(io.BytesIO(data), mode="r") as container:
        return sum(1 for packet in container.demux(container.streams.video[0]) if packet.size)


def _decode_video_selected(data: bytes, mime: str, max_frames: int, max_pixels: int,
                           select: FrameSelection) -> DecodedMedia:
    _reject_truncated(data, mime)
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = _video_stream(container, mime)
            fps = _stream_fps(stream)
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
                if position >= total or position <= last:
                    if position >= total:
                        break
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
            best = chosen
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise UndecodableMedia(
            f"The upload looks like {mime} but cannot be decoded ({_reason(exc)}); "
            "the file may be corrupt or truncated."
        ) from exc
    if not best:
        raise UndecodableMedia(f"The {mime} file holds no decodable video frames; it may be truncated or corrupt.")
    if total and last + 1 < min(total, wanted[-1] + 1) // 2:
        raise UndecodableMedia(
            f"The {mime} file declares {total} frames but only {last + 1} could be decoded; "
            "it is truncated or corrupt."
        )
    frames = [best[i] for i in wanted if i in best]
    shape = frames[0].shape
    frames = [f if f.shape == shape else np.asarray(Image.fromarray(f).resize((shape[1], shape[0]))) for f in frames]
    return DecodedMedia(frames=np.stack(frames), fps=fps, mime=mime, is_image=False, total_frames=total,
                        indices=np.array([i for i in wanted if i in best], dtype=int))


# ---------------------------------------------------------------------------
# Encoding


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


# ---------------------------------------------------------------------------
# Thumbnails and probing


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
                "fps": _stream_fps(stream),
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
        raise UndecodableMedia(f"Cannot probe the file ({_reason(exc)}); it may be corrupt or not a video.") from exc
    info["frames"] = packets
    info["duration"] = duration
    boxes = [box_type for box_type, _, _ in top_level_boxes(data)]
    info["faststart"] = "moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat")
    return info


def top_level_boxes(data: bytes):
    """Yield (type, offset, size) for the top-level ISO-BMFF boxes; stops at anything malformed."""
    offset = 0
    total = len(data)
    while offset + 8 <= total:
        size = int.from_bytes(data[offset : offset + 4], "big")
        box_type = bytes(data[offset + 4 : offset + 8]).decode("latin-1")
        if size == 1:
            if offset + 16 > total:
                return
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        elif size == 0:
            size = total - offset
        if size < 8 or offset + size > total:
            return
        yield box_type, offset, size
        offset += size
