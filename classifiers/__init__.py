"""Classifiers that score inputs per category (never decisions): the prompt text classifier and the face detector
for reference images."""

from .categories import CATEGORIES
from .normalize import normalize_text
from .prompt import PromptClassifier

__all__ = [
    "CATEGORIES",
    "PromptClassifier",
    "normalize_text",
]
