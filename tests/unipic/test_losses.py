"""Training losses and freezing helpers (used by the training issue)."""

from __future__ import annotations

import copy

import pytest
import torch

from unipic.model import PARAMETER_GROUPS
from unipic.understanding import understanding_inputs
from unipic.images import to_pil


@pytest.fixture()
def model(tiny_model):
    m = copy.deepcopy(tiny_model)  # zero-initialised layers are already opened
    m.train()
    return m


def _grad_groups(model) -> set[str]:
    """Groups in which some parameter received a non-zero gradient."""
    return {g for g, params in model.parameter_groups().items()
            if any(p.grad is not None and p.grad.abs().sum() > 0 for _, p in params)}


def _images(n, size=64, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_groups_partition_the_trainable_parameters(model):
    groups = model.parameter_groups()
    named = [n for n, _ in model.named_parameters() if not n.startswith("codec.")]
    grouped = [n for params in groups.values() for n, _ in params]
    assert sorted(grouped) == sorted(named) and len(set(grouped)) == len(grouped)
    assert all(groups[g] for g in PARAMETER_GROUPS)


def test_text2image_loss_reaches_generation_params_only(model):
    batch = model.prompts.text_to_image(["a red circle", "a blue square"])
    loss = model.text2image_loss(batch.input_ids, batch.attention_mask, images=_images(2),
                                 generator=torch.Generator().manual_seed(0))
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert _grad_groups(model) == {"mar_encoder", "mar_decoder", "diffusion_head", "llm", "proj_in", "proj_out"}
    assert not any(p.grad is not None for p in model.codec.parameters())


def test_text2image_loss_accepts_cached_latents(model):
    batch = model.prompts.text_to_image(["a red circle"])
    latents = model.codec.encode(_images(1))
    loss = model.text2image_loss(batch.input_ids, batch.attention_mask, latents=latents)
    assert torch.isfinite(loss)


def test_edit_loss_puts_the_source_in_context(model):
    sources, targets = _images(2, seed=1), _images(2, seed=2)
    slots = model.config.grid()[0] * model.config.grid()[1] + model.mar.buffer_size
    batch = model.prompts.edit(["make it green", "add a cat"], slots)
    loss = model.edit_loss(batch.input_ids, batch.attention_mask, sources, targets,
                           generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(loss)
    loss.backward()
    assert _grad_groups(model) == {"mar_encoder", "mar_decoder", "diffusion_head", "llm", "proj_in", "proj_out"}
    with pytest.raises(ValueError, match="placeholders"):
        model.edit_loss(batch.input_ids[:, -5:], batch.attention_mask[:, -5:], sources, targets)


def test_understanding_loss_siglip_path(model):
    inputs = understanding_inputs(model, to_pil(_images(2, size=96)))
    counts = model.understanding_token_counts(inputs["pixel_attention_mask"])
    assert counts == [model.config.siglip.num_patches] * 2
    batch = model.prompts.understanding(["What is this?", "Describe it."], counts, ["A red circle.", "Blue."])
    assert (batch.labels >= 0).sum() < batch.attention_mask.sum() / 4  # only answers are supervised
    loss = model.understanding_loss(batch.input_ids, batch.attention_mask, batch.labels, **inputs)
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert _grad_groups(model) == {"llm", "siglip", "siglip_proj"}


def test_understanding_loss_mar_path(model):
    model.config.understanding_encoder = "mar"
    try:
        images = _images(2)
        counts = model.understanding_token_counts(images=images)
        batch = model.prompts.understanding(["What is this?"] * 2, counts, ["A red circle.", "Blue."])
        loss = model.understanding_loss(batch.input_ids, batch.attention_mask, batch.labels, images=images)
        loss.backward()
        assert _grad_groups(model) == {"llm", "mar_encoder", "proj_in"}
    finally:
        model.config.understanding_encoder = "siglip"


def test_visual_gradient_is_scaled(model):
    """The understanding loss sends 0.1 x the gradient into the visual features."""
    inputs = understanding_inputs(model, to_pil(_images(1, size=96)))
    counts = model.understanding_token_counts(inputs["pixel_attention_mask"])
    batch = model.prompts.understanding(["What is this?"], counts, ["A red circle."])
    grads = []
    for scale in (1.0, 0.1):
        model.zero_grad()
        model.config.loss.understanding_grad_scale = scale
        model.understanding_loss(batch.input_ids, batch.attention_mask, batch.labels, **inputs).backward()
        grads.append(model.siglip_proj[2].weight.grad.clone())
    model.config.loss.understanding_grad_scale = 0.1
    torch.testing.assert_close(grads[1], grads[0] * 0.1, rtol=1e-4, atol=1e-8)


def test_freezing_by_group(model):
    model.set_trainable(["mar_decoder", "diffusion_head"])
    assert model.trainable_groups() == ["mar_decoder", "diffusion_head"]
    model.unfreeze("llm")
    model.freeze("diffusion_head")
    assert model.trainable_groups() == ["mar_decoder", "llm"]
    batch = model.prompts.text_to_image(["a red circle"])
    model.text2image_loss(batch.input_ids, batch.attention_mask, images=_images(1)).backward()
    assert _grad_groups(model) == {"mar_decoder", "llm"}
    groups = model.optimizer_param_groups(weight_decay=0.02)
    n_trainable = sum(p.requires_grad for p in model.parameters())
    assert sum(len(g["params"]) for g in groups) == n_trainable
    with pytest.raises(ValueError, match="unknown parameter groups"):
        model.set_trainable(["vae"])


def test_mask_ratio_is_truncated_normal(model):
    g = torch.Generator().manual_seed(0)
    fractions = torch.tensor([model.random_mask(2, 64, g).mean().item() for _ in range(300)])
    assert fractions.min() >= 0.7 and fractions.max() <= 1.0
    assert fractions.mean() > 0.85  # peaks near full masking
    mask = model.random_mask(3, 64, g)
    assert (mask.sum(1) == mask.sum(1)[0]).all()  # one ratio per batch


def test_gradient_checkpointing_gives_the_same_gradients(model):
    for m in model.modules():  # no dropout, so both runs compute the same function
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        if hasattr(m, "attn_dropout"):
            m.attn_dropout = 0.0
    batch = model.prompts.text_to_image(["a red circle"])
    grads = []
    for checkpointing in (False, True):
        if checkpointing:
            model.enable_gradient_checkpointing()
        model.zero_grad()
        model.text2image_loss(batch.input_ids, batch.attention_mask, images=_images(1),
                              generator=torch.Generator().manual_seed(0)).backward()
        grads.append(model.mar.encoder_blocks[0].attn.qkv.weight.grad.clone())
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-6)
