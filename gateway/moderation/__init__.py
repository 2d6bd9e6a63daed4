"""Request-time moderation: prompt and reference-image scores, the tenant's policy pack, the audited decision."""

from .policies import PolicyService
from .references import ReferenceImage
from .service import Moderation, ModerationService

__all__ = ["Moderation", "ModerationService", "PolicyService", "ReferenceImage"]
