"""The C2PA manifest Hallmark writes into a generated video: what made it, under which policy, and its watermark.

The manifest carries system provenance only (model, seed, policy, hashes). It never
carries the prompt text, the tenant or any other personal data.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass

__all__ = [
    "GENERATED_SOURCE_TYPE",
    "GENERATION_ASSERTION_LABEL",
    "SOFT_BINDING_LABEL",
    "GenerationClaim",
    "REFERENCE_INGREDIENT_ID",
    "ReferenceIngredient",
    "build_manifest",
    "content_id_binding_value",
]

GENERATED_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
GENERATION_ASSERTION_LABEL = "com.hallmark.generation"
SOFT_BINDING_LABEL = "c2pa.soft-binding"
CLAIM_GENERATOR_NAME = "Hallmark"

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_POLICY_REF = re.compile(r"[^@\s]+@[^@\s]+")


def content_id_binding_value(content_id: int) -> str:
    """The soft-binding value for a content id: base64 of its 8 big-endian bytes."""
    if not 0 <= content_id < 2**64:
        raise ValueError(f"content_id must fit in 64 unsigned bits, got {content_id}")
    return base64.b64encode(content_id.to_bytes(8, "big")).decode("ascii")


@dataclass(frozen=True, kw_only=True)
class GenerationClaim:
    """What Hallmark asserts about one generated video.

    ``tenant`` is kept for the caller's bookkeeping and is deliberately *not* written
    into the manifest: who asked for a video is personal provenance data.
    """

    content_id: int
    video_id: str
    model: str
    model_version: str
    seed: int
    policy: str
    decision_id: str
    prompt_sha256: str
    created_at: dt.datetime
    watermark_alg: str
    watermark_value: str
    software_version: str
    tenant: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.content_id < 2**64:
            raise ValueError(f"content_id must fit in 64 unsigned bits, got {self.content_id}")
        if not _SHA256_HEX.fullmatch(self.prompt_sha256):
            raise ValueError(
                "prompt_sha256 must be 64 lowercase hex digits (the SHA-256 of the prompt, never the prompt)"
            )
        if not _POLICY_REF.fullmatch(self.policy):
            raise ValueError(f"policy must look like 'id@version', got {self.policy!r}")
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")
        for name in ("video_id", "model", "model_version", "decision_id", "watermark_alg", "watermark_value"):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")
        try:
            base64.b64decode(self.watermark_value, validate=True)
        except ValueError as exc:
            raise ValueError(f"watermark_value must be base64, got {self.watermark_value!r}") from exc

    @property
    def content_id_hex(self) -> str:
        return f"{self.content_id:016x}"

    def generation_assertion(self) -> dict:
        """The ``com.hallmark.generation`` assertion's data."""
        return {
            "content_id": self.content_id_hex,
            "video_id": self.video_id,
            "model": self.model,
            "model_version": self.model_version,
            "seed": self.seed,
            "policy": self.policy,
            "decision_id": self.decision_id,
            "prompt_sha256": self.prompt_sha256,
            "created_at": self.created_at.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
        }


# The builder-side id of the reference image's ingredient: the ``c2pa.created`` action names it, and c2pa-rs turns
# the name into a hashed link to the ``c2pa.ingredient.v3`` assertion.
REFERENCE_INGREDIENT_ID = "hallmark.reference_image"
SOURCE_INGREDIENT_ID = "hallmark.source_video"
# digitalSourceType of an edit: the whole frame re-made by the model (remix, edit), or the source's frames kept and
# joined with new ones the model made (extend).
COMPOSITE_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
REFERENCE_SOFT_BINDING_KEY = "com.hallmark.soft_binding"


