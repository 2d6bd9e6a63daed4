"""Policy packs as versioned data, and the engine that turns classifier scores into an explained Decision."""

from .decision import Decision, MatchedRule
from .engine import PolicyEngine
from .pack import (
    CATEGORIES,
    LABELS,
    CategoryThreshold,
    Combination,
    PolicyError,
    PolicyPack,
    load_pack,
    pack_from_dict,
)
from .registry import PolicyRegistry
from .rules import AllowListRule, CategoryThresholdRule, CombinationRule, DenyListRule, Rule, Subject, matching_form

__all__ = [
    "CATEGORIES", "LABELS", "AllowListRule", "CategoryThreshold", "CategoryThresholdRule", "Combination",
    "CombinationRule", "Decision", "DenyListRule", "MatchedRule", "PolicyEngine", "PolicyError", "PolicyPack",
    "PolicyRegistry", "Rule", "Subject", "load_pack", "matching_form", "pack_from_dict",
]
