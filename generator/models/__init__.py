"""Models: the video diffusion transformer (weights + config, no sampling maths)."""

from .dit import DiTConfig, VideoDiT

__all__ = ["DiTConfig", "VideoDiT"]
