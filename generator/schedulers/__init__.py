"""Schedulers: noise schedule and sampling maths (no weights)."""

from .flow_matching import FlowMatchEulerScheduler, apply_guidance

__all__ = ["FlowMatchEulerScheduler", "apply_guidance"]
