"""The diffusers-based KL-16 codec computes exactly what MAR's LDM-layout autoencoder computes."""

from __future__ import annotations

import torch

from unipic.codec import LatentCodec, convert_ldm_vae_state_dict
from unipic.config import CodecConfig

from .ldm_reference import LDMAutoencoderKL


def _reference(cfg: CodecConfig) -> LDMAutoencoderKL:
    return LDMAutoencoderKL(cfg.base_channels, cfg.channel_mult, cfg.num_res_blocks, cfg.latent_channels,
                            cfg.norm_groups)


def test_converted_ldm_weights_reproduce_the_reference():
    cfg = CodecConfig(base_channels=8, channel_mult=(1, 1, 2, 2, 4), num_res_blocks=2, norm_groups=4)
    torch.manual_seed(0)
    ref = _reference(cfg).eval()
    with torch.no_grad():  # non-trivial norms and biases
        for p in ref.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    codec = LatentCodec(cfg)
    converted, ignored = convert_ldm_vae_state_dict(ref.state_dict() | {"loss.logvar": torch.zeros(())}, 5)
    assert ignored == ["loss.logvar"]
    codec.vae.load_state_dict(converted, strict=True)

    images = torch.rand(2, 3, 64, 48) * 2 - 1
    with torch.no_grad():
        want = ref.posterior_mean(images)
        got = codec.encode(images)
        assert got.shape == (2, 16, 4, 3)  # stride 16, 16 channels
        torch.testing.assert_close(got, want * cfg.scale, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(codec.decode(got), ref.decode(want), rtol=1e-4, atol=1e-5)


def test_full_size_key_mapping_is_complete_and_shape_exact():
    cfg = CodecConfig()  # MAR's KL-16 sizes
    with torch.device("meta"):
        ref = _reference(cfg)
        codec = LatentCodec(cfg)
    converted, _ = convert_ldm_vae_state_dict(ref.state_dict(), len(cfg.channel_mult))
    ours = codec.vae.state_dict()
    assert set(converted) == set(ours)
    for k, v in converted.items():
        assert tuple(v.shape) == tuple(ours[k].shape), k
    assert sum(p.numel() for p in codec.parameters()) == sum(p.numel() for p in ref.parameters())


def test_codec_is_frozen_and_stays_in_eval_mode():
    codec = LatentCodec(CodecConfig(base_channels=8, channel_mult=(1, 2), num_res_blocks=1, norm_groups=4))
    codec.train()
    assert not codec.training and not codec.vae.training
    assert not any(p.requires_grad for p in codec.parameters())
