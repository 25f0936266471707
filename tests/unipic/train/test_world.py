"""The world model's patch codec and the world helpers."""

from __future__ import annotations

import numpy as np
import torch

from unipic.codec import LatentCodec, PatchCodec, build_codec
from unipic.config import CodecConfig, UniPicConfig


def test_build_codec_picks_the_kind():
    assert isinstance(build_codec(UniPicConfig.tiny().codec), LatentCodec)
    cfg = CodecConfig(kind="patch", patch_size=16, latent_channels=64)
    assert cfg.stride == 16 and isinstance(build_codec(cfg), PatchCodec)
    assert UniPicConfig.from_dict(UniPicConfig(codec=cfg).to_dict()).codec == cfg


def test_pca_patch_codec_reconstructs_the_world():
    from synthetic import matches, random_scene, render

    from unipic.images import to_pil, to_tensor
    from unipic.presets import codec_fit_images

    codec = PatchCodec(CodecConfig(kind="patch", patch_size=16, latent_channels=64)).fit_pca(codec_fit_images(256))
    rng = np.random.default_rng(3)
    scenes = [random_scene(rng) for _ in range(24)]
    images = to_tensor([render(s, 48) for s in scenes], 48)
    latents = codec.encode(images)
    assert latents.shape == (24, 64, 3, 3)
    assert 0.5 < float(latents.pow(2).mean().sqrt()) < 1.5  # about unit RMS
    decoded = codec.decode(latents)
    assert all(m["all_ok"] for m in (matches(p, s) for p, s in zip(to_pil(decoded), scenes)))
    assert not any(p.requires_grad for p in codec.parameters())
    codec.train()
    assert not codec.training


def test_world_model_round_trips_through_a_folder(world_folder):
    from unipic.checkpoint import load_pretrained
    from unipic.presets import build_preset

    loaded = load_pretrained(world_folder, device="cpu", dtype=torch.float32)
    fresh = build_preset("world", seed=0)
    assert loaded.config.codec.kind == "patch" and loaded.config.image_size == 48
    for (n, a), (_, b) in zip(loaded.state_dict().items(), fresh.state_dict().items()):
        # the PCA fit may differ in the last bits with the BLAS thread count
        assert torch.allclose(a, b, atol=1e-6) if n.startswith("codec.") else torch.equal(a, b), n
    ids = loaded.tokenizer("a purple triangle in the center", add_special_tokens=False)["input_ids"]
    assert len(ids) == 6  # world words are single tokens


def test_prompt_match_counts(world_folder):
    from unipic.checkpoint import load_pretrained
    from unipic.sampling import SampleOptions
    from unipic.evaluate import single_object_scenes
    from unipic.train.world import prompt_match, split_scenes

    scenes = single_object_scenes()
    train, held = split_scenes(scenes, 3, seed=0)
    assert len(train) == 15 and len(held) == 3 and not set(map(str, held)) & set(map(str, train))
    model = load_pretrained(world_folder, device="cpu", dtype=torch.float32)
    result = prompt_match(model, held, SampleOptions(num_iter=4, guidance_scale=1.0, seed=0))
    assert result["n"] == 3 and set(result) >= {"colour_ok", "shape_ok", "count_ok", "position_ok", "all_ok"}
