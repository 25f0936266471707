"""One configuration for every size in the UniPic network.

`UniPicConfig.full()` matches the shapes of the published Skywork-UniPic-1.5B release
(MAR-Huge, Qwen2.5-1.5B-Instruct, SigLIP2 so400m-patch16-512, MAR's KL-16 codec);
`UniPicConfig.tiny()` builds the same architecture small enough to run on a CPU in seconds.
Configs round-trip through JSON (`to_dict` / `from_dict`), which is how checkpoint folders
record them.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from reward_models.config_io import from_dict


@dataclass
class CodecConfig:
    """MAR's KL-16 autoencoder (an LDM-style convolutional VAE), or a linear patch codec.

    `kind="kl16"` (the default, every released size) builds the VAE from the fields below;
    `kind="patch"` builds `codec.PatchCodec` (one token per `patch_size` x `patch_size`
    pixel patch, fitted to a narrow image domain such as the synthetic world); it uses only
    `patch_size` and `latent_channels`.
    """

    kind: Literal["kl16", "patch"] = "kl16"
    """Which codec: MAR's KL-16 VAE, or a linear per-patch codec."""
    patch_size: int = 16
    """Patch side in pixels of the patch codec (its stride); unused by kl16."""
    base_channels: int = 128
    """Channels of the first resolution level."""
    channel_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    """Channel multiplier per level; there is one 2x downsampling between levels."""
    num_res_blocks: int = 2
    """Residual blocks per encoder level (the decoder uses one more)."""
    latent_channels: int = 16
    """Latent channels, and so the size of one MAR token."""
    norm_groups: int = 32
    """GroupNorm groups; must divide every level's channel count."""
    scale: float = 0.2325
    """Latents are multiplied by this after encoding and divided before decoding. Origin: MAR's
    value for its KL-16 VAE (`main_mar.py`, kept by Harmon and UniPic), about 1/std of KL-16
    latents over ImageNet, so tokens have roughly unit variance; another VAE needs its own."""

    @property
    def stride(self) -> int:
        """Pixels per latent position along each side."""
        if self.kind == "patch":
            return self.patch_size
        return 2 ** (len(self.channel_mult) - 1)


@dataclass
class MARConfig:
    """The MAR encoder/decoder (ViT blocks over codec tokens, MAE-style masking)."""

    encoder_dim: int = 1280
    """Encoder width."""
    encoder_depth: int = 20
    """Encoder blocks."""
    encoder_heads: int = 16
    """Encoder attention heads."""
    decoder_dim: int = 1280
    """Decoder width (also the condition width of the diffusion head)."""
    decoder_depth: int = 20
    """Decoder blocks."""
    decoder_heads: int = 16
    """Decoder attention heads."""
    mlp_ratio: float = 4.0
    """Block MLP width as a multiple of the block width."""
    buffer_size: int = 64
    """Buffer tokens prepended to the image tokens (extra compute for the sparse encoder)."""
    pos_grid: int = 32
    """Side of the learned position-embedding grid; other token grids interpolate it (UniPic: 512 px / 16)."""
    attn_dropout: float = 0.1
    """Dropout on attention weights (training only)."""
    proj_dropout: float = 0.1
    """Dropout after attention and MLP projections (training only)."""


@dataclass
class DiffusionConfig:
    """The per-token diffusion head and its noise schedule."""

    depth: int = 12
    """Residual AdaLN blocks in the head's MLP."""
    width: int = 1536
    """Width of the head's MLP."""
    train_steps: int = 1000
    """Diffusion steps of the training process."""
    sampling_steps: int = 100
    """Respaced steps used when sampling."""
    max_beta: float = 0.2
    """Cap on each step's beta in the cosine schedule: UniPic 0.2, MAR/Harmon 0.999."""
    batch_mul: int = 4
    """Each masked token is noised this many times per training step (independent t and noise)."""


@dataclass
class LLMConfig:
    """The Qwen2 language model (defaults: Qwen2.5-1.5B-Instruct)."""

    hidden_size: int = 1536
    """Width."""
    num_layers: int = 28
    """Decoder layers."""
    num_heads: int = 12
    """Query heads."""
    num_kv_heads: int = 2
    """Key/value heads (grouped-query attention)."""
    intermediate_size: int = 8960
    """MLP width."""
    vocab_size: int = 151936
    """Embedding rows (at least the tokenizer size, `<image>` included)."""
    rope_theta: float = 1_000_000.0
    """Rotary base."""
    rms_norm_eps: float = 1e-6
    """RMSNorm epsilon."""
    max_position_embeddings: int = 32768
    """Longest sequence the rotary tables are built for."""
    tie_word_embeddings: bool = True
    """Share input embeddings and the LM head (true for Qwen2.5-1.5B)."""


