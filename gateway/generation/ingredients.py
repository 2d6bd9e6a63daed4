"""A job's reference image as the ``inputTo`` ingredient of the new video's manifest. Done in the worker, not the
request: it looks for a Hallmark watermark first, and a full watermark search on an unmarked image costs seconds of
CPU. The ingredient carries the image's own manifest when it had one, our soft binding when it carries our
watermark, and is left out when it has neither."""

from __future__ import annotations

import numpy as np

import watermark

from ..core.ids import content_id_hex
from ..media import png_bytes, sniff_mime
from ..provenance import ReferenceIngredient, content_id_binding_value
from ..registry import Registry


def reference_ingredient(frame: np.ndarray | None, original: bytes | None, *,
                         registry: Registry) -> ReferenceIngredient | None:
    """The ingredient for a job's reference image (``frame``: H×W×3 as stored; ``original``: the upload when it
    carried a C2PA manifest), or None when the image has neither a manifest nor our watermark."""
    if frame is None:
        return None
    soft_binding = content_id = manifest_id = None
    try:
        found = watermark.extract(np.asarray(frame)[None])
    except watermark.WatermarkError:  # too small to carry the mark
        found = None
    if found is not None and found.payload is not None:
        soft_binding = (watermark.ALGORITHM, content_id_binding_value(found.payload))
        content_id = content_id_hex(found.payload)
        match = registry.by_content_id(found.payload)
        manifest_id = match.manifest_id if match is not None else None
    mime = sniff_mime(original) if original else None
    if original and mime and mime.startswith("image/"):
        return ReferenceIngredient(data=original, mime=mime, has_manifest=True, soft_binding=soft_binding,
                                   content_id=content_id, registry_manifest_id=manifest_id)
    if soft_binding is None:
        return None
    return ReferenceIngredient(data=png_bytes(np.asarray(frame)), mime="image/png", soft_binding=soft_binding,
                               content_id=content_id, registry_manifest_id=manifest_id)
