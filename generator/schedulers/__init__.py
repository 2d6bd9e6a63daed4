"""Schedulers: noise schedule and sampling maths (no weights)."""

from .flow_matching import FlowMatchEulerScheduler, HeldValues, apply_guidance

__all__ = ["FlowMatchEulerScheduler", "HeldValues", "apply_guidance"]
