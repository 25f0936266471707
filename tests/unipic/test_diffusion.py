"""Noise schedule, respacing, training loss and sampler of the diffusion head."""

from __future__ import annotations

import numpy as np
import torch

from unipic.config import DiffusionConfig
from unipic.diffusion_head import DiffusionHead
from unipic.diffusion import GaussianDiffusion, cosine_betas, respaced_timesteps


def test_unipic_caps_betas_at_0_2():
    capped, uncapped = cosine_betas(1000, 0.2), cosine_betas(1000, 0.999)
    assert (capped >= 0.2 - 1e-12).sum() == 9 and capped.max() == 0.2
    assert np.allclose(capped[:-9], uncapped[:-9])
    assert np.isclose(np.cumprod(1 - capped)[-1], 2.6e-5, rtol=0.05)
    assert np.cumprod(1 - uncapped)[-1] < 1e-8


def test_respacing_keeps_the_cumulative_alphas():
    base = GaussianDiffusion.cosine(1000, 0.2)
    steps = respaced_timesteps(1000, 100)
    assert len(steps) == 100 and steps[0] == 0 and steps[-1] == 999
    spaced = base.respaced(100)
    assert list(spaced.timestep_map) == steps
    assert np.allclose(spaced.alphas_cumprod, base.alphas_cumprod[steps])


def _head(seed=0):
    torch.manual_seed(seed)
    head = DiffusionHead(DiffusionConfig(depth=2, width=32, sampling_steps=10, batch_mul=2), token_dim=4, cond_dim=8)
    with torch.no_grad():  # open the zero-initialised output layers
        for p in head.parameters():
            if not p.any():
                p.normal_(0, 0.1)
    return head


def test_training_loss_is_finite_and_trains_the_net():
    head = _head()
    loss = head.loss(torch.randn(6, 4), torch.randn(6, 8), torch.Generator().manual_seed(0))
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in head.parameters())


def test_sampling_is_seeded_and_temperature_matters():
    head = _head().eval()
    z = torch.randn(5, 8)
    a = head.sample(z, generator=torch.Generator().manual_seed(3))
    b = head.sample(z, generator=torch.Generator().manual_seed(3))
    c = head.sample(z, temperature=0.0, generator=torch.Generator().manual_seed(3))
    assert a.shape == (5, 4) and torch.equal(a, b) and not torch.allclose(a, c)


def test_guidance_combines_epsilon():
    head = _head().eval()
    z, z_u = torch.randn(5, 8), torch.randn(5, 8)
    cond_only = head.sample(z, generator=torch.Generator().manual_seed(1))
    # guidance 1 is the conditional branch; an unconditional branch equal to the conditional one changes nothing
    torch.testing.assert_close(head.sample(z, z_u, 1.0, generator=torch.Generator().manual_seed(1)), cond_only)
    torch.testing.assert_close(head.sample(z, z.clone(), 4.0, generator=torch.Generator().manual_seed(1)), cond_only)
    guided = head.sample(z, z_u, 4.0, generator=torch.Generator().manual_seed(1))
    assert not torch.allclose(guided, cond_only, atol=1e-3)
