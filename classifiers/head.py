"""The small trained part of the prompt classifier: pooled encoder features -> one logit per category.

Weights live in a safetensors file; the architecture and provenance live in a JSON config beside it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

__all__ = ["HeadConfig", "PromptHead", "save_head", "load_head", "DEFAULT_HEAD_PATH"]

DEFAULT_HEAD_PATH = Path(__file__).resolve().parent / "weights" / "prompt_head.safetensors"


@dataclass
class HeadConfig:
    name: str
    categories: list[str]
    in_features: int
    hidden: int  # 0 = a linear (logistic-regression) head
    dropout: float
    pooling: list[str]
    max_length: int
    normalization: str
    encoder: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)


class PromptHead(nn.Module):
    """Standardise features, then a one-hidden-layer MLP (or a linear layer) to per-category logits."""

    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("feature_mean", torch.zeros(config.in_features))
        self.register_buffer("feature_std", torch.ones(config.in_features))
        n = len(config.categories)
        if config.hidden > 0:
            self.net = nn.Sequential(
                nn.Dropout(config.dropout),
                nn.Linear(config.in_features, config.hidden),
                nn.GELU(),
                nn.Dropout(config.dropout),
                nn.Linear(config.hidden, n),
            )
        else:
            self.net = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.in_features, n))

    def set_standardisation(self, features: torch.Tensor) -> None:
        self.feature_mean.copy_(features.mean(dim=0))
        self.feature_std.copy_(features.std(dim=0).clamp(min=1e-4))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net((features - self.feature_mean) / self.feature_std)


def _config_path(head_path: Path) -> Path:
    return head_path.with_suffix(".json")


def save_head(head: PromptHead, head_path: str | Path) -> None:
    head_path = Path(head_path)
    head_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().clone() for k, v in head.state_dict().items()}
    save_file(tensors, str(head_path), metadata={"name": head.config.name})
    head_path.chmod(0o644)  # safetensors writes 0600; the weights are shipped, world-readable data
    _config_path(head_path).write_text(json.dumps(asdict(head.config), indent=2, ensure_ascii=False) + "\n",
                                       encoding="utf-8")


def load_head(head_path: str | Path) -> PromptHead:
    head_path = Path(head_path)
    config_path = _config_path(head_path)
    if not head_path.is_file():
        raise FileNotFoundError(f"prompt head weights not found: {head_path}")
    if not config_path.is_file():
        raise FileNotFoundError(f"prompt head config not found beside the weights: {config_path}")
    config = HeadConfig(**json.loads(config_path.read_text(encoding="utf-8")))
    head = PromptHead(config)
    head.load_state_dict(load_file(str(head_path)))
    head.eval()
    return head
