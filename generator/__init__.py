"""Hallmark's video generator: text (and an optional image) → frames.

The contract (request, frames, errors, the VideoGenerator protocol) lives in
``generator.types`` and imports only numpy; the built-in model (torch,
transformers) loads on first use through ``load_builtin()``.
"""

from __future__ import annotations

from .builtin import BUILTIN_NAME, describe_model, load_builtin
from .types import (
    CONTINUE,
    MAX_SECONDS,
    MIN_SECONDS,
    SUPPORTED_SIZES,
    TRANSFORM,
    Frames,
    GenerationRequest,
    GeneratorError,
    ProgressCallback,
    SizeRange,
    SourceVideo,
    VideoGenerator,
    capabilities_of,
    validate_request,
)

__all__ = [
    "BUILTIN_NAME",
    "CONTINUE",
    "MAX_SECONDS",
    "MIN_SECONDS",
    "SUPPORTED_SIZES",
    "Frames",
    "GenerationRequest",
    "GeneratorError",
    "ProgressCallback",
    "SizeRange",
    "SourceVideo",
    "TRANSFORM",
    "VideoGenerator",
    "capabilities_of",
    "describe_model",
    "load_builtin",
    "validate_request",
]
