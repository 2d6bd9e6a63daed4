"""The overall verdict of a provenance check: which generation record the layers point to, how sure, and whether
the file was altered since signing.

Each layer that names a content id gives its own confidence that the file is that content:

- C2PA: a ``trusted`` manifest with our generation assertion is a signature under a trusted certificate (0.999);
  a ``valid`` one (intact, signer not trusted here) counts only when the registry holds that very manifest (0.99),
  since anyone can sign a claim with an untrusted certificate. An ``invalid`` manifest names nothing.
- watermark: the confidence the watermark decoder reports for a payload that passed its checksum (0.5–1).
- fingerprint: 0.5 at the second stage's acceptance limit, rising linearly to 1 at a score of 0 (identical frames).

The overall confidence combines the layers that agree with the registry record found (1 − Π(1 − cᵢ)); a layer
that names another content id is listed under ``conflicts`` and does not count. Without a record or trusted
credentials the confidence is 0 and the origin ``not_recognised``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from ..provenance import ProvenanceReport
from ..registry import RegistryMatch


class WatermarkFinding(Protocol):
    detected: bool
    content_id: str | None
    confidence: float


class Findings(Protocol):
    """What the layers found (``gateway.verification.layers.Verdict``)."""

    c2pa: ProvenanceReport
    watermark: WatermarkFinding
    registry: RegistryMatch | None
    recovered: ProvenanceReport | None

C2PA_TRUSTED_CONFIDENCE = 0.999
C2PA_REGISTERED_CONFIDENCE = 0.99

Origin = Literal["this_gateway", "not_recognised"]


@dataclass(frozen=True)
class Assessment:
    origin: Origin
    content_id: str | None
    video_id: str | None
    confidence: float
    altered: bool | None  # True: signed content changed since; False: credentials intact; None: cannot tell
    evidence: dict[str, float] = field(default_factory=dict)  # layer → its confidence, for the agreeing layers
    conflicts: dict[str, str] = field(default_factory=dict)  # layer → the other content id it names

    def to_dict(self) -> dict:
        return {"origin": self.origin, "content_id": self.content_id, "video_id": self.video_id,
                "confidence": round(self.confidence, 4), "altered": self.altered,
                "evidence": {k: round(v, 4) for k, v in self.evidence.items()}, "conflicts": dict(self.conflicts)}


def fingerprint_confidence(score: float, limit: float) -> float:
    """0.5 at the acceptance limit, 1.0 at score 0 (see the module docstring)."""
    if limit <= 0:
        return 0.5
    return 0.5 + 0.5 * min(1.0, max(0.0, (limit - score) / limit))


def _layer_claims(verdict: Findings) -> dict[str, tuple[str, float]]:
    """layer → (content id it names, its confidence)."""
    claims: dict[str, tuple[str, float]] = {}
    c2pa_id = (verdict.c2pa.generation or {}).get("content_id")
    if c2pa_id:
        if verdict.c2pa.state == "trusted":
            claims["c2pa"] = (c2pa_id, C2PA_TRUSTED_CONFIDENCE)
        elif (verdict.c2pa.state == "valid" and verdict.registry is not None
              and verdict.registry.method == "manifest"):
            claims["c2pa"] = (c2pa_id, C2PA_REGISTERED_CONFIDENCE)
    if verdict.watermark.detected and verdict.watermark.content_id:
        claims["watermark"] = (verdict.watermark.content_id, verdict.watermark.confidence)
    match = verdict.registry
    if match is not None and match.method == "fingerprint":
        # Records with the bare pHash only are matched by distance alone, with no calibrated score: 0.5.
        conf = 0.5 if match.score is None else fingerprint_confidence(match.score, match.score_limit or 0.0)
        claims["fingerprint"] = (match.content_id, conf)
    return claims


def _altered(verdict: Findings) -> bool | None:
    if verdict.c2pa.state == "invalid":
        return True
    if verdict.c2pa.state in ("trusted", "valid"):
        return False
    if verdict.recovered is not None:  # stripped: the original manifest, checked against these bytes
        return verdict.recovered.state == "invalid"
    return None


def assess(verdict: Findings) -> Assessment:
    claims = _layer_claims(verdict)
    content_id = video_id = None
    if verdict.registry is not None:
        content_id, video_id = verdict.registry.content_id, verdict.registry.video_id
    elif "c2pa" in claims:  # trusted credentials of a record this registry does not hold (another database)
        content_id, video_id = claims["c2pa"][0], (verdict.c2pa.generation or {}).get("video_id")
    recognised = content_id is not None
    # Without a record every claim is a conflict, and the confidence is 0.
    evidence = {layer: conf for layer, (cid, conf) in claims.items() if recognised and cid == content_id}
    conflicts = {layer: cid for layer, (cid, _) in claims.items() if layer not in evidence}
    doubt = 1.0
    for conf in evidence.values():
        doubt *= 1.0 - conf
    return Assessment(origin="this_gateway" if recognised else "not_recognised", content_id=content_id,
                      video_id=video_id, confidence=1.0 - doubt if recognised else 0.0,
                      altered=_altered(verdict), evidence=evidence, conflicts=conflicts)
