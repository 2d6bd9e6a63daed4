"""Screening pictures: a reference image at request time and a generated clip's sampled frames before anything is
stored or signed. Each picture gets the image classifier's sexual score, a PDQ hash matched against the operators'
hash lists, and its faces matched against registered likenesses; the tenant's pack decides (``policies.visual``).

A clip is sampled across its whole length — first, last, middle and evenly between — because what a model makes can
turn late. A blocked output fails its job with ``output_blocked``; the decision is audited with the frame indices and
scores, never with pixels."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from policies import Decision
from policies.visual import FaceMatch, HashMatch, VisualSignals

from ..audit import AuditEvent, AuditLog
from ..core.errors import OutputBlocked
from ..core.lazy import Lazy
from ..media import evenly_spaced
from .characters import CharacterService
from .hashlists import HashListService
from .policies import PolicyService

if TYPE_CHECKING:  # the classifiers package imports torch
    from classifiers import PromptClassifier
    from classifiers.visual import FaceEmbedder, SexualImageScorer

__all__ = ["OUTPUT_FRAMES", "VisualScreen", "VisualScreening"]

# Sampled frames per clip: with 9, frame 0, the last frame and the exact middle are among them. At ~35 ms a frame
# (bench/visual) this is ~0.3 s on a 4 s clip.
OUTPUT_FRAMES = 9


@dataclass(frozen=True)
class VisualScreening:
    decision: Decision
    where: list[str]
    sexual: list[float]
    pdq_quality: list[int]
    faces: int
    hash_matches: list[HashMatch] = field(default_factory=list)
    face_matches: list[FaceMatch] = field(default_factory=list)
    seconds: float = 0.0
    models: dict = field(default_factory=dict)

    @property
    def only_consented_faces(self) -> bool:
        """Every face found belongs to a character this tenant may use."""
        return self.faces > 0 and len(self.face_matches) == self.faces and \
            all(m.kind == "consented" for m in self.face_matches)

    def audit(self) -> dict:
        """Indices, scores, list names and distances; no pixels, no hashes of the pictures, no person's name."""
        return {"action": self.decision.action, "policy": self.decision.policy, "pictures": self.where,
                "sexual_scores": [round(s, 4) for s in self.sexual], "pdq_quality": self.pdq_quality,
                "faces": self.faces,
                "hash_lists": [{"list": m.list_name, "distance": m.distance, "where": m.where}
                               for m in self.hash_matches],
                "likeness": [{"kind": m.kind, "distance": round(m.distance, 3), "where": m.where,
                              "character_id": m.character_id} for m in self.face_matches],
                "reasons": [r.reason for r in self.decision.matched_rules], "seconds": round(self.seconds, 3),
                "models": self.models}


class VisualScreen:
    def __init__(self, *, scorer: Lazy[SexualImageScorer], faces: Lazy[FaceEmbedder], hash_lists: HashListService,
                 characters: CharacterService, policies: PolicyService, audit: AuditLog,
                 classifier: Lazy[PromptClassifier], output_frames: int = OUTPUT_FRAMES) -> None:
        self._scorer = scorer
        self._faces = faces
        self._hash_lists = hash_lists
        self._characters = characters
        self._policies = policies
        self._audit = audit
        self._classifier = classifier
        self.output_frames = output_frames

    @property
    def characters(self) -> CharacterService:
        return self._characters

    @property
    def scorer(self) -> SexualImageScorer:
        """The image classifier (loaded on first use)."""
        return self._scorer.get()

    def inspect(self, pictures: np.ndarray | list[np.ndarray], where: list[str], *, tenant: str,
                minor_score: float | None) -> VisualScreening:
        """Score, hash and match ``pictures`` (H×W×3 each, labelled by ``where``); the tenant's pack decides."""
        from classifiers.visual import pdq_hash

        started = time.perf_counter()
        scorer, embedder = self._scorer.get(), self._faces.get()
        sexual = [float(s) for s in scorer.score(pictures)]
        hashes = [pdq_hash(p) for p in pictures]
        vectors, labels = [], []
        for picture, label in zip(pictures, where):
            for face in embedder.embed(picture):
                vectors.append(face.vector)
                labels.append(label)
        hash_matches = self._hash_lists.match(hashes, where)
        face_matches = self._characters.match(vectors, labels, tenant=tenant)
        peak = int(np.argmax(sexual)) if sexual else 0
        signals = VisualSignals(sexual=max(sexual) if sexual else None, sexual_where=where[peak] if sexual else "",
                                minor_score=minor_score, hash_matches=tuple(hash_matches),
                                face_matches=tuple(face_matches))
        decision = self._policies.engine(tenant).visual.evaluate(signals)
        return VisualScreening(decision=decision, where=list(where), sexual=sexual, pdq_quality=[q for _, q in hashes],
                               faces=len(vectors), hash_matches=hash_matches, face_matches=face_matches,
                               seconds=time.perf_counter() - started,
                               models={"sexual": scorer.name, "faces": embedder.name, "hash": "pdq"})

    def screen_reference(self, frames: np.ndarray, *, tenant: str, minor_score: float | None) -> VisualScreening:
        """A reference image (1×H×W×3) or a few frames of a source video (N×H×W×3), before the request's decision;
        the caller folds the result into that decision."""
        where = ["reference image"] if len(frames) == 1 else [f"source video frame {k}" for k in range(len(frames))]
        return self.inspect(list(frames), where, tenant=tenant, minor_score=minor_score)

    def screen_output(self, frames: np.ndarray, *, tenant: str, actor: str, video_id: str,
                      prompt: str) -> VisualScreening:
        """A generated clip (T×H×W×3), before it is marked, stored or signed. Audited as ``policy.output_decision``;
        a block raises :class:`OutputBlocked` (``output_blocked``)."""
        indices = evenly_spaced(int(frames.shape[0]), self.output_frames)
        minor_score = float(self._classifier.get().score(prompt)["sexual/minors"]) if prompt else None
        screening = self.inspect([frames[i] for i in indices], [f"frame {int(i)}" for i in indices], tenant=tenant,
                                 minor_score=minor_score)
        self._audit.append(AuditEvent(
            event="policy.output_decision", actor=actor, tenant=tenant, object_id=video_id,
            data={"stage": "visual", "frames": [int(i) for i in indices], "frame_count": int(frames.shape[0]),
                  **screening.audit()},
        ))
        if screening.decision.action == "block":
            reasons = [r.reason for r in screening.decision.matched_rules if r.action == "block"]
            raise OutputBlocked(f"The generated video was blocked by policy {screening.decision.policy}: "
                                + "; ".join(reasons) + ". Nothing was stored or signed.", code="output_blocked")
        return screening
