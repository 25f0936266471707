"""Config presets, JSON round trip, and the full preset's shapes (built on the meta device)."""

from __future__ import annotations

import pytest
import torch

from unipic.config import UniPicConfig
from unipic.model import UniPic


def test_json_round_trip(tmp_path):
    for cfg in (UniPicConfig.tiny(), UniPicConfig.full()):
        cfg.save(tmp_path / "c.json")
        assert UniPicConfig.load(tmp_path / "c.json") == cfg


def test_unknown_field_is_refused():
    data = UniPicConfig.tiny().to_dict()
    data["mar"]["encoder_widht"] = 3
    with pytest.raises(ValueError, match="encoder_widht"):
        UniPicConfig.from_dict(data)


def test_invalid_sizes_are_refused():
    cfg = UniPicConfig.tiny()
    cfg.image_size = 60  # not a multiple of the tiny codec's stride (8)
    with pytest.raises(ValueError, match="stride"):
        cfg.validate()


def test_full_preset_matches_published_shapes():
    cfg = UniPicConfig.full()
    assert cfg.codec.stride == 16 and cfg.grid() == (64, 64)
    with torch.device("meta"):
        model = UniPic(cfg)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    # MAR-Huge with PEs learned at 512 px (32x32 tokens + 64 buffers)
    assert shapes["mar.encoder_pos_embed_learned"] == (1, 1024 + 64, 1280)
    assert shapes["mar.diffusion_pos_embed_learned"] == (1, 1024, 1280)
    assert sum(k.startswith("mar.encoder_blocks.") and k.endswith("attn.qkv.weight") for k in shapes) == 20
    assert sum(k.startswith("mar.decoder_blocks.") and k.endswith("attn.qkv.weight") for k in shapes) == 20
    assert shapes["mar.encoder_blocks.0.attn.qkv.weight"] == (3 * 1280, 1280)
    assert shapes["mar.z_proj.weight"] == (1280, 16)
    # diffusion head: 12 blocks of width 1536, output epsilon + variance
    assert shapes["mar.diffloss.net.res_blocks.11.mlp.0.weight"] == (1536, 1536)
    assert shapes["mar.diffloss.net.final_layer.linear.weight"] == (32, 1536)
    assert shapes["mar.diffloss.net.cond_embed.weight"] == (1536, 1280)
    # projectors
    assert shapes["proj_in.0.weight"] == (1536, 1280) and shapes["proj_in.2.weight"] == (1536, 1536)
    assert shapes["proj_out.0.weight"] == (1536, 1536) and shapes["proj_out.2.weight"] == (1280, 1536)
    assert shapes["siglip_proj.0.weight"] == (1536, 1152)
    # Qwen2.5-1.5B
    assert shapes["llm.model.embed_tokens.weight"] == (151936, 1536)
    assert shapes["llm.model.layers.27.self_attn.k_proj.weight"] == (256, 1536)  # 2 KV heads x 128
    assert shapes["llm.model.layers.27.mlp.gate_proj.weight"] == (8960, 1536)
    # SigLIP2 so400m at 512 px: 32x32 patches
    assert shapes["siglip.embeddings.position_embedding.weight"] == (1024, 1152)
    assert shapes["siglip.embeddings.patch_embedding.weight"] == (1152, 3 * 16 * 16)
    # KL-16: 512 channels at the bottom, double_z moments
    assert shapes["codec.vae.encoder.conv_out.weight"] == (32, 512, 3, 3)
    assert shapes["codec.vae.quant_conv.weight"] == (32, 32, 1, 1)
    assert shapes["codec.vae.post_quant_conv.weight"] == (16, 16, 1, 1)

    def count(prefix):
        return sum(p.numel() for n, p in model.named_parameters() if n.startswith(prefix))

    assert 1.50e9 < count("llm.") < 1.56e9  # Qwen2.5-1.5B (tied embeddings)
    assert 0.85e9 < count("mar.") < 1.0e9  # "approximately 1B" in the paper, "800M" elsewhere
    assert 0.40e9 < count("siglip.") < 0.43e9  # so400m without its pooling head
