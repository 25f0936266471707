"""Gaussian diffusion for the per-token head: cosine schedule, hybrid training loss, respaced sampler.

The head predicts epsilon plus a learned interpolation between the two standard variances
("learned range", Nichol & Dhariwal 2021). Training uses their hybrid objective: MSE on
epsilon plus the variational bound for the variance with the mean's gradient stopped.
Sampling runs DDPM ancestral steps on a respaced subset of the training timesteps; the
temperature scales only the per-step noise (as MAR does), not the starting noise.

UniPic caps each beta of the cosine schedule at 0.2 instead of 0.999 (`DiffusionConfig.max_beta`);
in the 1000-step schedule that clips the last 9 betas.

Schedule arithmetic is done in float64 and applied in float32 whatever the network's dtype.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

# net(x_t, t, cond) -> (N, 2C): epsilon then the variance interpolation value in [-1, 1].
Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def cosine_betas(num_steps: int, max_beta: float) -> np.ndarray:
    """Betas of the cosine schedule (alpha_bar(t) = cos^2((t + 0.008) / 1.008 * pi/2)), each capped."""

    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / num_steps) / alpha_bar(i / num_steps), max_beta) for i in range(num_steps)]
    return np.array(betas, dtype=np.float64)


def respaced_timesteps(num_steps: int, kept: int) -> list[int]:
    """`kept` evenly spaced training timesteps from 0 to num_steps - 1 (rounded)."""
    if kept >= num_steps:
        return list(range(num_steps))
    if kept == 1:
        return [num_steps - 1]
    stride = (num_steps - 1) / (kept - 1)
    return sorted({round(i * stride) for i in range(kept)})


def normal_kl(mean1, logvar1, mean2, logvar2) -> torch.Tensor:
    """KL(N(mean1, e^logvar1) || N(mean2, e^logvar2)), elementwise."""
    return 0.5 * (-1.0 + logvar2 - logvar1 + torch.exp(logvar1 - logvar2) + (mean1 - mean2) ** 2 * torch.exp(-logvar2))


def discretized_gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of x under a Gaussian integrated over bins of width 2/255.

    This is the t = 0 term of the bound. It uses the exact normal CDF (the original uses a
    tanh approximation); the latents are continuous, so this term only matters at t = 0.
    """
    centred = x - mean
    inv_std = torch.exp(-log_scale)
    cdf_plus = torch.special.ndtr(inv_std * (centred + 1 / 255))
    cdf_minus = torch.special.ndtr(inv_std * (centred - 1 / 255))
    log_cdf_plus = torch.log(cdf_plus.clamp(min=1e-12))
    log_one_minus_cdf_minus = torch.log((1 - cdf_minus).clamp(min=1e-12))
    log_delta = torch.log((cdf_plus - cdf_minus).clamp(min=1e-12))
    log_probs = torch.where(x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_minus, log_delta))
    return -log_probs


