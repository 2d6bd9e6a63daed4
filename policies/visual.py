"""What a pack decides about pictures — a reference image or a generated clip's sampled frames — from what the image
classifiers found in them: a sexual-content score (and, when the prompt suggests a minor, the same score judged as
``sexual/minors``), matches with operators' hash lists, and faces that match registered people.

How these rules combine is the engine's: every rule that fires is recorded with its reason; the most severe action
wins. A face that matches a person who consented to this tenant's use fires no restriction (it is recorded, with the
character's id, as an ``allow``). Reasons name the rule and the list, never the person a face belongs to.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .decision import ACTION_SEVERITY, Decision, MatchedRule

__all__ = [
    "DEFAULT_VISUAL_RULES", "FaceMatch", "HashMatch", "ImageThreshold", "VisualPolicy", "VisualRules", "VisualSignals",
    "combine_decisions", "visual_rules_from_dict",
]

Restriction = Literal["review", "block"]
FaceKind = Literal["consented", "not_consented", "protected"]


@dataclass(frozen=True)
class ImageThreshold:
    """An image score at or above ``block`` blocks, at or above ``review`` reviews; ``None``: never, by score."""

    review: float | None
    block: float | None


@dataclass(frozen=True)
class VisualRules:
    """The ``visual`` section of a pack.

    ``sexual`` judges the image classifier's score on every image; ``sexual_minors`` judges the same score when the
    prompt's ``sexual/minors`` score reaches ``minor_signal`` (the image classifier cannot tell ages). A hash-list
    match does at least ``hash_list_match`` (a list imported as ``block`` blocks even where the pack says review).
    """

    sexual: ImageThreshold = ImageThreshold(review=0.5, block=0.8)
    sexual_minors: ImageThreshold = ImageThreshold(review=None, block=0.3)
    minor_signal: float = 0.2
    hash_list_match: Restriction = "block"
    likeness_not_consented: Restriction = "block"
    protected_person: Restriction = "block"

    def to_dict(self) -> dict[str, Any]:
        return {"sexual": {"review": self.sexual.review, "block": self.sexual.block},
                "sexual/minors": {"review": self.sexual_minors.review, "block": self.sexual_minors.block},
                "minor_signal": self.minor_signal, "hash_list_match": self.hash_list_match,
                "likeness_not_consented": self.likeness_not_consented, "protected_person": self.protected_person}


DEFAULT_VISUAL_RULES = VisualRules()


@dataclass(frozen=True)
class HashMatch:
    """A picture within the match distance of a hash on an operator's list (``action``: the list's own)."""

    list_name: str
    action: Restriction
    distance: int
    max_distance: int
    where: str  # "reference image", "frame 12"


@dataclass(frozen=True)
class FaceMatch:
    kind: FaceKind
    distance: float
    max_distance: float
    where: str
    character_id: str | None = None  # named in the decision only for a consented character (the tenant's own use)


@dataclass(frozen=True)
class VisualSignals:
    """What was found in the pictures of one request or one output. ``sexual`` is the highest image score, at
    ``sexual_where``; ``minor_score`` is the prompt's ``sexual/minors`` score (None: no prompt to judge by)."""

    sexual: float | None = None
    sexual_where: str = ""
    minor_score: float | None = None
    hash_matches: tuple[HashMatch, ...] = ()
    face_matches: tuple[FaceMatch, ...] = field(default=())


def _fmt(x: float) -> str:
    return f"{x:.2f}" if round(x, 2) == x else f"{x:.3f}"


class VisualPolicy:
    """Applies one pack's :class:`VisualRules`; stateless, safe to share."""

    def __init__(self, rules: VisualRules, policy: str) -> None:
        self.rules = rules
        self.policy = policy

    def minor_suggested(self, minor_score: float | None) -> bool:
        return minor_score is not None and minor_score >= self.rules.minor_signal

    def evaluate(self, signals: VisualSignals) -> Decision:
        rules = self.rules
        matched: list[MatchedRule] = []
        categories: dict[str, float] = {}
        if signals.sexual is not None:
            score = float(signals.sexual)
            categories["sexual"] = score
            matched += _threshold("sexual", rules.sexual, score, signals.sexual_where)
            if self.minor_suggested(signals.minor_score):
                categories["sexual/minors"] = score
                fired = _threshold("sexual/minors", rules.sexual_minors, score, signals.sexual_where,
                                   why=f" (the prompt suggests a minor: sexual/minors {_fmt(signals.minor_score)} ≥ "
                                       f"{_fmt(rules.minor_signal)})")
                matched += fired
        for match in signals.hash_matches:
            action = _stricter(match.action, rules.hash_list_match)
            matched.append(MatchedRule(f"hash_list:{match.list_name}", action,
                                       f"the {match.where} matches hash list '{match.list_name}' (PDQ distance "
                                       f"{match.distance} ≤ {match.max_distance})"))
        for face in signals.face_matches:
            if face.kind == "consented":
                matched.append(MatchedRule("likeness:consented", "allow",
                                           f"a face in the {face.where} is character {face.character_id}, whose "
                                           "owner consented to this use"))
                continue
            if face.kind == "protected":
                rule, action, what = ("likeness:protected_person", rules.protected_person,
                                      "a protected person, who may not be depicted")
            else:
                rule, action, what = ("likeness:not_consented", rules.likeness_not_consented,
                                      "a registered person who has not consented to use by this account")
            categories["real_person"] = 1.0
            matched.append(MatchedRule(rule, action, f"a face in the {face.where} matches {what} (face distance "
                                                     f"{face.distance:.2f} ≤ {_fmt(face.max_distance)})"))
        restricting = [m for m in matched if m.action != "allow"]
        action = max((m.action for m in restricting), key=ACTION_SEVERITY.__getitem__, default="allow")
        flagged = sorted({m.rule.split(":", 1)[1] for m in restricting if m.rule.startswith("visual:")}
                         | ({"real_person"} if any(m.rule.startswith("likeness:") for m in restricting) else set()))
        return Decision(action=action, categories=categories, flagged=flagged, matched_rules=matched,
                        policy=self.policy)


