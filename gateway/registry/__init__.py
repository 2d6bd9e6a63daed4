"""The provenance registry (what this gateway generated, found again by content id, manifest or fingerprint) and
the registered works of rights holders."""

from .fingerprint import FINGERPRINT_ALG, fingerprint_frames, sample_indices
from .records import Registry, RegistryMatch
from .works import WorkRegistry

__all__ = ["FINGERPRINT_ALG", "Registry", "RegistryMatch", "WorkRegistry", "fingerprint_frames", "sample_indices"]
