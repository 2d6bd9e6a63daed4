"""Fitting the prompt head on encoder features, and its probabilities."""

from __future__ import annotations

import numpy as np
import torch

from classifiers.head import HeadConfig, PromptHead

__all__ = ["predict", "train_head"]


def train_head(x: torch.Tensor, y: torch.Tensor, known: torch.Tensor, weight: torch.Tensor, config: HeadConfig, *,
               seed: int, epochs: int, lr: float, weight_decay: float, batch_size: int) -> PromptHead:
    """A head fitted with masked BCE: ``known`` says which labels count per example, ``weight`` scales examples."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    head = PromptHead(config)
    head.set_standardisation(x)
    pos = (y * known).sum(0)
    neg = ((1 - y) * known).sum(0)
    # Rare categories get a larger positive weight (square root: full inverse frequency over-flags).
    pos_weight = torch.sqrt(neg / pos.clamp(min=1.0)).clamp(1.0, 30.0)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight, reduction="none")
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    mask = known.float() * weight[:, None]
    head.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            loss = (loss_fn(head(x[idx]), y[idx]) * mask[idx]).sum() / mask[idx].sum().clamp(min=1.0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
    head.eval()
    return head


def predict(head: PromptHead, x: torch.Tensor) -> np.ndarray:
    """Probability per category (rows follow ``x``), as float32."""
    with torch.inference_mode():
        return torch.sigmoid(head(x)).numpy()
