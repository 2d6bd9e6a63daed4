"""Hallmark gateway: the service that composes policy, generation, watermarking, signing and audit."""

__version__ = "0.1.0"