@dataclass
class SiglipConfig:
    """The SigLIP2 vision encoder of the understanding path (defaults: so400m-patch16-512)."""

    hidden_size: int = 1152
    """Width."""
    num_layers: int = 27
    """Encoder layers."""
    num_heads: int = 16
    """Attention heads."""
    intermediate_size: int = 4304
    """MLP width."""
    patch_size: int = 16
    """Patch side in pixels."""
    image_size: int = 512
    """Side of the square image the encoder sees; (image_size / patch_size)^2 tokens."""
    layer_norm_eps: float = 1e-6
    """LayerNorm epsilon."""

    @property
    def num_patches(self) -> int:
        """Image tokens per understanding image."""
        return (self.image_size // self.patch_size) ** 2


@dataclass
class LossConfig:
    """Settings of the training losses (see `UniPic.text2image_loss` and friends)."""

    mask_ratio_min: float = 0.7
    """Lower end of the truncated normal the per-batch mask ratio is drawn from (upper end 1)."""
    mask_ratio_std: float = 0.25
    """Standard deviation of that truncated normal (centred at 1)."""
    understanding_grad_scale: float = 0.1
    """Gradient multiplier into the visual features of the understanding loss."""
    edit_source_grad_scale: float = 0.1
    """Gradient multiplier into the source-image features of the editing loss."""


@dataclass
class UniPicConfig:
    """Every size of a UniPic network, plus its default resolutions."""

    codec: CodecConfig = field(default_factory=CodecConfig)
    """Latent codec."""
    mar: MARConfig = field(default_factory=MARConfig)
    """MAR encoder/decoder."""
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    """Diffusion head."""
    llm: LLMConfig = field(default_factory=LLMConfig)
    """Language model."""
    siglip: SiglipConfig | None = field(default_factory=SiglipConfig)
    """Understanding encoder; None builds no SigLIP (understanding then needs the MAR path)."""
    loss: LossConfig = field(default_factory=LossConfig)
    """Training-loss settings."""
    image_size: int = 1024
    """Default generation and editing resolution in pixels."""
    understanding_encoder: Literal["siglip", "mar"] = "siglip"
    """Encoder of understanding inputs: 'mar' is the published code's path (MAR-encoder features in
    the `<image>` slots; what `convert_published` writes for a released checkpoint); 'siglip' (SigLIP2,
    the report's description) is this project's own path, the default for models trained here, and
    has not been validated against released weights."""
    image_token: str = "<image>"
    """Special token whose embeddings are replaced by image features."""

    @property
    def token_dim(self) -> int:
        """Channels of one image token (one latent position)."""
        return self.codec.latent_channels

    def grid(self, image_size: int | None = None) -> tuple[int, int]:
        """Token grid (rows, columns) for a square image of `image_size` pixels."""
        side = (image_size or self.image_size) // self.codec.stride
        return side, side

    def validate(self) -> None:
        """Raise ValueError on sizes that cannot work together."""
        if self.understanding_encoder == "siglip" and self.siglip is None:
            raise ValueError("understanding_encoder='siglip' needs a siglip config")
        if self.image_size % self.codec.stride:
            raise ValueError(f"image_size {self.image_size} is not a multiple of the codec stride {self.codec.stride}")
        for c in (self.codec.base_channels * m for m in self.codec.channel_mult):
            if c % self.codec.norm_groups:
                raise ValueError(f"codec channels {c} not divisible by norm_groups {self.codec.norm_groups}")
        if self.mar.encoder_dim % self.mar.encoder_heads or self.mar.decoder_dim % self.mar.decoder_heads:
            raise ValueError("MAR widths must be divisible by their head counts")

    # ------------------------------------------------------------------ presets
    @classmethod
    def full(cls) -> "UniPicConfig":
        """Shapes of the published Skywork-UniPic-1.5B model (1024 px generation)."""
        return cls()

    @classmethod
    def tiny(cls) -> "UniPicConfig":
        """A few-hundred-thousand-parameter model with the full architecture, for CPU tests."""
        return cls(
            codec=CodecConfig(base_channels=8, channel_mult=(1, 2, 2, 4), num_res_blocks=1, norm_groups=4),
            mar=MARConfig(
                encoder_dim=32, encoder_depth=2, encoder_heads=2,
                decoder_dim=32, decoder_depth=2, decoder_heads=2,
                buffer_size=4, pos_grid=8,
            ),
            diffusion=DiffusionConfig(depth=2, width=32, sampling_steps=10, batch_mul=2),
            llm=LLMConfig(
                hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2, intermediate_size=128,
                vocab_size=1024, max_position_embeddings=4096,
            ),
            siglip=SiglipConfig(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, image_size=128),
            image_size=64,
        )

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "UniPicConfig":
        return from_dict(cls, data)

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "UniPicConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))


