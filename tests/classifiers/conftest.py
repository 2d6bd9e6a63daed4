"""The prompt classifier is loaded once per test session (loading MiniLM takes about a second)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def prompt_classifier():
    from classifiers import PromptClassifier

    return PromptClassifier.load()
