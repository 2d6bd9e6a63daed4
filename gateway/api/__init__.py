"""The HTTP API: OpenAI's /v1/videos shape plus provenance checks."""

from .app import create_app

__all__ = ["create_app"]
