"""Classifiers that score inputs and outputs per category (never decisions): the prompt text classifier and the
registered-works matcher for reference images and generated frames."""

from .categories import CATEGORIES
from .normalize import normalize_text
from .prompt import PromptClassifier
from .works import RegisteredWork, WorkMatch, WorkMatcher, fingerprint_frames

__all__ = [
    "CATEGORIES",
    "PromptClassifier",
    "RegisteredWork",
    "WorkMatch",
    "WorkMatcher",
    "fingerprint_frames",
    "normalize_text",
]
