"""What an upload claims to be: its MIME type from the magic bytes, and the formats the gateway accepts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "MediaFormat",
    "SUPPORTED_FORMATS",
    "VIDEO_MIME_TYPES",
    "IMAGE_MIME_TYPES",
    "sniff_mime",
    "describe_supported",
    "describe_unknown",
]


@dataclass(frozen=True)
class MediaFormat:
    mime: str
    name: str  # what a person calls it, for error messages
    kind: Literal["video", "image"]


# Every format sniff_mime recognises decodes (PyAV for video, Pillow for images), so this one list says both
# what is sniffed and what error messages offer.
SUPPORTED_FORMATS: tuple[MediaFormat, ...] = (
    MediaFormat("video/mp4", "MP4", "video"),
    MediaFormat("video/quicktime", "MOV", "video"),
    MediaFormat("video/webm", "WebM", "video"),
    MediaFormat("video/x-matroska", "Matroska", "video"),
    MediaFormat("image/jpeg", "JPEG", "image"),
    MediaFormat("image/png", "PNG", "image"),
    MediaFormat("image/webp", "WebP", "image"),
    MediaFormat("image/gif", "GIF", "image"),
)
VIDEO_MIME_TYPES = frozenset(f.mime for f in SUPPORTED_FORMATS if f.kind == "video")
IMAGE_MIME_TYPES = frozenset(f.mime for f in SUPPORTED_FORMATS if f.kind == "image")


def describe_supported(kind: Literal["video", "image"] | None = None) -> str:
    """The supported formats as a phrase, e.g. "JPEG, PNG, WebP or GIF" (``kind``: only videos or images)."""
    names = [f.name for f in SUPPORTED_FORMATS if kind is None or f.kind == kind]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


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


def describe_unknown(data: bytes) -> str:
    """A hint at what unrecognised bytes are, for an error message: "it looks like text" or their first bytes."""
    head = bytes(data[:512])
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return "it looks like text"
    return f"its first bytes are {head[:8].hex(' ')}"
