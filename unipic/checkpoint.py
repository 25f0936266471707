"""UniPic checkpoint folders and the converter from the published release.

Our folder format:
    unipic_config.json   the UniPicConfig (every size)
    model.safetensors    every weight, prefixed codec./mar./llm./proj_in./proj_out./siglip./siglip_proj.
    tokenizer/           the Qwen tokenizer with the `<image>` special token

The published Skywork-UniPic-1.5B release is a pickled `pytorch_model.bin` (keys `llm.*`,
`mar.*`, `proj_in.*`, `proj_out.*`, `siglip2.*`, `siglip2_proj.*`) plus MAR's `kl16.ckpt`
(`{"model": LDM-named VAE weights}`), and a Qwen2.5 tokenizer folder. `convert_published`
maps their names onto ours, checks every shape against the target config and refuses any
mismatch with a report. Pickles are read with `torch.load(weights_only=True)` only.

A converted release describes images through the published path by default
(`understanding_encoder="mar"`: MAR-encoder features in the `<image>` slots, as the release's
`image2text.py` and understanding loss do). Its SigLIP2 weights are converted too, but the
published code never calls them: the SigLIP2 path is this project's own and has not been
validated against the released weights.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from .codec import convert_ldm_vae_state_dict
from .config import UniPicConfig
from .model import UniPic

CONFIG_NAME = "unipic_config.json"
WEIGHTS_NAME = "model.safetensors"
TOKENIZER_DIR = "tokenizer"

# Published keys that our model deliberately does not have.
_UNUSED_PUBLISHED = ("mar.class_emb.", "siglip2.vision_model.head.", "siglip2.head.", "vae.")


class CheckpointMismatchError(ValueError):
    """Weights that do not fit the target config; the message lists every problem."""


@dataclass
class MatchReport:
    """What a state dict lacks, has in excess, or has at the wrong shape, for one model."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    wrong_shape: list[tuple[str, tuple, tuple]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.wrong_shape)

    def render(self, limit: int = 20) -> str:
        lines = []
        for title, items in (("missing", self.missing), ("unexpected", self.unexpected)):
            if items:
                more = " ..." if len(items) > limit else ""
                lines.append(f"{len(items)} {title} keys: " + ", ".join(items[:limit]) + more)
        if self.wrong_shape:
            lines.append(f"{len(self.wrong_shape)} shape mismatches:")
            lines += [f"  {k}: checkpoint {tuple(got)} vs model {tuple(want)}"
                      for k, got, want in self.wrong_shape[:limit]]
        if self.ignored:
            lines.append(f"{len(self.ignored)} ignored keys (unused by this model): " + ", ".join(self.ignored[:limit]))
        return "\n".join(lines) or "all keys match"


