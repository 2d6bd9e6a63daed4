"""Spacetime-patch diffusion transformer (the built-in video model).

A video (B×3×T×H×W, values in [-1, 1]) is cut into non-overlapping
spacetime patches, each becomes one token with a fixed 3-D sin-cos position
over (t, h, w). Each block: self-attention over all spacetime tokens,
cross-attention to the prompt's token states, and an MLP; timestep and the
pooled prompt modulate the block through adaLN-Zero. The output is the
flow-matching velocity for every pixel.

With ``prediction="x"`` the network's head predicts the clean clip x̂₀ and
the forward pass turns it into the velocity v = (x_t − x̂₀) / t, so the
sampler and the loss (on v) are unchanged. A 4×4×4×3 patch has 192 values,
more than the 128-wide tokens: a token can carry a clean patch (which lies
on a low-dimensional set) but not the full-dimensional noise that predicting
v or ε requires (Li & He, "Back to Basics: Let Denoising Generative Models
Denoise", 2025). t is clamped below at ``X_PRED_MIN_T`` in the division.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class DiTConfig:
    frames: int = 16
    size: int = 32
    channels: int = 3
    patch_t: int = 4
    patch_s: int = 4
    dim: int = 192
    depth: int = 6
    heads: int = 6
    mlp_ratio: float = 4.0
    text_dim: int = 384
    refine_channels: int = 32  # 0 disables the per-frame conv refiner
    prediction: str = "v"  # "v": the head predicts the velocity; "x": the clean clip (see the module docstring)

    def __post_init__(self) -> None:
        if self.prediction not in ("v", "x"):
            raise ValueError(f"prediction must be 'v' or 'x', not {self.prediction!r}")

    @property
    def grid(self) -> tuple[int, int, int]:
        return (self.frames // self.patch_t, self.size // self.patch_s, self.size // self.patch_s)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DiTConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


X_PRED_MIN_T = 0.05


def _sincos_1d(n: int, dim: int) -> torch.Tensor:
    pos = torch.arange(n, dtype=torch.float64)
    freqs = torch.exp(-math.log(10000.0) * torch.arange(dim // 2, dtype=torch.float64) / (dim // 2))
    ang = pos[:, None] * freqs[None, :]
    return torch.cat([ang.sin(), ang.cos()], dim=1).float()  # n × dim


def sincos_3d(grid: tuple[int, int, int], dim: int) -> torch.Tensor:
    """Fixed position embedding (N × dim): a third of the channels per axis."""
    gt, gh, gw = grid
    d_axis = (dim // 6) * 2
    d_t = dim - 2 * d_axis
    et, eh, ew = _sincos_1d(gt, d_t), _sincos_1d(gh, d_axis), _sincos_1d(gw, d_axis)
    t = et[:, None, None, :].expand(gt, gh, gw, d_t)
    h = eh[None, :, None, :].expand(gt, gh, gw, d_axis)
    w = ew[None, None, :, :].expand(gt, gh, gw, d_axis)
    return torch.cat([t, h, w], dim=-1).reshape(gt * gh * gw, dim)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of t ∈ [0, 1] (scaled to 0..1000 like DDPM steps)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    ang = (t.float() * 1000.0)[:, None] * freqs[None, :]
    return torch.cat([ang.cos(), ang.sin()], dim=1)


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None, :]) + shift[:, None, :]


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, kv_dim: int | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(kv_dim or dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        b, n, d = x.shape
        ctx = x if context is None else context
        q = self.q(x).view(b, n, self.heads, d // self.heads).transpose(1, 2)
        k, v = self.kv(ctx).view(b, ctx.shape[1], 2, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn_mask = None if mask is None else mask[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.out(y.transpose(1, 2).reshape(b, n, d))


class DiTBlock(nn.Module):
    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.self_attn = Attention(d, cfg.heads)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.cross_attn = Attention(d, cfg.heads)
        self.norm3 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, d))
        # adaLN-Zero: shift/scale/gate for self-attention and MLP, gate for cross-attention
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 7 * d))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def forward(self, x, c, text, text_mask):
        sh1, sc1, g1, sh2, sc2, g2, g3 = self.ada(c).chunk(7, dim=1)
        x = x + g1[:, None] * self.self_attn(_modulate(self.norm1(x), sh1, sc1))
        x = x + g3[:, None] * self.cross_attn(self.norm2(x), text, text_mask)
        x = x + g2[:, None] * self.mlp(_modulate(self.norm3(x), sh2, sc2))
        return x


class VideoDiT(nn.Module):
    """Predicts the flow velocity v(x_t, t | text) for a batch of clips (directly, or through x̂₀)."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        pt, ps = cfg.patch_t, cfg.patch_s
        self.patch_embed = nn.Conv3d(cfg.channels, d, kernel_size=(pt, ps, ps), stride=(pt, ps, ps))
        self.register_buffer("pos", sincos_3d(cfg.grid, d)[None], persistent=False)
        self.t_embed = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.text_proj = nn.Sequential(nn.LayerNorm(cfg.text_dim), nn.Linear(cfg.text_dim, d))
        self.pooled_proj = nn.Sequential(nn.Linear(cfg.text_dim, d), nn.SiLU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.depth))
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        self.head = nn.Linear(d, pt * ps * ps * cfg.channels)
        for m in (self.ada_out[1], self.head):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)
        # A small per-frame convolution over (patch output, noisy input): it
        # sees neighbouring pixels across patch borders, which a per-token
        # linear head cannot, and so smooths the patch grid out of edges.
        self.refine = None
        if cfg.refine_channels:
            k = (1, 3, 3)
            self.refine = nn.Sequential(
                nn.Conv3d(2 * cfg.channels, cfg.refine_channels, k, padding=(0, 1, 1)),
                nn.SiLU(),
                nn.Conv3d(cfg.refine_channels, cfg.channels, k, padding=(0, 1, 1)),
            )
            nn.init.zeros_(self.refine[2].weight)
            nn.init.zeros_(self.refine[2].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        b = x.shape[0]
        tok = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos
        m = text_mask.to(text.dtype)[..., None]
        pooled = (text * m).sum(1) / m.sum(1).clamp(min=1.0)
        c = self.t_embed(timestep_embedding(t, cfg.dim)) + self.pooled_proj(pooled)
        ctx = self.text_proj(text)
        for blk in self.blocks:
            tok = blk(tok, c, ctx, text_mask)
        shift, scale = self.ada_out(c).chunk(2, dim=1)
        out = self.head(_modulate(self.norm_out(tok), shift, scale))
        gt, gh, gw = cfg.grid
        pt, ps = cfg.patch_t, cfg.patch_s
        out = out.view(b, gt, gh, gw, pt, ps, ps, cfg.channels)
        out = out.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(b, cfg.channels, cfg.frames, cfg.size, cfg.size)
        if self.refine is not None:
            out = out + self.refine(torch.cat([out, x], dim=1))
        if cfg.prediction == "x":
            tt = t.to(x.dtype).clamp(min=X_PRED_MIN_T).view(-1, 1, 1, 1, 1)
            out = (x - out) / tt
        return out
