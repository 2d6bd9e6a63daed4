"""Media I/O for the gateway: sniff, decode and encode video and still images, and walk MP4 boxes."""

from .bmff import top_level_boxes
from .decode import (
    MAX_IMAGE_PIXELS,
    DecodedMedia,
    FrameSelection,
    MediaError,
    UndecodableMedia,
    UnsupportedMediaType,
    decode_media,
)
from .encode import encode_mp4, png_bytes, probe_mp4, read_container_metadata, spritesheet_jpeg, thumbnail_jpeg
from .sampling import WATERMARK_PIXEL_BUDGET, evenly_spaced, watermark_indices
from .sniff import IMAGE_MIME_TYPES, SUPPORTED_FORMATS, VIDEO_MIME_TYPES, sniff_mime
from .uploads import decode_upload

__all__ = [
    "MediaError",
    "UnsupportedMediaType",
    "UndecodableMedia",
    "DecodedMedia",
    "FrameSelection",
    "SUPPORTED_FORMATS",
    "VIDEO_MIME_TYPES",
    "IMAGE_MIME_TYPES",
    "MAX_IMAGE_PIXELS",
    "sniff_mime",
    "decode_media",
    "decode_upload",
    "encode_mp4",
    "thumbnail_jpeg",
    "spritesheet_jpeg",
    "png_bytes",
    "read_container_metadata",
    "probe_mp4",
    "top_level_boxes",
    "evenly_spaced",
    "watermark_indices",
    "WATERMARK_PIXEL_BUDGET",
]
