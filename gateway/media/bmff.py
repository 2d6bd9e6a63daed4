"""ISO-BMFF (MP4/MOV) top-level boxes: the one walker every box reader in the gateway goes through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

__all__ = ["Box", "walk_boxes", "whole_boxes", "top_level_boxes", "truncation"]


@dataclass(frozen=True)
class Box:
    type: str
    offset: int
    size: int  # the declared size; a size of 0 ("to the end of the file") is resolved
    header_size: int  # 8, or 16 with a 64-bit size

    @property
    def end(self) -> int:
        return self.offset + self.size

    def user_type(self, data: bytes) -> bytes | None:
        """The 16-byte extended type that follows the header of a ``uuid`` box; None for other boxes."""
        if self.type != "uuid":
            return None
        start = self.offset + self.header_size
        return bytes(data[start : start + 16])


def walk_boxes(data: bytes) -> Iterator[Box]:
    """Yield the top-level boxes in order, stopping at a header that cannot be a box.

    The last box yielded may declare more bytes than remain (a truncated file): it ends the walk, and
    ``box.end > len(data)`` tells it apart. Callers that want whole boxes only use :func:`whole_boxes`.
    """
    offset = 0
    total = len(data)
    while offset + 8 <= total:
        size = int.from_bytes(data[offset : offset + 4], "big")
        box_type = bytes(data[offset + 4 : offset + 8]).decode("latin-1")
        header_size = 8
        if size == 1:
            if offset + 16 > total:
                return
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
            header_size = 16
        elif size == 0:
            size = total - offset
        if size < 8:
            return
        box = Box(box_type, offset, size, header_size)
        yield box
        if box.end > total:
            return
        offset = box.end


def whole_boxes(data: bytes) -> Iterator[Box]:
    """The top-level boxes up to the first that runs past the end of ``data``."""
    for box in walk_boxes(data):
        if box.end > len(data):
            return
        yield box


def top_level_boxes(data: bytes) -> Iterator[tuple[str, int, int]]:
    """Yield (type, offset, size) for the top-level ISO-BMFF boxes; stops at anything malformed."""
    for box in whole_boxes(data):
        yield box.type, box.offset, box.size


def truncation(data: bytes) -> str | None:
    """Where a top-level box runs past the end of the data, say so (FFmpeg often decodes on regardless)."""
    for box in walk_boxes(data):
        if box.end > len(data):
            return f"its '{box.type}' box declares {box.size} bytes but only {len(data) - box.offset} remain"
    return None
