"""What a job was made from, as ingredients of the new video's manifest: the reference image (``inputTo``) and the
source clip of a remix, edit or extension (``parentOf``). Done in the worker, not the request: it looks for a
Hallmark watermark first, and a full watermark search on an unmarked input costs seconds of CPU. An ingredient
carries the input's own manifest when it had one and our soft binding when it carries our watermark; a reference
image with neither is left out, a source clip never is (it is the new video's parent)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import watermark

from ..core.ids import content_id_hex
from ..media import png_bytes, sniff_mime, watermark_indices
from ..provenance import ReferenceIngredient, content_id_binding_value, source_ingredient
from ..registry import Registry


@dataclass(frozen=True)
class OurMark:
    """Our watermark found in an input: the soft binding to write into the ingredient, and what it names."""

    soft_binding: tuple[str, str]
    content_id: str
    manifest_id: str | None


def find_our_mark(frames: np.ndarray, *, registry: Registry, known_content_id: int | None = None) -> OurMark | None:
    """Our watermark in ``frames`` (T×H×W×3), or the given content id when the input is known to be ours."""
    payload = known_content_id
    if payload is None:
        frames = np.asarray(frames)
        picked = frames[watermark_indices(frames.shape[0], frames.shape[1], frames.shape[2])]
        try:
            found = watermark.extract(picked)
        except watermark.WatermarkError:  # too small to carry the mark
            return None
        payload = found.payload
    if payload is None:
        return None
    match = registry.by_content_id(payload)
    return OurMark(soft_binding=(watermark.ALGORITHM, content_id_binding_value(payload)),
                   content_id=content_id_hex(payload), manifest_id=match.manifest_id if match is not None else None)


def reference_ingredient(frame: np.ndarray | None, original: bytes | None, *,
                         registry: Registry) -> ReferenceIngredient | None:
    """The ingredient for a job's reference image (``frame``: H×W×3 as stored; ``original``: the upload when it
    carried a C2PA manifest), or None when the image has neither a manifest nor our watermark."""
    if frame is None:
        return None
    mark = find_our_mark(np.asarray(frame)[None], registry=registry)
    binding = {} if mark is None else {"soft_binding": mark.soft_binding, "content_id": mark.content_id,
                                       "registry_manifest_id": mark.manifest_id}
    mime = sniff_mime(original) if original else None
    if original and mime and mime.startswith("image/"):
        return ReferenceIngredient(data=original, mime=mime, has_manifest=True, **binding)
    if mark is None:
        return None
    return ReferenceIngredient(data=png_bytes(np.asarray(frame)), mime="image/png", **binding)


def parent_ingredient(source: bytes, frames: np.ndarray, *, has_manifest: bool, registry: Registry,
                      known_content_id: int | None = None) -> tuple[ReferenceIngredient, OurMark | None]:
    """The source clip as the ``parentOf`` ingredient (its file as sent or stored), and our mark in it if any."""
    mark = find_our_mark(frames, registry=registry, known_content_id=known_content_id)
    mime = sniff_mime(source) or "video/mp4"
    binding = {} if mark is None else {"soft_binding": mark.soft_binding, "content_id": mark.content_id,
                                       "registry_manifest_id": mark.manifest_id}
    return source_ingredient(source, mime, has_manifest=has_manifest, **binding), mark
