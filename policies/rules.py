"""The small rules a policy is made of. Each has one ``evaluate()`` that returns a :class:`MatchedRule` (with a reason
a person can act on) or ``None``; the engine composes them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from .decision import MatchedRule

__all__ = [
    "Subject", "Rule", "DenyListRule", "AllowListRule", "CategoryThresholdRule", "CombinationRule", "matching_form",
]

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


def matching_form(text: str) -> str:
    """The form phrases are matched in: NFKC, zero-width characters removed, case-folded, whitespace collapsed.

    Deeper de-obfuscation (homoglyphs, leetspeak, spaced letters) belongs to the classifier's normaliser: pass its
    output as ``text`` to have lists match obfuscated prompts too.
    """
    return " ".join(unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).casefold().split())


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    norm = matching_form(phrase)
    # Whole words for alphabetic phrases ("kill" must not match "skill"); scripts without spaces (Chinese) match as
    # substrings.
    left = r"(?<!\w)" if norm[:1].isascii() and norm[:1].isalnum() else ""
    right = r"(?!\w)" if norm[-1:].isascii() and norm[-1:].isalnum() else ""
    return re.compile(left + re.escape(norm) + right)


@dataclass(frozen=True)
class Subject:
    """What the rules look at: the prompt in matching form and the classifier's scores."""

    text: str
    scores: Mapping[str, float]


class Rule(Protocol):
    name: str

    def evaluate(self, subject: Subject) -> MatchedRule | None: ...


def _fmt(x: float) -> str:
    return f"{x:.2f}" if round(x, 2) == x else f"{x:.3f}"


def _fmt_score(score: float, threshold: float) -> str:
    # As many decimals as the threshold has (2 or 3): a score at or above it never prints below it.
    digits = 2 if round(threshold, 2) == threshold else 3
    return f"{score:.{digits}f}"


class _PhraseListRule:
    """Fires when any of the pack's phrases occurs in the prompt (whole words, after normalisation)."""

    name: str
    action: str
    list_name: str

    def __init__(self, phrases: tuple[str, ...]) -> None:
        self.phrases = phrases
        self._patterns = [(p, _phrase_pattern(p)) for p in phrases]

    def evaluate(self, subject: Subject) -> MatchedRule | None:
        hits = [p for p, pattern in self._patterns if pattern.search(subject.text)]
        if not hits:
            return None
        listed = ", ".join(repr(h) for h in hits)
        plural = "s" if len(hits) > 1 else ""
        return MatchedRule(self.name, self.action, f"{self.list_name} phrase{plural} {listed} found in the prompt")


class DenyListRule(_PhraseListRule):
    """Any deny-list phrase in the prompt blocks it, whatever the scores."""

    name, action, list_name = "deny_list", "block", "deny-list"


class AllowListRule(_PhraseListRule):
    """An allow-list phrase in the prompt; the engine lets it lower a review to allow, never a block."""

    name, action, list_name = "allow_list", "allow", "allow-list"


class CategoryThresholdRule:
    """One category's score against the pack's block and review thresholds."""

    def __init__(self, category: str, *, review: float | None, block: float | None) -> None:
        self.category = category
        self.review = review
        self.block = block
        self.name = f"threshold:{category}"

    def evaluate(self, subject: Subject) -> MatchedRule | None:
        score = subject.scores.get(self.category)
        if score is None:
            return None  # not scored: this rule has nothing to judge
        if self.block is not None and score >= self.block:
            return MatchedRule(self.name, "block", f"{self.category} score {_fmt_score(score, self.block)} ≥ block "
                                                   f"threshold {_fmt(self.block)}")
        if self.review is not None and score >= self.review:
            tail = f" (block threshold {_fmt(self.block)})" if self.block is not None else " (never blocks by score)"
            return MatchedRule(self.name, "review", f"{self.category} score {_fmt_score(score, self.review)} ≥ "
                                                    f"review threshold {_fmt(self.review)}{tail}")
        return None


class CombinationRule:
    """Fires when every listed category reaches ``min_score`` together (e.g. a real person in sexual content)."""

    def __init__(self, name: str, categories: tuple[str, ...], *, min_score: float, action: str) -> None:
        self.categories = categories
        self.min_score = min_score
        self.action = action
        self.name = f"combination:{name}"

    def evaluate(self, subject: Subject) -> MatchedRule | None:
        scores = [subject.scores.get(c) for c in self.categories]
        if any(s is None or s < self.min_score for s in scores):
            return None
        parts = " and ".join(f"{c} {_fmt_score(s, self.min_score)}" for c, s in zip(self.categories, scores))
        return MatchedRule(self.name, self.action, f"{parts} all ≥ {_fmt(self.min_score)} "
                                                   f"({self.name.split(':', 1)[1]} → {self.action})")
