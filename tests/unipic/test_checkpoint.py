"""Our checkpoint folders, and the converter from the published release's key names."""

from __future__ import annotations

import pickle

import pytest
import torch

from unipic.checkpoint import (
    CheckpointMismatchError,
    convert_published,
    export_published,
    load_pretrained,
    torch_load_weights,
)
from unipic.sampling import SampleOptions, generate_tokens

from .ldm_reference import LDMAutoencoderKL

FAST = SampleOptions(num_iter=4)


def test_folder_round_trip_reproduces_the_model(tiny_model, tiny_folder):
    assert {p.name for p in tiny_folder.iterdir()} >= {"unipic_config.json", "model.safetensors", "tokenizer"}
    loaded = load_pretrained(tiny_folder, device="cpu", dtype="float32")
    assert loaded.config == tiny_model.config
    assert loaded.prompts.image_token_id == tiny_model.prompts.image_token_id
    ours, theirs = tiny_model.state_dict(), loaded.state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert loaded.llm.lm_head.weight.data_ptr() == loaded.llm.model.embed_tokens.weight.data_ptr()
    torch.testing.assert_close(generate_tokens(loaded, ["a red circle"], FAST)[0],
                               generate_tokens(tiny_model, ["a red circle"], FAST)[0])


def _published_release(model, folder):
    """Write `model` under the published names, as the 1.5B release stores them.

    SigLIP comes from a real transformers `SiglipVisionModel` (Conv2d patch embedding,
    `vision_model.` prefix, pooling head) and the VAE from the independent LDM reference, so
    neither side of the renaming is produced by the code under test.
    """
    from transformers import SiglipVisionConfig, SiglipVisionModel

    bin_path, _ = export_published(model, folder)
    state = torch.load(bin_path, weights_only=True)
    sc = model.config.siglip
    torch.manual_seed(1)
    siglip_v1 = SiglipVisionModel(SiglipVisionConfig(
        hidden_size=sc.hidden_size, intermediate_size=sc.intermediate_size, num_hidden_layers=sc.num_layers,
        num_attention_heads=sc.num_heads, image_size=sc.image_size, patch_size=sc.patch_size,
        layer_norm_eps=sc.layer_norm_eps))
    state = {k: v for k, v in state.items() if not k.startswith("siglip2.")}
    state |= {f"siglip2.vision_model.{k}": v for k, v in siglip_v1.state_dict().items()}
    state["mar.class_emb.weight"] = torch.randn(1000, model.config.mar.encoder_dim)  # an unused leftover
    torch.save(state, bin_path)
    cc = model.config.codec
    torch.manual_seed(2)
    ldm = LDMAutoencoderKL(cc.base_channels, cc.channel_mult, cc.num_res_blocks, cc.latent_channels, cc.norm_groups)
    torch.save({"model": ldm.state_dict()}, folder / "kl16.ckpt")
    model.tokenizer.save_pretrained(folder / "qwen")
    return state, siglip_v1, ldm


def test_converter_round_trips_a_published_state_dict(tiny_model, tmp_path):
    published, siglip_v1, ldm = _published_release(tiny_model, tmp_path / "release")
    report = convert_published(tmp_path / "release" / "pytorch_model.bin", tmp_path / "release" / "kl16.ckpt",
                               tmp_path / "release" / "qwen", tmp_path / "ours", tiny_model.config, dtype=None)
    assert "mar.class_emb.weight" in report.ignored
    assert any(k.startswith("siglip2.vision_model.head.") for k in report.ignored)
    model = load_pretrained(tmp_path / "ours", device="cpu", dtype="float32")
    state = model.state_dict()
    for key in ("mar.encoder_blocks.1.attn.qkv.weight", "mar.diffloss.net.final_layer.linear.weight",
                "llm.model.layers.0.self_attn.q_proj.weight", "proj_in.0.weight", "proj_out.2.bias",
                "siglip_proj.2.weight"):
        torch.testing.assert_close(state[key], published[key.replace("siglip_proj", "siglip2_proj")], rtol=0, atol=0)
    # The codec computes what the LDM reference computes, SigLIP2 what SigLIP (v1) computes.
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(model.codec.encode(images), ldm.posterior_mean(images) * 0.2325,
                                   rtol=1e-4, atol=1e-5)
        size, p = model.config.siglip.image_size, model.config.siglip.patch_size
        pixels = torch.rand(2, 3, size, size) * 2 - 1
        want = siglip_v1(pixel_values=pixels).last_hidden_state
        patches = pixels.reshape(2, 3, size // p, p, size // p, p).permute(0, 2, 4, 3, 5, 1).reshape(2, -1, p * p * 3)
        n = (size // p) ** 2
        got = model.siglip(pixel_values=patches, pixel_attention_mask=torch.ones(2, n, dtype=torch.long),
                           spatial_shapes=torch.tensor([[size // p, size // p]] * 2)).last_hidden_state
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    # The generation network (MAR, LLM, projectors) is exactly the exported one; text-to-image
    # tokens use neither SigLIP nor the codec.
    torch.testing.assert_close(generate_tokens(model, ["a red circle"], FAST)[0],
                               generate_tokens(tiny_model, ["a red circle"], FAST)[0])


def test_converter_refuses_shape_mismatches_with_a_report(tiny_model, tmp_path):
    published, _, _ = _published_release(tiny_model, tmp_path / "release")
    published["proj_in.0.weight"] = torch.zeros(3, 3)
    del published["mar.mask_token"]
    published["mar.something_new"] = torch.zeros(1)
    torch.save(published, tmp_path / "release" / "pytorch_model.bin")
    with pytest.raises(CheckpointMismatchError) as err:
        convert_published(tmp_path / "release" / "pytorch_model.bin", tmp_path / "release" / "kl16.ckpt",
                          tmp_path / "release" / "qwen", tmp_path / "ours", tiny_model.config)
    text = str(err.value)
    assert "proj_in.0.weight: checkpoint (3, 3) vs model (64, 32)" in text
    assert "missing keys: mar.mask_token" in text and "mar.something_new" in text
    assert not (tmp_path / "ours").exists()
    # the full preset refuses tiny weights outright
    with pytest.raises(CheckpointMismatchError, match="shape mismatches"):
        convert_published(tmp_path / "release" / "pytorch_model.bin", tmp_path / "release" / "kl16.ckpt",
                          tmp_path / "release" / "qwen", tmp_path / "full")


class _Payload:
    def __reduce__(self):
        return (print, ("this pickle runs code",))


def test_legacy_pickles_load_only_as_weights(tmp_path):
    path = tmp_path / "evil.bin"
    with open(path, "wb") as f:
        pickle.dump({"x": _Payload()}, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError):
        torch_load_weights(path)
