"""Uploaded media → frames, with the gateway's error for each way it can fail (415 not media, 422 undecodable)."""

from __future__ import annotations

from ..core.errors import MediaError, UndecodableMedia, UnsupportedMediaType
from .decode import DecodedMedia, FrameSelection, decode_media
from .sniff import describe_supported, sniff_mime

__all__ = ["decode_upload"]


def decode_upload(data: bytes, *, param: str, images_only: bool = False,
                  select: FrameSelection | None = None) -> DecodedMedia:
    """Decode an upload (``select``: only some frames of a video, see ``decode_media``)."""
    mime = sniff_mime(data)
    if mime is None or (images_only and not mime.startswith("image/")):
        wanted = (f"an image ({describe_supported('image')})" if images_only
                  else f"a supported video or image ({describe_supported()})")
        raise UnsupportedMediaType(f"'{param}' is not {wanted}.", param=param)
    try:
        return decode_media(data, select=select)
    except UnsupportedMediaType as exc:
        raise UnsupportedMediaType(exc.message, param=param) from exc
    except MediaError as exc:
        raise UndecodableMedia(f"'{param}' could not be decoded: {exc.message}", param=param) from exc
