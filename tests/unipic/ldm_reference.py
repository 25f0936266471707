"""An independent LDM-layout KL autoencoder (the architecture and names of MAR's kl16.ckpt).

Written from the architecture description (LDM "ldm.modules.diffusionmodules.model"
layout) so the codec tests can check that diffusers' AutoencoderKL, after our key
conversion, computes exactly the same function: same parameter names as the checkpoint
(`encoder.down.N.block.M`, `encoder.mid.attn_1.q`, `decoder.up.N.upsample.conv`, ...),
1x1-convolution attention, asymmetric padding before stride-2 downsampling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(groups, channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int):
        super().__init__()
        self.norm1 = norm(cin, groups)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = norm(cout, groups)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        if cin != cout:
            self.nin_shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x) + h


class AttnBlock(nn.Module):
    def __init__(self, c: int, groups: int):
        super().__init__()
        self.norm = norm(c, groups)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(c, c, 1) for _ in range(4))

    def forward(self, x):
        b, c, h, w = x.shape
        y = self.norm(x)
        q = self.q(y).reshape(b, c, h * w).transpose(1, 2)
        k = self.k(y).reshape(b, c, h * w)
        v = self.v(y).reshape(b, c, h * w)
        weights = torch.softmax(torch.bmm(q, k) * c**-0.5, dim=2)  # (b, query, key)
        out = torch.bmm(v, weights.transpose(1, 2)).reshape(b, c, h, w)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Encoder(nn.Module):
    def __init__(self, ch, ch_mult, num_res_blocks, z_channels, groups):
        super().__init__()
        self.conv_in = nn.Conv2d(3, ch, 3, padding=1)
        self.down = nn.ModuleList()
        cin = ch
        for level, mult in enumerate(ch_mult):
            stage = nn.Module()
            stage.block, stage.attn = nn.ModuleList(), nn.ModuleList()
            cout = ch * mult
            for _ in range(num_res_blocks):
                stage.block.append(ResnetBlock(cin, cout, groups))
                cin = cout
                if level == len(ch_mult) - 1:  # attention at the last (16-px nominal) level
                    stage.attn.append(AttnBlock(cout, groups))
            if level != len(ch_mult) - 1:
                stage.downsample = Downsample(cout)
            self.down.append(stage)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(cin, cin, groups)
        self.mid.attn_1 = AttnBlock(cin, groups)
        self.mid.block_2 = ResnetBlock(cin, cin, groups)
        self.norm_out = norm(cin, groups)
        self.conv_out = nn.Conv2d(cin, 2 * z_channels, 3, padding=1)

    def forward(self, x):
        h = self.conv_in(x)
        for stage in self.down:
            for i, block in enumerate(stage.block):
                h = block(h)
                if len(stage.attn):
                    h = stage.attn[i](h)
            if hasattr(stage, "downsample"):
                h = stage.downsample(h)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, ch, ch_mult, num_res_blocks, z_channels, groups):
        super().__init__()
        cin = ch * ch_mult[-1]
        self.conv_in = nn.Conv2d(z_channels, cin, 3, padding=1)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(cin, cin, groups)
        self.mid.attn_1 = AttnBlock(cin, groups)
        self.mid.block_2 = ResnetBlock(cin, cin, groups)
        stages = {}
        for level in reversed(range(len(ch_mult))):
            stage = nn.Module()
            stage.block = nn.ModuleList()
            cout = ch * ch_mult[level]
            for _ in range(num_res_blocks + 1):
                stage.block.append(ResnetBlock(cin, cout, groups))
                cin = cout
            if level != 0:
                stage.upsample = Upsample(cout)
            stages[level] = stage
        self.up = nn.ModuleList(stages[i] for i in range(len(ch_mult)))  # indexed by resolution level
        self.norm_out = norm(cin, groups)
        self.conv_out = nn.Conv2d(cin, 3, 3, padding=1)

    def forward(self, z):
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(self.conv_in(z))))
        for level in reversed(range(len(self.up))):
            stage = self.up[level]
            for block in stage.block:
                h = block(h)
            if hasattr(stage, "upsample"):
                h = stage.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class LDMAutoencoderKL(nn.Module):
    def __init__(self, ch=128, ch_mult=(1, 1, 2, 2, 4), num_res_blocks=2, embed_dim=16, groups=32):
        super().__init__()
        self.encoder = Encoder(ch, ch_mult, num_res_blocks, embed_dim, groups)
        self.decoder = Decoder(ch, ch_mult, num_res_blocks, embed_dim, groups)
        self.quant_conv = nn.Conv2d(2 * embed_dim, 2 * embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, embed_dim, 1)

    def posterior_mean(self, x):
        return self.quant_conv(self.encoder(x)).chunk(2, dim=1)[0]

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))