def expected_shapes(config: UniPicConfig) -> dict[str, tuple[int, ...]]:
    """Parameter and buffer shapes of a model of `config`, built on the meta device (no memory)."""
    with torch.device("meta"):
        model = UniPic(config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _tied_keys(config: UniPicConfig) -> set[str]:
    return {"llm.lm_head.weight"} if config.llm.tie_word_embeddings else set()


def match_state_dict(state: dict[str, torch.Tensor], config: UniPicConfig, ignored=()) -> MatchReport:
    want = expected_shapes(config)
    tied = _tied_keys(config)
    report = MatchReport(ignored=list(ignored))
    report.missing = [k for k in want if k not in state and k not in tied]
    report.unexpected = [k for k in state if k not in want]
    report.wrong_shape = [(k, tuple(v.shape), want[k]) for k, v in state.items()
                          if k in want and tuple(v.shape) != want[k]]
    return report


# ---------------------------------------------------------------------- our folder format
def _unique_tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop later names of tensors that share storage (tied embeddings), make the rest contiguous."""
    seen, out = set(), {}
    for k, v in state.items():
        key = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape))
        if key in seen:
            continue
        seen.add(key)
        out[k] = v.detach().contiguous()
    return out


def save_pretrained(model: UniPic, folder: str | os.PathLike, dtype: torch.dtype | None = None) -> Path:
    """Write `model` (config, weights, tokenizer) to `folder`; `dtype` casts floating weights."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.config.save(folder / CONFIG_NAME)
    state = _unique_tensors(model.state_dict())
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    save_file({k: v.cpu() for k, v in state.items()}, str(folder / WEIGHTS_NAME), metadata={"format": "pt"})
    if getattr(model, "tokenizer", None) is not None:
        model.tokenizer.save_pretrained(folder / TOKENIZER_DIR)
    return folder


def load_tokenizer(folder: str | os.PathLike, image_token: str = "<image>"):
    """A saved Qwen tokenizer, with `image_token` added as a special token when absent."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False, padding_side="left")
    if image_token not in tok.get_vocab():
        tok.add_special_tokens({"additional_special_tokens": [image_token]}, replace_extra_special_tokens=False)
    return tok


def load_pretrained(folder: str | os.PathLike, device: str | torch.device = "auto",
                    dtype: str | torch.dtype = "auto", understanding_encoder: str | None = None) -> UniPic:
    """Load a folder written by `save_pretrained` (or `convert_published`) in eval mode.

    `device` 'auto' picks CUDA when visible; `dtype` 'auto' gives bf16 on CUDA, fp32 on CPU;
    `understanding_encoder` ('mar' or 'siglip') overrides the folder's choice.
    """
    from safetensors.torch import load_file

    from reward_models.loading import resolve_device, resolve_dtype

    folder = Path(folder)
    config = UniPicConfig.load(folder / CONFIG_NAME)
    if understanding_encoder is not None:
        config = replace(config, understanding_encoder=understanding_encoder)
        config.validate()
    device = resolve_device(device) if isinstance(device, str) else device
    dtype = resolve_dtype(dtype, device) if isinstance(dtype, str) else dtype
    state = load_file(str(folder / WEIGHTS_NAME))
    report = match_state_dict(state, config)
    if not report.ok:
        raise CheckpointMismatchError(f"{folder} does not fit its config:\n{report.render()}")
    tokenizer = None
    if (folder / TOKENIZER_DIR).exists():
        tokenizer = load_tokenizer(folder / TOKENIZER_DIR, config.image_token)
    with torch.device(device):
        model = UniPic(config, tokenizer)
    model.load_state_dict(state, strict=False)  # all keys checked above; tied lm_head follows the embeddings
    if config.llm.tie_word_embeddings:
        model.llm.tie_weights()
    return model.to(dtype).eval()


# ---------------------------------------------------------------------- published release
def torch_load_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a legacy pickle safely (tensors and plain containers only)."""
    return torch.load(str(path), map_location="cpu", weights_only=True)


def _read_published_model(path: Path) -> dict[str, torch.Tensor]:
    """`pytorch_model.bin`, a folder holding it, or a folder with a sharded index."""
    if path.is_dir():
        index = path / "pytorch_model.bin.index.json"
        if index.exists():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            state = {}
            for shard in shards:
                state.update(torch_load_weights(path / shard))
            return state
        path = path / "pytorch_model.bin"
    state = torch_load_weights(path)
    for wrapper in ("state_dict", "model"):
        if wrapper in state and isinstance(state[wrapper], dict):
            state = state[wrapper]
    return state


def siglip_patch_conv_to_linear(weight: torch.Tensor) -> torch.Tensor:
    """SigLIP's Conv2d patch kernel (D, C, p, p) -> Siglip2's linear (D, p*p*C).

    Siglip2ImageProcessor flattens each patch as (row, column, channel), so the kernel is
    permuted to that order.
    """
    return weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1)


