"""Provenance checks: the layers (C2PA, watermark, registry), the verdict over them, and the service that runs them."""

from .assessment import Assessment, assess
from .layers import Verdict, WatermarkResult
from .service import VerificationService

__all__ = ["Assessment", "Verdict", "VerificationService", "WatermarkResult", "assess"]
