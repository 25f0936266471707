"""UniPic: one network for text-to-image, editing and understanding (MAR + Qwen2.5 + SigLIP2).

Public API (imported lazily, so `import unipic` stays cheap):

    UniPicConfig.full() / .tiny()                 every size, from one dataclass
    UniPic(config, tokenizer)                     the network; losses, freezing helpers
    build_preset("tiny" | "world" | "full")       a fresh model (the training init)
    load_pretrained(folder) / save_pretrained     our checkpoint folders
    convert_published(bin, kl16, tokenizer, out)  the published release -> our folder
    SampleOptions, generate_images, edit_images   sampling
    describe_images                               understanding
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "UniPicConfig": "config",
    "UniPic": "model",
    "PARAMETER_GROUPS": "model",
    "load_pretrained": "checkpoint",
    "save_pretrained": "checkpoint",
    "convert_published": "checkpoint",
    "CheckpointMismatchError": "checkpoint",
    "SampleOptions": "sampling",
    "generate_images": "sampling",
    "generate_tokens": "sampling",
    "edit_images": "sampling",
    "edit_tokens": "sampling",
    "describe_images": "understanding",
    "PromptBuilder": "prompts",
    "build_preset": "presets",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'unipic' has no attribute {name!r}")
