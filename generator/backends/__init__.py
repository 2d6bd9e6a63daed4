"""Generator backends other than the built-in model: operators' own models behind the same ``generate()``."""

from .diffusers_backend import DiffusersVideoGenerator

__all__ = ["DiffusersVideoGenerator"]
