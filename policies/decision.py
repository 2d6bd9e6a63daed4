"""What the policy engine returns: the action, the scores it judged, and every rule that fired with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Action", "MatchedRule", "Decision", "ACTION_SEVERITY"]

Action = Literal["allow", "review", "block"]
ACTION_SEVERITY: dict[str, int] = {"allow": 0, "review": 1, "block": 2}


@dataclass(frozen=True)
class MatchedRule:
    """One rule that fired: its name (e.g. ``threshold:violence/graphic``), the action it asks for, and why."""

    rule: str
    action: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "action": self.action, "reason": self.reason}


@dataclass(frozen=True)
class Decision:
    """The outcome for one input under one pack (``policy`` is the pack's ``id@version``)."""

    action: Action
    categories: dict[str, float]
    flagged: list[str]
    matched_rules: list[MatchedRule]
    policy: str

    @property
    def reasons(self) -> list[str]:
        return [m.reason for m in self.matched_rules]

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "categories": dict(self.categories),
            "flagged": list(self.flagged),
            "matched_rules": [m.to_dict() for m in self.matched_rules],
            "policy": self.policy,
        }
