"""The compliance audit log: an RFC 6962/9162 Merkle tree of entries with C2SP signed checkpoints and proofs.

``merkle`` (hashing and proofs, pure), ``checkpoint`` (signed tree heads), ``log`` (storage, append, verify),
``retention`` (pruning that keeps the tree verifiable), ``export`` (jsonl/csv and the offline verifier),
``report`` (compliance report as JSON and HTML).
"""

from .checkpoint import Checkpoint, CheckpointError, CheckpointSigner, VerifierKey
from .log import AuditError, AuditEvent, AuditLog, AuditReport, canonical_entry, parse_time

__all__ = ["AuditError", "AuditEvent", "AuditLog", "AuditReport", "Checkpoint", "CheckpointError",
           "CheckpointSigner", "VerifierKey", "canonical_entry", "parse_time"]
