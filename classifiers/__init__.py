"""Classifiers that score inputs and outputs per category (never decisions): for now, the prompt text classifier."""

from .categories import CATEGORIES
from .normalize import normalize_text
from .prompt import PromptClassifier

__all__ = ["CATEGORIES", "PromptClassifier", "normalize_text"]
