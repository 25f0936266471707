"""Per-sample randomness: a sample's loss does not depend on which worker computes it."""

from __future__ import annotations

import torch

from unipic.train.data import BatchStream, ResolutionBuckets, SourceConfig
from unipic.train.losses import TrainingModule, build_inputs, diffusion_draws


def test_draws_depend_on_position_not_on_the_split(tiny_model):
    mask, (t, noise) = diffusion_draws(tiny_model, seed=0, step=3, task="t2i", positions=[0, 1, 2, 3], length=16)
    assert mask.shape == (4, 16) and len(set(mask.sum(1).tolist())) == 1  # one ratio per global batch
    n = int(mask[0].sum())
    k = tiny_model.config.diffusion.batch_mul
    assert t.shape == (k * 4 * n,) and noise.shape == (k * 4 * n, tiny_model.config.token_dim)
    even, (te, ne) = diffusion_draws(tiny_model, 0, 3, "t2i", [0, 2], 16)
    assert torch.equal(even, mask[[0, 2]])
    t_full = t.view(k, 4, n)
    assert torch.equal(te.view(k, 2, n), t_full[:, [0, 2]])
    assert torch.equal(ne.view(k, 2, n, -1), noise.view(k, 4, n, -1)[:, [0, 2]])
    other, _ = diffusion_draws(tiny_model, 0, 4, "t2i", [0, 1, 2, 3], 16)
    assert not torch.equal(other, mask)


def test_mean_over_halves_is_the_global_loss(world_folder, world_shards):
    """What DDP computes: the mean of two workers' micro-batch losses equals one worker's loss
    on the whole global batch."""
    from unipic.checkpoint import load_pretrained
    from unipic.tiny import open_zero_initialised

    model = open_zero_initialised(load_pretrained(world_folder, device="cpu", dtype=torch.float32)).eval()
    module = TrainingModule(model)
    src = SourceConfig([str(world_shards)], "t2i")
    buckets = ResolutionBuckets(48, 16)
    whole = BatchStream(src, 4, seed=0, buckets=buckets).next()
    halves = [BatchStream(src, 4, rank=r, world_size=2, seed=0, buckets=buckets).next() for r in range(2)]
    with torch.no_grad():
        full = module({"t2i": build_inputs(model, "t2i", whole, 7, 0, 0.5)})["t2i"]
        parts = [module({"t2i": build_inputs(model, "t2i", h, 7, 0, 0.5)})["t2i"] for h in halves]
    assert torch.allclose(full, (parts[0] + parts[1]) / 2, rtol=1e-5, atol=1e-6)


def test_mask_ratio_is_truncated_normal_on_0_7_to_1(tiny_model):
    """One ratio per (step, task) from a truncated normal on [0.7, 1]: most steps mask nearly all."""
    fractions = torch.tensor([float(diffusion_draws(tiny_model, 0, step, "t2i", [0], 64)[0].mean())
                              for step in range(200)])
    assert fractions.min() >= 0.7 and fractions.max() <= 1.0
    assert fractions.mean() > 0.85 and len(set(fractions.tolist())) > 5


def _prompt_texts(model, inputs) -> list[str]:
    ids, mask = inputs.kwargs["input_ids"], inputs.kwargs["attention_mask"]
    return [model.tokenizer.decode(row[m.bool()]) for row, m in zip(ids, mask)]


def test_caption_dropout_uses_the_unconditional_prompts(tiny_model, job_shards):
    """Dropped t2i captions become 'Generate an image.', dropped edit instructions 'Repeat this
    image.' (the source image stays in context); kept ones carry the row's text."""
    for task, unconditional in (("t2i", "Generate an image."), ("edit", "Repeat this image.")):
        batch = BatchStream(SourceConfig([str(job_shards)], task), 4, seed=0, buckets=ResolutionBuckets(32, 8)).next()
        kept = _prompt_texts(tiny_model, build_inputs(tiny_model, task, batch, 0, 0, caption_dropout=0.0))
        dropped_all = build_inputs(tiny_model, task, batch, 0, 0, caption_dropout=1.0)
        assert dropped_all.stats["dropped"] == 4
        for row, text, uncond in zip(batch.rows, kept, _prompt_texts(tiny_model, dropped_all)):
            assert row["prompt"] in text and unconditional not in text
            assert unconditional in uncond and row["prompt"] not in uncond
        if task == "edit":  # every row keeps its source slots: L_src + buffer `<image>` tokens
            stride = tiny_model.config.codec.stride
            slots = (batch.bucket[0] // stride) * (batch.bucket[1] // stride) + tiny_model.mar.buffer_size
            assert ((dropped_all.kwargs["input_ids"] == tiny_model.image_token_id).sum(1) == slots).all()
