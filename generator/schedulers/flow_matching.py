"""Rectified-flow (flow matching) noise schedule and Euler ODE sampler.

Convention: x_t = (1 - t) · x_0 + t · ε with t ∈ [0, 1] (t = 1 is pure
noise); the model predicts the velocity v = ε - x_0, and sampling integrates
dx/dt = v from t = 1 down to t = 0 with Euler steps. Classifier-free
guidance mixes the conditional and unconditional velocities. No weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class HeldValues:
    """Positions whose clean values are known, held fixed while the rest is sampled (inpainting, RePaint-style).

    Before the first step and after every step the sampler overwrites the ``mask`` positions of x_t with
    ``add_noise(x0, noise, t)``, the known clean values on the same straight path to the same noise the
    sample started from, so the free positions are denoised next to a consistent version of the known ones
    and at t = 0 the known positions are exactly ``x0``. Tensors broadcast against the sample.
    """

    x0: torch.Tensor
    mask: torch.Tensor  # bool, True where the value is known
    noise: torch.Tensor

    def apply(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        known = FlowMatchEulerScheduler.add_noise(self.x0, self.noise, t.reshape(1).expand(x.shape[0]))
        return torch.where(self.mask, known, x)


class FlowMatchEulerScheduler:
    def __init__(self, *, shift: float = 1.0) -> None:
        if shift <= 0:
            raise ValueError("shift must be positive")
        self.shift = shift

    # ---------------------------------------------------------------- training
    @staticmethod
    def sample_timesteps(
        n: int, generator: torch.Generator | None = None, *, uniform_share: float = 0.0
    ) -> torch.Tensor:
        """Training t: logit-normal (mean 0, std 1), which concentrates on mid
        noise where layout is decided, mixed with a ``uniform_share`` of
        uniform draws so the ends (t ≈ 0: fine detail, t ≈ 1) are learned too."""
        t = torch.sigmoid(torch.randn(n, generator=generator))
        if uniform_share > 0:
            u = torch.rand(n, generator=generator)
            pick = torch.rand(n, generator=generator) < uniform_share
            t = torch.where(pick, u, t)
        return t

    @staticmethod
    def add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        tt = t.view(-1, *([1] * (x0.dim() - 1)))
        return (1 - tt) * x0 + tt * noise

    @staticmethod
    def velocity_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return noise - x0

    # ---------------------------------------------------------------- sampling
    def timesteps(self, steps: int, *, start: float = 1.0) -> torch.Tensor:
        """steps + 1 values from ``start`` to 0; shift > 1 spends more steps at high noise."""
        if steps < 1:
            raise ValueError("steps must be ≥ 1")
        t = torch.linspace(1.0, 0.0, steps + 1)
        t = self.shift * t / (1 + (self.shift - 1) * t)
        return t * start

    @torch.no_grad()
    def sample(
        self,
        velocity: VelocityFn,
        noise: torch.Tensor,
        *,
        steps: int,
        start: float = 1.0,
        callback: Callable[[int, int], None] | None = None,
        held: HeldValues | None = None,
    ) -> torch.Tensor:
        """Integrate from ``noise`` at t = ``start`` (1 = pure noise) to t = 0.

        ``velocity(x, t)`` returns the (already guided) velocity; ``callback``
        gets (step index + 1, steps) after every step. A ``start`` below 1
        with a partially noised image as ``noise`` edits that image (SDEdit).
        ``held`` keeps known positions on their path (see ``HeldValues``).
        """
        ts = self.timesteps(steps, start=start)
        x = noise if held is None else held.apply(noise, ts[0])
        for i in range(steps):
            t, t_next = ts[i], ts[i + 1]
            v = velocity(x, t.expand(x.shape[0]))
            x = x + (t_next - t) * v
            if held is not None:
                x = held.apply(x, t_next)
            if callback is not None:
                callback(i + 1, steps)
        return x


def apply_guidance(v_cond: torch.Tensor, v_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance: v = v_u + scale · (v_c − v_u)."""
    return v_uncond + scale * (v_cond - v_uncond)
