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


def build_manifest(
    claim: GenerationClaim, *, title: str = "Hallmark generated video", mime: str = "video/mp4"
) -> dict:
    """The manifest definition for c2pa-python's ``Builder``.

    Assertions: ``c2pa.actions`` (``c2pa.created`` as trained-algorithmic media by
    "Hallmark <model>", then ``c2pa.watermarked.bound``), ``c2pa.soft-binding`` naming the
    watermark algorithm and payload, and ``com.hallmark.generation``.
    """
    generation = claim.generation_assertion()
    return {
        "claim_generator_info": [{"name": CLAIM_GENERATOR_NAME, "version": claim.software_version}],
        "title": title,
        "format": mime,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "when": generation["created_at"],
                            "digitalSourceType": GENERATED_SOURCE_TYPE,
                            "softwareAgent": {
                                "name": f"{CLAIM_GENERATOR_NAME} {claim.model}",
                                "version": claim.model_version,
                            },
                        },
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