class GaussianDiffusion:
    """A discrete-time diffusion process defined by its betas.

    `timestep_map[i]` is the training timestep the network is told for process step i (the
    identity for the training process, a subset of 0..T-1 for a respaced sampler).
    """

    def __init__(self, betas: np.ndarray, timestep_map: list[int] | None = None):
        self.betas = betas
        self.num_steps = len(betas)
        self.timestep_map = np.array(timestep_map if timestep_map is not None else range(self.num_steps))
        alphas = 1.0 - betas
        acp = np.cumprod(alphas)
        acp_prev = np.append(1.0, acp[:-1])
        self.alphas_cumprod = acp
        self.sqrt_acp = np.sqrt(acp)
        self.sqrt_one_minus_acp = np.sqrt(1.0 - acp)
        self.sqrt_recip_acp = np.sqrt(1.0 / acp)
        self.sqrt_recipm1_acp = np.sqrt(1.0 / acp - 1)
        posterior_var = betas * (1.0 - acp_prev) / (1.0 - acp)
        # Step 0's posterior variance is 0; its log is clipped to step 1's value.
        self.posterior_log_var = np.log(np.append(posterior_var[1], posterior_var[1:]))
        self.posterior_coef_x0 = betas * np.sqrt(acp_prev) / (1.0 - acp)
        self.posterior_coef_xt = (1.0 - acp_prev) * np.sqrt(alphas) / (1.0 - acp)
        self.log_betas = np.log(betas)
        self.timestep_table = self.timestep_map.astype(np.float64)
        self._device_tables: dict = {}  # (id(table), device) -> tensor copy

    @classmethod
    def cosine(cls, num_steps: int, max_beta: float) -> "GaussianDiffusion":
        return cls(cosine_betas(num_steps, max_beta))

    def respaced(self, kept: int) -> "GaussianDiffusion":
        """The same process observed at `kept` of its timesteps (betas from the cumulative alphas)."""
        steps = respaced_timesteps(self.num_steps, kept)
        betas, last = [], 1.0
        for i in steps:
            betas.append(1.0 - self.alphas_cumprod[i] / last)
            last = self.alphas_cumprod[i]
        return GaussianDiffusion(np.array(betas), [int(self.timestep_map[i]) for i in steps])

    def _at(self, table: np.ndarray, t: torch.Tensor) -> torch.Tensor:
        """Gather table[t] as a float32 column (N, 1) on t's device (tables are copied there once)."""
        key = (id(table), t.device)
        cached = self._device_tables.get(key)
        if cached is None:
            cached = self._device_tables[key] = torch.from_numpy(table).to(device=t.device, dtype=torch.float32)
        return cached[t].unsqueeze(-1)

    # ------------------------------------------------------------------ process
    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self._at(self.sqrt_acp, t) * x0 + self._at(self.sqrt_one_minus_acp, t) * noise

    def p_mean_logvar(self, out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of p(x_{t-1} | x_t) from the network output (epsilon, variance value)."""
        eps, v = out.float().chunk(2, dim=-1)
        frac = (v + 1) / 2
        log_var = frac * self._at(self.log_betas, t) + (1 - frac) * self._at(self.posterior_log_var, t)
        x0 = self._at(self.sqrt_recip_acp, t) * x_t - self._at(self.sqrt_recipm1_acp, t) * eps
        mean = self._at(self.posterior_coef_x0, t) * x0 + self._at(self.posterior_coef_xt, t) * x_t
        return mean, log_var

    def training_losses(self, net: Denoiser, x0: torch.Tensor, cond: torch.Tensor,
                        generator: torch.Generator | None = None, t: torch.Tensor | None = None,
                        noise: torch.Tensor | None = None) -> torch.Tensor:
        """Per-row hybrid loss (MSE on epsilon + variational bound in bits), shape (N,).

        `t` (N,) and `noise` (N, C) are drawn from `generator` unless given (a trainer that
        derives them per sample passes them in).
        """
        n = x0.shape[0]
        x0 = x0.float()
        if t is None:
            t = torch.randint(0, self.num_steps, (n,), device=x0.device, generator=generator)
        if noise is None:
            noise = torch.randn(x0.shape, device=x0.device, generator=generator)
        t, noise = t.to(x0.device), noise.to(x0.device, torch.float32)
        x_t = self.q_sample(x0, t, noise)
        t_in = self._at(self.timestep_table, t).squeeze(-1)
        out = net(x_t, t_in, cond).float()
        eps, v = out.chunk(2, dim=-1)
        mse = ((noise - eps) ** 2).mean(dim=-1)
        # The bound trains only the variance: the mean's gradient is stopped.
        mean, log_var = self.p_mean_logvar(torch.cat([eps.detach(), v], dim=-1), x_t, t)
        true_mean = self._at(self.posterior_coef_x0, t) * x0 + self._at(self.posterior_coef_xt, t) * x_t
        true_log_var = self._at(self.posterior_log_var, t)
        kl = normal_kl(true_mean, true_log_var, mean, log_var).mean(dim=-1) / math.log(2.0)
        nll = discretized_gaussian_nll(x0, mean, 0.5 * log_var).mean(dim=-1) / math.log(2.0)
        return mse + torch.where(t == 0, nll, kl)

    @torch.no_grad()
    def sample(self, net: Denoiser, cond: torch.Tensor, channels: int, temperature: float = 1.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Ancestral sampling of one token per row of `cond`; returns (N, channels) float32."""
        n, device = cond.shape[0], cond.device
        x = torch.randn(n, channels, device=device, generator=generator)
        for i in reversed(range(self.num_steps)):
            t = torch.full((n,), i, device=device, dtype=torch.long)
            t_in = torch.full((n,), float(self.timestep_map[i]), device=device)
            mean, log_var = self.p_mean_logvar(net(x, t_in, cond), x, t)
            if i > 0:
                noise = torch.randn(x.shape, device=device, generator=generator)
                x = mean + torch.exp(0.5 * log_var) * noise * temperature
            else:
                x = mean
        return x
