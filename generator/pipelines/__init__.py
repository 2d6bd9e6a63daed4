"""Pipelines: compose text encoder, model and scheduler for one task."""

from .text_to_video import TextToVideoPipeline, upsample_clip

__all__ = ["TextToVideoPipeline", "upsample_clip"]
