"""The UniPic network: codec, MAR, Qwen2 LLM, projectors and the SigLIP2 understanding path.

Generation path (text-to-image and editing): codec tokens -> MAR encoder (visible tokens and
buffers) -> `proj_in` -> LLM (after the prompt; buffers placed last so the causal LLM lets
them see every visible token) -> `proj_out`, added to the encoder output -> MAR decoder ->
diffusion head, one token at a time.

Understanding path: SigLIP2 patches -> `siglip_proj` -> LLM at the `<image>` positions ->
text. `understanding_encoder="mar"` instead uses the MAR encoder + `proj_in` features, as
the published code does.

Training entry points: `text2image_loss`, `edit_loss`, `understanding_loss` (batched
tensors in, scalar loss out) and the freezing helpers (`set_trainable`, `freeze`,
`unfreeze`, `parameter_groups`).
"""

from __future__ import annotations

import functools
import inspect
import math
from dataclasses import dataclass, replace
from typing import Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .codec import build_codec
from .config import LLMConfig, SiglipConfig, UniPicConfig
from .mar import MAR
from .prompts import PromptBuilder, TokenBatch

Grid = tuple[int, int]

# Trainable parameter groups, by parameter-name prefix. The codec is always frozen.
PARAMETER_GROUPS: dict[str, tuple[str, ...]] = {
    "mar_encoder": ("mar.fake_latent", "mar.z_proj.", "mar.z_proj_ln.", "mar.encoder_pos_embed_learned",
                    "mar.encoder_blocks.", "mar.encoder_norm."),
    "mar_decoder": ("mar.decoder_embed.", "mar.mask_token", "mar.decoder_pos_embed_learned",
                    "mar.decoder_blocks.", "mar.decoder_norm.", "mar.diffusion_pos_embed_learned"),
    "diffusion_head": ("mar.diffloss.",),
    "llm": ("llm.",),
    "proj_in": ("proj_in.",),
    "proj_out": ("proj_out.",),
    "siglip": ("siglip.",),
    "siglip_proj": ("siglip_proj.",),
}


def two_layer_mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    """Linear -> SiLU -> Linear (the projector shape of the published model)."""
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.SiLU(), nn.Linear(d_hidden, d_out))


def build_llm(cfg: LLMConfig):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_kv_heads,
        max_position_embeddings=cfg.max_position_embeddings,
        rms_norm_eps=cfg.rms_norm_eps,
        rope_parameters={"rope_type": "default", "rope_theta": cfg.rope_theta},
        tie_word_embeddings=cfg.tie_word_embeddings,
        attn_implementation="sdpa",
    )
    return Qwen2ForCausalLM(config)


def build_siglip(cfg: SiglipConfig):
    from transformers import Siglip2VisionConfig, Siglip2VisionModel

    config = Siglip2VisionConfig(
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        patch_size=cfg.patch_size,
        num_patches=cfg.num_patches,
        layer_norm_eps=cfg.layer_norm_eps,
        vision_use_head=False,  # the LLM takes the patch features; the pooling head is unused
        attn_implementation="sdpa",
    )
    return Siglip2VisionModel(config)


