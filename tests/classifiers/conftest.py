"""The prompt classifier is loaded once per test session (reading and dequantising the encoder takes a few seconds)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def prompt_classifier():
    from classifiers import PromptClassifier

    return PromptClassifier.load()