def map_published_keys(model_state: dict[str, torch.Tensor], vae_state: dict[str, torch.Tensor],
                        config: UniPicConfig) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Published names -> ours. Returns (mapped weights, ignored keys)."""
    out, ignored = {}, []
    for key, value in model_state.items():
        if key.startswith(_UNUSED_PUBLISHED):
            ignored.append(key)
            continue
        if key.startswith("siglip2_proj."):
            key = "siglip_proj." + key[len("siglip2_proj."):]
        elif key.startswith("siglip2."):
            # transformers 4.x nested the vision tower under `vision_model.`; 5.x does not.
            key = "siglip." + key[len("siglip2."):].removeprefix("vision_model.")
            if key.endswith("embeddings.patch_embedding.weight") and value.ndim == 4:
                value = siglip_patch_conv_to_linear(value)
        if key.startswith(("siglip.", "siglip_proj.")) and config.siglip is None:
            ignored.append(key)
            continue
        out[key] = value
    if "model" in vae_state and isinstance(vae_state["model"], dict):
        vae_state = vae_state["model"]
    vae, vae_ignored = convert_ldm_vae_state_dict(vae_state, len(config.codec.channel_mult))
    out.update({f"codec.vae.{k}": v for k, v in vae.items()})
    ignored += [f"kl16:{k}" for k in vae_ignored]
    tied = _tied_keys(config)
    for key in tied:
        if key in out:
            ignored.append(key + " (tied to the input embeddings)")
            del out[key]
    return out, ignored


def convert_published(model_path: str | os.PathLike, kl16_path: str | os.PathLike,
                      tokenizer_dir: str | os.PathLike, out_folder: str | os.PathLike,
                      config: UniPicConfig | None = None, dtype: torch.dtype | None = torch.bfloat16,
                      understanding_encoder: str = "mar") -> MatchReport:
    """Convert the published release to our folder format; raise CheckpointMismatchError on any mismatch.

    model_path: `pytorch_model.bin` (or its folder); kl16_path: MAR's `kl16.ckpt`;
    tokenizer_dir: the Qwen2.5-1.5B-Instruct folder (or any saved Qwen tokenizer).
    `config` defaults to `UniPicConfig.full()`. `understanding_encoder` is written into the
    folder's config: 'mar' (default) is the published understanding path; 'siglip' is this
    project's own, not validated against the released weights. Returns the (clean) match report.
    """
    from safetensors.torch import save_file

    config = replace(config or UniPicConfig.full(), understanding_encoder=understanding_encoder)
    config.validate()
    state, ignored = map_published_keys(_read_published_model(Path(model_path)),
                                        torch_load_weights(kl16_path), config)
    report = match_state_dict(state, config, ignored)
    if not report.ok:
        raise CheckpointMismatchError(f"published checkpoint does not fit the config:\n{report.render()}")
    tokenizer = load_tokenizer(tokenizer_dir, config.image_token)
    if len(tokenizer) > config.llm.vocab_size:
        raise CheckpointMismatchError(f"tokenizer has {len(tokenizer)} tokens, LLM embeds {config.llm.vocab_size}")
    out = Path(out_folder)
    out.mkdir(parents=True, exist_ok=True)
    config.save(out / CONFIG_NAME)
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    save_file({k: v.contiguous() for k, v in state.items()}, str(out / WEIGHTS_NAME), metadata={"format": "pt"})
    tokenizer.save_pretrained(out / TOKENIZER_DIR)
    return report


def export_published(model: UniPic, folder: str | os.PathLike) -> tuple[Path, Path]:
    """Write `model` with the published key names (`pytorch_model.bin` + `kl16.ckpt`).

    The inverse of `convert_published`, for interoperability and round-trip tests; SigLIP's
    patch embedding stays linear (Siglip2 layout).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    published = {}
    for key, value in model.state_dict().items():
        if key.startswith("codec."):
            continue
        if key.startswith("siglip_proj."):
            key = "siglip2_proj." + key[len("siglip_proj."):]
        elif key.startswith("siglip."):
            key = "siglip2." + key[len("siglip."):]
        published[key] = value.detach().clone()
    torch.save(published, folder / "pytorch_model.bin")
    torch.save({"model": _codec_to_ldm(model)}, folder / "kl16.ckpt")
    return folder / "pytorch_model.bin", folder / "kl16.ckpt"


def _codec_to_ldm(model: UniPic) -> dict[str, torch.Tensor]:
    """Our codec weights under LDM names (checked against the forward renaming rule)."""
    from .codec import _rename_ldm_key

    levels = len(model.config.codec.channel_mult)
    ours = model.codec.vae.state_dict()
    out = {}
    for (k, v), ldm in zip(ours.items(), _ldm_candidate_names(ours, levels)):
        assert _rename_ldm_key(ldm, levels) == k, (k, ldm)
        attention_kernel = ".attentions." in k and k.endswith(".weight") and v.ndim == 2
        out[ldm] = v[:, :, None, None].clone() if attention_kernel else v.clone()
    return out


def _ldm_candidate_names(ours: dict, levels: int) -> list[str]:
    import re

    def flip(m: re.Match) -> int:  # diffusers numbers decoder blocks from the lowest resolution
        return levels - 1 - int(m.group(1))

    names = []
    for k in ours:
        c = k
        c = re.sub(r"down_blocks\.(\d+)\.resnets\.(\d+)\.", r"down.\1.block.\2.", c)
        c = re.sub(r"down_blocks\.(\d+)\.attentions\.(\d+)\.", r"down.\1.attn.\2.", c)
        c = re.sub(r"down_blocks\.(\d+)\.downsamplers\.0\.", r"down.\1.downsample.", c)
        c = re.sub(r"up_blocks\.(\d+)\.resnets\.(\d+)\.", lambda m: f"up.{flip(m)}.block.{m.group(2)}.", c)
        c = re.sub(r"up_blocks\.(\d+)\.upsamplers\.0\.", lambda m: f"up.{flip(m)}.upsample.", c)
        c = c.replace("mid_block.resnets.0.", "mid.block_1.").replace("mid_block.resnets.1.", "mid.block_2.")
        c = c.replace("mid_block.attentions.0.", "mid.attn_1.").replace("conv_norm_out.", "norm_out.")
        c = c.replace("conv_shortcut.", "nin_shortcut.").replace("group_norm.", "norm.")
        c = c.replace("to_q.", "q.").replace("to_k.", "k.").replace("to_v.", "v.").replace("to_out.0.", "proj_out.")
        names.append(c)
    return names
