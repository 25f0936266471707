"""Text-to-image and editing samplers on the tiny model."""

from __future__ import annotations

import pytest
import torch

from unipic.sampling import (SampleOptions, edit_images, edit_tokens, generate_images, generate_tokens, guidance_at,
                             masked_counts, sample_tokens)

PROMPTS = ["a red circle on a white background", "a blue square"]
FAST = dict(num_iter=6)
# Token values of the random tiny model reach a few hundred: compare relative to them.
CLOSE = dict(rtol=1e-4, atol=1e-3)


def tokens(model, prompts=PROMPTS, **options):
    return generate_tokens(model, prompts, SampleOptions(**(FAST | options)))[0]


def differs(a, b):
    return not torch.allclose(a, b, **CLOSE)


@pytest.mark.parametrize("num_tokens,num_iter", [(64, 64), (64, 6), (4096, 64), (10, 32), (1, 3), (7, 1)])
def test_schedule_reveals_every_token_exactly_once(num_tokens, num_iter):
    counts = masked_counts(num_tokens, num_iter)
    assert len(counts) == num_iter and counts[-1] == 0
    revealed = [before - after for before, after in zip([num_tokens] + counts, counts)]
    assert all(r >= 0 for r in revealed) and sum(revealed) == num_tokens
    # a random order turns those counts into disjoint position sets covering the image
    order = torch.randperm(num_tokens)
    seen = torch.cat([order[after:before] for before, after in zip([num_tokens] + counts, counts)])
    assert sorted(seen.tolist()) == list(range(num_tokens))


def test_schedule_is_cosine():
    counts = masked_counts(4096, 64)
    assert counts[0] == int(4096 * torch.cos(torch.tensor(torch.pi / 2 / 64)).item())
    assert counts[31] == 2896  # floor(4096 * cos(pi/4))


def test_linear_guidance_ramps_to_the_scale():
    opts = SampleOptions(guidance_scale=3.0, guidance_schedule="linear")
    assert guidance_at(opts, 64, 64) == 1.0 and guidance_at(opts, 0, 64) == 3.0
    assert guidance_at(SampleOptions(guidance_scale=3.0), 64, 64) == 3.0


def test_text_to_image_shapes_and_seeding(tiny_model):
    a = generate_images(tiny_model, PROMPTS, SampleOptions(seed=7, **FAST))
    assert a.shape == (2, 3, 64, 64) and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, generate_images(tiny_model, PROMPTS, SampleOptions(seed=7, **FAST)))
    t7 = tokens(tiny_model, seed=7)
    assert torch.equal(t7, tokens(tiny_model, seed=7))
    assert differs(t7, tokens(tiny_model, seed=8))


def test_prompts_condition_their_own_image_only(tiny_model):
    base = tokens(tiny_model, guidance_scale=1.0)
    other = tokens(tiny_model, ["a green dog", PROMPTS[1]], guidance_scale=1.0)
    assert differs(base[0], other[0])
    torch.testing.assert_close(base[1], other[1], **CLOSE)  # batched prompts do not interact


def test_other_resolutions_interpolate_position_embeddings(tiny_model):
    out = generate_images(tiny_model, PROMPTS[:1], SampleOptions(image_size=96, num_iter=3))
    assert out.shape == (1, 3, 96, 96)


def test_cached_prompt_matches_uncached_reference(tiny_model):
    for schedule in ("constant", "linear"):
        cached = tokens(tiny_model, guidance_schedule=schedule)
        uncached = tokens(tiny_model, guidance_schedule=schedule, use_kv_cache=False)
        torch.testing.assert_close(cached, uncached, **CLOSE)


def test_guidance_one_equals_the_conditional_branch_alone(tiny_model):
    cond_only = tokens(tiny_model, guidance_scale=1.0)
    both = tokens(tiny_model, guidance_scale=1.0, always_run_unconditional=True)
    torch.testing.assert_close(both, cond_only, **CLOSE)
    assert differs(tokens(tiny_model, guidance_scale=3.0), cond_only)
    assert differs(tokens(tiny_model, guidance_scale=3.0, guidance_schedule="linear"), tokens(tiny_model))


def test_every_token_is_sampled(tiny_model):
    grid = tiny_model.config.grid()
    batch = tiny_model.prompts.text_to_image(PROMPTS)
    out = sample_tokens(tiny_model, tiny_model.embed_prompt(batch), 2, grid,
                        SampleOptions(guidance_scale=1.0, num_iter=5))
    assert out.shape == (2, grid[0] * grid[1], tiny_model.config.token_dim)
    assert (out.abs().sum(-1) > 0).all()  # tokens start at exactly 0; each was written


def test_editing_uses_the_source(tiny_model):
    g = torch.Generator().manual_seed(0)
    sources = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    texts = ["make it green", "add a cat"]
    assert edit_images(tiny_model, sources, texts, SampleOptions(**FAST)).shape == (2, 3, 64, 64)
    a, grid = edit_tokens(tiny_model, sources, texts, SampleOptions(**FAST))
    assert grid == (8, 8)
    uncached, _ = edit_tokens(tiny_model, sources, texts, SampleOptions(use_kv_cache=False, **FAST))
    torch.testing.assert_close(uncached, a, **CLOSE)
    assert differs(edit_tokens(tiny_model, sources.flip(0), texts, SampleOptions(**FAST))[0], a)
    assert differs(edit_tokens(tiny_model, sources, texts[::-1], SampleOptions(**FAST))[0], a)
