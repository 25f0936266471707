"""The MAR encoder/decoder over codec tokens.

The encoder sees only the unmasked tokens (masked ones are dropped, as in MAE) after
`buffer_size` buffer tokens filled with the learned `fake_latent`; the decoder puts every
position back (masked positions start from `mask_token`, or from a source image's encoder
features when editing) and outputs one condition vector per image token for the diffusion
head. Learned position embeddings live on a `pos_grid` x `pos_grid` grid and are resized
bilinearly to other token grids (buffer embeddings are never resized).

Parameter names follow the published MAR/Harmon/UniPic checkpoints (`encoder_blocks.N.attn.qkv`,
`diffloss.net...`), so published weights load by prefix alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .config import DiffusionConfig, MARConfig
from .diffusion_head import DiffusionHead


class SelfAttention(nn.Module):
    """Multi-head self-attention with a fused qkv projection ([q | k | v], heads inside each)."""

    def __init__(self, dim: int, heads: int, attn_dropout: float, proj_dropout: float):
        super().__init__()
        self.heads = heads
        self.attn_dropout = attn_dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        drop = self.attn_dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(b, n, d)))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


class Block(nn.Module):
    """Pre-norm transformer block (the ViT block MAR uses)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, attn_dropout: float, proj_dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = SelfAttention(dim, heads, attn_dropout, proj_dropout)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = FeedForward(dim, int(dim * mlp_ratio), proj_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def resize_grid_embedding(pe: torch.Tensor, grid: int, size: tuple[int, int]) -> torch.Tensor:
    """Bilinearly resize a (1, grid*grid, D) embedding to (1, h*w, D)."""
    if size == (grid, grid):
        return pe
    d = pe.shape[-1]
    img = pe.reshape(1, grid, grid, d).permute(0, 3, 1, 2)
    img = F.interpolate(img.float(), size=size, mode="bilinear", align_corners=False).to(pe.dtype)
    return img.permute(0, 2, 3, 1).reshape(1, size[0] * size[1], d)


class MAR(nn.Module):
    """MAR encoder, decoder and diffusion head (the head lives here as `diffloss`)."""

    def __init__(self, cfg: MARConfig, diffusion: DiffusionConfig, token_dim: int):
        super().__init__()
        self.cfg = cfg
        self.token_dim = token_dim
        self.buffer_size = cfg.buffer_size
        self.gradient_checkpointing = False
        grid_tokens = cfg.pos_grid**2
        enc, dec = cfg.encoder_dim, cfg.decoder_dim

        self.fake_latent = nn.Parameter(torch.zeros(1, enc))
        self.z_proj = nn.Linear(token_dim, enc)
        self.z_proj_ln = nn.LayerNorm(enc, eps=1e-6)
        self.encoder_pos_embed_learned = nn.Parameter(torch.zeros(1, grid_tokens + cfg.buffer_size, enc))
        self.encoder_blocks = nn.ModuleList(
            Block(enc, cfg.encoder_heads, cfg.mlp_ratio, cfg.attn_dropout, cfg.proj_dropout)
            for _ in range(cfg.encoder_depth)
        )
        self.encoder_norm = nn.LayerNorm(enc, eps=1e-6)

        self.decoder_embed = nn.Linear(enc, dec)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dec))
        self.decoder_pos_embed_learned = nn.Parameter(torch.zeros(1, grid_tokens + cfg.buffer_size, dec))
        self.decoder_blocks = nn.ModuleList(
            Block(dec, cfg.decoder_heads, cfg.mlp_ratio, cfg.attn_dropout, cfg.proj_dropout)
            for _ in range(cfg.decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(dec, eps=1e-6)
        self.diffusion_pos_embed_learned = nn.Parameter(torch.zeros(1, grid_tokens, dec))
        self._init_weights()
        # Built after the init above: the head initialises itself (zeroed AdaLN/output layers).
        self.diffloss = DiffusionHead(diffusion, token_dim=token_dim, cond_dim=dec)

    def _init_weights(self) -> None:
        for p in (self.fake_latent, self.mask_token, self.encoder_pos_embed_learned,
                  self.decoder_pos_embed_learned, self.diffusion_pos_embed_learned):
            nn.init.normal_(p, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    # ------------------------------------------------------------------ helpers
    def _pos_embed(self, pe: torch.Tensor, grid: tuple[int, int], with_buffer: bool) -> torch.Tensor:
        if not with_buffer:
            return resize_grid_embedding(pe, self.cfg.pos_grid, grid)
        buf, img = pe[:, : self.buffer_size], pe[:, self.buffer_size:]
        return torch.cat([buf, resize_grid_embedding(img, self.cfg.pos_grid, grid)], dim=1)

    def _run(self, blocks: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
        for block in blocks:
            if self.gradient_checkpointing and self.training:
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return x

    def _with_buffer(self, mask: torch.Tensor) -> torch.Tensor:
        """(B, L) mask -> (B, buffer + L) mask; buffers are always visible."""
        return torch.cat([mask.new_zeros(mask.shape[0], self.buffer_size), mask], dim=1)

    # ------------------------------------------------------------------ encoder / decoder
    def encode(self, tokens: torch.Tensor, mask: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """Encode the visible tokens.

        tokens: (B, L, token_dim) in raster order; mask: (B, L), 1 = masked (dropped). Every
        row must mask the same number of tokens. Returns (B, buffer + visible, encoder_dim),
        buffers first, visible tokens in raster order.
        """
        b, n, _ = tokens.shape
        x = self.z_proj(tokens.to(self.z_proj.weight.dtype))
        buffers = self.fake_latent.to(x.dtype).expand(b, self.buffer_size, -1)
        x = torch.cat([buffers, x], dim=1)
        x = self.z_proj_ln(x + self._pos_embed(self.encoder_pos_embed_learned, grid, True))
        keep = ~self._with_buffer(mask).bool()
        x = x[keep].reshape(b, -1, x.shape[-1])
        return self.encoder_norm(self._run(self.encoder_blocks, x))

    def decode(self, x: torch.Tensor, mask: torch.Tensor, grid: tuple[int, int],
               source: torch.Tensor | None = None) -> torch.Tensor:
        """Decode encoder outputs into one condition per image token.

        x: (B, buffer + visible, encoder_dim) from `encode` (plus the LLM residual);
        mask: (B, L); source: optional (B, buffer + L, encoder_dim) encoder features of a
        source image, which replace `mask_token` at masked positions (editing).
        Returns (B, L, decoder_dim).
        """
        b, n = mask.shape
        x = self.decoder_embed(x)
        if source is not None:
            full = self.decoder_embed(source.to(x.dtype))
        else:
            full = self.mask_token.to(x.dtype).expand(b, n + self.buffer_size, -1)
        keep = ~self._with_buffer(mask).bool()
        # Scatter the visible tokens into place (out of place, so autograd sees both sources).
        full = full.masked_scatter(keep.unsqueeze(-1), x.reshape(-1, x.shape[-1]))
        full = full + self._pos_embed(self.decoder_pos_embed_learned, grid, True)
        z = self.decoder_norm(self._run(self.decoder_blocks, full))[:, self.buffer_size:]
        return z + self._pos_embed(self.diffusion_pos_embed_learned, grid, False)
