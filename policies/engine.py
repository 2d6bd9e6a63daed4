"""The policy engine: classifier scores + prompt text + a pack -> a deterministic, explained :class:`Decision`.

How rules combine (the choice, stated once):
1. Every rule is evaluated; every one that fires is recorded with its reason.
2. Any ``block`` (deny-list phrase, a score at or above its block threshold, a blocking combination) blocks.
   An allow-list phrase never overrides a block: a prompt cannot whitelist itself by containing a phrase.
3. Otherwise any ``review`` holds for review, unless an allow-list phrase matched, which lowers it to allow.
4. Otherwise allow.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

from .decision import Decision, MatchedRule
from .pack import CATEGORIES, PolicyError, PolicyPack
from .rules import AllowListRule, CategoryThresholdRule, CombinationRule, DenyListRule, Rule, Subject, matching_form
from .visual import VisualPolicy

__all__ = ["PolicyEngine"]


class PolicyEngine:
    """Applies one :class:`PolicyPack`. Stateless after construction, so safe to share between threads."""

    def __init__(self, pack: PolicyPack) -> None:
        self.pack = pack
        rules: list[Rule] = []
        if pack.deny_list:
            rules.append(DenyListRule(pack.deny_list))
        for category, threshold in pack.thresholds.items():
            if threshold.review is not None or threshold.block is not None:
                rules.append(CategoryThresholdRule(category, review=threshold.review, block=threshold.block))
        for combo in pack.combinations:
            rules.append(CombinationRule(combo.name, combo.categories, min_score=combo.min_score, action=combo.action))
        if not rules:
            # A pack that can never block or review is almost certainly a mistake; refuse it rather than allow all.
            raise PolicyError(f"policy pack {pack.ref} has no rule that can review or block anything")
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.allow_rule = AllowListRule(pack.allow_list) if pack.allow_list else None
        self.visual = VisualPolicy(pack.visual, pack.ref)  # pictures: reference images and generated frames

    def evaluate(self, *, text: str, scores: Mapping[str, float]) -> Decision:
        """Decide on one prompt. ``scores`` maps categories to probabilities in [0, 1]; a category without a score
        is not judged (its threshold rule does not fire), unknown categories and bad values raise ``ValueError``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        checked = _check_scores(scores)
        subject = Subject(text=matching_form(text), scores=checked)

        fired = [(rule, m) for rule in self.rules if (m := rule.evaluate(subject)) is not None]
        matched = [m for _, m in fired]
        allow = self.allow_rule.evaluate(subject) if self.allow_rule is not None else None

        if any(m.action == "block" for m in matched):
            action = "block"
            if allow is not None:
                matched.append(MatchedRule(allow.rule, "allow",
                                           f"{allow.reason}; ignored: an allow-list phrase never lowers a block"))
        elif any(m.action == "review" for m in matched):
            if allow is not None:
                action = "allow"
                matched.append(MatchedRule(allow.rule, "allow", f"{allow.reason}; review lowered to allow"))
            else:
                action = "review"
        else:
            action = "allow"

        named = {c for rule, _ in fired for c in _categories_of(rule)}
        flagged = [c for c in CATEGORIES if c in named]
        return Decision(action=action, categories=checked, flagged=flagged, matched_rules=matched,
                        policy=self.pack.ref)


def _categories_of(rule: Rule) -> tuple[str, ...]:
    if isinstance(rule, CategoryThresholdRule):
        return (rule.category,)
    if isinstance(rule, CombinationRule):
        return rule.categories
    return ()


def _check_scores(scores: Mapping[str, float]) -> dict[str, float]:
    if not isinstance(scores, Mapping):
        raise TypeError(f"scores must be a mapping of category -> probability, got {type(scores).__name__}")
    if not scores:
        raise ValueError("scores is empty: refusing to decide without any classifier output")
    out: dict[str, float] = {}
    for category in scores:
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r} in scores (known: {', '.join(CATEGORIES)})")
    for category in CATEGORIES:  # canonical order, so equal inputs give equal decisions
        if category not in scores:
            continue
        value = scores[category]
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"score for {category!r} must be a number, got {type(value).__name__}")
        value = float(value)
        if math.isnan(value) or not 0.0 <= value <= 1.0:
            raise ValueError(f"score for {category!r} must be within [0, 1], got {value}")
        out[category] = value
    return out