def combine_decisions(request: Decision, pictures: Decision) -> Decision:
    """A request's decision on its text and on its pictures, as one: the more severe action, every rule that fired,
    the categories the text was scored on (the pictures' scores stay in their own record)."""
    flagged = list(request.flagged) + [c for c in pictures.flagged if c not in request.flagged]
    return Decision(action=_stricter(request.action, pictures.action), categories=dict(request.categories),
                    flagged=flagged, matched_rules=list(request.matched_rules) + list(pictures.matched_rules),
                    policy=request.policy)


def _stricter(a: str, b: str) -> str:
    return a if ACTION_SEVERITY[a] >= ACTION_SEVERITY[b] else b


def _threshold(category: str, threshold: ImageThreshold, score: float, where: str, why: str = "") -> list[MatchedRule]:
    at = f" in the {where}" if where else ""
    if threshold.block is not None and score >= threshold.block:
        return [MatchedRule(f"visual:{category}", "block", f"image {category} score {score:.3f}{at} ≥ block "
                                                           f"threshold {_fmt(threshold.block)}{why}")]
    if threshold.review is not None and score >= threshold.review:
        return [MatchedRule(f"visual:{category}", "review", f"image {category} score {score:.3f}{at} ≥ review "
                                                            f"threshold {_fmt(threshold.review)}{why}")]
    return []


# -- the pack's YAML ----------------------------------------------------------------------------------------------
_KEYS = ("sexual", "sexual/minors", "minor_signal", "hash_list_match", "likeness_not_consented", "protected_person")


def visual_rules_from_dict(value: Any, err) -> VisualRules:
    """Validate a pack's ``visual`` mapping (missing keys keep their defaults); problems go to ``err(where, msg)``."""
    if value is None:
        return DEFAULT_VISUAL_RULES
    if not isinstance(value, Mapping):
        err("visual", f"must be a mapping ({', '.join(_KEYS)}), got {type(value).__name__}")
        return DEFAULT_VISUAL_RULES
    for key in value:
        if key not in _KEYS:
            err(f"visual.{key}", f"unknown field (allowed: {', '.join(_KEYS)})")
    base = DEFAULT_VISUAL_RULES
    sexual = _image_threshold(value.get("sexual"), "visual.sexual", err, base.sexual)
    minors = _image_threshold(value.get("sexual/minors"), "visual.sexual/minors", err, base.sexual_minors)
    signal = value.get("minor_signal", base.minor_signal)
    if isinstance(signal, bool) or not isinstance(signal, numbers.Real) or math.isnan(signal) \
            or not 0.0 <= float(signal) <= 1.0:
        err("visual.minor_signal", f"must be a number in [0, 1], got {signal!r}")
        signal = base.minor_signal
    actions = {}
    for key in ("hash_list_match", "likeness_not_consented", "protected_person"):
        action = value.get(key, getattr(base, key))
        if action not in ("review", "block"):
            err(f"visual.{key}", f"must be 'review' or 'block', got {action!r}")
            action = getattr(base, key)
        actions[key] = action
    return VisualRules(sexual=sexual, sexual_minors=minors, minor_signal=float(signal), **actions)


def _image_threshold(spec: Any, where: str, err, default: ImageThreshold) -> ImageThreshold:
    if spec is None:
        return default
    if not isinstance(spec, Mapping) or set(spec) != {"review", "block"}:
        err(where, f"must be a mapping with exactly 'review' and 'block' (null: never), got {spec!r}")
        return default
    values = []
    for key in ("review", "block"):
        v = spec[key]
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real) or math.isnan(v)
                              or not 0.0 <= float(v) <= 1.0):
            err(f"{where}.{key}", f"must be a number in [0, 1] or null, got {v!r}")
            return default
        values.append(None if v is None else float(v))
    review, block = values
    if review is not None and block is not None and review > block:
        err(where, f"review threshold {review} is above block threshold {block} (review must be ≤ block)")
        return default
    return ImageThreshold(review=review, block=block)