class _ScaleGradient(torch.autograd.Function):
    """Identity forward; multiplies the gradient by `scale` backward."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


def scale_gradient(x: torch.Tensor, scale: float) -> torch.Tensor:
    return x if scale == 1.0 else _ScaleGradient.apply(x, scale)


def truncated_normal_mask_ratio(min_ratio: float, std: float, generator: torch.Generator | None = None) -> float:
    """One draw from N(1, std) truncated to [min_ratio, 1] (MAR's mask-ratio distribution)."""
    normal = torch.distributions.Normal(0.0, 1.0)
    lo, hi = normal.cdf(torch.tensor((min_ratio - 1.0) / std)), normal.cdf(torch.tensor(0.0))
    device = generator.device if generator is not None else "cpu"
    u = lo + (hi - lo) * torch.rand((), generator=generator, device=device).cpu()
    return float(1.0 + std * torch.special.ndtri(u))


def random_orders(batch: int, length: int, device, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random permutation of token positions per row, (B, L)."""
    return torch.rand(batch, length, device=device, generator=generator).argsort(dim=1)


@dataclass
class LLMContext:
    """The prefix (prompt) the image tokens follow in the LLM, optionally as a filled KV cache.

    `embeds` (N, T, H) and `mask` (N, T) describe the prefix; `cache` holds its keys and
    values once `UniPic.prefill` has run. The cache is cropped back to T after every use, so
    one prefill serves every sampling step.
    """

    embeds: torch.Tensor
    mask: torch.Tensor
    cache: object | None = None

    @property
    def length(self) -> int:
        return self.embeds.shape[1]


class UniPic(nn.Module):
    """The unified model. Build from a `UniPicConfig`; attach a tokenizer for prompts."""

    def __init__(self, config: UniPicConfig, tokenizer=None):
        super().__init__()
        config.validate()
        self.config = config
        hidden = config.llm.hidden_size
        self.codec = build_codec(config.codec)
        self.mar = MAR(config.mar, config.diffusion, config.token_dim)
        self.llm = build_llm(config.llm)
        self.proj_in = two_layer_mlp(config.mar.encoder_dim, hidden, hidden)
        self.proj_out = two_layer_mlp(hidden, hidden, config.mar.encoder_dim)
        if config.siglip is not None:
            self.siglip = build_siglip(config.siglip)
            self.siglip_proj = two_layer_mlp(config.siglip.hidden_size, hidden, hidden)
        else:
            self.siglip = self.siglip_proj = None
        self.tokenizer = None
        self.prompts: PromptBuilder | None = None
        if tokenizer is not None:
            self.attach_tokenizer(tokenizer)

    def attach_tokenizer(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.prompts = PromptBuilder(tokenizer, self.config.image_token)
        if len(tokenizer) > self.config.llm.vocab_size:
            raise ValueError(f"tokenizer has {len(tokenizer)} tokens, LLM embeds {self.config.llm.vocab_size}")

    @property
    def device(self) -> torch.device:
        return self.mar.fake_latent.device

    @property
    def dtype(self) -> torch.dtype:
        return self.mar.fake_latent.dtype

    @property
    def image_token_id(self) -> int:
        if self.prompts is None:
            raise RuntimeError("no tokenizer attached (UniPic.attach_tokenizer)")
        return self.prompts.image_token_id

    # ------------------------------------------------------------------ codec
    def encode_images(self, images: torch.Tensor) -> tuple[torch.Tensor, Grid]:
        """Images (B, 3, H, W) in [-1, 1] -> tokens (B, L, C) in raster order, and the grid (h, w)."""
        return self.latents_to_tokens(self.codec.encode(images.to(self.device)))

    @staticmethod
    def latents_to_tokens(latents: torch.Tensor) -> tuple[torch.Tensor, Grid]:
        """Scaled codec latents (B, C, h, w) -> tokens (B, h*w, C) and (h, w)."""
        b, c, h, w = latents.shape
        return latents.flatten(2).transpose(1, 2), (h, w)

    def decode_tokens(self, tokens: torch.Tensor, grid: Grid) -> torch.Tensor:
        """Tokens (B, L, C) -> images (B, 3, H, W), clamped to [-1, 1]."""
        b, _, c = tokens.shape
        latents = tokens.transpose(1, 2).reshape(b, c, *grid)
        return self.codec.decode(latents).float().clamp(-1, 1)

    # ------------------------------------------------------------------ MAR <-> LLM
    def image_features(self, tokens: torch.Tensor, mask: torch.Tensor, grid: Grid) -> tuple[torch.Tensor, torch.Tensor]:
        """MAR-encode the visible tokens.

        Returns `x_enc` (B, buffer + visible, encoder_dim), buffers first, and its LLM
        projection `z_enc` (B, visible + buffer, llm_hidden) with the buffers moved last.
        """
        x_enc = self.mar.encode(tokens, mask, grid)
        z_enc = self.proj_in(x_enc)
        k = self.mar.buffer_size
        return x_enc, torch.cat([z_enc[:, k:], z_enc[:, :k]], dim=1)

    def embed_prompt(self, batch: TokenBatch, image_features: torch.Tensor | None = None) -> LLMContext:
        """Token embeddings of a prompt batch, with `image_features` (N_img, H) at its `<image>` positions."""
        ids = batch.input_ids.to(self.device)
        embeds = self.llm.get_input_embeddings()(ids)
        slots = ids == self.image_token_id if self.prompts is not None else torch.zeros_like(ids, dtype=torch.bool)
        n_slots = int(slots.sum())
        n_feats = 0 if image_features is None else image_features.shape[0]
        if n_slots != n_feats:
            raise ValueError(f"prompt has {n_slots} image placeholders but {n_feats} image features were given")
        if n_feats:
            embeds = embeds.masked_scatter(slots.unsqueeze(-1), image_features.to(embeds.dtype))
        return LLMContext(embeds, batch.attention_mask.to(self.device))

    @functools.cached_property
    def _cache_kwarg(self) -> str:
        # transformers 5.x renamed `past_key_values` to `cache` (the old name is deprecated).
        params = inspect.signature(self.llm.model.forward).parameters
        return "cache" if "cache" in params else "past_key_values"

    @torch.no_grad()
    def prefill(self, context: LLMContext) -> LLMContext:
        """Run the LLM over the prefix once and keep its KV cache."""
        from transformers import DynamicCache

        cache = DynamicCache(config=self.llm.config)
        positions = (context.mask.cumsum(1) - 1).clamp(min=0)
        self.llm.model(inputs_embeds=context.embeds, attention_mask=context.mask, position_ids=positions,
                       use_cache=True, **{self._cache_kwarg: cache})
        return replace(context, cache=cache)

    def llm_over_image_tokens(self, z_enc: torch.Tensor, context: LLMContext) -> torch.Tensor:
        """Hidden states (N, n, H) of the image tokens `z_enc` (N, n, H) placed after the prefix."""
        n = z_enc.shape[1]
        mask = torch.cat([context.mask, context.mask.new_ones(z_enc.shape[0], n)], dim=1)
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        z_enc = z_enc.to(context.embeds.dtype)
        if context.cache is not None:
            out = self.llm.model(inputs_embeds=z_enc, attention_mask=mask, position_ids=positions[:, -n:],
                                 use_cache=True, **{self._cache_kwarg: context.cache})
            context.cache.crop(-n)  # back to the prompt: image tokens are recomputed every step
        else:
            out = self.llm.model(inputs_embeds=torch.cat([context.embeds, z_enc], dim=1), attention_mask=mask,
                                 position_ids=positions, use_cache=False)
        return out.last_hidden_state[:, -n:]

    def condition_tokens(self, tokens: torch.Tensor, mask: torch.Tensor, grid: Grid, context: LLMContext,
                         source: torch.Tensor | None = None) -> torch.Tensor:
        """Diffusion conditions (B, L, decoder_dim) for every token given the visible ones.

        tokens (B, L, C); mask (B, L), 1 = unknown; `source` optional editing features from
        `image_features` of the source image (x_enc, all tokens visible).
        """
        x_enc, z_enc = self.image_features(tokens, mask, grid)
        hidden = self.llm_over_image_tokens(z_enc, context)
        k = self.mar.buffer_size
        hidden = torch.cat([hidden[:, -k:], hidden[:, :-k]], dim=1)  # buffers back to the front
        x_enc = x_enc + self.proj_out(hidden.to(self.proj_out[0].weight.dtype)).to(x_enc.dtype)
        return self.mar.decode(x_enc, mask, grid, source)

    # ------------------------------------------------------------------ understanding features
    def understanding_features(self, pixel_values: torch.Tensor | None = None,
                               pixel_attention_mask: torch.Tensor | None = None,
                               spatial_shapes: torch.Tensor | None = None,
                               images: torch.Tensor | None = None) -> torch.Tensor:
        """Visual features for the LLM, flattened over the batch: (N_features, H).

        SigLIP path: the Siglip2ImageProcessor outputs (valid patches only, in order). MAR
        path: `images` in [-1, 1] -> codec -> MAR encoder -> `proj_in` (L + buffer per image).
        """
        if self.config.understanding_encoder == "siglip":
            if self.siglip is None:
                raise RuntimeError("this model has no SigLIP encoder")
            out = self.siglip(pixel_values=pixel_values.to(self.device, self.siglip.dtype),
                              pixel_attention_mask=pixel_attention_mask.to(self.device),
                              spatial_shapes=spatial_shapes.to(self.device)).last_hidden_state
            feats = self.siglip_proj(out.to(self.siglip_proj[0].weight.dtype))
            return feats[pixel_attention_mask.to(self.device).bool()]
        tokens, grid = self.encode_images(images)
        _, z_enc = self.image_features(tokens, torch.zeros(tokens.shape[:2], device=self.device), grid)
        return z_enc.flatten(0, 1)

    def understanding_token_counts(self, pixel_attention_mask: torch.Tensor | None = None,
                                   images: torch.Tensor | None = None) -> list[int]:
        """How many `<image>` placeholders each understanding prompt needs."""
        if self.config.understanding_encoder == "siglip":
            return [int(n) for n in pixel_attention_mask.sum(1)]
        h, w = images.shape[-2] // self.codec.stride, images.shape[-1] // self.codec.stride
        return [h * w + self.mar.buffer_size] * images.shape[0]

    # ------------------------------------------------------------------ training losses
    def random_mask(self, batch: int, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Training mask (B, L), 1 = masked: one truncated-normal ratio per batch, random positions per row.

        `generator` (here and in the losses) is optional and must live on the model's device.
        """
        lc = self.config.loss
        ratio = truncated_normal_mask_ratio(lc.mask_ratio_min, lc.mask_ratio_std, generator)
        n_masked = min(length, max(1, math.ceil(length * ratio)))
        orders = random_orders(batch, length, self.device, generator)
        mask = torch.zeros(batch, length, device=self.device)
        return mask.scatter_(1, orders[:, :n_masked], 1.0)

    def _tokens(self, images: torch.Tensor | None, latents: torch.Tensor | None) -> tuple[torch.Tensor, Grid]:
        if latents is not None:
            return self.latents_to_tokens(latents.to(self.device))
        if images is None:
            raise ValueError("give images or precomputed (scaled) codec latents")
        return self.encode_images(images)

    def _masked_diffusion_loss(self, tokens, grid, context, source=None, generator=None, mask=None,
                               diffusion_noise=None) -> torch.Tensor:
        if mask is None:
            mask = self.random_mask(tokens.shape[0], tokens.shape[1], generator)
        mask = mask.to(self.device, torch.float32)
        z = self.condition_tokens(tokens, mask, grid, context, source)
        picked = mask.bool()
        t, noise = diffusion_noise if diffusion_noise is not None else (None, None)
        return self.mar.diffloss.loss(tokens[picked].float(), z[picked], generator, t=t, noise=noise)

    def text2image_loss(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                        images: torch.Tensor | None = None, latents: torch.Tensor | None = None,
                        generator: torch.Generator | None = None, mask: torch.Tensor | None = None,
                        diffusion_noise: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Diffusion loss on the masked tokens of `images` given the prompt.

        input_ids/attention_mask: prompts from `PromptBuilder.text_to_image` (caption dropout
        is the caller's job: use the 'Generate an image.' prompt for dropped captions).
        images (B, 3, H, W) in [-1, 1], or `latents` (B, C, h, w) already encoded and scaled.
        Optional `mask` (B, L), 1 = masked, every row masking the same number of tokens, and
        `diffusion_noise` = (t, noise) for the masked tokens (see `DiffusionHead.loss`) replace
        the draws from `generator` (a trainer deriving them per sample passes them in).
        """
        tokens, grid = self._tokens(images, latents)
        context = self.embed_prompt(TokenBatch(input_ids, attention_mask))
        return self._masked_diffusion_loss(tokens, grid, context, generator=generator, mask=mask,
                                           diffusion_noise=diffusion_noise)

    def edit_loss(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                  source_images: torch.Tensor | None = None, target_images: torch.Tensor | None = None,
                  source_latents: torch.Tensor | None = None, target_latents: torch.Tensor | None = None,
                  generator: torch.Generator | None = None, mask: torch.Tensor | None = None,
                  diffusion_noise: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Diffusion loss on the masked target tokens, with the source in the LLM context and decoder.

        input_ids: prompts from `PromptBuilder.edit` with L_src + buffer `<image>` slots per
        row. Source and target must share a resolution. Gradients into the source features
        are scaled by `LossConfig.edit_source_grad_scale`. `mask` and `diffusion_noise` as in
        `text2image_loss`.
        """
        src, grid = self._tokens(source_images, source_latents)
        tgt, tgt_grid = self._tokens(target_images, target_latents)
        if grid != tgt_grid:
            raise ValueError(f"source grid {grid} differs from target grid {tgt_grid}")
        x_src, z_src = self.image_features(src, torch.zeros(src.shape[:2], device=self.device), grid)
        s = self.config.loss.edit_source_grad_scale
        x_src, z_src = scale_gradient(x_src, s), scale_gradient(z_src, s)
        context = self.embed_prompt(TokenBatch(input_ids, attention_mask), z_src.flatten(0, 1))
        return self._masked_diffusion_loss(tgt, grid, context, source=x_src, generator=generator, mask=mask,
                                           diffusion_noise=diffusion_noise)

    def understanding_loss(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor,
                           pixel_values: torch.Tensor | None = None,
                           pixel_attention_mask: torch.Tensor | None = None,
                           spatial_shapes: torch.Tensor | None = None,
                           images: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token cross-entropy on `labels` >= 0 (from `PromptBuilder.understanding` with answers).

        Visual inputs: Siglip2ImageProcessor outputs (SigLIP path) or `images` in [-1, 1]
        (MAR path). Gradients into the visual features are scaled by
        `LossConfig.understanding_grad_scale`.
        """
        feats = self.understanding_features(pixel_values, pixel_attention_mask, spatial_shapes, images)
        feats = scale_gradient(feats, self.config.loss.understanding_grad_scale)
        context = self.embed_prompt(TokenBatch(input_ids, attention_mask), feats)
        positions = (context.mask.cumsum(1) - 1).clamp(min=0)
        hidden = self.llm.model(inputs_embeds=context.embeds, attention_mask=context.mask,
                                position_ids=positions, use_cache=False).last_hidden_state
        targets = labels.to(self.device)[:, 1:]
        picked = targets >= 0
        logits = self.llm.get_output_embeddings()(hidden[:, :-1][picked])
        return F.cross_entropy(logits.float(), targets[picked])

    # ------------------------------------------------------------------ freezing and optimiser groups
    def parameter_groups(self) -> dict[str, list[tuple[str, nn.Parameter]]]:
        """Named parameters of each group in `PARAMETER_GROUPS` (absent modules give empty lists)."""
        groups: dict[str, list] = {g: [] for g in PARAMETER_GROUPS}
        for name, p in self.named_parameters():
            for group, prefixes in PARAMETER_GROUPS.items():
                if name.startswith(prefixes):
                    groups[group].append((name, p))
                    break
        return groups

    def set_trainable(self, groups: Iterable[str] | Mapping[str, bool]) -> None:
        """Make exactly `groups` trainable (a list), or set each named group (a mapping); the codec stays frozen."""
        if not isinstance(groups, Mapping):
            chosen = set(groups)
            groups = {g: g in chosen for g in PARAMETER_GROUPS | dict.fromkeys(chosen)}
        unknown = set(groups) - set(PARAMETER_GROUPS)
        if unknown:
            raise ValueError(f"unknown parameter groups {sorted(unknown)}; known: {list(PARAMETER_GROUPS)}")
        members = self.parameter_groups()
        for group, flag in groups.items():
            for _, p in members[group]:
                p.requires_grad_(flag)
        self.codec.requires_grad_(False)

    def freeze(self, *groups: str) -> None:
        self.set_trainable({g: False for g in groups})

    def unfreeze(self, *groups: str) -> None:
        self.set_trainable({g: True for g in groups})

    def trainable_groups(self) -> list[str]:
        """Groups with at least one trainable parameter."""
        return [g for g, ps in self.parameter_groups().items() if any(p.requires_grad for _, p in ps)]

    def optimizer_param_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups as the published trainer builds them: no decay on biases, 1-D
        parameters and the whole diffusion head; frozen parameters are left out."""
        decay, no_decay = [], []
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.ndim < 2 or name.endswith(".bias") or "diffloss" in name else decay).append(p)
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]

    def enable_gradient_checkpointing(self) -> None:
        """Recompute activations in the backward pass (MAR blocks, diffusion head, LLM, SigLIP)."""
        self.mar.gradient_checkpointing = True
        self.mar.diffloss.net.gradient_checkpointing = True
        for hf_model in (self.llm, self.siglip):
            if hf_model is None:
                continue
            # transformers 5.2x renamed the method; the old name warns of its removal in v6
            if hasattr(hf_model, "activation_checkpointing_enable"):
                hf_model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
            else:
                hf_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
