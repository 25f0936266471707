"""MAR's KL-16 latent codec, built on diffusers' `AutoencoderKL`.

MAR's KL-16 tokenizer is the LDM convolutional VAE: 128 base channels, levels (1, 1, 2, 2, 4),
two residual blocks per encoder level (three per decoder level), single-head self-attention at
the last (16-px nominal) encoder level and in both mid blocks, `double_z` moments, a 1x1
`quant_conv` 32->32 and a 1x1 `post_quant_conv` 16->16. diffusers' `AutoencoderKL` has every
one of these pieces with the same arithmetic (asymmetric-padding stride-2 downsampling,
nearest-neighbour upsampling, GroupNorm eps 1e-6, attention scaled by 1/sqrt(C)), so it
reproduces the architecture exactly once its last encoder block is an `AttnDownEncoderBlock2D`;
only the parameter names differ, and `convert_ldm_vae_state_dict` maps MAR's `kl16.ckpt`
names onto it (1x1 attention convolutions become linear layers).

Images are in [-1, 1]; latents are the posterior mode times `scale` (0.2325), one MAR token
per latent position.

`PatchCodec` (`CodecConfig.kind="patch"`) is a linear per-patch alternative with the same
interface, fitted by PCA to a narrow domain (the synthetic world's training demos);
`build_codec` picks one from the config.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from .config import CodecConfig


def build_autoencoder(cfg: CodecConfig):
    """A diffusers AutoencoderKL with the KL-16 layout at the sizes of `cfg`."""
    from diffusers import AutoencoderKL

    levels = len(cfg.channel_mult)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * (levels - 1) + ("AttnDownEncoderBlock2D",),
        up_block_types=("UpDecoderBlock2D",) * levels,
        block_out_channels=tuple(cfg.base_channels * m for m in cfg.channel_mult),
        layers_per_block=cfg.num_res_blocks,
        act_fn="silu",
        latent_channels=cfg.latent_channels,
        norm_num_groups=cfg.norm_groups,
        scaling_factor=cfg.scale,
        force_upcast=False,
        use_quant_conv=True,
        use_post_quant_conv=True,
        mid_block_add_attention=True,
    )


class LatentCodec(nn.Module):
    """Frozen image <-> latent codec; any module with this interface can replace it.

    `encode` maps images (B, 3, H, W) in [-1, 1] to scaled latents (B, C, H/s, W/s);
    `decode` maps them back. `stride` and `latent_channels` describe the latent grid.
    """

    def __init__(self, cfg: CodecConfig):
        super().__init__()
        self.cfg = cfg
        self.vae = build_autoencoder(cfg)
        self.requires_grad_(False)

    @property
    def stride(self) -> int:
        return self.cfg.stride

    @property
    def latent_channels(self) -> int:
        return self.cfg.latent_channels

    def train(self, mode: bool = True):
        # The codec is frozen: it stays in eval mode whatever the parent does.
        return super().train(False)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        dtype = self.vae.dtype
        moments = self.vae.quant_conv(self.vae.encoder(images.to(dtype)))
        mean = moments.chunk(2, dim=1)[0]  # the posterior mode
        return mean * self.cfg.scale

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        dtype = self.vae.dtype
        return self.vae.decoder(self.vae.post_quant_conv((latents / self.cfg.scale).to(dtype)))


class PatchCodec(nn.Module):
    """A linear per-patch codec: each `patch_size` x `patch_size` RGB patch <-> one token.

    `encode` is one linear map of a patch's pixels to `latent_channels` numbers, `decode`
    one linear map back; no context crosses patches. Untrained it is a random projection;
    `fit_pca` makes it the best linear codec for a set of images (their patches' top
    principal components, scaled so latents have unit RMS). It is meant for narrow image
    domains such as the synthetic world, where a tiny model must learn in CPU minutes and a
    random or briefly trained KL-16 VAE does not reconstruct; like `LatentCodec` it is
    frozen. `CodecConfig.scale` is not used (the fit sets the scale).
    """

    def __init__(self, cfg: CodecConfig):
        super().__init__()
        self.cfg = cfg
        pixels = 3 * cfg.patch_size**2
        self.encoder = nn.Linear(pixels, cfg.latent_channels)
        self.decoder = nn.Linear(cfg.latent_channels, pixels)
        self.requires_grad_(False)

    @property
    def stride(self) -> int:
        return self.cfg.patch_size

    @property
    def latent_channels(self) -> int:
        return self.cfg.latent_channels

    def train(self, mode: bool = True):
        return super().train(False)

    def _patches(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, L, 3 * p * p), patches in raster order."""
        p = self.cfg.patch_size
        return torch.nn.functional.unfold(images, p, stride=p).transpose(1, 2)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        b, _, h, w = images.shape
        p = self.cfg.patch_size
        tokens = self.encoder(self._patches(images.to(self.encoder.weight.dtype)))
        return tokens.transpose(1, 2).reshape(b, -1, h // p, w // p)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        b, c, h, w = latents.shape
        p = self.cfg.patch_size
        pixels = self.decoder(latents.flatten(2).transpose(1, 2).to(self.decoder.weight.dtype))
        return torch.nn.functional.fold(pixels.transpose(1, 2), (h * p, w * p), p, stride=p)

    @torch.no_grad()
    def fit_pca(self, images: torch.Tensor, whiten: bool = False) -> "PatchCodec":
        """Fit to images (N, 3, H, W) in [-1, 1]: top principal components of their patches.

        Latents get unit RMS over the fitting set, as a whole or (`whiten`) channel by
        channel, so that weak components (fine shape detail) weigh as much in a diffusion
        loss as strong ones (colour); returns self.
        """
        x = self._patches(images.float()).reshape(-1, self.encoder.in_features).double()
        mean = x.mean(0)
        _, _, v = torch.linalg.svd(x - mean, full_matrices=False)
        basis = v[: self.cfg.latent_channels]  # (C, pixels), orthonormal rows
        # SVD signs depend on the BLAS path (threads); make each component's largest entry positive.
        peak = basis.gather(1, basis.abs().argmax(1, keepdim=True))
        basis = basis * torch.sign(peak)
        coords = (x - mean) @ basis.T
        scale = coords.pow(2).mean(0).sqrt() if whiten else coords.pow(2).mean().sqrt().expand(basis.shape[0])
        scale = scale.clamp(min=1e-6)[:, None]  # (C, 1)
        dtype = self.encoder.weight.dtype
        self.encoder.weight.copy_((basis / scale).to(dtype))
        self.encoder.bias.copy_((-(basis @ mean)[:, None] / scale).squeeze(1).to(dtype))
        self.decoder.weight.copy_((basis * scale).T.to(dtype))
        self.decoder.bias.copy_(mean.to(dtype))
        return self


def build_codec(cfg: CodecConfig) -> nn.Module:
    """The codec `cfg.kind` names (`LatentCodec` for kl16, `PatchCodec` for patch)."""
    if cfg.kind == "kl16":
        return LatentCodec(cfg)
    if cfg.kind == "patch":
        return PatchCodec(cfg)
    raise ValueError(f"unknown codec kind {cfg.kind!r}")


# ---------------------------------------------------------------------- key conversion
_LDM_PREFIXES = ("encoder.", "decoder.", "quant_conv.", "post_quant_conv.")


def _rename_ldm_key(key: str, num_levels: int) -> str:
    """One LDM (MAR kl16.ckpt) parameter name -> the diffusers AutoencoderKL name."""
    k = key
    k = re.sub(r"^encoder\.down\.(\d+)\.block\.(\d+)\.", r"encoder.down_blocks.\1.resnets.\2.", k)
    k = re.sub(r"^encoder\.down\.(\d+)\.attn\.(\d+)\.", r"encoder.down_blocks.\1.attentions.\2.", k)
    k = re.sub(r"^encoder\.down\.(\d+)\.downsample\.conv\.", r"encoder.down_blocks.\1.downsamplers.0.conv.", k)

    def up(m: re.Match) -> str:  # LDM numbers decoder levels from the highest resolution
        return f"decoder.up_blocks.{num_levels - 1 - int(m.group(1))}.{m.group(2)}"

    k = re.sub(r"^decoder\.up\.(\d+)\.(block|upsample)", up, k)
    k = re.sub(r"^decoder\.up_blocks\.(\d+)\.block\.(\d+)\.", r"decoder.up_blocks.\1.resnets.\2.", k)
    k = re.sub(r"^decoder\.up_blocks\.(\d+)\.upsample\.conv\.", r"decoder.up_blocks.\1.upsamplers.0.conv.", k)
    k = re.sub(r"^(encoder|decoder)\.mid\.block_1\.", r"\1.mid_block.resnets.0.", k)
    k = re.sub(r"^(encoder|decoder)\.mid\.block_2\.", r"\1.mid_block.resnets.1.", k)
    k = re.sub(r"^(encoder|decoder)\.mid\.attn_1\.", r"\1.mid_block.attentions.0.", k)
    k = re.sub(r"^(encoder|decoder)\.norm_out\.", r"\1.conv_norm_out.", k)
    k = k.replace(".nin_shortcut.", ".conv_shortcut.")
    if ".attentions." in k:
        k = re.sub(r"\.norm\.(weight|bias)$", r".group_norm.\1", k)
        k = re.sub(r"\.(q|k|v)\.(weight|bias)$", lambda m: f".to_{m.group(1)}.{m.group(2)}", k)
        k = re.sub(r"\.proj_out\.(weight|bias)$", r".to_out.0.\1", k)
    return k


def convert_ldm_vae_state_dict(state: dict[str, torch.Tensor], num_levels: int) -> tuple[dict, list[str]]:
    """Map MAR/LDM KL-16 weights onto `LatentCodec.vae` names.

    Returns (converted, ignored): keys outside the autoencoder (e.g. a training loss's
    discriminator) are ignored and listed. Attention 1x1 convolution kernels become linear
    weights. Shapes are checked later, against the model, by the caller.
    """
    out, ignored = {}, []
    for key, value in state.items():
        if not key.startswith(_LDM_PREFIXES):
            ignored.append(key)
            continue
        new = _rename_ldm_key(key, num_levels)
        if ".attentions." in new and new.endswith(".weight") and value.ndim == 4:
            value = value[:, :, 0, 0]
        out[new] = value
    return out, ignored
