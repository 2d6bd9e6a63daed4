"""Audit log benchmark: append throughput on SQLite and proof generation time at a large tree size."""
