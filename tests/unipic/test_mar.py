"""MAR encoder/decoder behaviour: masked tokens dropped, buffers, resized position embeddings, source fill."""

from __future__ import annotations

import torch

from unipic.config import DiffusionConfig, MARConfig
from unipic.mar import MAR


def _mar():
    torch.manual_seed(0)
    cfg = MARConfig(encoder_dim=16, encoder_depth=1, encoder_heads=2, decoder_dim=16, decoder_depth=1,
                    decoder_heads=2, buffer_size=3, pos_grid=4)
    return MAR(cfg, DiffusionConfig(depth=1, width=8, sampling_steps=5), token_dim=4).eval()


def test_encoder_sees_only_buffers_and_visible_tokens():
    mar = _mar()
    tokens = torch.randn(2, 16, 4)
    mask = torch.zeros(2, 16)
    mask[0, :10] = 1
    mask[1, 6:] = 1
    out = mar.encode(tokens, mask, (4, 4))
    assert out.shape == (2, 3 + 6, 16)
    # Masked tokens are dropped, not just hidden: their values cannot change the output.
    changed = tokens.clone()
    changed[mask.bool()] = 100.0
    torch.testing.assert_close(mar.encode(changed, mask, (4, 4)), out)


def test_decoder_outputs_one_condition_per_token_and_uses_the_source():
    mar = _mar()
    tokens, mask = torch.randn(1, 16, 4), torch.ones(1, 16)
    mask[0, :5] = 0
    enc = mar.encode(tokens, mask, (4, 4))
    z = mar.decode(enc, mask, (4, 4))
    assert z.shape == (1, 16, 16)
    source = torch.randn(1, 3 + 16, 16)
    assert not torch.allclose(mar.decode(enc, mask, (4, 4), source=source), z)
    all_visible = torch.zeros(1, 16)
    enc_all = mar.encode(tokens, all_visible, (4, 4))
    # with every token visible the source is fully overwritten
    torch.testing.assert_close(mar.decode(enc_all, all_visible, (4, 4), source=source),
                               mar.decode(enc_all, all_visible, (4, 4)))


def test_position_embeddings_are_resized_to_other_grids():
    mar = _mar()
    tokens, mask = torch.randn(1, 48, 4), torch.zeros(1, 48)
    mask[0, ::2] = 1
    z = mar.decode(mar.encode(tokens, mask, (6, 8)), mask, (6, 8))
    assert z.shape == (1, 48, 16)
    assert mar.encoder_pos_embed_learned.shape == (1, 3 + 16, 16)  # learned grid unchanged
