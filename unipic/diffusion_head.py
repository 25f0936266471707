"""MAR's per-token diffusion head: a residual MLP with adaptive layer norm.

Each image token is denoised independently, conditioned on its decoder output `z` and the
timestep: y = time_embed(t) + cond_embed(z) modulates (shift, scale, gate) every residual
block and the final layer. The output has 2 x token_dim channels: epsilon and the learned
variance value. Modulation and output layers start at zero, so an untrained head predicts
epsilon = 0. Parameter names match the published `diffloss.net.*` keys (the head is the attribute
`MAR.diffloss`, the published name, so checkpoints match key for key).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from .config import DiffusionConfig
from .diffusion import GaussianDiffusion


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class TimestepEmbedder(nn.Module):
    """Sinusoidal features of a (possibly fractional) timestep, then a two-layer MLP."""

    def __init__(self, width: int, frequencies: int = 256):
        super().__init__()
        self.frequencies = frequencies
        self.mlp = nn.Sequential(nn.Linear(frequencies, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.frequencies // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
        angles = t.float()[:, None] * freqs[None]
        features = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
        return self.mlp(features.to(self.mlp[0].weight.dtype))


class ResBlock(nn.Module):
    """LayerNorm -> AdaLN modulation -> MLP -> gated residual."""

    def __init__(self, width: int):
        super().__init__()
        self.in_ln = nn.LayerNorm(width, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 3 * width))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        shift, scale, gate = self.adaLN_modulation(y).chunk(3, dim=-1)
        return x + gate * self.mlp(_modulate(self.in_ln(x), shift, scale))


class FinalLayer(nn.Module):
    def __init__(self, width: int, out_channels: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(width, out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(y).chunk(2, dim=-1)
        return self.linear(_modulate(self.norm_final(x), shift, scale))


class AdaLNMLP(nn.Module):
    """The denoiser: (noisy token, timestep, condition) -> (epsilon, variance value)."""

    def __init__(self, token_dim: int, cond_dim: int, width: int, depth: int):
        super().__init__()
        self.gradient_checkpointing = False
        self.time_embed = TimestepEmbedder(width)
        self.cond_embed = nn.Linear(cond_dim, width)
        self.input_proj = nn.Linear(token_dim, width)
        self.res_blocks = nn.ModuleList(ResBlock(width) for _ in range(depth))
        self.final_layer = FinalLayer(width, 2 * token_dim)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        for layer in self.time_embed.mlp[0], self.time_embed.mlp[2]:
            nn.init.normal_(layer.weight, std=0.02)
        zeroed = [b.adaLN_modulation[-1] for b in self.res_blocks]
        zeroed += [self.final_layer.adaLN_modulation[-1], self.final_layer.linear]
        for layer in zeroed:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        dtype = self.input_proj.weight.dtype
        h = self.input_proj(x.to(dtype))
        y = self.time_embed(t) + self.cond_embed(cond.to(dtype))
        for block in self.res_blocks:
            if self.gradient_checkpointing and self.training:
                h = checkpoint(block, h, y, use_reentrant=False)
            else:
                h = block(h, y)
        return self.final_layer(h, y)


class DiffusionHead(nn.Module):
    """The denoiser plus its training process and respaced sampling process.

    `loss(target, cond)` trains it; `sample(cond, uncond, guidance, temperature)` draws one
    token per condition row, with classifier-free guidance on epsilon when `uncond` is given.
    """

    def __init__(self, cfg: DiffusionConfig, token_dim: int, cond_dim: int):
        super().__init__()
        self.cfg = cfg
        self.token_dim = token_dim
        self.net = AdaLNMLP(token_dim, cond_dim, cfg.width, cfg.depth)
        self.train_process = GaussianDiffusion.cosine(cfg.train_steps, cfg.max_beta)
        self.sample_process = self.train_process.respaced(cfg.sampling_steps)

    def loss(self, target: torch.Tensor, cond: torch.Tensor, generator: torch.Generator | None = None,
             t: torch.Tensor | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Mean hybrid loss over rows; every row is repeated `batch_mul` times with fresh t and noise.

        Optional `t` (k*N,) and `noise` (k*N, C) give the draws for the repeated rows (copy j
        of row i is row j*N + i) instead of `generator`.
        """
        k = self.cfg.batch_mul
        per_row = self.train_process.training_losses(self.net, target.repeat(k, 1), cond.repeat(k, 1), generator,
                                                     t=t, noise=noise)
        return per_row.mean()

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, uncond: torch.Tensor | None = None, guidance: float = 1.0,
               temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """Sample (N, token_dim) tokens for N conditions.

        With `uncond` (N rows), each step runs the net on both conditions and uses
        eps = eps_u + guidance * (eps_c - eps_u); the variance comes from the conditional branch.
        The noisy token is shared by both branches, so only N tokens are ever sampled.
        """
        c = self.token_dim
        if uncond is None:
            net = self.net
        else:
            def net(x: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
                out = self.net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([z, uncond])).float()
                cond_out, uncond_out = out.chunk(2)
                eps = uncond_out[:, :c] + guidance * (cond_out[:, :c] - uncond_out[:, :c])
                return torch.cat([eps, cond_out[:, c:]], dim=-1)
        return self.sample_process.sample(net, cond, c, temperature, generator)