@dataclass(frozen=True, kw_only=True)
class ReferenceIngredient:
    """The reference image (``input_reference``) a video was generated from, as a C2PA ``inputTo`` ingredient.

    ``data`` is the image as uploaded when it carries a C2PA manifest (c2pa-rs then copies that manifest into the
    new manifest store as the ingredient's active manifest), otherwise the stored image. ``soft_binding`` is the
    Hallmark watermark found in it: ``(alg, value)``, the value being the content id as in our own soft-binding
    assertion; it is written into the ingredient's ``metadata`` (with the registry's manifest id when we know it).
    The title is fixed: an uploaded file name can be personal data and is never written.
    """

    data: bytes
    mime: str
    has_manifest: bool = False
    soft_binding: tuple[str, str] | None = None
    content_id: str | None = None
    registry_manifest_id: str | None = None
    title: str = "input_reference"
    # A remixed, edited or extended video's source is its parent: ``source_ingredient`` builds that one.
    relationship: str = "inputTo"
    label: str = REFERENCE_INGREDIENT_ID

    def __post_init__(self) -> None:
        if not self.data:
            raise ValueError("an ingredient needs the file's bytes")
        kind = "video/" if self.relationship == "parentOf" else "image/"
        if not self.mime.startswith(kind):
            raise ValueError(f"a {self.relationship} ingredient is a {kind[:-1]}, got {self.mime!r}")

    def definition(self) -> dict:
        """The ingredient JSON for c2pa-python's ``Builder.add_ingredient``."""
        ingredient: dict = {"title": self.title, "format": self.mime, "relationship": self.relationship,
                            "label": self.label}
        if self.soft_binding is not None:
            alg, value = self.soft_binding
            binding = {"alg": alg, "value": value}
            if self.content_id:
                binding["content_id"] = self.content_id
            if self.registry_manifest_id:
                binding["manifest_id"] = self.registry_manifest_id
            ingredient["metadata"] = {REFERENCE_SOFT_BINDING_KEY: binding}
        return ingredient


def source_ingredient(data: bytes, mime: str, *, has_manifest: bool, soft_binding: tuple[str, str] | None = None,
                      content_id: str | None = None, registry_manifest_id: str | None = None) -> ReferenceIngredient:
    """The source clip of a remix, edit or extension as the new video's ``parentOf`` ingredient: always recorded
    (its own manifest, when it has one, is validated by c2pa-rs and kept with its validation results — a source
    whose credentials are broken is recorded as such, not left out)."""
    return ReferenceIngredient(data=data, mime=mime, has_manifest=has_manifest, soft_binding=soft_binding,
                               content_id=content_id, registry_manifest_id=registry_manifest_id,
                               title="source_video", relationship="parentOf", label=SOURCE_INGREDIENT_ID)


def build_manifest(
    claim: GenerationClaim, *, title: str = "Hallmark generated video", mime: str = "video/mp4",
    reference: ReferenceIngredient | None = None, parent: ReferenceIngredient | None = None,
    operation: str = "create",
) -> dict:
    """The manifest definition for c2pa-python's ``Builder``.

    Assertions: ``c2pa.actions`` (``c2pa.created`` as trained-algorithmic media by
    "Hallmark <model>", then ``c2pa.watermarked.bound``), ``c2pa.soft-binding`` naming the
    watermark algorithm and payload, and ``com.hallmark.generation``. With a ``reference`` image, the
    ``c2pa.created`` action names it as its input; the ingredient itself is added at signing
    (``sign_asset_with_store(..., ingredients=[reference])``), since c2pa-rs reads it from the image's bytes.
    """
    generation = claim.generation_assertion()
    created_parameters = {"parameters": {"ingredientIds": [REFERENCE_INGREDIENT_ID]}} if reference else {}
    agent = {"name": f"{CLAIM_GENERATOR_NAME} {claim.model}", "version": claim.model_version}
    if parent is not None:
        # A derived video: the source is opened as the parent, then edited by the model (C2PA: an asset with a
        # parentOf ingredient starts with c2pa.opened, not c2pa.created).
        first = [
            {"action": "c2pa.opened", "when": generation["created_at"],
             "parameters": {"ingredientIds": [SOURCE_INGREDIENT_ID]}},
            {"action": "c2pa.edited", "when": generation["created_at"],
             "digitalSourceType": COMPOSITE_SOURCE_TYPE if operation == "extend" else GENERATED_SOURCE_TYPE,
             "softwareAgent": agent, "description": f"hallmark {operation}",
             **({"parameters": {"ingredientIds": [REFERENCE_INGREDIENT_ID]}} if reference else {})},
        ]
    else:
        first = [{"action": "c2pa.created", "when": generation["created_at"],
                  "digitalSourceType": GENERATED_SOURCE_TYPE, "softwareAgent": agent, **created_parameters}]
    return {
        "claim_generator_info": [{"name": CLAIM_GENERATOR_NAME, "version": claim.software_version}],
        "title": title,
        "format": mime,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        *first,
                        {
                            # The watermark carries the content id and is bound to this
                            # manifest by the soft-binding assertion below.
                            "action": "c2pa.watermarked.bound",
                            "when": generation["created_at"],
                            "softwareAgent": {"name": CLAIM_GENERATOR_NAME, "version": claim.software_version},
                        },
                    ]
                },
            },
            {
                "label": SOFT_BINDING_LABEL,
                "data": {"alg": claim.watermark_alg, "blocks": [{"scope": {}, "value": claim.watermark_value}]},
            },
            {"label": GENERATION_ASSERTION_LABEL, "data": generation},
        ],
    }
